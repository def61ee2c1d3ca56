"""The oscillator of the RNN lecture: Euler's method as a recurrent network (against a hand-written
Euler loop and its Lur'e export) and the trial-solution network (initial conditions by
construction; residual and error against scipy's solve_ivp)."""
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from sysid.models import check_sequence_module
from sysid.models.oscillator import EulerRNNModule, TrialSolution, euler_weights


def euler_loop(m, gamma, h, F, x, v):
    xs = []
    for f in F:
        xs.append(x)
        x, v = x + h * v, v + h * (-(gamma / m) * v - x / m + f / m)
    return np.array(xs)


@pytest.mark.parametrize("m, gamma, h", [(1.0, 0.3, 0.05), (2.5, 0.0, 0.2), (0.5, 1.7, 0.01)])
def test_euler_rnn_equals_the_euler_loop(m, gamma, h):
    rng = np.random.default_rng(0)
    F = rng.normal(size=(2, 300))
    s0 = rng.normal(size=(2, 2))
    rnn = EulerRNNModule(m, gamma, h)
    check_sequence_module(rnn, need_states=True)
    with torch.no_grad():
        y = rnn(torch.tensor(F[:, :, None]), torch.tensor(s0))[..., 0].numpy()
    for b in range(2):
        ref = euler_loop(m, gamma, h, F[b], s0[b, 0], s0[b, 1])
        assert np.abs(y[b] - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max())
    # the exported discrete linear system is the same recursion
    lure = rnn.to_lure()
    assert lure.dt == h
    np.testing.assert_allclose(lure.simulate(F[0][:, None], s0[0])[:, 0], y[0], rtol=0, atol=1e-12)
    W, U = euler_weights(m, gamma, h)
    np.testing.assert_array_equal(lure.A, W)
    np.testing.assert_array_equal(lure.B2, U)


def test_euler_weights_bad_input():
    with pytest.raises(ValueError, match="needs a mass m > 0 and damping gamma >= 0; got m=0"):
        euler_weights(0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="the Euler step h must be a number > 0"):
        euler_weights(1.0, 0.1, -0.1)
    with pytest.raises(ValueError, match="T \\(the length of the time interval\\) must be > 0"):
        TrialSolution(1.0, 0.0, T=0.0)


def test_trial_solution_meets_the_initial_conditions_for_any_weights():
    ts = TrialSolution(0.7, -1.3, T=3.0, hidden=6, seed=2)
    with torch.no_grad():
        ts.a.copy_(torch.randn(7, dtype=torch.float64))
    g, g1, _ = (x.detach() for x in ts.derivatives(torch.tensor([0.0, 1.0], dtype=torch.float64)))
    assert float(g[0]) == 0.7 and float(g1[0]) == -1.3
    # the forward-mode derivatives equal central differences
    t = torch.tensor([0.4, 1.9], dtype=torch.float64)
    e = 1e-5
    gp, gm = ts(t + e).detach(), ts(t - e).detach()
    _, d1, d2 = ts.derivatives(t)
    np.testing.assert_allclose(d1.detach(), (gp - gm) / (2 * e), rtol=1e-7)
    np.testing.assert_allclose(d2.detach(), (gp - 2 * ts(t).detach() + gm) / e ** 2, rtol=1e-4)


def test_trial_solution_solves_the_forced_oscillator():
    m, gamma, T, x0, v0 = 1.0, 0.3, 2.0, 1.0, 0.5

    def F(t):
        return torch.cos(1.5 * t)

    ts = TrialSolution(x0, v0, T=T, hidden=8, seed=0)
    ts.fit(m, gamma, F, n_points=80, max_iter=100)
    t = torch.linspace(0, T, 1001, dtype=torch.float64)
    res = ts.residual(t, m, gamma, F).detach().abs().max()
    ref = solve_ivp(lambda s, z: [z[1], (np.cos(1.5 * s) - gamma * z[1] - z[0]) / m], (0, T), [x0, v0],
                    rtol=1e-10, atol=1e-12, dense_output=True)
    err = np.abs(ts(t).detach().numpy() - ref.sol(t.numpy())[0]).max()
    assert res <= 1e-4 and err <= 1e-3


@pytest.mark.slow
def test_oscillator_example_meets_the_lecture_targets(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "oscillator.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=600)
    res = json.loads((tmp_path / "oscillator.json").read_text())
    assert res["euler_vs_loop_max_abs"] <= 1e-12
    assert res["trial"]["max_residual"] <= 1e-4 and res["trial"]["max_error_vs_solve_ivp"] <= 1e-3
    assert (tmp_path / "oscillator.png").is_file()
