"""The structure-exploiting paths (first-order LMI search, Lyapunov and Riccati equations)."""
import control
import numpy as np
import pytest

from sysid import LureSystem, certify
from sysid.certify import _firstorder
from sysid.certify._contraction import contraction_lmi
from sysid.certify._ren_numpy import random_contracting_ren
from sysid.delta import Tanh


def test_first_order_family_matches_the_lmi_and_its_gradient():
    lure, _ = random_contracting_ren(3, 4, 1, 1, seed=0)
    fam = _firstorder._contraction_family(lure, 0.9)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 3))
    P, lam = X @ X.T + np.eye(3), rng.uniform(0.5, 2, 4)
    L = fam.lmi(P, lam)
    ref = contraction_lmi(lure, P, lam, 0.9)
    assert np.allclose(L, 0.5 * (ref + ref.T), atol=1e-12)
    # gradient of <G, L(P, λ)> against central differences
    G = rng.normal(size=(7, 7))
    G = G + G.T
    gP, glam = fam.grad(G)
    z = fam.pack(P, lam)
    d = rng.normal(size=z.size)
    h = 1e-6
    Pp, lp = fam.unpack(z + h * d)
    Pm, lm = fam.unpack(z - h * d)
    fd = (np.sum(G * fam.lmi(Pp, lp)) - np.sum(G * fam.lmi(Pm, lm))) / (2 * h)
    assert fd == pytest.approx(np.concatenate([gP[fam.iu] * fam.w, glam]) @ d, rel=1e-6)


@pytest.mark.parametrize("continuous", [False, True])
def test_large_lure_contraction_uses_the_first_order_path_and_is_rechecked(continuous):
    n = 30
    rng = np.random.default_rng(1)
    if continuous:
        A = rng.normal(size=(n, n)) / np.sqrt(n)
        A -= (np.linalg.eigvals(A).real.max() + 1.0) * np.eye(n)
    else:
        A = rng.normal(size=(n, n))
        A *= 0.5 / max(abs(np.linalg.eigvals(A)))
    B1, C1 = 0.2 * rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=(n, n)) / np.sqrt(n)
    lure = LureSystem(A=A, B1=B1, C1=C1, C2=np.eye(1, n), delta=Tanh(), dt=0.0 if continuous else 1.0)
    c = certify.contraction(lure)
    assert c.certified and c.solver == "first-order" and c.max_eig <= c.tol < 0
    L = contraction_lmi(lure, c.P, c.multipliers, 0.0 if continuous else 1.0)
    assert np.linalg.eigvalsh(0.5 * (L + L.T)).max() < 0  # the user's own check, original coordinates
    # an unstable linear part: no certificate of this form exists, the path must not find one
    bad = LureSystem(A=A + (2.0 if continuous else 0.6) * np.eye(n), B1=B1, C1=C1, C2=np.eye(1, n), delta=Tanh(),
                     dt=lure.dt)
    assert not certify.contraction(bad).certified


def test_first_order_rate_below_one_and_rejections():
    lure, (M, lam) = random_contracting_ren(24, 24, 2, 2, rate=0.9, seed=5)
    c = certify.contraction(lure, rate=0.95)
    assert c.certified and c.solver == "first-order"
    # the spectral radius of A bounds every certifiable rate from below (slope-0 loop)
    rho = max(abs(np.linalg.eigvals(lure.A)))
    assert not certify.contraction(lure, rate=0.99 * rho).certified


def test_first_order_gain_is_a_feasible_point_of_the_same_lmi():
    lure, _ = random_contracting_ren(24, 24, 2, 2, seed=6)
    g = certify.incremental_l2_gain(lure)
    assert g.certified and g.solver == "first-order"
    lo = g.extra["lower_bound"]
    assert 0 < lo <= g.bound
    # the simulated sequence gain from equal initial states stays below it
    rng = np.random.default_rng(0)
    u1 = rng.normal(size=(200, 2))
    u2 = u1 + 0.1 * rng.normal(size=(200, 2))
    dy = lure.simulate(u1) - lure.simulate(u2)
    assert np.sqrt(np.sum(dy**2) / np.sum((u1 - u2) ** 2)) <= g.bound


