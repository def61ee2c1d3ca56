"""Contraction certificates (docs/math.md §4.2, §4.7, §4.8) and the REN built-in certificate (§3.3)."""
import control
import cvxpy as cp
import numpy as np
import pytest

from sysid import LureSystem, certify, datasets
from sysid.certify import _contraction
from sysid.certify._ren_numpy import random_contracting_ren
from sysid.delta import ReLU, Tanh, ZMinusSin

I2 = np.eye(2)


@pytest.mark.parametrize("A, B1, ok", [(0.5, 0.3, True), (0.9, 0.5, False), (0.9, -0.5, True),
                                       (0.9, -1.95, False), (1.1, 0.0, False)])
def test_contraction_known_cases(A, B1, ok):
    lure = LureSystem(A=A * I2, B1=B1 * I2, C1=I2, C2=I2, delta=Tanh(), dt=1.0)
    c = certify.contraction(lure)
    assert c.certified is ok
    assert (c.status == "optimal") is ok
    if ok:  # independent oracle: V = ΔxᵀPΔx decreases along two simulated trajectories
        rng = np.random.default_rng(0)
        u = np.zeros((20, 0))
        _, xa = lure.simulate(u, rng.normal(size=2), return_x=True)
        _, xb = lure.simulate(u, rng.normal(size=2), return_x=True)
        d = xa - xb
        V = np.einsum("ti,ij,tj->t", d, c.P, d)
        assert np.all(V[1:] < V[:-1])


def test_biases_drop_out():
    kw = dict(A=0.9 * I2, B1=-0.5 * I2, C1=I2, C2=I2, delta=Tanh(), dt=1.0)
    c0 = certify.contraction(LureSystem(**kw))
    c1 = certify.contraction(LureSystem(**kw, bx=[1.0, -2.0], bv=[3.0, 0.5], by=[1.0, 1.0]))
    assert c0.certified and c1.certified


@pytest.mark.parametrize("rho, ok", [(0.99, True), (1.01, False)])
def test_lti_contraction_iff_spectral_radius_below_one(rho, ok):
    rng = np.random.default_rng(0)
    T = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    A = T @ np.diag([rho, 0.5, -0.3]) @ np.linalg.inv(T)
    assert certify.contraction(control.ss(A, np.ones((3, 1)), np.ones((1, 3)), [[0]], 1.0)).certified is ok
    Ac = T @ np.diag([rho - 1, -0.5, -2]) @ np.linalg.inv(T)  # continuous: Re λ < 0
    assert certify.contraction(control.ss(Ac, np.ones((3, 1)), np.ones((1, 3)), [[0]])).certified is ok


def test_continuous_lure_contraction_and_rate():
    # ẋ = −x + b·tanh(x): slopes of the loop in [−1, −1 + b]; contracting iff b < 1 (with margin)
    ok = LureSystem(A=[[-1.0]], B1=[[0.8]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=0.0)
    bad = LureSystem(A=[[-1.0]], B1=[[1.2]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=0.0)
    assert certify.contraction(ok).certified and not certify.contraction(bad).certified
    best = certify.smallest_rate(ok, tol=1e-3)
    assert best.certified and best.bound == pytest.approx(0.2, abs=2e-3)  # worst slope: ẋ = −0.2 x


def test_smallest_rate_discrete():
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    r = certify.smallest_rate(G)
    assert r.certified and 0.5 <= r.bound <= 0.5 + 2e-3
    lure = LureSystem(A=[[0.5]], B1=[[0.3]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=1.0)
    r = certify.smallest_rate(lure)  # worst slope: 0.5 + 0.3 = 0.8
    assert r.certified and 0.8 <= r.bound <= 0.8 + 2e-3


@pytest.mark.parametrize("rate, match", [(1.5, r"in \(0, 1\]"), (0.0, r"in \(0, 1\]")])
def test_bad_rates(rate, match):
    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    with pytest.raises(ValueError, match=match):
        certify.contraction(G, rate=rate)
    with pytest.raises(ValueError, match="finite float >= 0"):
        certify.contraction(control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]]), rate=-1.0)


