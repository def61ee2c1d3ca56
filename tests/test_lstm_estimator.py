"""Linearization of any LSTM (docs/math.md §6.3) and the LSTM estimator."""

import control
import numpy as np
import pytest
import torch

from sysid import ConvergenceError, IOData, NotFittedError, compare, datasets
from sysid.estimators import LSTM
from sysid.models import LSTMModule, linearize_lstm, lstm_equilibrium, lstm_from_lti, lti_from_lstm


def data(N=150, seed=0, dt=0.1):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(N, 1))
    y = np.zeros((N, 1))
    x = 0.0
    for k in range(N):
        x = 0.8 * x + np.tanh(u[k, 0])
        y[k] = 1.0 + 2.0 * x
    return IOData(u, y, dt=dt)


def one_step(m, z, u):
    zn, y = m.step(torch.tensor(z)[None], torch.tensor(u)[None])
    return zn[0].detach().numpy(), y[0].detach().numpy()


@pytest.mark.parametrize("nu,ny,layers", [(1, 1, 1), (2, 2, 1), (1, 2, 2)])
def test_linearize_matches_central_differences(nu, ny, layers):
    torch.manual_seed(3)
    m = LSTMModule(nu, ny, n_units=3, layers=layers).double()
    u0 = np.linspace(0.2, -0.1, nu)
    z = lstm_equilibrium(m, u0)
    np.testing.assert_allclose(one_step(m, z, u0)[0], z, atol=1e-9)  # an equilibrium
    lin = linearize_lstm(m, u0)
    assert lin.nstates == 6 * layers and lin.ninputs == nu and lin.noutputs == ny
    eps = 1e-6
    for j in range(m.nx):
        e = np.zeros(m.nx)
        e[j] = eps
        (zp, yp), (zm, ym) = one_step(m, z + e, u0), one_step(m, z - e, u0)
        np.testing.assert_allclose(lin.A[:, j], (zp - zm) / (2 * eps), atol=1e-8)
        np.testing.assert_allclose(lin.C[:, j], (yp - ym) / (2 * eps), atol=1e-8)
    for j in range(nu):
        e = np.zeros(nu)
        e[j] = eps
        (zp, yp), (zm, ym) = one_step(m, z, u0 + e), one_step(m, z, u0 - e)
        np.testing.assert_allclose(lin.B[:, j], (zp - zm) / (2 * eps), atol=1e-8)
        np.testing.assert_allclose(lin.D[:, j], (yp - ym) / (2 * eps), atol=1e-8)
    # float32 modules are linearized in float64 (a copy): same answer to float32 precision
    lin32 = linearize_lstm(m.float(), u0)
    np.testing.assert_allclose(lin32.A, lin.A, atol=1e-5)


def test_linearizing_calculated_weights_gives_the_plant():
    """Linearization and saturated-gate read-back agree on an LSTM built by lstm_from_lti: the
    poles of the plant plus poles at z ≈ 0 (the c states and the input-carrying units)."""
    G = datasets.fourth_order_plant().info["default_system"]
    m = lstm_from_lti(G)
    lin = linearize_lstm(m)
    assert lin.nstates == 2 * m.n_units and lin.dt == pytest.approx(0.01)
    p = np.linalg.eigvals(lin.A)
    p = p[np.abs(p) > 1e-9]
    true = G.poles()
    np.testing.assert_allclose(p[np.lexsort((p.imag, p.real))], true[np.lexsort((true.imag, true.real))], rtol=1e-6)
    np.testing.assert_allclose(control.dcgain(lin), 7.5351, atol=1e-4)
    np.testing.assert_allclose(control.dcgain(lin), control.dcgain(lti_from_lstm(m)), rtol=1e-9)


def test_linearize_errors():
    torch.manual_seed(0)
    m = LSTMModule(1, 1, n_units=2).double()
    with torch.no_grad():  # forget gate open and c integrating a constant input: no equilibrium
        m.lstm.bias_ih_l0[0:2] = 100.0
        m.lstm.bias_ih_l0[2:4] = 100.0
        m.lstm.bias_ih_l0[4:6] = 5.0
        m.lstm.weight_hh_l0.zero_()
    with pytest.raises(ConvergenceError, match="no equilibrium"):
        linearize_lstm(m, [1.0], max_iter=50)
    with pytest.raises(ValueError, match=r"u0 must have shape \(nu,\) = \(1,\); got \(2,\)"):
        linearize_lstm(m, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"x0 must have shape \(nx,\) = \(4,\)"):
        linearize_lstm(m, [0.0], x0=np.zeros(3))
    with pytest.raises(TypeError, match="must be an LSTMModule"):
        linearize_lstm(torch.nn.Linear(1, 1), [0.0])


