import control
import cvxpy as cp
import numpy as np
import pytest

from sysid import LureSystem, SolverError, certify, datasets
from sysid.certify._lmi import finish
from sysid.delta import ReLU, Tanh, ZMinusSin

I2 = np.eye(2)


@pytest.mark.parametrize("A, ok", [([[0.5, 1], [0, 0.5]], True), ([[1.01, 0], [0, 0.5]], False),
                                   ([[0, 1], [-1, 0]], False)])
def test_lyapunov_discrete(A, ok):
    c = certify.lyapunov_stability(control.ss(A, np.zeros((2, 1)), np.eye(2), np.zeros((2, 1)), 1.0))
    assert c.certified is ok
    if ok:
        P = c.P
        assert np.linalg.eigvalsh(np.asarray(A).T @ P @ A - P).max() < 0


def test_lyapunov_continuous():
    assert certify.lyapunov_stability(control.ss([[-0.1, 5], [-5, -0.1]], [[0], [1]], [[1, 0]], [[0]])).certified
    assert not certify.lyapunov_stability(control.ss([[0.05, 5], [-5, 0.05]], [[0], [1]], [[1, 0]], [[0]])).certified


@pytest.mark.parametrize("A, B1, ok", [(0.5, 0.3, True), (0.9, 0.5, False), (0.9, -0.5, True),
                                       (0.9, -1.95, False), (1.1, 0.0, False)])
def test_contraction_known_cases(A, B1, ok):
    lure = LureSystem(A=A * I2, B1=B1 * I2, C1=I2, C2=I2, delta=Tanh(), dt=1.0)
    c = certify.contraction(lure)
    assert c.certified is ok
    assert (c.status == "optimal") is ok


@pytest.mark.parametrize("rho, ok", [(0.99, True), (1.01, False)])
def test_lti_contraction_iff_spectral_radius_below_one(rho, ok):
    rng = np.random.default_rng(0)
    T = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    A = T @ np.diag([rho, 0.5, -0.3]) @ np.linalg.inv(T)
    assert certify.contraction(control.ss(A, np.ones((3, 1)), np.ones((1, 3)), [[0]], 1.0)).certified is ok
    Ac = T @ np.diag([rho - 1, -0.5, -2]) @ np.linalg.inv(T)  # continuous: Re λ < 0
    assert certify.contraction(control.ss(Ac, np.ones((3, 1)), np.ones((1, 3)), [[0]])).certified is ok


def test_random_renss_are_certified_and_contract():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        nx, nv = (int(rng.integers(1, 7)), int(rng.integers(1, 7))) if seed < 45 else (16, 16)
        rate = 1.0 if seed % 2 else 0.8
        lure, M, lam = certify.random_contracting_ren(nx, nv, 2, 2, rate=rate, seed=seed)
        built_in = certify.check_ren_certificate(lure, M, lam, rate=rate)
        assert built_in.certified, (seed, built_in)
        if seed % 5 == 0:
            assert certify.contraction(lure, rate=rate).certified
        # two trajectories under the same input: V = ΔxᵀMΔx shrinks by rate² per step
        u = rng.normal(size=(30, 2))
        _, xa = lure.simulate(u, rng.normal(size=nx), return_x=True)
        _, xb = lure.simulate(u, rng.normal(size=nx), return_x=True)
        d = xa - xb
        V = np.einsum("ti,ij,tj->t", d, M, d)
        assert np.all(V[1:] <= rate**2 * V[:-1] * (1 + 1e-9) + 1e-14), seed


def test_l2_gain_of_first_order_system_is_two():
    c = certify.incremental_l2_gain(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0))
    assert c.certified and c.bound == pytest.approx(2.0, abs=1e-4)


@pytest.mark.parametrize("nx,nu,ny,seed", [(1, 1, 1, 0), (3, 1, 1, 1), (3, 2, 2, 2), (4, 2, 3, 3)])
def test_l2_gain_never_below_hinf_norm(nx, nu, ny, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(nx, nx))
    A *= 0.9 / max(abs(np.linalg.eigvals(A)))
    G = control.ss(A, rng.normal(size=(nx, nu)), rng.normal(size=(ny, nx)), rng.normal(size=(ny, nu)), 1.0)
    w = np.linspace(0, np.pi, 20001)
    resp = G(np.exp(1j * w))
    resp = resp.reshape(ny, nu, -1) if resp.ndim == 3 else resp.reshape(1, 1, -1)
    hinf = max(np.linalg.svd(resp[:, :, k], compute_uv=False)[0] for k in range(0, len(w)))
    c = certify.incremental_l2_gain(G)
    assert c.certified
    assert c.bound >= hinf * (1 - 1e-6)
    assert c.bound <= hinf * (1 + 1e-3)


