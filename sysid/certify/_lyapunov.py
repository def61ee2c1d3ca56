"""Quadratic Lyapunov stability of an LTI system (docs/math.md §4.1, §4.8)."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import scipy.linalg

from ._blas import one_blas_thread
from ._balance import balance
from ._certificate import Certificate
from ._inputs import as_lure, check_solver
from ._lmi import finish, solve, sym
from ._verify import Strict, norm, verify

__all__ = ["lyapunov_stability", "lyapunov_lmi", "closed_form_metric", "clearly_unstable", "LARGE"]

# from this size on, an LTI system whose Lyapunov equation fails the re-check is not sent to the
# SDP (which cannot be more accurate than the backward-stable Bartels–Stewart solve)
LARGE = 48


def lyapunov_lmi(A, P, continuous: bool, rate: float | None = None):
    """AᵀPA − ρ²P (discrete) or AᵀP + PA + 2λP (continuous), numpy or cvxpy, and its term scale.

    ``rate`` defaults to ρ = 1 (discrete) or λ = 0 (continuous): plain stability.
    """
    if rate is None:
        rate = 0.0 if continuous else 1.0
    if continuous:
        M = A.T @ P + P @ A + 2 * rate * P
    else:
        M = A.T @ P @ A - rate**2 * P
    if isinstance(P, np.ndarray):
        nA, nP = norm(A), norm(P)
        return M, (2 * nA * nP + 2 * rate * nP) if continuous else (nA**2 * nP + rate**2 * nP)
    return M, None


def closed_form_metric(A, continuous: bool, rate: float | None = None):
    """P from the Lyapunov equation with right-hand side −I (or None if it cannot be solved).

    Discrete: (A/ρ)ᵀP(A/ρ) − P = −I; continuous: (A + λI)ᵀP + P(A + λI) = −I. For A stable at
    the rate, P ⪰ I (discrete) / P ≻ 0 and the LMI holds with margin 1 (times ρ²); otherwise
    P is indefinite and the strict re-check rejects it.
    """
    if rate is None:
        rate = 0.0 if continuous else 1.0
    n = A.shape[0]
    ev = np.linalg.eigvals(A)
    if (ev.real.max() + rate >= 0) if continuous else (np.abs(ev).max() >= rate):
        return None  # not stable at this rate: the equation has no positive definite solution
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # scipy warns (and perturbs) near-singular equations
            P = _solve(A, continuous, rate, n)
    except (np.linalg.LinAlgError, ValueError, RuntimeWarning):
        return None
    if not np.all(np.isfinite(P)):
        return None
    return sym(P)


def clearly_unstable(A, continuous: bool, rate: float | None = None) -> str:
    """A message when the eigenvalues of A violate the rate by more than 1e-9 (relative), else ""."""
    if rate is None:
        rate = 0.0 if continuous else 1.0
    ev = np.linalg.eigvals(A)
    scale = max(1.0, float(np.abs(ev).max()))
    if continuous and ev.real.max() + rate > 1e-9 * scale:
        return (f"the largest real part of the eigenvalues of A is {ev.real.max():.6g} > −{rate:g}: "
                "no quadratic certificate exists")
    if not continuous and np.abs(ev).max() > rate * (1 + 1e-9):
        return f"the spectral radius of A is {np.abs(ev).max():.6g} > {rate:g}: no quadratic certificate exists"
    return ""


def _solve(A, continuous, rate, n):
    if continuous:
        As = A + rate * np.eye(n)
        return scipy.linalg.solve_continuous_lyapunov(As.T, -np.eye(n))
    As = A / rate
    return scipy.linalg.solve_discrete_lyapunov(As.T, np.eye(n))


@one_blas_thread
def lyapunov_stability(system, *, solver: str | None = None, eps: float = 1e-7,
                       local: bool = False) -> Certificate:
    """Certify stability of an LTI system by a quadratic Lyapunov function.

    Finds P ≻ 0 with AᵀPA − P ⪯ −ε·s·I (discrete, ``dt > 0``) or AᵀP + PA ⪯ −ε·s·I
    (continuous, ``dt = 0``) in the state coordinates balanced by powers of two (an exact
    rescaling, :mod:`sysid.certify._balance`); s = max(1, ‖A‖₂²) (resp. max(1, ‖A‖₂)).

    By default P is first taken from the Lyapunov equation (right-hand side −I, an exact
    O(nx³) solve); if that fails the re-check, the SDP is solved with Clarabel. Whatever the
    path, "certified" requires the numpy re-check: largest eigenvalue of the symmetrized LMI
    at most −max(ε·s/2, rounding bound), and P positive definite.

    Parameters
    ----------
    system : control.StateSpace or LureSystem without Δ (nv = 0)
        A (nx, nx) is the matrix certified.
    solver : str, optional
        None: the Lyapunov equation, then Clarabel. A cvxpy solver name forces the SDP with
        that solver ("SCS" is accepted, but its answers often fail the strict re-check).
    eps : float
        Relative strictness margin imposed on the SDP.
    local : bool
        Mark the certificate as local (the system is a linearization at an operating point).

    Returns
    -------
    Certificate
        ``bound`` is the spectral radius (discrete) or the largest real part of the
        eigenvalues (continuous) of A, reported for information; ``P`` the Lyapunov matrix
        (original coordinates).

    Examples
    --------
    >>> import control
    >>> from sysid.certify import lyapunov_stability
    >>> lyapunov_stability(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)).certified
    True
    """
    solver = check_solver(solver)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite float > 0; got {eps}.")
    lure = as_lure(system)
    if lure.nv:
        raise ValueError("lyapunov_stability is for LTI systems (nv = 0); got a Lur'e system with "
                         f"nv = {lure.nv}. Use contraction(system) or lyapunov_stability(system.linearize()).")
    n, cont = lure.nx, lure.is_continuous
    ev = np.linalg.eigvals(lure.A) if n else np.zeros(0)
    info = float(ev.real.max()) if cont and n else (float(np.abs(ev).max()) if n else 0.0)
    if n == 0:
        return Certificate("lyapunov_stability", True, info, np.zeros((0, 0)), None, "none", "trivial",
                           -np.inf, 0.0, local, "static system (nx = 0)")
    scaled, sc = balance(lure)
    A = scaled.A
    what = "largest real part of the poles" if cont else "spectral radius"
    msg = f"V(x) = xᵀPx decreases along every trajectory (bound = {what})"
    if solver is None:
        Pc = closed_form_metric(A, cont)
        if Pc is not None:
            L, scale = lyapunov_lmi(A, Pc, cont)
            ok, worst, tol, _ = verify([Strict(L, scale, 1.0)], pd=[Pc])
            if ok:
                return Certificate("lyapunov_stability", True, info, sc.P_back(Pc), None, "lyapunov-equation",
                                   "optimal", worst, tol, local,
                                   msg + ("; local: valid for the linearization at its operating point only"
                                          if local else ""), dict(margin=1.0, state_scaling=sc.t))
        bad = clearly_unstable(A, cont)
        if bad or n >= LARGE:
            return Certificate("lyapunov_stability", False, None, None, None, "lyapunov-equation",
                               "infeasible" if bad else "marginal", None, 0.0, local,
                               (bad or "the Lyapunov equation's metric fails the strict re-check (A is marginally "
                                "stable to working precision); not certified") +
                               ("; local: valid for the linearization at its operating point only" if local else ""),
                               dict(state_scaling=sc.t))
    nrm = float(np.linalg.norm(A, 2))
    margin = eps * max(1.0, nrm if cont else nrm**2)
    P = cp.Variable((n, n), symmetric=True)
    M, _ = lyapunov_lmi(A, P, cont)
    prob = cp.Problem(cp.Minimize(0), [P >> np.eye(n), sym(M) << -margin * np.eye(n)])
    name, status, note = solve(prob, solver)
    Pn = None if P.value is None else sym(P.value)
    checks = [] if Pn is None else [Strict(*lyapunov_lmi(A, Pn, cont), margin)]
    return finish("lyapunov_stability", status, name, checks, bound=info,
                  P=None if Pn is None else sc.P_back(Pn), pd=[Pn], local=local, message=msg,
                  extra=dict(margin=margin, state_scaling=sc.t), note=note)