def test_lstm_estimator_trains_and_linearizes_in_physical_units():
    d = data()
    est = LSTM(n_units=4, epochs=40, lr=2e-2, horizon=30, seed=0)
    with pytest.raises(NotFittedError):
        est.simulate(d.u)
    assert est.fit(d) is est
    assert est.history_.loss[-1] < 0.5 * est.history_.loss[0]
    lin = est.linearize()
    assert lin.nstates == 8 and lin.dt == pytest.approx(0.1)
    # DC gain of the linearization = slope of the nonlinear steady-state response at u0 = 0
    du = 1e-4
    ss = [est.simulate(np.full((400, 1), v))[-1, 0] for v in (-du, du)]
    np.testing.assert_allclose(control.dcgain(lin), (ss[1] - ss[0]) / (2 * du), rtol=1e-3)
    x_eq, y_eq = est.equilibrium([0.0])
    np.testing.assert_allclose(y_eq, est.simulate(np.zeros((400, 1)))[-1], rtol=1e-6)
    res = compare(est, d, x0="estimate", skip=20)
    assert res.fit_percent[0] > 30
    with pytest.raises(NotImplementedError, match="not a Lur'e system"):
        est.to_lure()
    with pytest.raises(ValueError, match=r"u0 must have shape \(nu,\) = \(1,\)"):
        est.linearize(u0=[0.0, 1.0])


def test_estimator_mimo_shapes_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    u = rng.normal(size=(120, 2))
    y = np.column_stack([np.convolve(u[:, 0], [0.5, 0.3], "same"), np.tanh(u[:, 1])])
    d = IOData(u, y, dt=0.5)
    est = LSTM(n_units=3, layers=2, epochs=3, horizon=20, seed=1).fit(d)
    assert est.nu_ == 2 and est.ny_ == 2 and est.dt_ == 0.5
    y_sim = est.simulate(u[:30])
    assert y_sim.shape == (30, 2)
    path = tmp_path / "lstm"
    est.save(path)
    back = LSTM.load(path)
    np.testing.assert_allclose(back.simulate(u[:30]), y_sim, rtol=1e-12, atol=1e-12)
    lin, lin2 = est.linearize(u0=[0.1, 0.0]), back.linearize(u0=[0.1, 0.0])
    assert lin.nstates == 12
    np.testing.assert_allclose(lin2.A, lin.A, atol=1e-12)
    np.testing.assert_allclose(lin2.D, lin.D, atol=1e-12)
    # same seed → same model
    again = LSTM(n_units=3, layers=2, epochs=3, horizon=20, seed=1).fit(d)
    np.testing.assert_allclose(again.simulate(u[:30]), y_sim, rtol=1e-10)


def test_burn_in_windows_and_state():
    d = data(N=100)
    est = LSTM(n_units=3, epochs=30, lr=2e-2, horizon=20, x0="burn_in", burn_in=10, seed=0)
    est.fit(d)
    assert est.history_.loss[-1] < 0.5 * est.history_.loss[0]
    # the windows: 10 past inputs before each 20-sample window; the loss sees only the window
    un, yn = (d.u - est.u_mean_) / est.u_std_, (d.y - est.y_mean_) / est.y_std_
    from sysid.training import BurnIn, Truncated, cut_windows

    (w,) = cut_windows([(un, yn)], loss=Truncated(20), x0=BurnIn(10))
    starts = [10, 30, 50, 70, 80]  # the last window is aligned with the end of the record
    assert tuple(w.u.shape) == (len(starts), 30, 1) and tuple(w.scored_y.shape) == (len(starts), 20, 1)
    for b, a in enumerate(starts):
        np.testing.assert_array_equal(w.u[b].numpy(), un[a - 10:a + 20])
        np.testing.assert_array_equal(w.scored_y[b].numpy(), yn[a:a + 20])
    # the state after a burn-in window continues the simulation exactly
    x = est.burn_in_state(d.u[:40])
    np.testing.assert_allclose(est.simulate(d.u[40:], x0=x), est.simulate(d.u)[40:], rtol=1e-10, atol=1e-12)
    sim = LSTM(n_units=3, epochs=2, loss="simulation", x0="burn_in", burn_in=10).fit(d, val=data(N=60, seed=1))
    assert len(sim.history_.loss) == 2 and len(sim.history_.val_loss) == 2


