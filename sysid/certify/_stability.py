"""Lyapunov stability, contraction (incremental stability), well-posedness, monotonicity.

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks", IEEE TAC 2023 (the
contraction LMI with diagonal multipliers). E. Winston, J. Z. Kolter, "Monotone operator
equilibrium networks", NeurIPS 2020.
"""

from __future__ import annotations

import control
import cvxpy as cp
import numpy as np

from ._lmi import Certificate, as_lure, finish, slope_multiplier, solve

__all__ = ["lyapunov_stability", "contraction", "smallest_rate", "well_posedness", "monotone"]


def lyapunov_stability(system, *, solver: str | None = None, eps: float = 1e-7) -> Certificate:
    """Certify stability of an LTI system by a quadratic Lyapunov function.

    Discrete: AᵀPA − P ⪯ −εI; continuous: AᵀP + PA ⪯ −εI; with P ⪰ I.

    Parameters
    ----------
    system : control.StateSpace (or a LureSystem without Δ)
    """
    lure = as_lure(system)
    if lure.nv:
        raise ValueError("lyapunov_stability is for LTI systems; for a Lur'e system use contraction() "
                         "(or certify its linearization: lyapunov_stability(lure.linearize())).")
    A = lure.A
    n = lure.nx
    if n == 0:
        return Certificate("lyapunov_stability", True, 0.0, np.zeros((0, 0)), None, "none", "trivial",
                           message="static system")
    P = cp.Variable((n, n), symmetric=True)
    M = (A.T @ P + P @ A) if lure.is_continuous else (A.T @ P @ A - P)
    prob = cp.Problem(cp.Minimize(0), [P >> np.eye(n), 0.5 * (M + M.T) << -eps * np.eye(n)])
    name, status = solve(prob, solver)
    Pn = None if P.value is None else P.value
    lmis = []
    if Pn is not None:
        lmis = [A.T @ Pn + Pn @ A if lure.is_continuous else A.T @ Pn @ A - Pn]
    rho = np.max(np.abs(np.linalg.eigvals(A))) if not lure.is_continuous else np.max(np.linalg.eigvals(A).real)
    return finish("lyapunov_stability", status, name, lmis, bound=float(rho), P=Pn, tol=0.0,
                  psd=[Pn] if Pn is not None else None,
                  message="bound = spectral radius" if not lure.is_continuous else "bound = largest real part")


def _contraction_lmi(lure, P, lam, rate):
    """The contraction LMI in (Δx, Δw) as a cvxpy expression or numpy matrix."""
    nx, nv = lure.nx, lure.nv
    alpha, beta = lure.delta.slope_bounds if nv else (0.0, 1.0)
    Mv = np.block([[lure.C1, lure.D11], [np.zeros((nv, nx)), np.eye(nv)]])
    K = np.hstack([lure.A, lure.B1])
    numeric = not isinstance(P, cp.Expression)
    E = np.vstack([np.eye(nx), np.zeros((nv, nx))])  # selects Δx
    if lure.is_continuous:
        storage = E @ P @ K + K.T @ P @ E.T + 2 * rate * (E @ P @ E.T)
    else:
        storage = K.T @ P @ K - rate**2 * (E @ P @ E.T)
    if nv == 0:
        return storage
    iqc = Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
    return storage + iqc if numeric else storage + iqc


def _schur_psd(lure, P, lam, rate, eps):
    """Discrete contraction LMI in Schur-complement form (the solver's version).

    KᵀPK − S ⪯ −εI with P ≻ 0  ⇔  [[S − εI, KᵀP], [PK, P]] ⪰ 0, S = blkdiag(ρ²P, 0) − Mvᵀ Q_Λ Mv.
    Each entry then depends on O(nx) unknowns instead of O(nx²): the conic problem is sparser, which
    suits the first-order SCS (0.2 s instead of 1.7 s at nx = nv = 32); the interior-point
    Clarabel is faster on the direct form. The numpy re-check always uses the direct form.
    """
    nx, nv = lure.nx, lure.nv
    K = np.hstack([lure.A, lure.B1])
    E = np.vstack([np.eye(nx), np.zeros((nv, nx))])
    S = rate**2 * (E @ P @ E.T)
    if nv:
        alpha, beta = lure.delta.slope_bounds
        Mv = np.block([[lure.C1, lure.D11], [np.zeros((nv, nx)), np.eye(nv)]])
        S = S - Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
    PK = P @ K
    big = cp.bmat([[S - eps * np.eye(nx + nv), PK.T], [PK, P]])
    return 0.5 * (big + big.T) >> 0


