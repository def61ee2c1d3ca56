"""Incremental ℓ2 / L2 gain (docs/math.md §4.3, §4.7, §4.8) against frequency sweeps and simulation."""
import control
import numpy as np
import pytest

from sysid import LureSystem, certify
from sysid.delta import Tanh


def hinf_sweep(G, *, continuous=False, n=20001):
    if continuous:
        w = np.concatenate([[0.0], np.logspace(-3, 3, n)])
        s = 1j * w
    else:
        s = np.exp(1j * np.linspace(0, np.pi, n))
    A, B, C, D = (np.asarray(M) for M in (G.A, G.B, G.C, G.D))
    I = np.eye(A.shape[0])
    return max(np.linalg.svd(C @ np.linalg.solve(z * I - A, B) + D, compute_uv=False)[0] for z in s)


def test_l2_gain_of_first_order_system_is_two():
    c = certify.incremental_l2_gain(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0))
    assert c.certified and c.bound == pytest.approx(2.0, abs=1e-4) and c.bound >= 2.0 * (1 - 1e-6)


def random_stable(nx, nu, ny, seed, continuous=False):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(nx, nx))
    if continuous:
        A -= (max(np.linalg.eigvals(A).real) + 0.3) * np.eye(nx)
    else:
        A *= 0.9 / max(abs(np.linalg.eigvals(A)))
    return control.ss(A, rng.normal(size=(nx, nu)), rng.normal(size=(ny, nx)), rng.normal(size=(ny, nu)),
                      0 if continuous else 1.0)


@pytest.mark.parametrize("nx,nu,ny,seed", [(1, 1, 1, 0), (3, 1, 1, 1), (3, 2, 2, 2), (4, 2, 3, 3)])
def test_l2_gain_never_below_hinf_norm(nx, nu, ny, seed):
    G = random_stable(nx, nu, ny, seed)
    hinf = hinf_sweep(G)
    c = certify.incremental_l2_gain(G)
    assert c.certified
    assert c.bound >= hinf * (1 - 1e-6)
    assert c.bound <= hinf * (1 + 1e-3)


@pytest.mark.parametrize("nx,nu,ny,seed", [(2, 1, 1, 4), (3, 2, 2, 5)])
def test_continuous_l2_gain_is_hinf_norm(nx, nu, ny, seed):
    G = random_stable(nx, nu, ny, seed, continuous=True)
    hinf = hinf_sweep(G, continuous=True)
    c = certify.incremental_l2_gain(G)
    assert c.certified and hinf * (1 - 1e-6) <= c.bound <= hinf * (1 + 1e-3)


