"""Regression tests for the five routes to a false "certified" (issue 11) and the bad inputs around them.

Each marginal system below is *not* strictly stable / contracting / well posed, so every
certificate must say "not certified" (or raise a clear error), whatever the solver.
"""
import control
import numpy as np
import pytest

from sysid import LureSystem, certify
from sysid.certify import _lmi
from sysid.certify._verify import rounding
from sysid.delta import Nonlinearity, ReLU, Tanh


def ss(A, dt=1.0):
    A = np.atleast_2d(np.asarray(A, float))
    n = A.shape[0]
    return control.ss(A, np.ones((n, 1)), np.ones((1, n)), [[0.0]], dt)


# --- route 1: the default path at nx + nv >= 48 ------------------------------------------------------

@pytest.mark.parametrize("n, sign", [(48, 1.0), (48, -1.0), (64, 1.0), (64, -1.0)])
def test_route1_default_contraction_of_identity_is_not_certified(n, sign):
    c = certify.contraction(ss(sign * np.eye(n)))
    assert not c.certified and c.bound is None
    assert c.solver != "SCS"


def test_route1_default_contraction_of_lure_with_identity_A_is_not_certified():
    # 47 states + 1 tanh channel: the distance between trajectories with equal w stays constant
    n = 47
    rng = np.random.default_rng(0)
    lure = LureSystem(A=np.eye(n), B1=0.1 * rng.normal(size=(n, 1)), C1=rng.normal(size=(1, n)) / n,
                      C2=np.eye(1, n), delta=Tanh(), dt=1.0)
    c = certify.contraction(lure)
    assert not c.certified and c.solver != "SCS"


def test_route1_report_of_48_state_identity_agrees():
    r = certify.report(ss(np.eye(48)))
    assert not r["lyapunov_stability"].certified
    assert not r["contraction"].certified
    assert not r["incremental_l2_gain"].certified


# --- route 2: an explicit loose solver (SCS) -----------------------------------------------------

@pytest.mark.parametrize("A, dt", [(np.eye(1), 1.0), (np.diag([1.0, 0.5]), 1.0), (np.zeros((1, 1)), 0.0),
                                   ([[0.0, 1.0], [-1.0, 0.0]], 0.0)])
def test_route2_scs_lyapunov_of_marginal_systems_is_not_certified(A, dt):
    c = certify.lyapunov_stability(ss(A, dt), solver="SCS")
    assert not c.certified and c.bound is None


@pytest.mark.parametrize("A, dt", [(np.eye(1), 1.0), ([[0.0, 1.0], [-1.0, 0.0]], 0.0), (np.diag([0.0, -1.0]), 0.0)])
def test_route2_scs_contraction_of_marginal_systems_is_not_certified(A, dt):
    assert not certify.contraction(ss(A, dt), solver="SCS").certified
    assert not certify.contraction(ss(A, dt)).certified  # and by default


def test_route2_scs_smallest_rate_of_identity_is_not_certified():
    r = certify.smallest_rate(ss(np.eye(1)), solver="SCS")
    assert not r.certified and r.bound is None


def test_route2_scs_well_posedness_of_unit_loop_is_not_certified():
    # w = relu(w + b) has no solution for b > 0: D11 = 1 is not well posed
    lure = LureSystem(A=[[0.5]], B1=[[0.0]], C1=[[0.0]], D11=[[1.0]], C2=[[1.0]], delta=ReLU(), dt=1.0)
    for solver in ("SCS", None):
        c = certify.well_posedness(lure, solver=solver)
        assert not c.certified


def test_route2_recheck_uses_the_imposed_margin():
    # an LMI that holds only at tolerance 0 (max eigenvalue 0) is rejected; so is one that keeps
    # less than half the margin the solver was asked for
    zero = _lmi.Strict(np.zeros((2, 2)), 1.0, 1e-7)
    thin = _lmi.Strict(-0.4e-7 * np.eye(2), 1.0, 1e-7)
    good = _lmi.Strict(-0.6e-7 * np.eye(2), 1.0, 1e-7)
    for checks, ok in (([zero], False), ([thin], False), ([good], True)):
        c = _lmi.finish("contraction", "optimal", "SCS", checks, bound=1.0)
        assert c.certified is ok
        assert ok or "re-check failed" in c.message
        assert c.tol == pytest.approx(-0.5e-7)


