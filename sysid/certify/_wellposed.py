"""Well-posedness of an equilibrium layer and monotonicity of a DEQ weight (docs/math.md §4.4, §4.5, §4.7).

References
----------
E. Winston, J. Z. Kolter, "Monotone operator equilibrium networks", NeurIPS 2020.
M. Revay, R. Wang, I. R. Manchester, "Lipschitz bounded equilibrium networks", 2020.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._certificate import Certificate
from ._inputs import as_lure, check_solver
from ._lmi import finish, solve, sym
from ._verify import Strict, norm

__all__ = ["well_posedness", "monotone"]


def well_posedness(system, *, solver: str | None = None, eps: float = 1e-7) -> Certificate:
    """Certify that the equilibrium layer w = Δ(D11 w + b) has a unique solution for every b.

    For slopes in [0, β]: find diagonal Λ ⪰ I with 2Λ − β(ΛD11 + D11ᵀΛ) ⪰ ε·s·I,
    s = max(1, β‖D11‖₂). Biases and the rest of the system do not enter.

    Parameters
    ----------
    system : LureSystem or control.StateSpace
        D11 (nv, nv) and Δ's slope bounds are used; nv = 0 is trivially well posed.
    solver : str, optional
    eps : float
        Relative strictness margin.

    Returns
    -------
    Certificate
        ``multipliers`` λ; ``bound`` None.
    """
    solver = check_solver(solver)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite float > 0; got {eps}.")
    lure = as_lure(system)
    nv = lure.nv
    if nv == 0:
        return Certificate("well_posedness", True, None, None, np.zeros(0), "none", "trivial", -np.inf, 0.0,
                           message="no algebraic loop (nv = 0)")
    alpha, beta = lure.delta.slope_bounds
    if alpha < 0:
        raise ValueError(f"well_posedness handles slopes in [0, β]; this Δ ({lure.delta!r}) has slope bounds "
                         f"[{alpha}, {beta}]. Shift Δ into the linear part so that α = 0.")
    D = lure.D11
    margin = eps * max(1.0, beta * float(np.linalg.norm(D, 2)))
    lam = cp.Variable(nv)
    L = cp.diag(lam)
    M = 2 * L - beta * (L @ D + D.T @ L)
    name, status, note = solve(cp.Problem(cp.Minimize(0), [lam >= 1, sym(M) >> margin * np.eye(nv)]), solver)
    lamn = None if lam.value is None else np.maximum(np.asarray(lam.value, dtype=float), 0.0)
    checks = []
    if lamn is not None:
        Ln = np.diag(lamn)
        Wn = -(2 * Ln - beta * (Ln @ D + D.T @ Ln))
        checks = [Strict(Wn, (2 + 2 * beta * norm(D)) * float(lamn.max()), margin)]
    return finish("well_posedness", status, name, checks, lam=lamn,
                  message="w = Δ(D11 w + b) has a unique solution for every b", extra=dict(margin=margin), note=note)


def monotone(W, m: float = 0.0) -> Certificate:
    """Strong monotonicity of an equilibrium-layer weight: sym(I − W) ⪰ m I.

    Closed form (no solver): the margin m* = λ_min(sym(I − W)); certified iff m* ≥ m (and
    m* > 0 when m = 0, so that the layer z = σ(Wz + Ux + b) has a unique solution).

    Parameters
    ----------
    W : array_like, shape (n, n)
    m : float
        Required monotonicity margin (≥ 0).

    Returns
    -------
    Certificate
        ``bound`` is m*; ``max_eig`` is λ_max(mI − sym(I − W)) = m − m*.
    """
    if np.iscomplexobj(W):
        raise ValueError("W must be a real matrix; got complex entries. Pass the real weight matrix.")
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix of shape (n, n); got shape {W.shape}.")
    if not np.all(np.isfinite(W)):
        raise ValueError("W contains NaN or inf; monotonicity needs finite weights.")
    if not (np.isfinite(m) and m >= 0):
        raise ValueError(f"m must be a finite float >= 0; got {m}.")
    n = W.shape[0]
    margin = float(np.linalg.eigvalsh(sym(np.eye(n) - W)).min())
    ok = margin >= m and margin > 0
    return Certificate("monotone", ok, margin, None, None, "eigvalsh", "optimal", m - margin, 0.0,
                       message=f"λ_min(sym(I − W)) = {margin:.6g} (required m = {m:g})")
