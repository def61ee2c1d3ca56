import control
import numpy as np
import pytest
import torch

from sysid import ConvergenceError, IOData, compare
from sysid.estimators import LSTM
from sysid.estimators._lstm import linearize_lstm
from sysid.models import LSTMModule


def data(N=150, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(N, 1))
    y = np.zeros((N, 1))
    x = 0.0
    for k in range(N):
        x = 0.8 * x + np.tanh(u[k, 0])
        y[k] = 1.0 + 2.0 * x
    return IOData(u, y, dt=0.1)


def test_linearize_matches_finite_differences():
    torch.manual_seed(3)
    m = LSTMModule(2, 2, n_units=3).double()
    u0 = np.array([0.2, -0.1])
    lin, z = linearize_lstm(m, u0)
    assert lin.nstates == 6

    def step(zz, uu):
        h, c = m.split_state(torch.tensor(zz)[None])
        y, (hn, cn) = m.lstm(torch.tensor(uu)[None, None], (h, c))
        return (np.concatenate([hn[0, 0].detach().numpy(), cn[0, 0].detach().numpy()]),
                m.readout(y)[0, 0].detach().numpy())

    eps = 1e-6
    for j in range(6):
        e = np.zeros(6)
        e[j] = eps
        (zp, yp_), (zm, ym) = step(z + e, u0), step(z - e, u0)
        np.testing.assert_allclose(lin.A[:, j], (zp - zm) / (2 * eps), atol=1e-8)
        np.testing.assert_allclose(lin.C[:, j], (yp_ - ym) / (2 * eps), atol=1e-8)
    for j in range(2):
        e = np.zeros(2)
        e[j] = eps
        (zp, yp_), (zm, ym) = step(z, u0 + e), step(z, u0 - e)
        np.testing.assert_allclose(lin.B[:, j], (zp - zm) / (2 * eps), atol=1e-8)
        np.testing.assert_allclose(lin.D[:, j], (yp_ - ym) / (2 * eps), atol=1e-8)
    # z is an equilibrium
    np.testing.assert_allclose(step(z, u0)[0], z, atol=1e-9)


def test_lstm_estimator_trains_and_linearizes_in_physical_units():
    d = data()
    est = LSTM(n_units=4, epochs=40, lr=2e-2, horizon=30, seed=0).fit(d)
    assert est.history_.loss[-1] < 0.5 * est.history_.loss[0]
    lin = est.linearize()
    assert lin.nstates == 8 and lin.dt == pytest.approx(0.1)
    # DC gain of the linearization = slope of the nonlinear steady-state response at u0 = 0
    du = 1e-4
    ss = [est.simulate(np.full((400, 1), v))[-1, 0] for v in (-du, du)]
    np.testing.assert_allclose(control.dcgain(lin), (ss[1] - ss[0]) / (2 * du), rtol=1e-3)
    res = compare(est, d, x0="estimate", skip=20)
    assert res.fit_percent[0] > 30
    with pytest.raises(NotImplementedError, match="not a Lur'e system"):
        est.to_lure()
    with pytest.raises(ValueError, match="cannot be 'measured'"):
        LSTM(x0="measured", epochs=1).fit(d)


def test_no_equilibrium_is_a_clear_error():
    torch.manual_seed(0)
    m = LSTMModule(1, 1, n_units=2).double()
    with torch.no_grad():  # forget gate open and c integrating a constant input: no equilibrium
        m.lstm.bias_ih_l0[2:4] = 100.0
        m.lstm.bias_ih_l0[0:2] = 100.0
        m.lstm.bias_ih_l0[4:6] = 5.0
        m.lstm.weight_hh_l0.zero_()
    with pytest.raises(ConvergenceError, match="no equilibrium"):
        linearize_lstm(m, [1.0], max_iter=50)
