"""Property suite: no false "certified" against exact oracles (hypothesis, derandomized).

Oracles: the spectral radius / largest real part of the poles (LTI stability and
contraction), simulated trajectory pairs and frozen-slope linear systems (Lur'e contraction),
exact solution counts by enumerating ReLU activation patterns (well-posedness), and the H∞
norm by a refined frequency sweep (LTI gain; python-control 0.10.2's norm fails for ny != nu). Systems are drawn at the edge of
each certificate (spectral radius within 1e-8 of 1, exactly orthogonal A, D11 = 1), badly
scaled (states, inputs and outputs by up to 1e6) and under every solver.
"""
import itertools

import control
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysid import LureSystem, certify
from sysid.delta import ReLU, Tanh

FAST = settings(derandomize=True, deadline=None, max_examples=12,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

seeds = st.integers(0, 2**31 - 1)


def spectral(A):
    return float(np.max(np.abs(np.linalg.eigvals(A))))


def with_radius(rng, n, r):
    """A random n × n real matrix with spectral radius exactly r (up to rounding), non-normal."""
    A = rng.normal(size=(n, n))
    A *= r / spectral(A)
    return A


def ss(A, dt=1.0, B=None, C=None):
    n = A.shape[0]
    B = np.ones((n, 1)) if B is None else B
    C = np.ones((1, n)) if C is None else C
    return control.ss(A, B, C, np.zeros((C.shape[0], B.shape[1])), dt)


# --- LTI stability and contraction at the edge, every solver --------------------------------------

@FAST
@given(seed=seeds, n=st.integers(1, 4), edge=st.sampled_from([-1e-2, -1e-8, 0.0, 1e-8, 1e-2]),
       solver=st.sampled_from([None, "CLARABEL", "SCS"]))
def test_lti_discrete_certified_only_if_spectral_radius_below_one(seed, n, edge, solver):
    rng = np.random.default_rng(seed)
    A = with_radius(rng, n, 1.0 + edge)
    rho = spectral(A)
    for c in (certify.lyapunov_stability(ss(A), solver=solver), certify.contraction(ss(A), solver=solver)):
        if c.certified:
            assert rho < 1
            P = c.P  # the certificate itself, in the user's coordinates
            assert np.linalg.eigvalsh(A.T @ P @ A - P).max() < 0 and np.linalg.eigvalsh(P).min() > 0
    if edge <= -1e-2 and solver != "SCS":  # clearly stable: the accurate paths certify
        assert certify.lyapunov_stability(ss(A), solver=solver).certified


@FAST
@given(seed=seeds, n=st.integers(1, 4), edge=st.sampled_from([-1e-2, -1e-8, 0.0, 1e-8]),
       solver=st.sampled_from([None, "CLARABEL", "SCS"]))
def test_lti_continuous_certified_only_if_poles_in_open_left_half_plane(seed, n, edge, solver):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    A -= (np.linalg.eigvals(A).real.max() - edge) * np.eye(n)
    top = float(np.linalg.eigvals(A).real.max())
    for c in (certify.lyapunov_stability(ss(A, 0.0), solver=solver), certify.contraction(ss(A, 0.0), solver=solver)):
        if c.certified:
            assert top < 0


@FAST
@given(seed=seeds, n=st.integers(1, 5), scale=st.sampled_from([1.0, 1e3, 1e6]),
       solver=st.sampled_from([None, "CLARABEL", "SCS"]))
def test_orthogonal_and_rotated_A_is_never_certified(seed, n, scale, solver):
    # |λ| = 1 exactly for every eigenvalue; a badly scaled similarity does not change that
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    T = np.diag(np.logspace(0, np.log10(scale), n))
    A = np.linalg.solve(T, Q @ T)
    assert not certify.lyapunov_stability(ss(A), solver=solver).certified
    assert not certify.contraction(ss(A), solver=solver).certified


# --- smallest_rate: never raises on a stable LTI system, brackets the spectral radius -------------

@FAST
@given(seed=seeds, n=st.integers(1, 4), r=st.floats(0.05, 0.98))
def test_smallest_rate_of_stable_lti_brackets_the_spectral_radius(seed, n, r):
    rng = np.random.default_rng(seed)
    A = with_radius(rng, n, r)
    rate = certify.smallest_rate(ss(A), tol=1e-3)
    lo, hi = rate.extra["bracket"]
    assert rate.certified and rate.bound == hi
    assert spectral(A) < hi and lo <= spectral(A) + 1e-9 and hi - lo <= 1e-3 + 1e-12


# --- LTI gain: the H∞ norm, for systems scaled by up to 1e6 ---------------------------------------

def hinf(G, continuous):
    A, B, C, D = (np.asarray(M) for M in (G.A, G.B, G.C, G.D))
    n = A.shape[0]
    if continuous:
        ev = np.abs(np.linalg.eigvals(A))
        w = np.concatenate([[0.0], np.logspace(np.log10(ev.min()) - 2, np.log10(ev.max()) + 2, 4000),
                            np.abs(np.linalg.eigvals(A).imag)])
        s = 1j * w
    else:
        w = np.concatenate([np.linspace(0, np.pi, 4000), np.abs(np.angle(np.linalg.eigvals(A)))])
        s = np.exp(1j * w)
    g = [np.linalg.svd(C @ np.linalg.solve(z * np.eye(n) - A, B) + D, compute_uv=False)[0] for z in s]
    k = int(np.argmax(g))
    lo, hi = w[max(k - 1, 0)], w[min(k + 1, len(w) - 1)]
    for _ in range(3):  # refine around the peak
        ww = np.linspace(min(lo, hi), max(lo, hi), 200)
        zz = 1j * ww if continuous else np.exp(1j * ww)
        gg = [np.linalg.svd(C @ np.linalg.solve(z * np.eye(n) - A, B) + D, compute_uv=False)[0] for z in zz]
        j = int(np.argmax(gg))
        if gg[j] > g[k]:
            g[k] = gg[j]
        step = ww[1] - ww[0]
        lo, hi = ww[j] - step, ww[j] + step
    return float(g[k])


@settings(derandomize=True, deadline=None, max_examples=16, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, n=st.integers(1, 4), nu=st.integers(1, 2), ny=st.integers(1, 2),
       kx=st.sampled_from([0, 3, 6]), kio=st.sampled_from([-6, 0, 3, 6]), continuous=st.booleans())
def test_lti_gain_is_hinf_within_1e_4_for_scaled_systems(seed, n, nu, ny, kx, kio, continuous):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    if continuous:
        A -= (np.linalg.eigvals(A).real.max() + 0.2) * np.eye(n)
    else:
        A *= 0.85 / spectral(A)
    B, C, D = rng.normal(size=(n, nu)), rng.normal(size=(ny, n)), rng.normal(size=(ny, nu))
    T = np.diag(np.logspace(0, kx, n))          # states in units up to 1e6 apart
    cu, cy = 10.0**kio, 10.0 ** (-kio / 2)       # inputs and outputs rescaled
    G = control.ss(np.linalg.solve(T, A @ T), np.linalg.solve(T, B) * cu, cy * C @ T, cy * D * cu,
                   0 if continuous else 1.0)
    ref = hinf(G, continuous)
    c = certify.incremental_l2_gain(G)
    assert c.certified, c
    assert ref * (1 - 1e-6) <= c.bound <= ref * (1 + 1e-4)


# --- Lur'e contraction: simulated pairs and frozen slopes ------------------------------------------

@FAST
@given(seed=seeds, nx=st.integers(1, 3), nv=st.integers(1, 3), gain=st.floats(0.2, 1.6),
       solver=st.sampled_from([None, "CLARABEL", "SCS"]))
def test_lure_contraction_certified_only_if_pairs_contract(seed, nx, nv, gain, solver):
    rng = np.random.default_rng(seed)
    A = with_radius(rng, nx, min(gain, 0.999))
    B1, C1 = gain * rng.normal(size=(nx, nv)) / nv, rng.normal(size=(nv, nx)) / nx
    lure = LureSystem(A=A, B1=B1, C1=C1, C2=np.eye(1, nx), delta=Tanh(), dt=1.0)
    c = certify.contraction(lure, solver=solver)
    if not c.certified:
        return
    # oracle 1: every frozen slope δ ∈ {0, 1}^nv gives a Schur-stable linear system
    for d in itertools.product([0.0, 1.0], repeat=nv):
        assert spectral(A + B1 @ np.diag(d) @ C1) < 1
    # oracle 2: V = ΔxᵀPΔx strictly decreases along simulated trajectory pairs
    u = np.zeros((25, 0))
    for _ in range(3):
        _, xa = lure.simulate(u, 3 * rng.normal(size=nx), return_x=True)
        _, xb = lure.simulate(u, 3 * rng.normal(size=nx), return_x=True)
        d = xa - xb
        V = np.einsum("ti,ij,tj->t", d, c.P, d)
        keep = V[:-1] > 1e-20 * V[0]
        assert np.all(V[1:][keep] < V[:-1][keep])


# --- ReLU well-posedness: exact solution counts -----------------------------------------------------

def relu_solutions(D, b):
    """All solutions of w = relu(D w + b), by enumerating the activation patterns (exact)."""
    n = len(b)
    sols = []
    for pattern in itertools.product([False, True], repeat=n):
        on = np.array(pattern)
        # on: w_i = (Dw + b)_i ≥ 0; off: w_i = 0 and (Dw + b)_i ≤ 0
        M = np.eye(n)
        M[on] -= D[on]
        rhs = np.where(on, b, 0.0)
        try:
            w = np.linalg.solve(M, rhs)
        except np.linalg.LinAlgError:
            return None  # a continuum of solutions or none: not uniquely solvable
        v = D @ w + b
        if np.all(w[on] >= -1e-12) and np.all(v[~on] <= 1e-12) and np.all(np.abs(w[~on]) <= 1e-12):
            if not any(np.allclose(w, s, atol=1e-9) for s in sols):
                sols.append(w)
    return sols


@FAST
@given(seed=seeds, n=st.integers(1, 3), size=st.sampled_from([0.5, 0.999, 1.0, 1.001, 1.5]),
       solver=st.sampled_from([None, "SCS"]))
def test_relu_well_posedness_certified_only_if_unique_solutions(seed, n, size, solver):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, n))
    D *= size / max(np.abs(np.linalg.eigvals(D)).max(), 1e-12)
    if n == 1:
        D = np.array([[size]])  # the scalar edge D11 = 1 itself
    lure = LureSystem(A=[[0.5]], B1=np.zeros((1, n)), C1=np.zeros((n, 1)), D11=D, C2=[[1.0]], delta=ReLU(), dt=1.0)
    c = certify.well_posedness(lure, solver=solver)
    if not c.certified:
        return
    for _ in range(20):
        sols = relu_solutions(D, 3 * rng.normal(size=n))
        assert sols is not None and len(sols) == 1