def test_l2_gain_of_scalar_lure_is_worst_slope():
    lure = LureSystem(A=[[0.5]], B1=[[0.3]], B2=[[1.0]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=1.0)
    c = certify.incremental_l2_gain(lure)
    assert c.bound == pytest.approx(5.0, rel=1e-4)


def test_unstable_system_is_never_certified():
    G = control.ss([[1.05, 0], [0, 0.3]], [[1], [1]], [[1, 1]], [[0]], 1.0)
    for c in (certify.incremental_l2_gain(G), certify.contraction(G), certify.lyapunov_stability(G)):
        assert not c.certified and c.bound is None


@pytest.mark.parametrize("s, ok", [(0.1, True), (0.3, False), (0.5, False)])
def test_pendulum_slope_cases(s, ok):
    g, dt = 9.81, 0.01
    A = np.array([[1, dt], [-g * dt, 1 - 0.5 * dt]])
    lure = LureSystem(A=A, B1=s * np.array([[0], [g * dt]]), C1=[[1, 0]], C2=[[1, 0]], delta=ZMinusSin(), dt=dt)
    assert certify.contraction(lure, eps=1e-9).certified is ok


def test_true_pendulum_is_not_contracting():
    assert not certify.contraction(datasets.pendulum(n_train=20, n_test=20).system).certified


@pytest.mark.parametrize("D11, ok", [([[1.5]], False), ([[0.5]], True), ([[0, 2], [-2, 0]], True),
                                     (np.tril(np.random.default_rng(0).normal(size=(5, 5)) * 8, -1), True)])
def test_well_posedness(D11, ok):
    D11 = np.asarray(D11, float)
    n = D11.shape[0]
    lure = LureSystem(A=[[0.5]], B1=np.zeros((1, n)), C1=np.zeros((n, 1)), D11=D11, C2=[[1.0]], delta=ReLU(), dt=1.0)
    assert certify.well_posedness(lure).certified is ok


def test_monotone():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(6, 6)) * 0.4, rng.normal(size=(6, 6)) * 0.4
    m = 0.1
    W = (1 - m) * np.eye(6) - A.T @ A + B - B.T
    c = certify.monotone(W, m)
    assert c.certified and c.bound >= m - 1e-12
    assert not certify.monotone(2 * np.eye(3), 0.0).certified


def test_lipsdp():
    assert certify.lipschitz([np.array([[3.0]]), np.array([[-2.0]])]).bound == pytest.approx(6.0, rel=1e-5)
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(20, 4)) / 2, rng.normal(size=(15, 20)) / 4, rng.normal(size=(2, 15)) / 3]
    bound = certify.lipschitz(Ws).bound
    x = rng.normal(size=(2000, 4))
    grads = []
    for xi in x:  # Jacobian of the ReLU net
        d1 = (Ws[0] @ xi > 0).astype(float)
        d2 = (Ws[1] @ (d1 * (Ws[0] @ xi)) > 0).astype(float)
        J = Ws[2] @ (d2[:, None] * Ws[1]) @ (d1[:, None] * Ws[0])
        grads.append(np.linalg.norm(J, 2))
    prod = np.prod([np.linalg.norm(W, 2) for W in Ws])
    assert max(grads) <= bound <= prod


def test_symmetrization_pitfall_regression():
    # cvxpy's `<<` constrains only the symmetric part of a non-symmetric expression. The certificate
    # code symmetrizes explicitly, and the numpy re-check sees the same symmetric matrix.
    P = cp.Variable((2, 2), symmetric=True)
    A = np.array([[0.5, 2.0], [0.0, 0.5]])
    expr = A.T @ P @ A - P
    assert not expr.is_symmetric()
    c = certify.lyapunov_stability(control.ss(A, [[0], [1]], [[1, 0]], [[0]], 1.0))
    M = A.T @ c.P @ A - c.P
    assert np.linalg.eigvalsh(0.5 * (M + M.T)).max() <= c.max_eig + 1e-12 <= 1e-12


def test_failed_recheck_is_not_certified():
    bad = np.array([[1e-3, 0], [0, -1.0]])  # what a tampered multiplier would produce
    c = finish("contraction", "optimal", "CLARABEL", [bad], bound=1.0, tol=0.0)
    assert not c.certified and "re-check failed" in c.message


def test_solver_errors():
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    with pytest.raises(SolverError, match="not installed.*solver="):
        certify.contraction(G, solver="NOT_A_SOLVER")
    c = certify.contraction(G, solver="SCS")
    assert c.certified and c.solver == "SCS"


def test_report_tables():
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    r = certify.report(G)
    assert r["lyapunov_stability"].certified and r["incremental_l2_gain"].bound == pytest.approx(2, abs=1e-4)
    assert "incremental_l2_gain" in str(r)
    lure, _, _ = certify.random_contracting_ren(3, 4, 1, 1, seed=1)
    r = certify.report(lure)
    assert r["contraction"].certified
    with pytest.raises(KeyError, match="no 'monotone'"):
        r["monotone"]


def test_local_certificate_of_a_linearization():
    from sysid.estimators import N4SID

    d = datasets.fourth_order_plant(N=500)
    est = N4SID(nx=4).fit(d.train)
    r = certify.report(est)  # linear: exact Lur'e form, so global
    assert not r["contraction"].local and r["contraction"].certified
    c = certify.contraction(d.system, local=True)
    assert c.local and "local" in c.message


def test_bad_rates():
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        certify.contraction(G, rate=1.5)
    r = certify.smallest_rate(G)
    assert r.certified and 0.5 <= r.bound <= 0.5 + 2e-3
