"""The ℓ2 gain of an LTI system by Riccati equations (bounded-real lemma), O(nx³) per step.

For a stable LTI system the gain LMI

    [[AᵀPA − P + CᵀC, AᵀPB + CᵀD], [BᵀPA + DᵀC, BᵀPB + DᵀD − sI]] ⪯ 0        (discrete)

has, for every s > ‖G‖∞², the stabilizing solution of the Riccati equation

    AᵀXA − X − (AᵀXB + S)(R + BᵀXB)⁻¹(BᵀXA + Sᵀ) + Q = 0,
    X = −P,  Q = −CᵀC − δI,  R = sI − DᵀD,  S = −CᵀD

(continuous: AᵀX + XA − (XB + S)R⁻¹(BᵀX + Sᵀ) + Q = 0), which makes the LMI hold with the
margin δ on the state block. The search: a frequency sweep gives a lower bound γ_lo = max σ̄(G)
(refined around the peak); s then climbs geometrically from γ_lo² until the Riccati solution
passes the strict numpy re-check of :func:`._gain.certify_gain_at`, and a short bisection
between the last failure and the first success tightens it. Every returned (P, s) is
re-checked like any solver output; the sweep only decides where to look.

References
----------
S. Boyd, V. Balakrishnan, P. Kabamba, "A bisection method for computing the H∞ norm of a
transfer matrix and related problems", MCSS 1989; the bounded-real lemma in K. Zhou, J. C.
Doyle, K. Glover, *Robust and Optimal Control*, 1996, ch. 13 and 21.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from ._blas import one_blas_thread

__all__ = ["hinf_lower_bound", "riccati_storage", "lti_gain", "equilibrium_hinf_lower_bound"]


def _freq_response_max(A, B, C, D, points, continuous):
    n = A.shape[0]
    best, arg = -1.0, 0.0
    I = np.eye(n)
    for w in points:
        z = 1j * w if continuous else np.exp(1j * w)
        G = C @ np.linalg.solve(z * I - A, B) + D if n else D.astype(complex)
        g = float(np.linalg.svd(G, compute_uv=False)[0])
        if g > best:
            best, arg = g, w
    return best, arg


@one_blas_thread
def hinf_lower_bound(A, B, C, D, continuous: bool, *, n_grid: int = 400) -> float:
    """max σ̄(G) over a frequency grid refined around its peak: a lower bound of ‖G‖∞."""
    ev = np.linalg.eigvals(A) if A.size else np.zeros(0)
    if continuous:
        mags = np.abs(ev[np.abs(ev) > 0]) if ev.size else np.ones(1)
        lo, hi = (np.log10(mags.min()) - 2, np.log10(mags.max()) + 2) if mags.size else (-3.0, 3.0)
        grid = np.concatenate([[0.0], np.logspace(lo, hi, n_grid), np.abs(ev.imag)])
    else:
        grid = np.concatenate([np.linspace(0, np.pi, n_grid), np.abs(np.angle(ev))])
    best, arg = _freq_response_max(A, B, C, D, grid, continuous)
    width = (np.pi / n_grid) if not continuous else max(arg, 1e-6) * 0.05
    for _ in range(4):  # local refinement around the peak
        pts = np.linspace(max(arg - width, 0.0), arg + width if continuous else min(arg + width, np.pi), 41)
        g, a = _freq_response_max(A, B, C, D, pts, continuous)
        if g > best:
            best, arg = g, a
        width /= 10
    return best


def riccati_storage(A, B, C, D, s: float, delta: float, continuous: bool):
    """P of the bounded-real Riccati equation at s (see the module docstring), or None."""
    n, m = B.shape
    Q = -(C.T @ C) - delta * np.eye(n)
    R = s * np.eye(m) - D.T @ D
    S = -(C.T @ D)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if continuous:
                X = scipy.linalg.solve_continuous_are(A, B, Q, R, s=S)
            else:
                X = scipy.linalg.solve_discrete_are(A, B, Q, R, s=S)
    except (np.linalg.LinAlgError, ValueError, RuntimeWarning):
        return None
    if not np.all(np.isfinite(X)):
        return None
    P = -0.5 * (X + X.T)
    return P


@one_blas_thread
def lti_gain(lure, margin: float, certify_at, *, max_steps: int = 40):
    """(P, s, info) for a stable LTI ``lure`` (nv = 0), or None.

    ``certify_at(P, s)`` returns the certified s (exact Schur recomputation from P, strictly
    re-checked) or None. Near s = ‖G‖∞² the Riccati equation is ill-conditioned and its P
    certifies a larger s than asked for, so the trial s climbs geometrically from the sweep's
    lower bound and the smallest *certified* value is kept; the climb stops once the trial
    exceeds that value.
    """
    A, B, C, D = lure.A, lure.B2, lure.C2, lure.D22
    cont = lure.is_continuous
    ev = np.linalg.eigvals(A) if A.size else np.zeros(0)
    if ev.size and ((ev.real.max() >= 0) if cont else (np.abs(ev).max() >= 1)):
        return None
    g_lo = hinf_lower_bound(A, B, C, D, cont)
    d2 = float(np.linalg.norm(D, 2)) ** 2 if D.size else 0.0
    s_lo = max(g_lo**2, d2, 1e-300)
    best_s, best_P, step = None, None, 1e-10
    for _ in range(max_steps):
        s = s_lo * (1 + step)
        if best_s is not None and s >= best_s:
            break
        P = riccati_storage(A, B, C, D, s, margin, cont)
        got = None if P is None else certify_at(P, s)
        if got is not None and (best_s is None or got < best_s):
            best_s, best_P = got, P
        step *= 3
    if best_s is None:
        return None
    return best_P, best_s, dict(lower_bound=g_lo, form="riccati")


def equilibrium_hinf_lower_bound(lure, u0=None) -> float:
    """A true lower bound of the incremental ℓ2 gain of a Lur'e system: the H∞ norm (frequency
    sweep, itself a lower bound) of its linearization at the equilibrium for the input u0
    (small increments around that equilibrium see exactly this linear system). 0 if there is
    no equilibrium or the linearization is not stable."""
    try:
        x0 = lure.equilibrium(u0)
        G = lure.linearize(x0, u0)
    except Exception:  # noqa: BLE001 - no equilibrium found: no bound
        return 0.0
    A, B, C, D = (np.asarray(M, dtype=float) for M in (G.A, G.B, G.C, G.D))
    ev = np.linalg.eigvals(A) if A.size else np.zeros(0)
    if ev.size and ((ev.real.max() >= 0) if lure.is_continuous else (np.abs(ev).max() >= 1)):
        return 0.0
    return hinf_lower_bound(A, B, C, D, lure.is_continuous)
