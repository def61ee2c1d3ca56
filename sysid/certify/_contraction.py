"""Contraction (incremental exponential stability) of a Lur'e system (MATH.md §4.2, §4.7, §4.8).

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE TAC 2023 (the contraction LMI with diagonal
multipliers).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._certificate import Certificate
from ._lmi import as_lure, bmat, finish, slope_multiplier, solve, sym

__all__ = ["contraction", "smallest_rate"]

# from this LMI size on, the default solver is SCS on the Schur form (see _schur_constraint)
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


def _schur_constraint(lure, P, lam, rate, margin):
    """Discrete contraction LMI in Schur-complement form (used with SCS on large problems).

    KᵀPK − S ⪯ −εI with P ≻ 0  ⇔  [[S − εI, KᵀP], [PK, P]] ⪰ 0,  S = ρ² EₓᵀPEₓ − Mvᵀ Q_Λ Mv.
    Every entry of the big matrix depends on O(nx) unknowns instead of O(nx²) (KᵀPK is dense
    in P), so the conic data is ~nx times sparser and the first-order SCS iterates cheaply.
    The numpy re-check always uses the direct form.
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
    rate = float(rate)
    if lure.is_continuous and not (np.isfinite(rate) and rate >= 0):
        raise ValueError(f"for a continuous-time system the contraction rate λ (d/dt V ≤ −2λV) must be a finite "
                         f"float >= 0; got {rate}.")
    if not lure.is_continuous and not 0 < rate <= 1:
        raise ValueError(f"for a discrete-time system the contraction rate ρ (V⁺ ≤ ρ²V) must be in (0, 1]; "
                         f"got {rate}.")
    return rate


def contraction(system, rate: float | None = None, *, solver: str | None = None, eps: float = 1e-7,
                local: bool = False) -> Certificate:
    """Certify contraction: two trajectories under the same input converge to each other.

    Finds P ⪰ I and diagonal Λ ⪰ 0 with (ξ = (Δx, Δw))

        discrete:   [A B1]ᵀ P [A B1] − blkdiag(ρ²P, 0) + Mvᵀ Q_Λ Mv ⪯ −ε·s·I
        continuous: sym(Eₓᵀ P [A B1]) + 2λ EₓᵀPEₓ + Mvᵀ Q_Λ Mv ⪯ −ε·s·I

    where Mv maps ξ to (Δv, Δw) and Q_Λ is the incremental sector multiplier of the slope
    bounds [α, β] that Δ carries (MATH.md §4.7); s = max(1, ‖[A B1]‖₂², ‖Mv‖₂²) scales the
    margin. Then V(Δx) = ΔxᵀPΔx shrinks by ρ² per step, or like e^{−2λt}. Biases do not
    enter. For an LTI system (no Δ) this holds iff ρ(A) < ρ (resp. Re λ(A) < −λ).

    Parameters
    ----------
    system : LureSystem or control.StateSpace
        Matrices A (nx, nx), B1 (nx, nv), C1 (nv, nx), D11 (nv, nv) are used.
    rate : float, optional
        Discrete: ρ ∈ (0, 1] (default 1, i.e. strict contraction). Continuous: λ ≥ 0 (default 0).
    solver : str, optional
        Default: Clarabel; SCS on the sparser Schur form when nx + nv ≥ 48 (discrete).
    eps : float
        Relative strictness margin.
    local : bool
        Mark the certificate as local (the system is a linearization at an operating point).

    Returns
    -------
    Certificate
        ``bound`` is the rate, ``P`` the metric, ``multipliers`` λ.

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
    lure = as_lure(system)
    rate = _check_rate(lure, rate)
    nx, nv = lure.nx, lure.nv
    if nx == 0:
        return Certificate("contraction", True, rate, np.zeros((0, 0)), np.zeros(nv), "none", "trivial", -np.inf,
                           0.0, local, "no state (nx = 0): nothing to contract")
    K, _, Mv = _blocks(lure)
    beta = lure.delta.slope_bounds[1] if nv else 1.0
    scale = max(1.0, np.linalg.norm(K, 2) ** 2, max(1.0, beta) * np.linalg.norm(Mv, 2) ** 2 if nv else 0.0)
    margin = eps * scale
    P = cp.Variable((nx, nx), symmetric=True)
    lam = cp.Variable(nv, nonneg=True) if nv else None
    if solver is None:
        solver = "SCS" if nx + nv >= _LARGE and not lure.is_continuous else "CLARABEL"
    if lure.is_continuous or solver.upper() != "SCS":
        cons = [P >> np.eye(nx), sym(contraction_lmi(lure, P, lam, rate)) << -margin * np.eye(nx + nv)]
    else:
        cons = [P >> np.eye(nx), _schur_constraint(lure, P, lam, rate, margin)]
    name, status = solve(cp.Problem(cp.Minimize(0), cons), solver)
    Pn = None if P.value is None else sym(P.value)
    lamn = None if lam is None or lam.value is None else np.asarray(lam.value, dtype=float)
    lmis = [] if Pn is None else [contraction_lmi(lure, Pn, lamn, rate)]
    what = f"V(Δx) = ΔxᵀPΔx shrinks by ρ² = {rate**2:.6g} per step" if not lure.is_continuous else \
        f"d/dt V(Δx) ≤ −2·{rate:.6g}·V(Δx), V = ΔxᵀPΔx"
    return finish("contraction", status, name, lmis, bound=rate, P=Pn, lam=lamn, tol=0.0, psd=[Pn], local=local,
                  message=what + " for any two trajectories under the same input", extra=dict(margin=margin))


def smallest_rate(system, *, solver: str | None = None, tol: float = 1e-3, local: bool = False) -> Certificate:
    """The best certified contraction rate, by bisection on the (linear-for-fixed-rate) LMI.

    Discrete: the smallest ρ ∈ (0, 1]; continuous: the largest λ ≥ 0.

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
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite float > 0; got {tol}.")
    lure = as_lure(system)
    best = contraction(lure, None, solver=solver, local=local)
    if not best.certified:
        return best
    if lure.is_continuous:
        lo, hi = 0.0, 1.0
        while (c := contraction(lure, hi, solver=solver, local=local)).certified and hi < 1e6:
            lo, hi, best = hi, 2 * hi, c
        while hi - lo > tol * max(1.0, lo):
            mid = 0.5 * (lo + hi)
            c = contraction(lure, mid, solver=solver, local=local)
            lo, hi, best = (mid, hi, c) if c.certified else (lo, mid, best)
        return best
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        c = contraction(lure, mid, solver=solver, local=local)
        lo, hi, best = (lo, mid, c) if c.certified else (mid, hi, best)
    return best
