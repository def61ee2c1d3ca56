import control
import numpy as np
import pytest
import torch

from sysid import LureSystem, datasets
from sysid.models import LSTMModule, lstm_from_lti, lti_from_lstm


def sig(a):
    return 1 / (1 + np.exp(-a))


def numpy_lstm(module, u, h, c):
    """The LSTM cell equations (gate order i, f, g, o) written out in numpy."""
    n = module.n_units
    W = module.lstm.weight_ih_l0.detach().numpy()
    R = module.lstm.weight_hh_l0.detach().numpy()
    b = (module.lstm.bias_ih_l0 + module.lstm.bias_hh_l0).detach().numpy()
    F = module.readout.weight.detach().numpy()
    ys = []
    for ut in u:
        a = W @ ut + R @ h + b
        i, f, g, o = sig(a[:n]), sig(a[n:2 * n]), np.tanh(a[2 * n:3 * n]), sig(a[3 * n:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(F @ h)
    return np.array(ys)


def test_cell_equations_match_torch():
    torch.manual_seed(0)
    m = LSTMModule(2, 3, n_units=5).double()
    rng = np.random.default_rng(0)
    u = rng.normal(size=(20, 2))
    h0, c0 = rng.normal(size=5), rng.normal(size=5)
    y = m(torch.tensor(u)[None], torch.tensor(np.concatenate([h0, c0]))[None])[0].detach().numpy()
    np.testing.assert_allclose(y, numpy_lstm(m, u, h0, c0), rtol=1e-12, atol=1e-12)


def rel_err(module, sys, u):
    y_lstm = module(torch.tensor(u)[None], torch.zeros(1, module.nx, dtype=torch.float64))[0].detach().numpy()
    y = LureSystem.from_control(sys).simulate(u)
    return np.linalg.norm(y_lstm - y) / np.linalg.norm(y)


def test_fourth_order_plant_is_reproduced():
    d = datasets.fourth_order_plant()
    G = d.info["default_system"]  # python-control's realization: lstm_from_lti balances it
    u = np.random.default_rng(1).normal(size=(1000, 1))
    m = lstm_from_lti(G, scale=1e-3)
    assert rel_err(m, G, u[:51]) < 1e-3 and rel_err(m, G, u) < 1e-3
    # a smaller scale is more linear: the error falls like s²
    assert rel_err(lstm_from_lti(G, scale=3e-4), G, u) < 0.2 * rel_err(m, G, u)
    # without balancing, a realization with large states is far off (the error grows with (s·max|x|)²)
    big = control.ss(d.system.A, 30 * d.system.B, d.system.C / 30, d.system.D, 0.01)  # states 30× larger
    assert rel_err(lstm_from_lti(big, scale=1e-3, balance=False), big, u[:51]) > 10 * rel_err(m, G, u[:51])
    # the linearity check: the error grows about quadratically with the amplitude
    e1, e3 = rel_err(m, G, u[:200]), rel_err(m, G, 3 * u[:200])
    assert 4 < e3 / e1 < 16


@pytest.mark.parametrize("seed", range(6))
def test_random_minimal_systems_meet_the_target(seed):
    rng = np.random.default_rng(seed)
    nx, nu, ny = int(rng.integers(2, 6)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    p = rng.uniform(0.2, 0.95, nx) * np.sign(rng.normal(size=nx))
    T = rng.normal(size=(nx, nx)) + 2 * np.eye(nx)
    G = control.ss(T @ np.diag(p) @ np.linalg.inv(T), rng.normal(size=(nx, nu)), rng.normal(size=(ny, nx)),
                   rng.normal(size=(ny, nu)), 1.0)
    m = lstm_from_lti(G)
    assert rel_err(m, G, rng.normal(size=(51, nu))) < 1e-3


def test_round_trip_poles_and_dc_gain():
    G = datasets.fourth_order_plant().system
    back = lti_from_lstm(lstm_from_lti(G), dt=G.dt)
    p = np.linalg.eigvals(back.A)
    p = p[np.abs(p) > 1e-9]  # set aside the nu extra poles at z = 0
    np.testing.assert_allclose(np.sort_complex(p), np.sort_complex(G.poles()), rtol=1e-6)
    np.testing.assert_allclose(control.dcgain(back), 7.5351, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="discretize first"):
        lstm_from_lti(control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]]))
    with pytest.raises(ValueError, match="A must be invertible"):
        lstm_from_lti(control.ss([[0.0, 0.0], [1.0, 0.5]], [[1.0], [0.0]], [[0.0, 1.0]], [[0.0]], 1.0), balance=False)
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="not saturated"):
        lti_from_lstm(LSTMModule(1, 1, n_units=3))
    assert lti_from_lstm(LSTMModule(1, 1, n_units=3), force=True).nstates == 3
