"""The numpy re-check behind every "certified": strict, relative to the problem's scale.

A numeric LMI ``L ⪯ 0`` returned by a solver is accepted only if the largest eigenvalue of
its explicitly symmetrized float64 matrix is at most ``−need`` with

    need = max(KEEP · margin,  rounding(n, scale))

where ``margin`` is the strictness margin the solver was asked for (``L ⪯ −margin·I``) and
``rounding`` bounds the floating-point error of forming ``L`` from its terms and of its
eigenvalues (``scale`` = sum of the norms of the products that make up ``L``). So a
certificate never rests on an eigenvalue that rounding could flip, and a solver that returns
a point on the boundary of the LMI (as a first-order solver does for a marginal system) is
rejected rather than believed: with ``L ⪯ −need·I`` and ``need > 0`` the property holds
*strictly*, e.g. ρ(A)² ≤ 1 − need/λ_max(P) for the Lyapunov LMI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Strict", "verify", "rounding", "max_eig", "sym", "KEEP"]

# fraction of the imposed margin that the returned point must keep
KEEP = 0.5
_EPS = np.finfo(float).eps


def sym(M):
    """Symmetric part (M + Mᵀ)/2 of a numpy array or a cvxpy expression, shape (n, n)."""
    return 0.5 * (M + M.T)


def max_eig(M) -> float:
    """Largest eigenvalue of the explicitly symmetrized float64 matrix M (−inf if empty, +inf if not finite)."""
    M = np.asarray(M)
    if np.iscomplexobj(M):
        raise ValueError("the re-check needs a real matrix; got a complex one.")
    M = np.asarray(M, dtype=float)
    if not M.size:
        return -np.inf
    if not np.all(np.isfinite(M)):
        return np.inf
    return float(np.linalg.eigvalsh(sym(M)).max())


def rounding(n: int, scale: float) -> float:
    """A generous bound on the float64 error of an n × n LMI assembled from terms of total size ``scale``.

    Forming a product of k factors costs ≲ k·n·eps relative to the product of their norms, and
    ``eigvalsh`` is backward stable (error ≲ n·eps·‖L‖); 32·(n + 4)·eps·scale covers both.
    """
    return 32.0 * (n + 4) * _EPS * float(scale)


def norm(M) -> float:
    """Frobenius norm (0 for an empty array); an upper bound of the 2-norm, cheap."""
    M = np.asarray(M, dtype=float)
    return float(np.linalg.norm(M)) if M.size else 0.0


@dataclass(frozen=True)
class Strict:
    """One numeric LMI that must hold as ``L ⪯ −need·I`` (see the module docstring).

    Attributes
    ----------
    L : ndarray, shape (n, n)
        The LMI written ``⪯ 0`` at the returned variables (symmetrized when checked).
    scale : float
        Sum of the norms of the products it is assembled from (for the rounding bound).
    margin : float
        Strictness margin imposed on the solver for this LMI (0 for a non-strict one).
    """

    L: np.ndarray
    scale: float
    margin: float = 0.0

    def need(self) -> float:
        n = np.shape(self.L)[0] if np.ndim(self.L) == 2 else 0
        return max(KEEP * float(self.margin), rounding(n, self.scale))


def positive_definite(P, *, floor: float = 0.0) -> bool:
    """P (symmetrized) is positive definite beyond rounding, and λ_min(P) ≥ floor."""
    if P is None:
        return False
    P = np.asarray(P, dtype=float)
    if not P.size:
        return True
    if not np.all(np.isfinite(P)):
        return False
    lo = float(np.linalg.eigvalsh(sym(P)).min())
    return lo > rounding(P.shape[0], norm(P)) and lo >= floor


def verify(checks, *, pd=(), lam=None) -> tuple[bool, float, float, str]:
    """Run the strict numpy re-check.

    Parameters
    ----------
    checks : list of Strict
    pd : list of ndarray
        Matrices that must be positive definite beyond rounding (e.g. the metric P).
    lam : ndarray, shape (nv,), optional
        Multipliers that must be finite and ≥ 0.

    Returns
    -------
    ok : bool
    worst : float
        The largest eigenvalue over the checked LMIs.
    tol : float
        The threshold it was compared with (−need of the binding LMI; ≤ 0).
    reason : str
        Empty when ok; otherwise why the re-check failed.
    """
    worst, tol, reason, excess = -np.inf, 0.0, "", -np.inf
    for c in checks:
        e, need = max_eig(c.L), c.need()
        if e + need > excess:
            excess, worst, tol = e + need, e, -need
        if not e <= -need and not reason:
            reason = (f"largest eigenvalue of the LMI {e:.3e} is not below −{need:.1e} (half the strictness margin "
                      f"imposed, or the rounding bound at this scale)")
    if not reason:
        for P in pd:
            if not positive_definite(P):
                reason = "the metric P is not positive definite beyond rounding"
                break
    if not reason and lam is not None and np.size(lam):
        lam = np.asarray(lam, dtype=float)
        if not (np.all(np.isfinite(lam)) and np.all(lam >= 0)):
            reason = "a multiplier λ is negative or not finite"
    return not reason, float(worst), float(tol), reason