def test_route2_rounding_bound_is_part_of_the_threshold():
    # at a huge scale the rounding bound dominates the margin
    big = _lmi.Strict(-1e-6 * np.eye(3), 1e12, 1e-7)
    assert big.need() == pytest.approx(rounding(3, 1e12)) and big.need() > 1e-6
    assert not _lmi.finish("lyapunov_stability", "optimal", "CLARABEL", [big]).certified


# --- route 3: check_ren_certificate's tolerance no longer grows with max|M| ----------------------

def test_route3_badly_scaled_metric_does_not_certify_an_unstable_system():
    lure = LureSystem(A=np.diag([0.5, 30.0]), C2=np.eye(2), dt=1.0)
    M = np.diag([1e12, 1.0])
    L = lure.A.T @ M @ lure.A - M
    assert np.linalg.eigvalsh(L).max() <= 1e-9 * np.abs(M).max()  # the old tolerance passed it
    c = certify.check_ren_certificate(lure, M, np.zeros(0))
    assert not c.certified and c.max_eig > c.tol


def test_route3_ill_conditioned_metric_does_not_certify_a_too_small_gain():
    # G(z) = 1/(z − 0.5) (gain 2) next to a decoupled fast state with a huge metric entry;
    # the Lipschitz IQC with γ = 0.5 is false
    lure = LureSystem(A=np.diag([0.5, 0.0]), B2=[[1.0], [0.0]], C2=[[1.0, 0.0]], dt=1.0)
    gam = 0.5
    M = np.diag([1.0, 1e12])
    c = certify.check_ren_certificate(lure, M, np.zeros(0), Q=-np.eye(1) / gam, S=np.zeros((1, 1)),
                                      R=gam * np.eye(1))
    assert not c.certified
    # ... while the true gain (γ = 2, storage M = P/γ of the Riccati solution) is certified
    g = certify.incremental_l2_gain(lure)
    assert g.bound == pytest.approx(2.0, rel=1e-6)
    ok = certify.check_ren_certificate(lure, g.P / g.bound, np.zeros(0), Q=-np.eye(1) / g.bound,
                                       S=np.zeros((1, 1)), R=g.bound * np.eye(1), rtol=1e-7)
    assert ok.certified


# --- route 4: strict at rate 1 -------------------------------------------------------------------

def test_route4_identity_with_identity_metric_is_not_contracting():
    lure = LureSystem(A=np.eye(2), C2=np.eye(2), dt=1.0)
    c = certify.check_ren_certificate(lure, np.eye(2), np.zeros(0), rate=1.0)
    assert not c.certified and c.tol < 0
    # a strictly contracting one is, relative to λ_min(M)
    ok = LureSystem(A=0.9 * np.eye(2), C2=np.eye(2), dt=1.0)
    assert certify.check_ren_certificate(ok, np.diag([1.0, 1e6]), np.zeros(0), rate=1.0).certified
    # and A = I is certified at no rate below 1 either
    assert not certify.check_ren_certificate(lure, np.eye(2), np.zeros(0), rate=0.999).certified


# --- route 5: complex input, unspecified time bases, bad slopes and solver names -----------------

def test_route5_complex_matrices_are_an_error():
    with pytest.raises(ValueError, match="must be real"):
        certify.lyapunov_stability(LureSystem(A=[[0.5 + 0.9j]], C2=[[1.0]], dt=1.0))
    G = ss([[0.5]])
    G.A = np.array([[0.5 + 0.9j]])  # a StateSpace whose matrix was made complex afterwards
    with pytest.raises(ValueError, match="A must be a real matrix; got complex entries"):
        certify.lyapunov_stability(G)
    lure = LureSystem(A=[[0.5]], C2=[[1.0]], dt=1.0)
    with pytest.raises(ValueError, match="M must be real"):
        certify.check_ren_certificate(lure, [[1.0 + 1j]], np.zeros(0))
    with pytest.raises(ValueError, match=r"weights\[0\] must be real"):
        certify.lipschitz([np.array([[1j]]), np.array([[1.0]])])
    with pytest.raises(ValueError, match="W must be a real matrix"):
        certify.monotone(np.array([[0.5j]]))


