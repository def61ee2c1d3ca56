"""Shared LMI machinery: symmetrization, solving with cvxpy, and the strict numpy re-check.

cvxpy's ``X >> Y`` constrains only the symmetric part of ``X − Y`` and does not recognize
``A.T @ P @ A − P`` as symmetric; every LMI here is therefore symmetrized explicitly
(:func:`sym`) both in cvxpy and in the numpy re-check, so that both see the same matrix.
The re-check itself (strict, relative to the problem's scale) is in :mod:`._verify`.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np

from ..exceptions import SolverError
from ._certificate import Certificate
from ._inputs import ACCURATE_SOLVERS, as_lure, check_solver
from ._verify import Strict, max_eig, sym, verify

__all__ = ["sym", "bmat", "max_eig", "recheck", "as_lure", "solve", "slope_multiplier", "finish",
           "DEFAULT_SOLVER", "Strict", "SOLVER_ERROR"]

DEFAULT_SOLVER = "CLARABEL"
SOLVER_ERROR = "solver_error"


def bmat(blocks):
    """Block matrix of numpy arrays and/or cvxpy expressions (``cp.bmat`` or ``np.block``)."""
    if any(isinstance(b, cp.Expression) for row in blocks for b in row):
        return cp.bmat(blocks)
    return np.block(blocks)


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


def solve(problem: cp.Problem, solver: str | None) -> tuple[str, str, str]:
    """Solve ``problem``; returns (solver name, status, note).

    A solver that is not installed raises :class:`sysid.SolverError` naming an accurate
    alternative (never SCS). A solver that *fails* numerically (common at the edge of
    feasibility) is not an exception: the status is ``"solver_error"`` and ``note`` says why,
    so the caller reports "not certified".
    """
    name = check_solver(solver) or DEFAULT_SOLVER
    installed = cp.installed_solvers()
    others = [s for s in ACCURATE_SOLVERS if s in installed and s != name]
    if name not in installed:
        if others:
            raise SolverError(f"the solver {name!r} is not installed (installed accurate SDP solvers: {others}). "
                              f"Pass solver={others[0]!r}, or install {name}.")
        raise SolverError(f"the solver {name!r} is not installed and no accurate SDP solver is; pip install clarabel.")
    try:
        with warnings.catch_warnings():
            # cvxpy warns "Solution may be inaccurate": the status (optimal_inaccurate) says it
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=name, **_solver_kwargs(name))
    except (cp.error.SolverError, ArithmeticError, ValueError) as exc:
        return name, SOLVER_ERROR, f"{type(exc).__name__}: {exc}"
    return name, str(problem.status), ""


def finish(prop: str, status: str, solver: str, checks, *, bound=None, P=None, lam=None, local: bool = False,
           message: str = "", pd=(), extra: dict | None = None, note: str = "") -> Certificate:
    """Re-check the numeric LMIs strictly in numpy (:func:`._verify.verify`) and build the Certificate.

    Only the status "optimal" counts as success ("optimal_inaccurate" is a failure). A failed
    re-check gives "not certified" with the reason; it never raises.

    Parameters
    ----------
    checks : list of Strict
        The numeric LMIs at the returned variables with the margins imposed.
    pd : list of ndarray
        Matrices that must be positive definite (the metric).
    note : str
        The solver's error text when ``status`` is "solver_error".
    """
    where = "; local: valid for the linearization at its operating point only" if local else ""
    extra = dict(extra or {})
    if status != cp.OPTIMAL:
        why = {cp.OPTIMAL_INACCURATE: "the solver reported optimal_inaccurate, which is not a certificate",
               cp.INFEASIBLE: "the LMI is infeasible: no certificate of this form exists",
               cp.INFEASIBLE_INACCURATE: "the LMI is (inaccurately) infeasible: no certificate found",
               SOLVER_ERROR: f"the solver {solver} failed numerically ({note}); no certificate found (this "
                             "happens at the edge of feasibility: the property may hold with a smaller margin "
                             "or a larger rate, or not at all)"}
        msg = why.get(status, f"the solver returned {status}: no certificate found")
        return Certificate(prop, False, None, P, lam, solver, status, None, 0.0, local, msg + where, extra)
    ok, worst, tol, reason = verify(checks, pd=pd, lam=lam)
    msg = message if ok else f"the solver reported optimal but the numpy re-check failed: {reason}; not certified"
    return Certificate(prop, ok, bound if ok else None, P, lam, solver, status, worst, tol, local, msg + where, extra)