def test_estimator_parameter_errors():
    d = data(N=60)
    with pytest.raises(ValueError, match="x0='measured' needs the state to be the output"):
        LSTM(x0="measured", epochs=1).fit(d)
    with pytest.raises(ValueError, match=r"'x0' parameter of LSTM must be one of \['auto', 'zero', 'measured', 'fit', 'simulated'"):
        LSTM(x0="warm", epochs=1).fit(d)
    with pytest.raises(ValueError, match="no window fits in the records"):
        LSTM(x0="burn_in", burn_in=50, horizon=20, epochs=1).fit(d)
    with pytest.raises(ValueError, match="'n_units' parameter of LSTM"):
        LSTM(n_units=0, epochs=1).fit(d)


@pytest.mark.slow
def test_lstm_linear_system_example_numbers(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "lstm_linear_system.py"
    spec = importlib.util.spec_from_file_location("lstm_linear_system", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    res = example.main(["--out", str(tmp_path), "--epochs", "3"])
    assert res["err_a"] < 1e-3 and 6 < res["linearity"][3] / res["linearity"][1] < 12
    dc = {r["model"]: r["dcgain"] for r in res["rows"]}
    assert dc["(a) calculated, read back"] == pytest.approx(7.5351, abs=1e-4)
    assert dc["(a) calculated, linearized"] == pytest.approx(7.5351, abs=1e-4)
    assert (tmp_path / "lstm_linear_system.png").is_file()


def test_estimate_x0_ridge_is_the_regularized_least_squares_solution():
    """Oracle: an LSTM started as a linear model (linear to ~1e-6 at its 1e-3 amplitude) and 3
    samples of one output for its 2 · 8 states: the estimate must be the ridge solution
    -(JᵀJ + λI)⁻¹ Jᵀ r(0) with J from autograd, not just any of the states that fit."""
    rng = np.random.default_rng(0)
    u = rng.normal(size=(200, 1))
    y = control.forced_response(control.ss([[0.9, 0.2], [0.0, 0.7]], [[1.0], [0.5]], [[1.0, 0.0]], [[0.0]], 0.1),
                                U=u.T).outputs.T
    est = LSTM(n_units=8, epochs=0, seed=0).fit(IOData(u, y, dt=0.1))
    window = IOData(u[:3], y[:3] + 0.3, dt=0.1)
    m = est.module_
    un = torch.tensor((window.u - est.u_mean_) / est.u_std_)[None]
    yn = torch.tensor((window.y - est.y_mean_) / est.y_std_)
    r = lambda z: (m(un, z[None])[0] - yn).reshape(-1)  # noqa: E731
    z0 = torch.zeros(m.nx, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(r, z0).numpy()
    for lam in (1e-3, 1e-1):
        expected = -np.linalg.solve(J.T @ J + lam * np.eye(m.nx), J.T @ r(z0).detach().numpy())
        np.testing.assert_allclose(est.estimate_x0(window, ridge=lam), expected, atol=1e-4 * np.abs(expected).max())
    with pytest.raises(ValueError, match="ridge must be a finite float >= 0"):
        est.estimate_x0(window, ridge=-1.0)


def test_estimate_x0_reproduces_a_reachable_initial_state():
    """Oracle: data the LSTM itself produced from a state reached by past input; the estimated
    (h, c) must reproduce those outputs (the state itself need not be unique)."""
    d = data(N=120)
    est = LSTM(n_units=3, epochs=5, horizon=20, seed=0).fit(d)
    rng = np.random.default_rng(4)
    x_true = est.burn_in_state(rng.normal(size=(30, 1)))
    u = rng.normal(size=(40, 1))
    y = est.simulate(u, x0=x_true)
    x_hat = est.estimate_x0(IOData(u, y, dt=0.1), ridge=0.0)  # plain least squares
    assert np.abs(est.simulate(u, x0=np.zeros(est.module_.nx)) - y).max() > 1e-3  # zero is not the answer
    np.testing.assert_allclose(est.simulate(u, x0=x_hat), y, atol=1e-6 * np.abs(y).max())