def test_l2_gain_of_scalar_lure_is_worst_slope():
    lure = LureSystem(A=[[0.5]], B1=[[0.3]], B2=[[1.0]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=1.0)
    c = certify.incremental_l2_gain(lure)
    assert c.certified and c.bound == pytest.approx(5.0, rel=1e-4)
    # oracle: never below the H∞ norm of any frozen slope (1 / (1 − 0.5 − 0.3δ) at ω = 0)
    assert c.bound >= max(1 / (0.5 - 0.3 * d) for d in np.linspace(0, 1, 11)) * (1 - 1e-6)
    # and a simulated sequence gain from equal states stays below it
    rng = np.random.default_rng(0)
    u1 = rng.normal(size=(300, 1))
    u2 = u1 + 0.1 * rng.normal(size=(300, 1))
    dy = lure.simulate(u1) - lure.simulate(u2)
    assert np.sqrt(np.sum(dy**2) / np.sum((u1 - u2) ** 2)) <= c.bound


def test_unstable_system_is_never_certified():
    G = control.ss([[1.05, 0], [0, 0.3]], [[1], [1]], [[1, 1]], [[0]], 1.0)
    for c in (certify.incremental_l2_gain(G), certify.contraction(G), certify.lyapunov_stability(G)):
        assert not c.certified and c.bound is None
    Gc = control.ss([[0.1, 0], [0, -1]], [[1], [1]], [[1, 1]], [[0]])
    assert not certify.incremental_l2_gain(Gc).certified


def test_gain_needs_inputs():
    with pytest.raises(ValueError, match="needs inputs and outputs"):
        certify.incremental_l2_gain(LureSystem(A=[[0.5]], C2=[[1.0]], dt=1.0))


# --- solver choice (docs/math.md §4.8): SCS vs Clarabel, and the automatic choice ---------------------

@pytest.mark.parametrize("n", [4, 8])
def test_scs_and_clarabel_gain_agree_on_random_rens(n):
    from sysid.certify._ren_numpy import random_contracting_ren
    lure, _ = random_contracting_ren(n, n, 2, 2, seed=n)
    ref = certify.incremental_l2_gain(lure, solver="CLARABEL")
    scs = certify.incremental_l2_gain(lure, solver="SCS")
    assert ref.certified and scs.certified and scs.solver == "SCS"
    assert scs.extra["exact_recompute"] and scs.extra["form"] == "direct"
    assert scs.bound == pytest.approx(ref.bound, rel=1e-3)  # measured: ~2e-5 (n = 4), ~6e-6 (n = 8)
    # both bounds are exactly valid, so neither is (meaningfully) below the LMI optimum
    assert scs.bound >= ref.bound * (1 - 1e-6)


@pytest.mark.parametrize("nx,nu,ny,seed", [(3, 1, 1, 11), (4, 2, 3, 12)])
def test_scs_gain_never_below_hinf_norm(nx, nu, ny, seed):
    G = random_stable(nx, nu, ny, seed)
    hinf = hinf_sweep(G)
    c = certify.incremental_l2_gain(G, solver="SCS")
    assert c.certified and c.solver == "SCS"
    assert hinf * (1 - 1e-6) <= c.bound <= hinf * (1 + 1e-3)


@pytest.mark.parametrize("n,continuous", [(4, False), (12, False), (3, True)])
def test_direct_cvxopt_path_matches_clarabel_through_cvxpy(n, continuous):
    """The default (CVXOPT on the affine form, built here without cvxpy) solves the same LMI."""
    pytest.importorskip("cvxopt")
    from sysid.certify._ren_numpy import random_contracting_ren

    if continuous:
        G = random_stable(n, 2, 2, seed=7, continuous=True)
        lure = LureSystem(A=np.asarray(G.A) - 0.5 * np.eye(n), B1=np.full((n, 1), 0.3), B2=G.B,
                          C1=np.ones((1, n)) / n, C2=G.C, D22=G.D, delta=Tanh(), dt=0)
    else:
        lure, _ = random_contracting_ren(n, n, 2, 2, seed=n)
    direct = certify.incremental_l2_gain(lure, solver="CVXOPT")
    ref = certify.incremental_l2_gain(lure, solver="CLARABEL")
    assert direct.solver == "CVXOPT" and direct.certified and ref.certified
    assert direct.bound == pytest.approx(ref.bound, rel=1e-5)


def test_large_gain_lmis_go_to_the_first_order_path_by_default():
    from sysid.certify._gain import _LARGE
    from sysid.certify._ren_numpy import random_contracting_ren

    small, _ = random_contracting_ren(4, _LARGE - 5, 2, 2, seed=3)
    large, _ = random_contracting_ren(4, _LARGE - 4, 2, 2, seed=3)
    assert certify.incremental_l2_gain(small).solver == "CLARABEL"
    c = certify.incremental_l2_gain(large)
    ref = certify.incremental_l2_gain(large, solver="CLARABEL")
    assert c.solver == "first-order" and c.certified and ref.certified
    # a feasible point of the same LMI: never below its optimum, and close to it
    assert ref.bound * (1 - 1e-6) <= c.bound <= 1.05 * ref.bound
    assert c.extra["lower_bound"] <= ref.bound * (1 + 1e-6)


def test_missing_cvxopt_is_a_clear_error(monkeypatch):
    import sysid.certify._gain as gain
    from sysid.exceptions import SolverError

    monkeypatch.setattr(gain, "_have_cvxopt", lambda: False)
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    with pytest.raises(SolverError, match="'CVXOPT' is not installed; pip install cvxopt, or pass solver='CLARABEL'"):
        certify.incremental_l2_gain(G, solver="cvxopt")


@pytest.mark.parametrize("solver,su,cy", [(None, (30.0, 0.1), 5.0), ("CVXOPT", (30.0, 0.1), 5.0),
                                          (None, (300.0, 0.01), 50.0)])
def test_gain_of_badly_scaled_inputs_matches_hinf(solver, su, cy):
    """Inputs of very different physical sizes (force in N, voltage in V) and a gain of ~4e5:
    the scaled problem still returns the H∞ norm."""
    G = random_stable(4, 2, 3, 21)
    Su = np.diag(su)
    G = control.ss(G.A, np.asarray(G.B) @ Su, cy * np.asarray(G.C), cy * np.asarray(G.D) @ Su, 1.0)
    hinf = hinf_sweep(G)
    c = certify.incremental_l2_gain(G, solver=solver)
    assert c.certified and hinf * (1 - 1e-6) <= c.bound <= hinf * (1 + 1e-3)


def test_cvxopt_breakdown_or_stall_falls_back_or_is_not_certified(monkeypatch):
    pytest.importorskip("cvxopt")
    import sysid.certify._firstorder as fo
    import sysid.certify._gain as gain
    from sysid.certify._ren_numpy import random_contracting_ren

    large, _ = random_contracting_ren(4, gain._LARGE - 4, 2, 2, seed=3)
    ref = certify.incremental_l2_gain(large, solver="CLARABEL")
    monkeypatch.setattr(fo, "gain_firstorder", lambda *a, **k: None)  # the first-order path finds nothing

    def breakdown(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(gain, "_solve_cvxopt", breakdown)
    c = certify.incremental_l2_gain(large)  # automatic choice: CVXOPT, then Clarabel takes over
    assert c.solver == "CLARABEL" and c.certified and c.bound == pytest.approx(ref.bound, rel=1e-9)
    broke = certify.incremental_l2_gain(large, solver="CVXOPT")  # an answer, not an exception
    assert not broke.certified and broke.status == "solver_error"
    assert "CVXOPT failed numerically (ZeroDivisionError: float division by zero)" in broke.message
    monkeypatch.setattr(gain, "_solve_cvxopt", lambda *a, **k: ("cvxopt: unknown", None, None, None))
    assert certify.incremental_l2_gain(large).solver == "CLARABEL"
    stalled = certify.incremental_l2_gain(large, solver="CVXOPT")
    assert not stalled.certified and stalled.status == "cvxopt: unknown"
