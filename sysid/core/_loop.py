"""Well-posedness of the algebraic loop w = Δ(D11 w + b) of a Lur'e system, numpy only.

The loop is *well posed* when it has exactly one solution w for every b. Solutions of the
loop correspond one to one to solutions v of v = D11 Δ(v) + b (w = Δ(v), v = D11 w + b), so
the loop is well posed exactly when the map K(v) = v − D11 Δ(v) is a bijection of R^nv.
Δ acts elementwise with slopes in [α, β] (``delta.slope_bounds``).

Sufficient conditions (any one proves well-posedness):

1. D11 = 0, or the dependency graph of D11 has no cycle (a strictly lower-triangular D11, as
   in a REN, up to a permutation): the loop is solved explicitly, one channel after another.
2. Loop transformation. Write Δ(v) = α v + Δ̃(v), Δ̃ slope-restricted in [0, β − α]. When
   M = I − α D11 is invertible, w = M⁻¹(α b + w̃) maps the solutions w̃ of
   w̃ = Δ̃(D̃ w̃ + M⁻¹ b), D̃ = D11 M⁻¹, one to one onto those of the original loop (and
   M⁻¹ b covers R^nv as b does). Then, with β̃ = β − α:

   a. β̃ = 0 (Δ affine): the unique solution is the linear one.
   b. ρ(β̃ |D̃|) < 1: the map w̃ ↦ Δ̃(D̃ w̃ + b̃) has elementwise increments bounded by
      β̃ |D̃| |Δw̃|, so it contracts in a weighted max-norm (Perron vector of the nonnegative
      matrix) and Banach's theorem gives one solution.
   c. A diagonal Λ ≻ 0 with 2Λ − β̃(Λ D̃ + D̃ᵀ Λ) ≻ 0: the well-posedness condition of
      equilibrium networks (Revay, Wang & Manchester 2020, Thm. 1, scaled to slopes in
      [0, β̃] as in docs/math.md §4.7). Λ is searched by projected supergradient ascent on the
      concave function λ ↦ λ_min(2Λ − β̃(Λ D̃ + D̃ᵀ Λ)); a Λ that makes it positive is a proof.

Proof of ill-posedness (tried before the multiplier search, which is the slow part):

3. If K is a bijection it is a homeomorphism (invariance of domain) and has the same local
   degree ±1 everywhere; at a point where K is differentiable (Δ is C¹ or piecewise linear)
   with an invertible Jacobian I − D11 diag(Δ'(v)), the local degree is the sign of its
   determinant. Every v is reachable, so if det(I − D11 diag(δ)) takes both signs over slopes
   δ that Δ' actually takes (read from Δ' on a grid), the loop is ill posed. For a piecewise-
   linear Δ (finitely many slopes, each on an open set), a singular I − D11 diag(δ) at such
   slopes also proves it: K is then linear and singular on an open set, so not one to one.
   The determinant is multi-affine in δ, so its extremes over the box of slopes are at its
   vertices; these are checked (all of them up to nv = 12, a deterministic sample above).

Neither proof found: the loop is reported as not proven (the caller warns); Newton's method
then raises :class:`~sysid.ConvergenceError` when it fails.

References
----------
M. Revay, R. Wang, I. R. Manchester, "Lipschitz bounded equilibrium networks", arXiv:2010.01732, 2020.
E. Winston, J. Z. Kolter, "Monotone operator equilibrium networks", NeurIPS 2020.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["loop_verdict"]

_GRID = np.linspace(-40.0, 40.0, 8001) + 1.23456789e-3  # avoids kinks at 0 of piecewise-linear Δ
_MAX_ENUM = 12
_N_SAMPLES = 512


def _acyclic(D11: np.ndarray) -> bool:
    """True when w_i depends on w_j (D11[i, j] ≠ 0) along no cycle (Kahn's topological sort)."""
    dep = D11 != 0
    n = dep.shape[0]
    remaining = np.ones(n, dtype=bool)
    while remaining.any():
        free = remaining & ~(dep[:, remaining].any(axis=1))
        if not free.any():
            return False
        remaining &= ~free
    return True


def _multiplier(Dt: np.ndarray, beta: float, *, iters: int = 400) -> tuple[bool, np.ndarray]:
    """Search a diagonal Λ ≻ 0 with 2Λ − β(Λ Dt + Dtᵀ Λ) ≻ 0 (normalized to mean(λ) = 1)."""
    n = Dt.shape[0]
    scale = max(1.0, beta * float(np.linalg.norm(Dt, 2)))
    tol = 1e-9 * scale

    def value(lam):
        L = np.diag(lam)
        S = 2 * L - beta * (L @ Dt + Dt.T @ L)
        vals, vecs = np.linalg.eigh(0.5 * (S + S.T))
        return vals[0], vecs[:, 0]

    lam = np.ones(n)
    best, best_lam, since = -np.inf, lam, 0
    for k in range(iters):
        f, q = value(lam)
        if f > best + 1e-12 * scale:
            best, best_lam, since = f, lam, 0
        else:
            since += 1
            if since > 60:  # no progress: give up (the test is sufficient only)
                break
        if f > tol * lam.max():
            return True, lam
        g = 2 * q**2 - 2 * beta * q * (Dt @ q)
        lam = np.maximum(lam + (0.5 / np.sqrt(k + 1.0)) * g / max(np.linalg.norm(g), 1e-300) * np.sqrt(n), 1e-9)
        lam *= n / lam.sum()
    return False, best_lam


def _slopes_taken(delta) -> tuple[float, float, bool]:
    """(smallest, largest) slope Δ' takes on a grid, and whether Δ' is piecewise constant there."""
    with np.errstate(all="ignore"):
        d = np.asarray(delta.derivative(_GRID), dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return np.nan, np.nan, False
    piecewise_linear = np.unique(np.round(d, 12)).size <= 3
    return float(d.min()), float(d.max()), piecewise_linear


def _vertices(n: int):
    if n <= _MAX_ENUM:
        return np.array(list(itertools.product((0.0, 1.0), repeat=n)))
    rng = np.random.default_rng(0)
    rows = [np.zeros(n), np.ones(n)]
    eye = np.eye(n)
    rows += list(eye) + list(1.0 - eye)
    rows += list((rng.random((_N_SAMPLES, n)) < 0.5).astype(float))
    return np.array(rows)


def _ill_posed(D11: np.ndarray, delta) -> str | None:
    """A reason why the loop is ill posed, or None when no proof is found."""
    lo, hi, pl = _slopes_taken(delta)
    if not np.isfinite(lo):
        return None
    n = D11.shape[0]
    V = _vertices(n)
    deltas = lo + (hi - lo) * V
    K = np.eye(n)[None] - D11[None] * deltas[:, None, :]  # I − D11 diag(δ)
    sign, _ = np.linalg.slogdet(K)
    sv = np.linalg.svd(K, compute_uv=False)
    singular = sv[:, -1] <= 1e-10 * np.maximum(sv[:, 0], 1.0)
    sign = np.where(singular, 0.0, sign)

    def fmt(k):
        vals = deltas[k]
        if n <= 4:
            return "(" + ", ".join(f"{v:.3g}" for v in vals) + ")"
        return f"a vertex of [{lo:.3g}, {hi:.3g}]^{n}"

    pos, neg = np.flatnonzero(sign > 0), np.flatnonzero(sign < 0)
    if pos.size and neg.size:
        return (f"det(I − D11·diag(δ)) is positive at slopes δ = {fmt(pos[0])} and negative at δ = {fmt(neg[0])}, "
                f"both taken by {delta!r}, so v ↦ v − D11 Δ(v) is not one to one")
    if pl and singular.any():
        return (f"I − D11·diag(δ) is singular at slopes δ = {fmt(int(np.flatnonzero(singular)[0]))}, which "
                f"the piecewise-linear {delta!r} takes on an open set, so v ↦ v − D11 Δ(v) is not one to one")
    return None


def loop_verdict(D11: np.ndarray, delta) -> tuple[str, str]:
    """Classify the loop w = Δ(D11 w + b): ``("well-posed" | "ill-posed" | "unknown", reason)``."""
    D11 = np.asarray(D11, dtype=float)
    n = D11.shape[0]
    if n == 0 or not np.any(D11):
        return "well-posed", "no algebraic loop (D11 = 0)"
    if _acyclic(D11):
        return "well-posed", "D11 has no cycle (strictly lower triangular up to a permutation): solved explicitly"
    alpha, beta = (float(b) for b in delta.slope_bounds)
    if np.isfinite(alpha) and np.isfinite(beta) and alpha <= beta:
        M = np.eye(n) - alpha * D11
        if np.linalg.cond(M) < 1e10:
            Dt = D11 @ np.linalg.inv(M)
            bt = beta - alpha
            if bt == 0:
                return "well-posed", f"Δ is affine (slope {alpha:g}) and I − {alpha:g}·D11 is invertible"
            rho = float(np.max(np.abs(np.linalg.eigvals(bt * np.abs(Dt)))))
            if rho < 1 - 1e-9:
                return "well-posed", f"the loop contracts: ρ((β − α)|D̃|) = {rho:.3g} < 1"
            # the (cheap) proof of ill-posedness first: the multiplier search is the slow part
            reason = _ill_posed(D11, delta)
            if reason is not None:
                return "ill-posed", reason
            ok, _ = _multiplier(Dt, bt)
            if ok:
                return "well-posed", "a diagonal multiplier Λ satisfies 2Λ − (β − α)(ΛD̃ + D̃ᵀΛ) ≻ 0"
            return "unknown", ("no numpy test proved it well posed (no contraction, no diagonal multiplier found) "
                               "and none proved it ill posed")
    reason = _ill_posed(D11, delta)
    if reason is not None:
        return "ill-posed", reason
    return "unknown", ("no numpy test proved it well posed (no contraction, no diagonal multiplier found) "
                       "and none proved it ill posed")
