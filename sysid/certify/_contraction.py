"""Contraction (incremental exponential stability) of a Lur'e system (docs/math.md §4.2, §4.7, §4.8).

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE TAC 2023 (the contraction LMI with diagonal
multipliers).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._blas import one_blas_thread
from ._balance import balance
from ._certificate import Certificate
from ._inputs import as_lure, check_solver
from ._lmi import bmat, finish, slope_multiplier, solve, sym
from ._lyapunov import LARGE as _LTI_LARGE, clearly_unstable, closed_form_metric
from ._verify import Strict, norm, verify

__all__ = ["contraction", "smallest_rate", "contraction_lmi"]

# from this LMI size (nx + nv) on, the default is the first-order path alone: Clarabel's KKT
# system holds the (N(N+1)/2)² scaling block of the LMI cone (minutes at 48 when infeasible,
# out of memory beyond ~160)
_LARGE = 48


def _blocks(lure):
    nx, nv = lure.nx, lure.nv
    K = np.hstack([lure.A, lure.B1])                                         # (Δx, Δw) -> Δx⁺ or dΔx/dt
    Ex = np.vstack([np.eye(nx), np.zeros((nv, nx))])                          # selects Δx
    Mv = np.block([[lure.C1, lure.D11], [np.zeros((nv, nx)), np.eye(nv)]])    # (Δx, Δw) -> (Δv, Δw)
    return K, Ex, Mv


def contraction_lmi(lure, P, lam, rate: float):
    """The contraction LMI (written ⪯ 0) in (Δx, Δw), numpy or cvxpy, shape (nx+nv, nx+nv).

    discrete:   KᵀPK − ρ² EₓᵀPEₓ + Mvᵀ Q_Λ Mv,       K = [A B1]
    continuous: EₓᵀPK + KᵀPEₓ + 2λ EₓᵀPEₓ + Mvᵀ Q_Λ Mv
    """
    K, Ex, Mv = _blocks(lure)
    if lure.is_continuous:
        M = Ex @ P @ K + K.T @ P @ Ex.T + 2 * rate * (Ex @ P @ Ex.T)
    else:
        M = K.T @ P @ K - rate**2 * (Ex @ P @ Ex.T)
    if lure.nv:
        alpha, beta = lure.delta.slope_bounds
        M = M + Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
    return M


def contraction_check(lure, P, lam, rate: float, margin: float) -> Strict:
    """The numeric contraction LMI at (P, λ) with the size of its terms, for :func:`._verify.verify`."""
    K, _, Mv = _blocks(lure)
    nP = norm(P)
    if lure.is_continuous:
        scale = 2 * norm(K) * nP + 2 * rate * nP
    else:
        scale = norm(K) ** 2 * nP + rate**2 * nP
    if lure.nv:
        alpha, beta = lure.delta.slope_bounds
        scale += norm(Mv) ** 2 * (2 * abs(alpha * beta) + 2 * abs(alpha + beta) + 2) * float(np.max(np.abs(lam)))
    return Strict(contraction_lmi(lure, P, lam, rate), scale, margin)


def _schur_constraint(lure, P, lam, rate, margin):
    """Discrete contraction LMI in Schur-complement form (used with SCS when asked for).

    KᵀPK − S ⪯ −εI with P ≻ 0  ⇔  [[S − εI, KᵀP], [PK, P]] ⪰ 0,  S = ρ² EₓᵀPEₓ − Mvᵀ Q_Λ Mv.
    Every entry of the big matrix depends on O(nx) unknowns instead of O(nx²) (KᵀPK is dense
    in P), so the conic data is ~nx times sparser. The numpy re-check always uses the direct form.
    """
    nx, nv = lure.nx, lure.nv
    K, Ex, Mv = _blocks(lure)
    S = rate**2 * (Ex @ P @ Ex.T)
    if nv:
        alpha, beta = lure.delta.slope_bounds
        S = S - Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
    PK = P @ K
    return sym(bmat([[S - margin * np.eye(nx + nv), PK.T], [PK, P]])) >> 0


def _check_rate(lure, rate):
    if rate is None:
        return 0.0 if lure.is_continuous else 1.0
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise TypeError(f"rate must be a real number; got {type(rate).__name__} ({rate!r}).") from None
    if lure.is_continuous and not (np.isfinite(rate) and rate >= 0):
        raise ValueError(f"for a continuous-time system the contraction rate λ (d/dt V ≤ −2λV) must be a finite "
                         f"float >= 0; got {rate}.")
    if not lure.is_continuous and not 0 < rate <= 1:
        raise ValueError(f"for a discrete-time system the contraction rate ρ (V⁺ ≤ ρ²V) must be in (0, 1]; "
                         f"got {rate}.")
    return rate


def _message(lure, rate):
    if lure.is_continuous:
        what = f"d/dt V(Δx) ≤ −2·{rate:.6g}·V(Δx), V = ΔxᵀPΔx"
    else:
        what = f"V(Δx) = ΔxᵀPΔx shrinks by ρ² = {rate**2:.6g} per step"
    return what + " (strictly) for any two trajectories under the same input"


def _margin(lure, eps):
    K, _, Mv = _blocks(lure)
    beta = max(abs(b) for b in lure.delta.slope_bounds) if lure.nv else 1.0
    return eps * max(1.0, np.linalg.norm(K, 2) ** 2, max(1.0, beta) * np.linalg.norm(Mv, 2) ** 2 if lure.nv else 0.0)


@one_blas_thread
def contraction(system, rate: float | None = None, *, solver: str | None = None, eps: float = 1e-7,
                local: bool = False) -> Certificate:
    """Certify contraction: two trajectories under the same input converge to each other.

    Finds P ⪰ I and diagonal Λ ⪰ 0 with (ξ = (Δx, Δw))

        discrete:   [A B1]ᵀ P [A B1] − blkdiag(ρ²P, 0) + Mvᵀ Q_Λ Mv ⪯ −ε·s·I
        continuous: sym(Eₓᵀ P [A B1]) + 2λ EₓᵀPEₓ + Mvᵀ Q_Λ Mv ⪯ −ε·s·I

    where Mv maps ξ to (Δv, Δw) and Q_Λ is the incremental sector multiplier of the slope
    bounds [α, β] that Δ carries (docs/math.md §4.7); s = max(1, ‖[A B1]‖₂², ‖Mv‖₂²) scales the
    margin. The state is first rescaled by powers of two (exact; the metric is mapped back).
    Then V(Δx) = ΔxᵀPΔx shrinks by ρ² per step, or like e^{−2λt}. Biases do not enter. For an
    LTI system (no Δ) this holds iff ρ(A) < ρ (resp. Re λ(A) < −λ).

    "Certified" always requires the strict numpy re-check (:mod:`sysid.certify._verify`):
    largest eigenvalue of the symmetrized LMI ≤ −max(ε·s/2, rounding bound), P ≻ 0, λ ≥ 0.

    Parameters
    ----------
    system : LureSystem or control.StateSpace
        Matrices A (nx, nx), B1 (nx, nv), C1 (nv, nx), D11 (nv, nv) are used.
    rate : float, optional
        Discrete: ρ ∈ (0, 1] (default 1, i.e. strict contraction). Continuous: λ ≥ 0 (default 0).
    solver : str, optional
        None (default): LTI systems take P from the Lyapunov equation (exact, O(nx³)); Lur'e
        systems below nx + nv = 48 use Clarabel, from there the structure-exploiting
        first-order path (:mod:`sysid.certify._firstorder`); when it finds nothing the answer
        is "not certified" (no interior-point fallback, which takes minutes at that size). A cvxpy solver name forces that solver ("SCS" runs on the sparser
        Schur form; its answers are often rejected by the strict re-check).
    eps : float
        Relative strictness margin.
    local : bool
        Mark the certificate as local (the system is a linearization at an operating point).

    Returns
    -------
    Certificate
        ``bound`` is the rate, ``P`` the metric (original coordinates), ``multipliers`` λ.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import LureSystem
    >>> from sysid.certify import contraction
    >>> lure = LureSystem(A=0.5 * np.eye(2), B1=0.3 * np.eye(2), C1=np.eye(2), C2=np.eye(2),
    ...                   delta="tanh", dt=1.0)
    >>> contraction(lure).certified
    True
    """
    solver = check_solver(solver)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite float > 0; got {eps}.")
    lure = as_lure(system)
    rate = _check_rate(lure, rate)
    nx, nv = lure.nx, lure.nv
    if nx == 0:
        return Certificate("contraction", True, rate, np.zeros((0, 0)), np.zeros(nv), "none", "trivial", -np.inf,
                           0.0, local, "no state (nx = 0): nothing to contract")
    scaled, sc = balance(lure)
    msg = _message(lure, rate)
    where = "; local: valid for the linearization at its operating point only" if local else ""
    if solver is None and nv == 0:
        Pc = closed_form_metric(scaled.A, lure.is_continuous, rate)
        if Pc is not None:
            margin = rate**2 if not lure.is_continuous else 1.0
            ok, worst, tol, _ = verify([contraction_check(scaled, Pc, None, rate, margin)], pd=[Pc])
            if ok:
                return Certificate("contraction", True, rate, sc.P_back(Pc), np.zeros(0), "lyapunov-equation",
                                   "optimal", worst, tol, local, msg + where, dict(margin=margin, state_scaling=sc.t))
        bad = clearly_unstable(scaled.A, lure.is_continuous, rate)
        if bad or nx >= _LTI_LARGE:
            return Certificate("contraction", False, None, None, np.zeros(0), "lyapunov-equation",
                               "infeasible" if bad else "marginal", None, 0.0, local,
                               (bad or "the Lyapunov equation's metric fails the strict re-check (A is marginal "
                                "at this rate to working precision); not certified") + where,
                               dict(state_scaling=sc.t))
    margin = _margin(scaled, eps)
    if nv and lure.delta.slope_bounds[0] * lure.delta.slope_bounds[1] == 0:
        # slope 0 (or β = 0) is allowed: the (Δx, Δx) block reads AᵀPA − ρ²P ≺ 0 (resp.
        # AᵀP + PA + 2λP ≺ 0) with P ≻ 0, so A itself must contract at the rate
        bad = clearly_unstable(scaled.A, lure.is_continuous, rate)
        if bad:
            return Certificate("contraction", False, None, None, None, "eigenvalues", "infeasible", None, 0.0, local,
                               "with slope 0 in the sector, the linear part alone must contract: " + bad + where,
                               dict(margin=margin, state_scaling=sc.t))
    if solver is None and nx + nv >= _LARGE:
        from ._firstorder import contraction_firstorder

        found = contraction_firstorder(scaled, rate, margin)
        if isinstance(found, tuple):
            Pf, lamf, info = found
            return finish("contraction", "optimal", "first-order", [contraction_check(scaled, Pf, lamf, rate, margin)],
                          bound=rate, P=sc.P_back(Pf), lam=lamf, pd=[Pf], local=local, message=msg,
                          extra=dict(margin=margin, state_scaling=sc.t, **info))
        best = found.get("best_max_eig", np.nan) if isinstance(found, dict) else np.nan
        return Certificate("contraction", False, None, None, None, "first-order", "no_certificate_found", None,
                           0.0, local, "the first-order search found no certificate (smallest largest eigenvalue "
                           f"of the normalized LMI reached: {best:.3g}; positive suggests none exists); not "
                           "certified. Pass solver='CLARABEL' (or 'CVXOPT') for an interior-point search, which "
                           "can take minutes at this size" + where, dict(margin=margin, state_scaling=sc.t,
                                                                          **(found or {})))
    P = cp.Variable((nx, nx), symmetric=True)
    lam = cp.Variable(nv, nonneg=True) if nv else None
    if solver == "SCS" and not lure.is_continuous:
        cons = [P >> np.eye(nx), _schur_constraint(scaled, P, lam, rate, margin)]
    else:
        cons = [P >> np.eye(nx), sym(contraction_lmi(scaled, P, lam, rate)) << -margin * np.eye(nx + nv)]
    name, status, note = solve(cp.Problem(cp.Minimize(0), cons), solver)
    Pn = None if P.value is None else sym(P.value)
    lamn = None if lam is None or lam.value is None else np.maximum(np.asarray(lam.value, dtype=float), 0.0)
    if lam is None:
        lamn = np.zeros(0)
    checks = [] if Pn is None else [contraction_check(scaled, Pn, lamn, rate, margin)]
    return finish("contraction", status, name, checks, bound=rate, P=None if Pn is None else sc.P_back(Pn),
                  lam=lamn, pd=[Pn], local=local, message=msg, extra=dict(margin=margin, state_scaling=sc.t),
                  note=note)


@one_blas_thread
def smallest_rate(system, *, solver: str | None = None, tol: float = 1e-3, local: bool = False) -> Certificate:
    """The best certified contraction rate, by bisection on the (linear-for-fixed-rate) LMI.

    Discrete: the smallest ρ ∈ (0, 1]; continuous: the largest λ ≥ 0. A solver failure at a
    bisection point counts as "not certified at that rate" (never an exception), so the
    answer is a bracket: ``extra["bracket"] = (lo, hi)`` with the certified rate at one end
    (discrete: ``hi`` = the returned rate, nothing certified at ``lo``; continuous: ``lo`` =
    the returned rate, nothing certified at ``hi``, which is inf when no upper end was found).

    Parameters
    ----------
    system : LureSystem or control.StateSpace
    solver : str, optional
    tol : float
        Bisection tolerance (absolute for ρ; relative for λ ≥ 1).
    local : bool

    Returns
    -------
    Certificate
        The contraction certificate at the best rate found (``bound`` = that rate); not
        certified if even ρ = 1 (λ = 0) fails.
    """
    solver = check_solver(solver)
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise TypeError(f"tol must be a float > 0; got {type(tol).__name__}.") from None
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite float > 0; got {tol}.")
    lure = as_lure(system)
    best = contraction(lure, None, solver=solver, local=local)
    if not best.certified:
        return best.replace(extra=dict(best.extra, bracket=(None, None)))
    if lure.is_continuous:
        lo, hi = 0.0, 1.0
        while (c := contraction(lure, hi, solver=solver, local=local)).certified and hi < 1e6:
            lo, hi, best = hi, 2 * hi, c
        if c.certified:
            hi = np.inf
        while np.isfinite(hi) and hi - lo > tol * max(1.0, lo):
            mid = 0.5 * (lo + hi)
            c = contraction(lure, mid, solver=solver, local=local)
            lo, hi, best = (mid, hi, c) if c.certified else (lo, mid, best)
        return best.replace(extra=dict(best.extra, bracket=(lo, hi)))
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        c = contraction(lure, mid, solver=solver, local=local)
        lo, hi, best = (lo, mid, c) if c.certified else (mid, hi, best)
    return best.replace(extra=dict(best.extra, bracket=(lo, hi)))
