"""Quadratic Lyapunov stability of an LTI system (MATH.md §4.1, §4.8)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._certificate import Certificate
from ._lmi import as_lure, finish, solve, sym

__all__ = ["lyapunov_stability"]


def lyapunov_stability(system, *, solver: str | None = None, eps: float = 1e-7,
                       local: bool = False) -> Certificate:
    """Certify stability of an LTI system by a quadratic Lyapunov function.

    Finds P ⪰ I with AᵀPA − P ⪯ −ε·s·I (discrete, ``dt > 0``) or AᵀP + PA ⪯ −ε·s·I
    (continuous, ``dt = 0``), where s = max(1, ‖A‖₂²) (resp. max(1, ‖A‖₂)) scales the
    strictness margin to the data.

    Parameters
    ----------
    system : control.StateSpace or LureSystem without Δ (nv = 0)
        A (nx, nx) is the matrix certified.
    solver : str, optional
        cvxpy solver name (default Clarabel; "SCS" for large problems).
    eps : float
        Relative strictness margin.
    local : bool
        Mark the certificate as local (the system is a linearization at an operating point).

    Returns
    -------
    Certificate
        ``bound`` is the spectral radius (discrete) or the largest real part of the
        eigenvalues (continuous) of A, reported for information; ``P`` the Lyapunov matrix.

    Examples
    --------
    >>> import control
    >>> from sysid.certify import lyapunov_stability
    >>> lyapunov_stability(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)).certified
    True
    """
    lure = as_lure(system)
    if lure.nv:
        raise ValueError("lyapunov_stability is for LTI systems (nv = 0); got a Lur'e system with "
                         f"nv = {lure.nv}. Use contraction(system) or lyapunov_stability(system.linearize()).")
    A, n = lure.A, lure.nx
    ev = np.linalg.eigvals(A) if n else np.zeros(0)
    cont = lure.is_continuous
    info = float(ev.real.max()) if cont and n else (float(np.abs(ev).max()) if n else 0.0)
    if n == 0:
        return Certificate("lyapunov_stability", True, info, np.zeros((0, 0)), None, "none", "trivial",
                           -np.inf, 0.0, local, "static system (nx = 0)")
    nrm = float(np.linalg.norm(A, 2))
    margin = eps * max(1.0, nrm if cont else nrm**2)
    P = cp.Variable((n, n), symmetric=True)
    M = (A.T @ P + P @ A) if cont else (A.T @ P @ A - P)
    prob = cp.Problem(cp.Minimize(0), [P >> np.eye(n), sym(M) << -margin * np.eye(n)])
    name, status = solve(prob, solver)
    Pn = None if P.value is None else sym(P.value)
    lmis = [] if Pn is None else [A.T @ Pn + Pn @ A if cont else A.T @ Pn @ A - Pn]
    what = "largest real part of the poles" if cont else "spectral radius"
    return finish("lyapunov_stability", status, name, lmis, bound=info, P=Pn, tol=0.0, psd=[Pn], local=local,
                  message=f"V(x) = xᵀPx decreases along every trajectory (bound = {what})",
                  extra=dict(margin=margin))
