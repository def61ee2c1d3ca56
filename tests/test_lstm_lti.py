"""LSTMModule (cell equations against numpy), lstm_from_lti and lti_from_lstm (docs/math.md §5)."""

import control
import numpy as np
import pytest
import torch

from sysid import datasets
from sysid.models import LSTMModule, lstm_from_lti, lti_from_lstm


def sig(a):
    return 1 / (1 + np.exp(-a))


def numpy_lstm(module, u, h, c):
    """docs/math.md §5.1 in numpy (gate order i, f, g, o), every layer; returns y (T, ny) and the states
    entering each step, x (T, nx) = (h of all layers, c of all layers)."""
    n, L = module.n_units, module.layers
    h, c = [h[k * n:(k + 1) * n] for k in range(L)], [c[k * n:(k + 1) * n] for k in range(L)]
    par = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    F = par["readout.weight"]
    ys, xs = [], []
    for ut in u:
        xs.append(np.concatenate(h + c))
        inp = ut
        for k in range(L):
            W, R = par[f"lstm.weight_ih_l{k}"], par[f"lstm.weight_hh_l{k}"]
            b = par[f"lstm.bias_ih_l{k}"] + par[f"lstm.bias_hh_l{k}"]
            a = W @ inp + R @ h[k] + b
            i, f, g, o = sig(a[:n]), sig(a[n:2 * n]), np.tanh(a[2 * n:3 * n]), sig(a[3 * n:])
            c[k] = f * c[k] + i * g
            h[k] = o * np.tanh(c[k])
            inp = h[k]
        ys.append(F @ h[-1])
    return np.array(ys), np.array(xs)


@pytest.mark.parametrize("nu,ny,n_units,layers", [(1, 1, 4, 1), (2, 3, 5, 1), (2, 1, 3, 2)])
def test_cell_equations_match_torch(nu, ny, n_units, layers):
    torch.manual_seed(0)
    m = LSTMModule(nu, ny, n_units=n_units, layers=layers).double()
    rng = np.random.default_rng(0)
    u = rng.normal(size=(20, nu))
    x0 = rng.normal(size=m.nx)
    half = m.nx // 2
    y_np, x_np = numpy_lstm(m, u, x0[:half], x0[half:])
    ut, x0t = torch.tensor(u)[None], torch.tensor(x0)[None]
    y = m(ut, x0t)[0].detach().numpy()
    np.testing.assert_allclose(y, y_np, rtol=1e-12, atol=1e-12)
    y2, x = (v[0].detach().numpy() for v in m.forward_states(ut, x0t))
    np.testing.assert_allclose(y2, y_np, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x, x_np, rtol=1e-12, atol=1e-12)
    assert m.split_state(torch.tensor(x))[0].shape == (layers, 20, n_units)
    np.testing.assert_array_equal(m.join_state(*m.split_state(torch.tensor(x))).numpy(), x)


