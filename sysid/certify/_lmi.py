"""Shared LMI machinery: symmetrization, solving with cvxpy, and the numpy re-check.

cvxpy's ``X >> Y`` constrains only the symmetric part of ``X − Y`` and does not recognize
``A.T @ P @ A − P`` as symmetric; every LMI here is therefore symmetrized explicitly
(:func:`sym`) both in cvxpy and in the numpy re-check, so that both see the same matrix.
"""

from __future__ import annotations

import control
import cvxpy as cp
import numpy as np

from ..core.lure import LureSystem
from ..exceptions import SolverError
from ._certificate import Certificate

__all__ = ["sym", "bmat", "max_eig", "recheck", "as_lure", "solve", "slope_multiplier", "finish",
           "DEFAULT_SOLVER"]

DEFAULT_SOLVER = "CLARABEL"
_SDP_SOLVERS = ("CLARABEL", "SCS", "MOSEK", "CVXOPT", "COPT")


def sym(M):
    """Symmetric part (M + Mᵀ)/2 of a numpy array or a cvxpy expression, shape (n, n)."""
    return 0.5 * (M + M.T)


def bmat(blocks):
    """Block matrix of numpy arrays and/or cvxpy expressions (``cp.bmat`` or ``np.block``)."""
    if any(isinstance(b, cp.Expression) for row in blocks for b in row):
        return cp.bmat(blocks)
    return np.block(blocks)


def max_eig(M) -> float:
    """Largest eigenvalue of the explicitly symmetrized matrix M, shape (n, n) (−inf if empty)."""
    M = np.asarray(M, dtype=float)
    if not M.size:
        return -np.inf
    if not np.all(np.isfinite(M)):
        return np.inf
    return float(np.linalg.eigvalsh(sym(M)).max())


def recheck(lmis, *, tol: float, psd=(), lam=None) -> tuple[bool, float]:
    """Numpy re-check: every matrix in ``lmis`` is ⪯ tol, every one in ``psd`` is ≻ 0, λ ≥ 0.

    Parameters
    ----------
    lmis : list of ndarray, each shape (n, n)
        Numeric LMIs written as ``L ⪯ 0`` (symmetrized here).
    tol : float
        Allowed largest eigenvalue.
    psd : list of ndarray
        Matrices that must be positive definite (e.g. the storage P).
    lam : ndarray, shape (nv,), optional
        Multipliers that must be nonnegative.

    Returns
    -------
    ok : bool
    worst : float
        The largest eigenvalue over ``lmis``.
    """
    worst = max((max_eig(L) for L in lmis), default=-np.inf)
    ok = bool(worst <= tol)
    for M in psd:
        ok = ok and M is not None and -max_eig(-np.asarray(M, dtype=float)) > 0
    if lam is not None and np.size(lam):
        ok = ok and bool(np.all(np.isfinite(lam)) and np.all(np.asarray(lam) >= 0))
    return ok, worst


def as_lure(system) -> LureSystem:
    """A LureSystem from a LureSystem or a python-control StateSpace / TransferFunction (no Δ)."""
    if isinstance(system, LureSystem):
        return system
    if isinstance(system, (control.StateSpace, control.TransferFunction)):
        return LureSystem.from_control(system)
    raise TypeError(f"expected a sysid.LureSystem or a control.StateSpace; got {type(system).__name__}. "
                    "For an estimator use est.to_lure() (or est.linearize() for a local certificate), "
                    "or call sysid.certify.report(est).")


def slope_multiplier(lam, alpha: float, beta: float):
    """Incremental sector multiplier [[−2αβΛ, (α+β)Λ], [(α+β)Λ, −2Λ]] for slopes in [α, β].

    Parameters
    ----------
    lam : ndarray or cvxpy Variable, shape (nv,)
    alpha, beta : float

    Returns
    -------
    ndarray or cvxpy Expression, shape (2 nv, 2 nv), acting on (Δv, Δw).
    """
    L = cp.diag(lam) if isinstance(lam, cp.Expression) else np.diag(np.asarray(lam, dtype=float))
    return bmat([[-2 * alpha * beta * L, (alpha + beta) * L], [(alpha + beta) * L, -2 * L]])


def _solver_kwargs(name: str) -> dict:
    if name == "SCS":
        return dict(eps=1e-7, max_iters=100_000)
    return {}


def solve(problem: cp.Problem, solver: str | None) -> tuple[str, str]:
    """Solve ``problem``; returns (solver name, status).

    A missing or crashing solver raises :class:`sysid.SolverError` naming an alternative; an
    infeasible problem is *not* an error (its status is returned).
    """
    if solver is not None and not isinstance(solver, str):
        raise TypeError(f"solver must be a solver name such as 'CLARABEL' or 'SCS'; got {type(solver).__name__}.")
    name = (solver or DEFAULT_SOLVER).upper()
    installed = cp.installed_solvers()
    others = [s for s in _SDP_SOLVERS if s in installed and s != name]
    if name not in installed:
        if others:
            raise SolverError(f"the solver {name!r} is not installed (installed SDP solvers: {others}). "
                              f"Pass solver={others[0]!r}, or install {name}.")
        raise SolverError("no SDP solver is installed; pip install clarabel (or scs).")
    try:
        problem.solve(solver=name, **_solver_kwargs(name))
    except cp.error.SolverError as exc:
        alt = others[0] if others else "CLARABEL"
        raise SolverError(f"the solver {name} failed ({exc}); try solver={alt!r}.") from exc
    return name, str(problem.status)


def finish(prop: str, status: str, solver: str, lmis, *, bound=None, P=None, lam=None, tol: float,
           local: bool = False, message: str = "", psd=(), extra: dict | None = None) -> Certificate:
    """Re-check the numeric LMIs in numpy and build the Certificate.

    Only the status "optimal" counts as success ("optimal_inaccurate" is a failure).
    """
    note = "; local: valid for the linearization at its operating point only" if local else ""
    if status != cp.OPTIMAL:
        why = {cp.OPTIMAL_INACCURATE: "the solver reported optimal_inaccurate, which is not a certificate "
                                      "(try solver='CLARABEL')",
               cp.INFEASIBLE: "the LMI is infeasible: no certificate of this form exists",
               cp.INFEASIBLE_INACCURATE: "the LMI is (inaccurately) infeasible: no certificate found"}
        msg = why.get(status, f"the solver returned {status}: no certificate found")
        return Certificate(prop, False, None, P, lam, solver, status, None, tol, local, msg + note,
                           dict(extra or {}))
    ok, worst = recheck(lmis, tol=tol, psd=psd, lam=lam)
    msg = message if ok else (f"the solver reported optimal but the numpy re-check failed (largest eigenvalue "
                              f"{worst:.3e}, tol {tol:.1e}, or P not positive definite / λ negative); "
                              "not certified")
    return Certificate(prop, ok, bound if ok else None, P, lam, solver, status, worst, tol, local, msg + note,
                       dict(extra or {}))