def test_random_contracting_rens():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        nx, nv = (int(rng.integers(1, 7)), int(rng.integers(1, 7))) if seed < 48 else (16, 16)
        nu, ny = (1, 1) if seed % 3 == 0 else (2, 3)
        rate = 1.0 if seed % 2 else 0.8
        lure, (M, lam) = random_contracting_ren(nx, nv, nu, ny, rate=rate, seed=seed)
        built_in = certify.check_ren_certificate(lure, M, lam, rate=rate)
        assert built_in.certified and built_in.max_eig <= 0, (seed, built_in)
        c = certify.contraction(lure, rate=rate)
        assert c.certified, (seed, c)
        # two trajectories under the same input: V = ΔxᵀMΔx shrinks by rate² per step
        u = rng.normal(size=(30, nu))
        _, xa = lure.simulate(u, 3 * rng.normal(size=nx), return_x=True)
        _, xb = lure.simulate(u, 3 * rng.normal(size=nx), return_x=True)
        d = xa - xb
        V = np.einsum("ti,ij,tj->t", d, M, d)
        assert np.all(V[1:] <= rate**2 * V[:-1] * (1 + 1e-9) + 1e-12 * V[0]), seed
        # ... and so does the metric the LMI found
        Vc = np.einsum("ti,ij,tj->t", d, c.P, d)
        assert np.all(Vc[1:] <= rate**2 * Vc[:-1] * (1 + 1e-9) + 1e-12 * Vc[0]), seed


def test_shifted_ren_is_not_contracting():
    lure, (M, lam) = random_contracting_ren(3, 4, 1, 1, seed=3)
    A = lure.A + 1.5 * np.eye(3)  # ρ(A) > 1: even the linear part diverges
    bad = LureSystem(A=A, B1=lure.B1, B2=lure.B2, C1=lure.C1, D11=lure.D11, D12=lure.D12, C2=lure.C2,
                     delta=ReLU(), dt=1.0)
    assert not certify.contraction(bad).certified
    assert not certify.check_ren_certificate(bad, M, lam).certified


@pytest.mark.parametrize("s, ok", [(0.1, True), (0.3, False), (0.5, False)])
def test_pendulum_slope_cases(s, ok):
    g, dt = 9.81, 0.01
    A = np.array([[1, dt], [-g * dt, 1 - 0.5 * dt]])
    lure = LureSystem(A=A, B1=s * np.array([[0], [g * dt]]), C1=[[1, 0]], C2=[[1, 0]], delta=ZMinusSin(), dt=dt)
    assert certify.contraction(lure, eps=1e-9).certified is ok


def test_true_pendulum_is_not_contracting():
    assert not certify.contraction(datasets.pendulum(n_train=20, n_test=20).system).certified


def test_tampered_multiplier_fails_the_numpy_recheck(monkeypatch):
    # inject a tampered multiplier between the solver and the re-check: the certificate must
    # then say "not certified", whatever the solver status
    real = _contraction.solve

    def tampered(problem, solver):
        out = real(problem, solver)
        for v in problem.variables():
            if v.ndim == 1:  # λ
                v.value = 1e3 * np.ones(v.shape)
        return out

    lure = LureSystem(A=0.9 * I2, B1=-0.5 * I2, C1=I2, C2=I2, delta=Tanh(), dt=1.0)
    assert certify.contraction(lure).certified
    monkeypatch.setattr(_contraction, "solve", tampered)
    c = certify.contraction(lure)
    assert c.status == "optimal" and not c.certified and c.bound is None
    assert "re-check failed" in c.message and c.max_eig > 0


def test_scs_schur_form_agrees_with_clarabel():
    lure, _ = random_contracting_ren(4, 4, 1, 1, seed=7)
    c = certify.contraction(lure, solver="SCS")
    assert c.certified and c.solver == "SCS"
    expr = _contraction._schur_constraint(lure, cp.Variable((4, 4), symmetric=True), cp.Variable(4), 1.0, 0.0)
    assert isinstance(expr, cp.constraints.PSD)


def test_local_flag():
    c = certify.contraction(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0), local=True)
    assert c.certified and c.local and "local" in c.message
