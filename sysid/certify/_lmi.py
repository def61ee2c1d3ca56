"""Shared LMI machinery: the Certificate value, solving with cvxpy, and the numpy re-check."""

from __future__ import annotations

from dataclasses import dataclass, field

import control
import cvxpy as cp
import numpy as np

from ..core.lure import LureSystem
from ..exceptions import SolverError

__all__ = ["Certificate", "sym", "max_eig", "as_lure", "solve", "slope_multiplier"]

DEFAULT_SOLVER = "CLARABEL"


@dataclass
class Certificate:
    """The outcome of an LMI certificate; infeasible is an answer, not an exception.

    Attributes
    ----------
    property : str
        What is certified ("contraction", "incremental_l2_gain", ...).
    certified : bool
        True only if the solver succeeded *and* the numpy re-check passed.
    bound : float or None
        The rate, gain or margin certified (meaning depends on ``property``).
    P : ndarray or None
        The quadratic storage / Lyapunov matrix.
    multipliers : ndarray or None
        Diagonal IQC multipliers λ (Λ = diag(λ)).
    solver, status : str
        Solver used and its status.
    max_eig : float or None
        Largest eigenvalue of the explicitly symmetrized LMI at the returned solution (numpy).
    tol : float
        Tolerance of the numpy re-check.
    local : bool
        True when the certificate is about a linearization at an operating point only.
    message : str
    """

    property: str
    certified: bool
    bound: float | None = None
    P: np.ndarray | None = None
    multipliers: np.ndarray | None = None
    solver: str = ""
    status: str = ""
    max_eig: float | None = None
    tol: float = 0.0
    local: bool = False
    message: str = ""
    extra: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.certified)

    def __str__(self) -> str:
        verdict = "certified" if self.certified else "NOT certified"
        bound = "" if self.bound is None else f", bound {self.bound:.6g}"
        where = " (local)" if self.local else ""
        return f"{self.property}: {verdict}{bound}{where} [{self.solver}: {self.status}] {self.message}".rstrip()


def sym(M: np.ndarray) -> np.ndarray:
    return 0.5 * (M + M.T)


def max_eig(M: np.ndarray) -> float:
    """Largest eigenvalue of the explicitly symmetrized matrix."""
    return float(np.linalg.eigvalsh(sym(np.asarray(M, dtype=float))).max()) if M.size else -np.inf


def as_lure(system) -> LureSystem:
    if isinstance(system, LureSystem):
        return system
    if isinstance(system, (control.StateSpace, control.TransferFunction)):
        return LureSystem.from_control(system)
    raise TypeError(f"expected a sysid.LureSystem or a control.StateSpace; got {type(system).__name__}. "
                    "For an estimator use est.to_lure() (or est.linearize() for a local certificate).")


def slope_multiplier(lam, alpha: float, beta: float):
    """The incremental sector multiplier [[−2αβΛ, (α+β)Λ], [(α+β)Λ, −2Λ]] for slopes in [α, β]."""
    L = cp.diag(lam) if isinstance(lam, cp.Expression) else np.diag(lam)
    if isinstance(lam, cp.Expression):
        return cp.bmat([[-2 * alpha * beta * L, (alpha + beta) * L], [(alpha + beta) * L, -2 * L]])
    return np.block([[-2 * alpha * beta * L, (alpha + beta) * L], [(alpha + beta) * L, -2 * L]])


def solve(problem: cp.Problem, solver: str | None) -> tuple[str, str]:
    """Solve; returns (solver name, status). Missing or crashing solvers raise SolverError."""
    name = (solver or DEFAULT_SOLVER).upper()
    installed = cp.installed_solvers()
    if name not in installed:
        others = [s for s in ("CLARABEL", "SCS", "MOSEK", "CVXOPT") if s in installed]
        raise SolverError(f"the solver {name!r} is not installed; installed SDP solvers: {others}. "
                          f"Pass solver={others[0]!r} or install {name}." if others else
                          f"no SDP solver is installed; pip install clarabel (or scs).")
    kwargs = {}
    if name == "SCS":
        kwargs = dict(eps=1e-7, max_iters=100000)
    try:
        problem.solve(solver=name, **kwargs)
    except cp.error.SolverError as exc:
        alt = "SCS" if name != "SCS" else "CLARABEL"
        raise SolverError(f"the solver {name} failed ({exc}); try solver={alt!r}.") from exc
    return name, str(problem.status)


def finish(prop: str, problem_status: str, solver: str, lmis: list[np.ndarray], *, bound=None, P=None, lam=None,
           tol: float, local: bool = False, message: str = "", psd: list[np.ndarray] | None = None) -> Certificate:
    """Re-check the numeric LMIs (each must be ⪯ tol) and build the Certificate."""
    if problem_status != cp.OPTIMAL:
        return Certificate(prop, False, None, P, lam, solver, problem_status, None, tol, local,
                           message or f"the LMI is {problem_status} (no certificate found)")
    worst = max(max_eig(M) for M in lmis) if lmis else -np.inf
    ok = worst <= tol
    if psd:
        ok = ok and all(np.linalg.eigvalsh(sym(M)).min() >= -tol for M in psd)
    if lam is not None and lam.size:
        ok = ok and bool(np.all(lam >= -tol))
    msg = message
    if not ok:
        msg = (f"the solver reported optimal but the numpy re-check failed (largest eigenvalue {worst:.3e} > "
               f"tol {tol:.1e}); not certified")
    if local:
        msg = (msg + "; " if msg else "") + "local: valid for the linearization at its operating point only"
    return Certificate(prop, bool(ok), bound if ok else None, P, lam, solver, problem_status, worst, tol, local, msg)