# --- check_ren_certificate with badly scaled and ill-conditioned metrics --------------------------

@FAST
@given(seed=seeds, n=st.integers(1, 4), r=st.sampled_from([1.0, 1.0 + 1e-9, 1.3, 30.0]),
       cond=st.sampled_from([1.0, 1e6, 1e12]), rate=st.sampled_from([1.0, 0.999]))
def test_ren_check_never_certifies_a_non_contracting_linear_system(seed, n, r, cond, rate):
    rng = np.random.default_rng(seed)
    A = with_radius(rng, n, r)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    M = Q @ np.diag(np.logspace(0, np.log10(cond), n)) @ Q.T
    lure = LureSystem(A=A, C2=np.eye(n), dt=1.0)
    assert not certify.check_ren_certificate(lure, M, np.zeros(0), rate=rate).certified


@FAST
@given(seed=seeds, n=st.integers(1, 3), gam_frac=st.sampled_from([0.25, 0.9, 0.999]),
       cond=st.sampled_from([1.0, 1e6, 1e12]))
def test_ren_check_never_certifies_a_gain_below_hinf(seed, n, gam_frac, cond):
    rng = np.random.default_rng(seed)
    A = with_radius(rng, n, 0.8)
    B, C = rng.normal(size=(n, 1)), rng.normal(size=(1, n))
    G = control.ss(A, B, C, [[0.0]], 1.0)
    gam = gam_frac * hinf(G, False)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    M = Q @ np.diag(np.logspace(0, np.log10(cond), n)) @ Q.T
    lure = LureSystem(A=A, B2=B, C2=C, dt=1.0)
    c = certify.check_ren_certificate(lure, M, np.zeros(0), Q=-np.eye(1) / gam, S=np.zeros((1, 1)),
                                      R=gam * np.eye(1))
    assert not c.certified


@pytest.mark.parametrize("make", [lambda: np.array([[0.5 + 0.9j]]), lambda: np.array([[0.5, 0.1j], [0.0, 0.2]])])
def test_complex_input_is_an_error_for_every_certificate(make):
    A = make()
    with pytest.raises(ValueError, match="must be real"):
        LureSystem(A=A, C2=np.eye(1, A.shape[0]), dt=1.0)
    G = ss(np.zeros_like(A.real))
    G.A = A
    for f in (certify.lyapunov_stability, certify.contraction, certify.incremental_l2_gain):
        with pytest.raises(ValueError, match="A must be a real matrix; got complex entries"):
            f(G)