def test_route5_unspecified_time_base_is_an_error():
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], None)
    for f in (certify.lyapunov_stability, certify.contraction, certify.incremental_l2_gain, certify.report):
        with pytest.raises(ValueError, match=r"dt=None \(time base unspecified\).*control.ss\(A, B, C, D, 0\)"):
            f(G)
    with pytest.raises(ValueError, match=r"dt=True .*give the sampling period"):
        certify.contraction(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], True))


def test_route5_non_finite_slopes_are_an_error():
    with pytest.raises(ValueError, match=r"slope bounds of the activation \(slope=\) must be finite"):
        certify.lipschitz([np.ones((2, 2)), np.ones((1, 2))], slope=(0, np.inf))
    with pytest.raises(ValueError, match="must be finite"):
        certify.lipschitz([np.ones((2, 2)), np.ones((1, 2))], slope=(np.nan, 1.0))
    with pytest.raises(ValueError, match="alpha <= beta"):
        certify.lipschitz([np.ones((2, 2)), np.ones((1, 2))], slope=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"slope must be a pair \(alpha, beta\)"):
        certify.lipschitz([np.ones((2, 2)), np.ones((1, 2))], slope=1.0)

    class Steep(Nonlinearity):
        name, alpha, beta = "steep", 0.0, np.inf

        def __call__(self, v):
            return v

    lure = LureSystem(A=[[0.5]], B1=[[0.1]], C1=[[1.0]], C2=[[1.0]], delta=Steep(), dt=1.0)
    with pytest.raises(ValueError, match=r"slope bounds of Steep\(\) must be finite"):
        certify.contraction(lure)


@pytest.mark.parametrize("solver", [42, 1.5, ["CLARABEL"]])
def test_route5_non_string_solver_is_a_type_error(solver):
    G = ss([[0.5]])
    for f in (certify.lyapunov_stability, certify.contraction, certify.incremental_l2_gain, certify.smallest_rate,
              certify.report):
        with pytest.raises(TypeError, match=r"solver must be a solver name such as 'CVXOPT' or 'CLARABEL' \(a str\)"):
            f(G, solver=solver)
    with pytest.raises(TypeError, match="solver must be a solver name"):
        certify.lipschitz([np.ones((2, 2)), np.ones((1, 2))], solver=solver)


def test_error_messages_never_recommend_scs():
    with pytest.raises(certify_solver_error(), match=r"Pass solver='CLARABEL'") as info:
        certify.contraction(ss([[0.5]]), solver="NOT_A_SOLVER")
    assert "SCS" not in str(info.value)


def certify_solver_error():
    from sysid import SolverError
    return SolverError


# --- smallest_rate: a bracket, never an exception --------------------------------------------------

def test_smallest_rate_returns_a_bracket():
    r = certify.smallest_rate(ss([[0.5]]), tol=1e-3)
    lo, hi = r.extra["bracket"]
    assert r.certified and r.bound == hi and lo <= 0.5 < hi <= lo + 1e-3  # ρ = 0.5 itself is not strict
    rc = certify.smallest_rate(ss([[-2.0]], 0.0), tol=1e-3)
    lo, hi = rc.extra["bracket"]
    assert rc.certified and rc.bound == lo and lo < 2.0 <= hi


def test_smallest_rate_solver_failure_is_not_certified_at_that_rate(monkeypatch):
    import sysid.certify._contraction as con

    real = con.solve
    calls = []

    def flaky(problem, solver):
        calls.append(1)
        if len(calls) % 2 == 0:  # every other bisection point breaks down
            return (solver or "CLARABEL"), _lmi.SOLVER_ERROR, "numerical trouble"
        return real(problem, solver)

    monkeypatch.setattr(con, "solve", flaky)
    lure = LureSystem(A=[[0.5]], B1=[[0.3]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=1.0)
    r = certify.smallest_rate(lure, tol=1e-2)
    lo, hi = r.extra["bracket"]
    assert r.certified and 0.8 <= r.bound == hi and hi - lo <= 1e-2  # honest, if shifted by failures