def contraction(system, rate: float | None = None, *, solver: str | None = None, eps: float = 1e-7,
                local: bool = False) -> Certificate:
    """Certify contraction of a Lur'e system (two trajectories under the same input converge).

    Finds P ⪰ I and diagonal Λ ⪰ 0 with

        discrete:   [A B1]ᵀ P [A B1] − blkdiag(ρ² P, 0) + Mvᵀ Q_Λ Mv ⪯ −εI
        continuous: sym(Eᵀ P [A B1]) + 2λ EᵀPE + Mvᵀ Q_Λ Mv ⪯ −εI

    where Mv maps (Δx, Δw) to (Δv, Δw) and Q_Λ is the incremental sector multiplier of the
    slope bounds [α, β] that Δ carries. Then V = ΔxᵀPΔx shrinks by ρ² per step (discrete) or
    at rate 2λ (continuous).

    Parameters
    ----------
    system : LureSystem or control.StateSpace
    rate : float, optional
        Discrete: ρ ∈ (0, 1] (default 1: strict contraction). Continuous: λ ≥ 0 (default 0).
    """
    lure = as_lure(system)
    if rate is None:
        rate = 0.0 if lure.is_continuous else 1.0
    if lure.is_continuous and rate < 0:
        raise ValueError(f"for a continuous system the contraction rate λ must be >= 0; got {rate}.")
    if not lure.is_continuous and not 0 < rate <= 1:
        raise ValueError(f"for a discrete system the contraction rate must be in (0, 1]; got {rate}.")
    nx, nv = lure.nx, lure.nv
    P = cp.Variable((nx, nx), symmetric=True)
    lam = cp.Variable(nv, nonneg=True) if nv else None
    if solver is None:
        # large problems: the first-order SCS on the sparser Schur form (the numpy re-check guards
        # its lower accuracy); small ones: the interior-point Clarabel on the direct form
        solver = "SCS" if nx + nv >= 48 and not lure.is_continuous else "CLARABEL"
    if lure.is_continuous or solver.upper() != "SCS":
        M = _contraction_lmi(lure, P, lam, rate)
        cons = [P >> np.eye(nx), 0.5 * (M + M.T) << -eps * np.eye(nx + nv)]
    else:
        cons = [P >> np.eye(nx), _schur_psd(lure, P, lam, rate, eps)]
    prob = cp.Problem(cp.Minimize(0), cons)
    name, status = solve(prob, solver)
    Pn = P.value
    lamn = None if lam is None or lam.value is None else np.maximum(lam.value, 0.0)
    lmis = [] if Pn is None else [_contraction_lmi(lure, Pn, lamn if nv else None, rate)]
    return finish("contraction", status, name, lmis, bound=float(rate), P=Pn, lam=lamn, tol=0.0,
                  psd=None if Pn is None else [Pn], local=local,
                  message=f"V(Δx) = ΔxᵀPΔx contracts at rate {rate:g}")


def smallest_rate(system, *, solver: str | None = None, tol: float = 1e-3, local: bool = False) -> Certificate:
    """Smallest certified contraction rate by bisection (discrete ρ ∈ (0, 1]; continuous λ ≥ 0 largest)."""
    lure = as_lure(system)
    if lure.is_continuous:
        best = contraction(lure, 0.0, solver=solver, local=local)
        if not best.certified:
            return best
        lo, hi = 0.0, 1.0
        while contraction(lure, hi, solver=solver).certified and hi < 1e6:
            lo, hi = hi, 2 * hi
        while hi - lo > tol * max(1.0, lo):
            mid = 0.5 * (lo + hi)
            c = contraction(lure, mid, solver=solver, local=local)
            if c.certified:
                lo, best = mid, c
            else:
                hi = mid
        return best
    best = contraction(lure, 1.0, solver=solver, local=local)
    if not best.certified:
        return best
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        c = contraction(lure, mid, solver=solver, local=local)
        if c.certified:
            hi, best = mid, c
        else:
            lo = mid
    return best


def well_posedness(system, *, solver: str | None = None, eps: float = 1e-7) -> Certificate:
    """Certify that w = Δ(D11 w + b) has a unique solution for every b.

    For slopes in [0, β]: find diagonal Λ ⪰ I with 2Λ − β(ΛD11 + D11ᵀΛ) ⪰ εI.
    """
    lure = as_lure(system)
    nv = lure.nv
    if nv == 0:
        return Certificate("well_posedness", True, None, None, None, "none", "trivial", message="no loop (nv = 0)")
    alpha, beta = lure.delta.slope_bounds
    if alpha < 0:
        raise ValueError(f"well_posedness handles slopes in [0, β]; this Δ has α = {alpha} < 0.")
    D = lure.D11
    lam = cp.Variable(nv)
    L = cp.diag(lam)
    M = 2 * L - beta * (L @ D + D.T @ L)
    prob = cp.Problem(cp.Minimize(0), [lam >= 1, 0.5 * (M + M.T) >> eps * np.eye(nv)])
    name, status = solve(prob, solver)
    lamn = lam.value
    lmis = [] if lamn is None else [-(2 * np.diag(lamn) - beta * (np.diag(lamn) @ D + D.T @ np.diag(lamn)))]
    return finish("well_posedness", status, name, lmis, lam=lamn, tol=0.0,
                  message="the equilibrium layer has a unique solution")


def monotone(W, m: float = 0.0) -> Certificate:
    """Strong monotonicity of an equilibrium-layer weight: sym(I − W) ⪰ m I.

    Closed form: the margin is λ_min(sym(I − W)) (returned as ``bound``).
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix (n, n); got shape {W.shape}.")
    margin = float(np.linalg.eigvalsh(0.5 * ((np.eye(len(W)) - W) + (np.eye(len(W)) - W).T)).min())
    return Certificate("monotone", margin >= m, margin, None, None, "eigvalsh", "optimal", -margin + m, 0.0,
                       message=f"λ_min(sym(I − W)) = {margin:.6g} (required m = {m:g})")
