"""A structure-exploiting first-order path for large contraction and gain LMIs.

Interior-point solvers store the (N(N+1)/2)²-entry scaling block of an N × N LMI cone
(Clarabel) or the m × m Schur complement over m ≈ nx²/2 unknowns (CVXOPT): at
nx = nv = 128 (N = 256, m ≈ 8,400) neither fits in minutes. Here the LMI

    L(P, λ) = L0 + Σⱼ cⱼ sym(FⱼᵀPHⱼ) + Σᵢ λᵢ Qᵢ        (Qᵢ: the rank-≤2 IQC term of channel i)

is never vectorized. The smooth upper bound of its largest eigenvalue

    f_μ(L) = μ log Σₖ exp(eigₖ(L)/μ)   ≥  λ_max(L)

is minimized over (P, λ ≥ 0) with L-BFGS-B; one evaluation costs one symmetric eigen-
decomposition of L and a few products with the data (O(N³)), and its gradient is
Σⱼ cⱼ sym(FⱼGHⱼᵀ) for P and tr(QᵢG) for λᵢ with G = V softmax(eig/μ) Vᵀ. μ is lowered
(continuation, from a fraction of the eigenvalue spread at the start) when the minimizer
stalls or its evaluations for that μ run out. For the gain the search only supplies the
multipliers: the storage and γ² for them come from a Riccati equation
(:func:`riccati_polish`). The search stops at the first point where
λ_max(L) is below minus the re-check threshold (half the margin and the rounding bound),
and that point is then re-checked by :func:`._verify.verify` like any solver output: the
path can fail to find a certificate (then nothing is claimed), never certify a false one.
For contraction (L0 = 0) L is homogeneous in (P, λ), so f_μ is applied to L/tr(P) and the
found point is rescaled afterwards to carry the margin.

References
----------
Yu. Nesterov, "Smooth minimization of non-smooth functions", Math. Program. 2005 (the
softmax smoothing of λ_max); A. S. Lewis, M. L. Overton, "Nonsmooth optimization via
quasi-Newton methods", Math. Program. 2013 (BFGS on eigenvalue functions).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from ._blas import one_blas_thread
from ._verify import KEEP, norm, rounding

__all__ = ["LMIFamily", "contraction_firstorder", "gain_firstorder", "feasible_point"]


class _Found(Exception):
    pass


class LMIFamily:
    """L(P, λ) = L0 + Σⱼ cⱼ sym(FⱼᵀPHⱼ) + Σᵢ λᵢ Qᵢ in numpy, with its gradient.

    Parameters
    ----------
    nx : int
    pairs : list of (F (nx, N), H (nx, N), c)
    Rv : ndarray, shape (nv, N)
        Rows mapping ξ to Δv.
    iw : ndarray of int, shape (nv,)
        Index of Δwᵢ in ξ.
    alpha, beta : float
        Slope bounds.
    L0 : ndarray, shape (N, N)
    consts : list of ndarray, shape (N, N)
        Constant terms Cₖ entering as tₖCₖ with a variable tₖ ≥ 0 (stored after λ); they make
        a non-homogeneous LMI L0 + … homogeneous (L0 = 0, t·C in its place).
    """

    def __init__(self, nx, pairs, Rv, iw, alpha, beta, L0, consts=()):
        self.nx, self.pairs, self.Rv, self.iw = nx, pairs, Rv, np.asarray(iw, dtype=int)
        self.alpha, self.beta, self.L0 = float(alpha), float(beta), L0
        self.consts = list(consts)          # matrices with their own scalar variable t ≥ 0
        self.N, self.nv = L0.shape[0], Rv.shape[0]
        self.iu = np.triu_indices(nx)
        self.w = np.where(self.iu[0] == self.iu[1], 1.0, 2.0)
        # F or H equal to the selector [I 0] (the state block): products with it are slices
        E = np.eye(nx, self.N)
        self._sel = [(F.shape == E.shape and np.array_equal(F, E), H.shape == E.shape and np.array_equal(H, E))
                     for F, H, _ in pairs]

    def unpack(self, z):
        nP = len(self.iu[0])
        P = np.zeros((self.nx, self.nx))
        P[self.iu] = z[:nP]
        P = P + P.T - np.diag(np.diag(P))
        return P, z[nP:]

    def pack(self, P, lam):
        return np.concatenate([P[self.iu], lam])

    def lmi(self, P, lam):
        """L(P, λ), symmetric, shape (N, N)."""
        nx = self.nx
        L = self.L0.copy()
        for (F, H, c), (sF, sH) in zip(self.pairs, self._sel):  # c·FᵀPH, symmetrized at the end
            if sF and sH:
                L[:nx, :nx] += c * P
            elif sF:
                L[:nx, :] += c * (P @ H)
            elif sH:
                L[:, :nx] += c * (F.T @ P)
            else:
                L += c * (F.T @ (P @ H))
        lam, ts = lam[:self.nv], lam[self.nv:]
        for t, C in zip(ts, self.consts):
            L += t * C
        if self.nv:
            a, b = self.alpha, self.beta
            RtL = self.Rv.T * lam                     # (N, nv)
            if a * b:
                L += -2 * a * b * (RtL @ self.Rv)
            L[:, self.iw] += 2 * (a + b) * RtL        # (a+b)(cross + crossᵀ), symmetrized below
            L[self.iw, self.iw] -= 2 * lam
        return 0.5 * (L + L.T)

    def grad(self, G):
        """Gradient of ⟨G, L(P, λ)⟩ wrt (P, λ) (G symmetric)."""
        nx = self.nx
        gP = np.zeros((nx, nx))
        for (F, H, c), (sF, sH) in zip(self.pairs, self._sel):
            if sF and sH:
                gP += c * G[:nx, :nx]
            elif sF:
                gP += c * (G[:nx, :] @ H.T)
            elif sH:
                gP += c * (F @ G[:, :nx])
            else:
                gP += c * ((F @ G) @ H.T)
        gP = 0.5 * (gP + gP.T)
        if self.nv:
            a, b = self.alpha, self.beta
            RG = self.Rv @ G
            glam = 2 * (a + b) * RG[np.arange(self.nv), self.iw] - 2 * G[self.iw, self.iw]
            if a * b:
                glam = glam - 2 * a * b * np.einsum("ij,ij->i", RG, self.Rv)
        else:
            glam = np.zeros(0)
        gt = [float(np.vdot(G, C)) for C in self.consts]
        return gP, np.concatenate([glam, gt])

    def scale(self, P, lam) -> float:
        """Sum of the norms of the terms (for the rounding bound)."""
        s = norm(self.L0) + sum(abs(c) * norm(F) * norm(H) for F, H, c in self.pairs) * norm(P)
        lam, ts = lam[:self.nv], lam[self.nv:]
        s += sum(abs(t) * norm(C) for t, C in zip(ts, self.consts))
        if self.nv:
            s += norm(self.Rv) ** 2 * (2 * abs(self.alpha * self.beta) + 2 * abs(self.alpha + self.beta) + 2) \
                * float(np.max(np.abs(lam)))
        return s


def feasible_point(fam: LMIFamily, P0, lam0, *, need_margin: float, homogeneous: bool, max_evals: int = 1500,
                   mus=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5), accept=None, mu_relative: bool = False,
                   phase_evals: int | None = None):
    """(P, λ, info) with λ_max(L) clearly below the re-check threshold, or (None, None, info).

    ``accept(P, λ, top)`` (optional) decides for a homogeneous family whether a point with
    largest eigenvalue ``top`` < 0 is good enough (e.g. after dividing by t). With
    ``mu_relative`` the smoothing parameters are fractions of the spread of the eigenvalues
    (of L, or of L/tr(P)) at the start: a μ far above that spread makes f_μ flat (its
    softmax weights uniform) and the evaluations spent on it are lost. ``phase_evals`` caps
    the evaluations per value of μ (default: the whole budget).
    """
    evals = [0]
    best, best_z = [np.inf], [None]

    def fun(z, mu):
        evals[0] += 1
        P, lam = fam.unpack(z)
        L = fam.lmi(P, lam)
        tr = float(np.trace(P)) if homogeneous else 1.0
        if homogeneous and tr <= 0:
            return 1e3, np.zeros_like(z)
        e, V = np.linalg.eigh(L / tr)
        if e[-1] < best[0]:
            best[0], best_z[0] = e[-1], z
        if np.all(lam >= 0) and np.all(np.isfinite(e)):
            thr = 2 * rounding(fam.N, fam.scale(P, lam)) / tr
            if homogeneous:
                if e[-1] < -thr and (accept is None or accept(P, lam, e[-1] * tr)):
                    raise _Found((P, lam))
            elif e[-1] < -max(thr, 2 * KEEP * need_margin):
                raise _Found((P, lam))
        if evals[0] > max_evals:
            raise StopIteration
        m = e[-1]
        ex = np.exp((e - m) / mu)
        val = m + mu * np.log(ex.sum())
        keep = ex > 1e-18 * ex.sum()              # the rest adds nothing in float64
        Vk = V[:, keep]
        G = (Vk * (ex[keep] / ex.sum())) @ Vk.T
        gP, glam = fam.grad(G)
        if homogeneous:  # gradient of f(L/tr): (∇⟨G, L⟩ − ⟨G, L/tr⟩ ∇tr) / tr
            c = float(np.sum(G * L)) / tr
            gP = (gP - c * np.eye(fam.nx)) / tr
            glam = glam / tr
        return val, np.concatenate([gP[fam.iu] * fam.w, glam])

    z = fam.pack(P0, lam0)
    if mu_relative:
        e0 = np.linalg.eigvalsh(fam.lmi(P0, lam0))
        tr0 = float(np.trace(P0)) if homogeneous else 1.0
        spread = (e0[-1] - e0[0]) / tr0 if e0.size and tr0 > 0 else 0.0
        if np.isfinite(spread) and spread > 0:
            mus = tuple(m * spread for m in mus)
    bounds = [(None, None)] * len(fam.iu[0]) + [(0.0, None)] * (fam.nv + len(fam.consts))
    try:
        for mu in mus:
            res = scipy.optimize.minimize(fun, z, args=(mu,), jac=True, method="L-BFGS-B", bounds=bounds,
                                          options=dict(maxiter=max_evals, maxfun=phase_evals or max_evals, maxcor=20,
                                                       ftol=1e-15, gtol=1e-12))
            z = res.x
            if res.success and res.fun - mu * np.log(fam.N) > 0:
                break  # λ_max ≥ f_μ − μ log N > 0 at the (approximate) minimum: give up early
    except _Found as hit:
        P, lam = hit.args[0]
        return P, lam, dict(evaluations=evals[0])
    except StopIteration:
        pass
    info = dict(evaluations=evals[0], best_max_eig=float(best[0]))
    if best_z[0] is not None:  # the least infeasible point (its multipliers may still be useful)
        info["best_point"] = fam.unpack(np.array(best_z[0]))
    return None, None, info


def _contraction_family(lure, rate, L0=None):
    nx, nv = lure.nx, lure.nv
    N = nx + nv
    K = np.hstack([lure.A, lure.B1])
    E = np.eye(nx, N)
    if lure.is_continuous:
        pairs = [(E, K, 2.0), (E, E, 2.0 * rate)]
    else:
        pairs = [(K, K, 1.0), (E, E, -rate**2)]
    Rv = np.hstack([lure.C1, lure.D11])
    a, b = lure.delta.slope_bounds if nv else (0.0, 1.0)
    return LMIFamily(nx, pairs, Rv, nx + np.arange(nv), a, b, np.zeros((N, N)) if L0 is None else L0)


@one_blas_thread
def contraction_firstorder(lure, rate: float, margin: float):
    """(P, λ, info) passing the contraction re-check on ``lure`` (already balanced), or an info dict.

    The point found is rescaled (the LMI is homogeneous) so that λ_min(P) ≥ 1 and the LMI
    keeps the margin; the caller re-checks it.
    """
    nx, nv = lure.nx, lure.nv
    fam = _contraction_family(lure, rate)
    P, lam, info = feasible_point(fam, np.eye(nx), np.ones(nv), need_margin=margin, homogeneous=True,
                                  mu_relative=True)
    if P is None:
        return info
    lo = float(np.linalg.eigvalsh(P).min())
    if lo <= 0:
        return dict(info, best_max_eig=np.nan)
    top = float(np.linalg.eigvalsh(fam.lmi(P, lam)).max())
    c = max(1.0 / lo, 2 * margin / max(-top, 1e-300))
    return c * P, c * lam, info


@one_blas_thread
def frozen_slope_lower_bound(lure) -> float:
    """max over δ ∈ {α, (α+β)/2, β} of ‖G_δ‖∞ (frequency sweep), G_δ: Δ replaced by the gain δ·I.

    Every such linear system satisfies the IQC, so its H∞ norm is a lower bound of the gain
    LMI's optimum (0 when no frozen system is stable or well posed).
    """
    from ._riccati import hinf_lower_bound

    nv = lure.nv
    best = 0.0
    a, b = lure.delta.slope_bounds if nv else (0.0, 0.0)
    for d in sorted({a, 0.5 * (a + b), b}):
        W = np.eye(nv) - d * lure.D11
        try:
            Wi = np.linalg.solve(W, d * np.eye(nv))       # w = (I − δD11)⁻¹ δ (C1x + D12u)
        except np.linalg.LinAlgError:
            continue
        A = lure.A + lure.B1 @ Wi @ lure.C1
        B = lure.B2 + lure.B1 @ Wi @ lure.D12
        C = lure.C2 + lure.D21 @ Wi @ lure.C1
        D = lure.D22 + lure.D21 @ Wi @ lure.D12
        ev = np.linalg.eigvals(A)
        if (ev.real.max() >= 0) if lure.is_continuous else (np.abs(ev).max() >= 1):
            continue
        best = max(best, hinf_lower_bound(A, B, C, D, lure.is_continuous, n_grid=200))
    return best


@one_blas_thread
def gain_firstorder(lure, margin: float, *, coarse_rtol: float = 0.05, fine_rtol: float = 2e-3,
                    max_evals: int = 80, mus=(1e-2, 1e-3, 1e-4), phase_evals: int | None = 30,
                    g_lo: float | None = None):
    """(P, λ, s, info) for the gain LMI of ``lure`` (already balanced), or None.

    For each trial s the LMI is made homogeneous, t·(CyᵀCy − s EᵤᵀEᵤ) with a scalar t ≥ 0 in
    place of the constant term, and solved like contraction (warm-started from the last
    feasible point; smoothing μ = ``mus`` × the spread of the eigenvalues there, at most
    ``phase_evals`` evaluations per μ and ``max_evals`` in all: a level of μ run to
    convergence spends its evaluations on a plateau, where the next smaller μ finds the
    point in a few); a point counts when, divided by t, it keeps the margin, and
    its s is lowered to the exact Schur value. The first-order search only has to find good
    multipliers λ: for fixed λ the optimal storage and the smallest s come from a Riccati
    equation (:func:`riccati_polish`, bisected down to the frozen-slope lower bound), which is
    cheaper and tighter than bisecting the first-order search to a fine tolerance (a trial
    that fails within the budget is not proof of infeasibility, so that bisection stalls above
    the optimum for its own λ). So: a coarse bisection on s (to ``coarse_rtol``) from the
    contraction point, then the Riccati storage for the multipliers found; if the Riccati
    step gives nothing, the bisection goes on to ``fine_rtol``. The caller re-checks the
    result strictly.
    """
    from ._gain import _exact_s

    nx, nv, nu = lure.nx, lure.nv, lure.nu
    N = nx + nv + nu
    K = np.hstack([lure.A, lure.B1, lure.B2])
    E = np.eye(nx, N)
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    pairs = [(E, K, 2.0)] if lure.is_continuous else [(K, K, 1.0), (E, E, -1.0)]
    Rv = np.hstack([lure.C1, lure.D11, lure.D12])
    a, b = lure.delta.slope_bounds if nv else (0.0, 1.0)
    Eu = np.zeros((N, N))
    Eu[nx + nv:, nx + nv:] = np.eye(nu)
    CyCy = Cy.T @ Cy

    def family(s):
        return LMIFamily(nx, pairs, Rv, nx + np.arange(nv), a, b, np.zeros((N, N)), consts=[CyCy - s * Eu])

    def accept(P, lt, top):
        t = lt[-1]
        return t > 0 and top / t < -margin

    # a start: the contraction point (P, λ) scaled up until the state/w block dominates Cy'Cy
    # (rate 1 per step in discrete time, rate 0 in continuous time: plain contraction)
    cp = contraction_firstorder(lure, 0.0 if lure.is_continuous else 1.0, margin)
    if not isinstance(cp, tuple):
        return None
    P0, lam0, _ = cp
    best = None
    for c in (1.0, 10.0, 100.0, 1e3, 1e4, 1e5):
        s0 = _exact_s(lure, c * P0, c * lam0)
        if s0 is not None:
            best = (c * P0, c * lam0, s0)
            break
    if best is None:
        return None
    P, lam, s_hi = best
    g_lo = frozen_slope_lower_bound(lure) if g_lo is None else g_lo
    s_floor = min(g_lo**2, s_hi)   # a true lower bound of the LMI's optimum
    s_lo, total, form = s_floor, 0, "first-order + riccati"

    def bisect(rtol, P, lam, s_lo, s_hi, total):
        for _ in range(30):
            if s_hi - s_lo <= rtol * s_hi:
                break
            s = np.sqrt(s_lo * s_hi) if s_lo > 0 else 0.5 * s_hi
            Pn, lt, info = feasible_point(family(s), P, np.r_[lam, 1.0], need_margin=margin, homogeneous=True,
                                          max_evals=max_evals, mus=mus, accept=accept,
                                          mu_relative=True, phase_evals=phase_evals)
            total += info["evaluations"]
            if Pn is None:
                s_lo = s
                continue
            t = lt[-1]
            Pn, lamn = Pn / t, np.maximum(lt[:-1], 0.0) / t
            se = _exact_s(lure, Pn, lamn)
            P, lam, s_hi = Pn, lamn, s if se is None else min(se, s)
        return P, lam, s_lo, s_hi, total

    P, lam, s_lo, s_hi, total = bisect(coarse_rtol, P, lam, s_lo, s_hi, total)
    P2, s2 = riccati_polish(lure, lam, s_floor, s_hi, margin, guess=s_lo)
    if P2 is not None and s2 < s_hi:
        P, s_hi = P2, s2
    else:  # no Riccati storage for these multipliers: the first-order bisection goes on
        P, lam, s_lo, s_hi, total = bisect(fine_rtol, P, lam, s_lo, s_hi, total)
        form = "first-order"
    return P, lam, s_hi, dict(evaluations=total, form=form, lower_bound=g_lo)


def riccati_polish(lure, lam, s_lo: float, s_hi: float, margin: float, *, steps: int = 25,
                   rtol: float = 1e-4, guess: float | None = None):
    """Best storage P for *fixed* multipliers λ by the Riccati equation of the gain LMI.

    With λ fixed the gain LMI is a bounded-real inequality in (x, ν = (w, u)): the supply
    Π = CyᵀCy + MvᵀQ_ΛMv − s EᵤᵀEᵤ has blocks Πxx, Πxν, Πνν, and for s above the optimum the
    stabilizing solution X of AᵀXA − X − (AᵀXB + S)(R + BᵀXB)⁻¹(BᵀXA + Sᵀ) + Q = 0 with
    Q = −Πxx − δI, R = −Πνν − δ·blkdiag(I, 0), S = −Πxν, B = [B1 B2] gives P = −X, and the
    (Δx, Δw) block of the LMI keeps the margin δ (continuous time: the same with
    AᵀX + XA − (XB + S)R⁻¹(BᵀX + Sᵀ) + Q = 0). Bisection on s between ``s_lo`` (a lower
    bound) and ``s_hi`` to the relative tolerance ``rtol``, the first split at ``guess`` when
    it lies inside; the value kept is the exact Schur recomputation at P (re-checked later by
    the caller).
    """
    import warnings

    import scipy.linalg

    from ._gain import _exact_s, gain_lmi

    nx = lure.nx
    if nx == 0:
        return None, np.inf
    are = scipy.linalg.solve_continuous_are if lure.is_continuous else scipy.linalg.solve_discrete_are
    B = np.hstack([lure.B1, lure.B2])
    Pi0 = gain_lmi(lure, np.zeros((nx, nx)), lam, 0.0)   # Π at s = 0 (P = 0 removes the storage terms)
    Eu = np.zeros_like(Pi0)
    Eu[nx + lure.nv:, nx + lure.nv:] = np.eye(lure.nu)
    Ew = np.diag(np.r_[np.ones(lure.nv), np.zeros(lure.nu)])  # margin on the w block too
    best_P, best_s = None, np.inf
    lo, hi = s_lo, s_hi
    for _ in range(steps):
        if best_P is None:
            s = hi
        elif guess is not None and lo < guess < hi:
            s, guess = guess, None
        else:
            s = 0.5 * (lo + hi)
        Pi = 0.5 * (Pi0 + Pi0.T) - s * Eu
        Q, S, R = -Pi[:nx, :nx] - margin * np.eye(nx), -Pi[:nx, nx:], -Pi[nx:, nx:] - margin * Ew
        X = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                X = are(lure.A, B, Q, R, s=S)
        except (np.linalg.LinAlgError, ValueError, RuntimeWarning):
            X = None
        se = None
        if X is not None and np.all(np.isfinite(X)):
            P = -0.5 * (X + X.T)
            se = _exact_s(lure, P, lam)
        if se is not None and np.linalg.eigvalsh(P).min() >= 0 and se < best_s:
            best_P, best_s = P, se
            hi = min(s, se)
        elif best_P is None and s == hi:
            return None, np.inf
        else:
            lo = s
        if hi - lo <= rtol * hi:
            break
    return best_P, best_s