def test_module_input_errors():
    m = LSTMModule(2, 1, n_units=3).double()
    with pytest.raises(ValueError, match=r"u must have shape \(B, T, nu\) = \(B, T, 2\)"):
        m(torch.zeros(4, 10, 1, dtype=torch.float64), torch.zeros(4, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, nx\) = \(4, 6\)"):
        m(torch.zeros(4, 10, 2, dtype=torch.float64), torch.zeros(3, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"state must have shape \(B, nx\) = \(B, 6\)"):
        m(torch.zeros(4, 10, 2, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_units must be an int >= 1; got 0"):
        LSTMModule(1, 1, n_units=0)


def lstm_response(module, u):
    with torch.no_grad():
        return module(torch.tensor(u)[None], torch.zeros(1, module.nx, dtype=torch.float64))[0].numpy()


def rel_err(module, sys, u):
    """‖y_LSTM − y‖/‖y‖ against control.forced_response from x0 = 0."""
    y = control.forced_response(sys, U=u.T, X0=0, squeeze=False).outputs.T
    return np.linalg.norm(lstm_response(module, u) - y) / np.linalg.norm(y)


def observable_canonical(G):
    """The observable canonical realization of a SISO system: states of the size of y (≈ 50 here)."""
    tf = control.ss2tf(G)
    num, den = np.atleast_1d(np.squeeze(tf.num[0][0])), np.atleast_1d(np.squeeze(tf.den[0][0]))
    num, den = num / den[0], den / den[0]
    n = len(den) - 1
    num = np.concatenate([np.zeros(n + 1 - len(num)), num])
    A = np.zeros((n, n))
    A[:, 0], A[:-1, 1:] = -den[1:], np.eye(n - 1)
    return control.ss(A, (num[1:] - num[0] * den[1:])[:, None], np.eye(1, n), [[num[0]]], G.dt)


def test_fourth_order_plant_is_reproduced():
    d = datasets.fourth_order_plant()
    G = d.info["default_system"]
    u = np.random.default_rng(1).normal(size=(1000, 1))
    m = lstm_from_lti(G, scale=1e-3)
    e51, e1000 = rel_err(m, G, u[:51]), rel_err(m, G, u)
    assert e51 < 1e-3 and e1000 < 1e-3
    # a smaller scale is more linear: the error falls like s²
    assert rel_err(lstm_from_lti(G, scale=1e-4), G, u) < 0.03 * e1000
    # the linearity check: the error grows quadratically with the amplitude (×9 at 3u)
    assert 6 < rel_err(m, G, 3 * u) / e1000 < 12


def test_balancing_is_what_makes_it_accurate():
    """The seed's finding: a realization with large states (observable canonical, max|x| ≈ 50)
    is off by ~10 % at s = 1e-3; balanced, the same transfer function is reproduced to < 1e-3."""
    Go = observable_canonical(datasets.fourth_order_plant().info["default_system"])
    u = np.random.default_rng(0).normal(size=(51, 1))
    assert rel_err(lstm_from_lti(Go, balance=False), Go, u) > 1e-2
    assert rel_err(lstm_from_lti(Go, balance=True), Go, u) < 1e-3


def random_stable_system(rng, nx, nu, ny):
    """Random minimal MIMO system, poles 0.2 ≤ |p| ≤ 0.95 (complex pairs and real poles)."""
    blocks, k = [], 0
    while k < nx:
        r = rng.uniform(0.2, 0.95)
        if nx - k >= 2 and rng.random() < 0.5:
            th = rng.uniform(0.1, 3.0)
            blocks.append(r * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]))
            k += 2
        else:
            blocks.append(np.array([[r * rng.choice([-1, 1])]]))
            k += 1
    A = np.zeros((nx, nx))
    i = 0
    for blk in blocks:
        A[i:i + len(blk), i:i + len(blk)] = blk
        i += len(blk)
    T = rng.normal(size=(nx, nx)) + 2 * np.eye(nx)
    return control.ss(T @ A @ np.linalg.inv(T), rng.normal(size=(nx, nu)), rng.normal(size=(ny, nx)),
                      rng.normal(size=(ny, nu)), 0.1)


def sorted_poles(sys, *, drop_zero):
    p = np.linalg.eigvals(np.asarray(sys.A))
    if drop_zero:
        p = p[np.abs(p) > 1e-9]
    return p[np.lexsort((p.imag, p.real))]


@pytest.mark.parametrize("seed", range(8))
def test_random_minimal_systems_meet_the_target_and_round_trip(seed):
    rng = np.random.default_rng(seed)
    nx, nu, ny = int(rng.integers(2, 6)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    G = random_stable_system(rng, nx, nu, ny)
    m = lstm_from_lti(G)
    assert m.n_units == nx + nu
    assert rel_err(m, G, rng.normal(size=(51, nu))) < 1e-3
    back = lti_from_lstm(m)
    assert back.dt == pytest.approx(0.1) and back.nstates == nx + nu
    # the same transfer function: frequency responses agree
    for z in (1.0, np.exp(0.7j), -0.5 + 0.3j):
        np.testing.assert_allclose(back(z), G(z), rtol=1e-9, atol=1e-9 * np.abs(G(z)).max())
    p_back = sorted_poles(back, drop_zero=True)
    assert len(p_back) == nx  # the nu input-carrying units add poles at exactly z = 0
    np.testing.assert_allclose(p_back, sorted_poles(G, drop_zero=False), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(control.dcgain(back), control.dcgain(G), rtol=1e-9)


def test_round_trip_of_the_fourth_order_plant():
    G = datasets.fourth_order_plant().info["default_system"]
    back = lti_from_lstm(lstm_from_lti(G))
    assert back.dt == pytest.approx(0.01)
    np.testing.assert_allclose(sorted_poles(back, drop_zero=True), sorted_poles(G, drop_zero=False), rtol=1e-6)
    np.testing.assert_allclose(control.dcgain(back), 7.5351, atol=1e-4)


def test_read_back_without_balancing_is_the_exact_augmented_realization():
    rng = np.random.default_rng(3)
    G = random_stable_system(rng, 3, 2, 2)
    back = lti_from_lstm(lstm_from_lti(G, scale=1e-2, balance=False))
    A, B, C, D = (np.asarray(M) for M in (G.A, G.B, G.C, G.D))
    Z = np.zeros
    np.testing.assert_allclose(back.A, np.block([[A, Z((3, 2))], [Z((2, 3)), Z((2, 2))]]), atol=1e-12)
    np.testing.assert_allclose(back.B, np.vstack([B, np.eye(2)]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(back.C, np.hstack([C, Z((2, 2))]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(back.D, D, rtol=1e-9, atol=1e-12)


def test_conversion_errors():
    with pytest.raises(ValueError, match="discretize first, e.g. control.c2d"):
        lstm_from_lti(control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]]))
    singular = control.ss([[0.0, 0.0], [1.0, 0.5]], [[1.0], [0.0]], [[0.0, 1.0]], [[0.0]], 1.0)  # pole at z = 0
    for balance in (False, True):
        with pytest.raises(ValueError, match="A must be invertible"):
            lstm_from_lti(singular, balance=balance)
    with pytest.raises(ValueError, match="pass balance=False"):
        lstm_from_lti(control.ss([[1.2]], [[1.0]], [[1.0]], [[0.0]], 1.0))
    assert lstm_from_lti(control.ss([[1.2]], [[1.0]], [[1.0]], [[0.0]], 1.0), balance=False).n_units == 2
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        lstm_from_lti(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0), scale=0.0)
    with pytest.raises(TypeError, match="must be a control.StateSpace"):
        lstm_from_lti(control.tf([1.0], [1.0, -0.5], 1.0))


def test_unsaturated_gates_are_refused_unless_forced():
    torch.manual_seed(0)
    m = LSTMModule(1, 1, n_units=3).double()
    with pytest.raises(ValueError, match="not saturated.*force=True"):
        lti_from_lstm(m)
    assert lti_from_lstm(m, force=True).nstates == 3
    with pytest.raises(ValueError, match="one-layer LSTM; got layers = 2"):
        lti_from_lstm(LSTMModule(1, 1, n_units=3, layers=2), force=True)
