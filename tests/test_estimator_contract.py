"""One contract test over every estimator (scikit-learn style), linear and neural alike."""
import importlib

import numpy as np
import pytest

from sysid import IOData, NotFittedError, compare
from sysid.estimators._base import BaseEstimator

# name -> small, fast hyper-parameters for a 1-input, 1-output problem
CONFIGS = {
    "N4SID": dict(nx=2),
    "ARX": dict(na=2, nb=2, nk=1),
    "NeuralNetStep": dict(nx=2, epochs=5, seed=0),
    "MatrixStep": dict(nx=2, epochs=5, seed=0),
    "NeuralODE": dict(nx=2, epochs=3, seed=0),
    "NeuralODEMatrix": dict(nx=2, epochs=3, seed=0),
    "LSTM": dict(n_units=3, epochs=3, seed=0),
    "REN": dict(nx=2, nv=3, epochs=3, seed=0),
    "Implicit": dict(nx=4, na=2, nb=2, epochs=3, seed=0),
    "OE": dict(nb=2, nf=2, nk=1),
    "ARMAX": dict(na=2, nb=2, nc=1, nk=1),
    "BJ": dict(nb=2, nc=1, nd=1, nf=2, nk=1),
}


def available():
    est = importlib.import_module("sysid.estimators")
    out = []
    for name, cfg in CONFIGS.items():
        try:
            cls = getattr(est, name)
        except (ImportError, AttributeError):
            continue
        out.append(pytest.param(cls, cfg, id=name))
    return out


def data(N=120, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=N)
    y = np.zeros(N)
    x = np.zeros(2)
    for k in range(N):
        y[k] = x[0]
        x = np.array([0.7 * x[0] + 0.2 * x[1] + 0.5 * u[k], -0.2 * x[0] + 0.6 * x[1] + np.tanh(u[k])])
    return IOData(u, y, dt=0.1)


def _is_continuous(est):
    try:
        return est.to_lure().is_continuous
    except NotImplementedError:
        return False


@pytest.fixture(scope="module")
def train():
    return data()


@pytest.mark.parametrize("cls, cfg", available())
def test_contract(cls, cfg, train, tmp_path):
    est = cls(**cfg)
    assert isinstance(est, BaseEstimator)
    # get_params round trip; __init__ only stores
    params = est.get_params()
    assert cls(**params).get_params() == params
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    with pytest.raises(NotFittedError, match="not fitted"):
        est.simulate(np.zeros((10, 1)))
    assert est.fit(train) is est
    y = est.simulate(train.u)
    assert y.shape == (train.N, 1) and np.all(np.isfinite(y))
    # a 1-D SISO input is accepted
    np.testing.assert_allclose(est.simulate(train.u[:, 0]), y)
    # same seed, same result
    y2 = cls(**params).fit(train).simulate(train.u)
    np.testing.assert_allclose(y2, y, rtol=1e-10, atol=1e-12)
    lin = est.linearize()
    continuous = hasattr(est, "to_lure") and _is_continuous(est)
    assert (lin.ninputs, lin.noutputs) == (1, 1)
    assert lin.dt == (0 if continuous else pytest.approx(train.dt))
    res = compare(est, train)
    assert res.fit_percent.shape == (1,)
    est.save(tmp_path / "m")
    back = cls.load(tmp_path / "m")
    np.testing.assert_allclose(back.simulate(train.u), y, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"u must have shape"):
        est.simulate(np.zeros((10, 3)))