@pytest.mark.parametrize("n", [48, 80])
def test_lti_paths_at_size(n):
    rng = np.random.default_rng(n)
    A = rng.normal(size=(n, n))
    A *= 0.95 / max(abs(np.linalg.eigvals(A)))
    G = control.ss(A, rng.normal(size=(n, 2)), rng.normal(size=(2, n)), np.zeros((2, 2)), 1.0)
    c = certify.contraction(G)
    assert c.certified and c.solver == "lyapunov-equation"
    g = certify.incremental_l2_gain(G)
    assert g.certified and g.solver == "riccati"
    assert g.extra["lower_bound"] * (1 - 1e-9) <= g.bound <= g.extra["lower_bound"] * (1 + 1e-4)


def test_first_order_finds_nothing_when_no_certificate_exists():
    # A contracts on its own, but the slope-1 loop A + B1 C1 = 1.5 I diverges: no certificate
    n = 24
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lure = LureSystem(A=0.5 * np.eye(n), B1=Q, C1=Q.T, C2=np.eye(1, n), delta=Tanh(), dt=1.0)
    c = certify.contraction(lure)
    assert not c.certified and c.bound is None
    # the structure path gives up (nothing to claim) and says so
    assert c.solver == "first-order" and c.status == "no_certificate_found" and "solver='CLARABEL'" in c.message
    assert c.extra["best_max_eig"] > 0


def _continuous_lure(nx, nv, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(nx, nx)) / np.sqrt(nx)
    A -= (np.linalg.eigvals(A).real.max() + 1.0) * np.eye(nx)
    return LureSystem(A=A, B1=0.3 * rng.normal(size=(nx, nv)) / np.sqrt(nv), B2=rng.normal(size=(nx, 2)),
                      C1=rng.normal(size=(nv, nx)) / np.sqrt(nx), D12=0.3 * rng.normal(size=(nv, 2)),
                      C2=rng.normal(size=(2, nx)), D21=0.1 * rng.normal(size=(2, nv)), delta=Tanh(), dt=0.0)


@pytest.mark.parametrize("continuous", [False, True])
def test_riccati_storage_for_fixed_multipliers_is_the_lmi_optimum(continuous):
    # oracle: min s over P of the gain LMI with λ held fixed, solved by Clarabel
    import cvxpy as cp

    from sysid.certify._gain import gain_lmi

    lure = _continuous_lure(4, 3, 0) if continuous else random_contracting_ren(4, 3, 2, 2, seed=7)[0]
    # multipliers near (not at) the joint optimum
    opt = certify.incremental_l2_gain(lure, solver="CLARABEL")
    lam = opt.multipliers * (1 + 0.3 * np.random.default_rng(0).uniform(size=lure.nv))
    P = cp.Variable((4, 4), symmetric=True)
    s = cp.Variable()
    M = gain_lmi(lure, P, lam, s)
    cp.Problem(cp.Minimize(s), [0.5 * (M + M.T) << 0, P >> 0]).solve(solver="CLARABEL")
    assert s.value is not None and s.value >= opt.bound**2 * (1 - 1e-6)
    P2, s2 = _firstorder.riccati_polish(lure, lam, 0.0, 10 * s.value + 10, 1e-9)
    assert P2 is not None and np.linalg.eigvalsh(P2).min() >= 0
    assert s.value * (1 - 1e-6) <= s2 <= s.value * (1 + 1e-3)
    L = gain_lmi(lure, P2, lam, s2 * (1 + 1e-6))
    assert np.linalg.eigvalsh(0.5 * (L + L.T)).max() <= 0


def test_continuous_first_order_gain_with_riccati_storage():
    lure = _continuous_lure(8, 40, 3)  # nx + nv = 48: the first-order path
    c = certify.incremental_l2_gain(lure)
    ref = certify.incremental_l2_gain(lure, solver="CLARABEL")
    assert c.certified and c.solver == "first-order" and c.extra["form"] == "first-order + riccati"
    assert ref.certified and ref.bound * (1 - 1e-6) <= c.bound <= 1.1 * ref.bound


def test_first_order_gain_without_riccati_storage_bisects_on(monkeypatch):
    lure, _ = random_contracting_ren(4, 44, 2, 2, seed=3)
    ref = certify.incremental_l2_gain(lure, solver="CLARABEL")
    monkeypatch.setattr(_firstorder, "riccati_polish", lambda *a, **k: (None, np.inf))
    c = certify.incremental_l2_gain(lure)
    assert c.certified and c.solver == "first-order" and c.extra["form"] == "first-order"
    assert ref.bound * (1 - 1e-6) <= c.bound <= 1.2 * ref.bound


def test_feasible_point_caps_evaluations_per_smoothing_level():
    # A = 1.2 I: no contraction certificate exists; every level of μ stops at its cap
    n = 6
    lure = LureSystem(A=1.2 * np.eye(n), B1=0.1 * np.eye(n), C1=np.eye(n), C2=np.eye(1, n), delta=Tanh(), dt=1.0)
    fam = _firstorder._contraction_family(lure, 1.0)
    P, lam, info = _firstorder.feasible_point(fam, np.eye(n), np.ones(n), need_margin=1e-7, homogeneous=True,
                                              max_evals=1000, mus=(1e-1, 1e-2, 1e-3), mu_relative=True,
                                              phase_evals=10)
    assert P is None and info["best_max_eig"] > 0
    assert info["evaluations"] <= 3 * 12
    best_P, best_lam = info["best_point"]
    top = np.linalg.eigvalsh(fam.lmi(best_P, best_lam)).max() / np.trace(best_P)
    assert top == pytest.approx(info["best_max_eig"], rel=1e-9)


def test_structure_paths_run_on_one_blas_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from sysid.certify._blas import one_blas_thread

    @one_blas_thread
    def inside():
        return [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]

    before = [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
    assert inside() and all(n == 1 for n in inside())
    assert [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"] == before


@pytest.mark.parametrize("continuous,slopes", [(False, (0.0, 1.0)), (True, (0.0, 1.0)), (False, (-0.5, 2.0)),
                                               (True, (0.3, 1.5))])
def test_gain_family_matches_the_gain_lmi_and_its_gradient(continuous, slopes):
    from sysid.certify._gain import gain_lmi
    from sysid.core.delta import Nonlinearity

    lure = _continuous_lure(3, 4, 5) if continuous else random_contracting_ren(3, 4, 2, 2, seed=5)[0]

    class Sector(Nonlinearity):
        alpha, beta = slopes

        def __call__(self, v):
            return np.clip(v, -1, 1) * slopes[1]

    lure = LureSystem(A=lure.A, B1=lure.B1, B2=lure.B2, C1=lure.C1, D11=0 * lure.D11, D12=lure.D12, C2=lure.C2,
                      D21=lure.D21, D22=lure.D22, delta=Sector(), dt=lure.dt)
    nx, nv, nu = 3, 4, 2
    N = nx + nv + nu
    K = np.hstack([lure.A, lure.B1, lure.B2])
    E = np.eye(nx, N)
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    Eu = np.diag(np.r_[np.zeros(nx + nv), np.ones(nu)])
    pairs = [(E, K, 2.0)] if continuous else [(K, K, 1.0), (E, E, -1.0)]
    s = 1.7
    fam = _firstorder.LMIFamily(nx, pairs, np.hstack([lure.C1, lure.D11, lure.D12]), nx + np.arange(nv), *slopes,
                                np.zeros((N, N)), consts=[Cy.T @ Cy - s * Eu])
    rng = np.random.default_rng(1)
    X = rng.normal(size=(nx, nx))
    P, lam = X @ X.T + np.eye(nx), rng.uniform(0.5, 2, nv)
    ref = gain_lmi(lure, P, lam, s)
    assert np.allclose(fam.lmi(P, np.r_[lam, 1.0]), 0.5 * (ref + ref.T), atol=1e-12)
    G = rng.normal(size=(N, N))
    G = G + G.T
    gP, glam = fam.grad(G)
    z = fam.pack(P, np.r_[lam, 1.0])
    d = rng.normal(size=z.size)
    h = 1e-6
    fd = (np.sum(G * fam.lmi(*fam.unpack(z + h * d))) - np.sum(G * fam.lmi(*fam.unpack(z - h * d)))) / (2 * h)
    assert fd == pytest.approx(np.concatenate([gP[fam.iu] * fam.w, glam]) @ d, rel=1e-6)
