"""The certificate a REN carries by construction, checked in numpy only (MATH.md §3.3, §3.4).

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE TAC 2023.
"""

from __future__ import annotations

import numpy as np

from ._certificate import Certificate
from ._contraction import contraction_lmi
from ._lmi import as_lure, recheck, slope_multiplier

__all__ = ["check_ren_certificate"]


def _matrix(name, Z, shape):
    Z = np.asarray(Z, dtype=float)
    if Z.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {Z.shape}.")
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"{name} contains NaN or inf.")
    return Z


def check_ren_certificate(system, M, Lambda, *, rate: float = 1.0, Q=None, S=None, R=None,
                          rtol: float = 1e-9) -> Certificate:
    """Check a REN's built-in certificate (metric M, multipliers Λ) in numpy — no solver.

    Without (Q, S, R): the explicit-form contraction LMI (MATH.md §3.3)

        [A B1]ᵀ M [A B1] − blkdiag(ρ²M, 0) + Mvᵀ Q_Λ Mv ⪯ 0.

    With (Q, S, R): the dissipation inequality V⁺ − ρ²V ≤ ΔyᵀQΔy + 2ΔuᵀSΔy + ΔuᵀRΔu in
    ξ = (Δx, Δw, Δu) (MATH.md §3.4). One symmetric eigenvalue problem: milliseconds at any size.

    Parameters
    ----------
    system : LureSystem
        The REN's explicit model (``est.to_lure()``); a StateSpace is accepted (nv = 0).
    M : array_like, shape (nx, nx)
        The metric EᵀP⁻¹E (positive definite).
    Lambda : array_like, shape (nv,) or (nv, nv)
        The diagonal multipliers λ (positive).
    rate : float
        The contraction rate ρ ∈ (0, 1].
    Q, S, R : array_like, shapes (ny, ny), (nu, ny), (nu, nu), optional
        The incremental IQC (all three or none).
    rtol : float
        Re-check tolerance relative to max(1, max |M|).

    Returns
    -------
    Certificate
        ``property`` "contraction" or "iqc_dissipation"; ``bound`` the rate.
    """
    lure = as_lure(system)
    if lure.is_continuous:
        raise ValueError("check_ren_certificate is for discrete-time RENs (dt > 0); got a continuous-time "
                         "system. Use contraction(system) for continuous-time Lur'e systems.")
    nx, nv, nu, ny = lure.nx, lure.nv, lure.nu, lure.ny
    M = _matrix("M", M, (nx, nx))
    lam = np.asarray(Lambda, dtype=float)
    if lam.ndim == 2:
        lam = _matrix("Lambda", lam, (nv, nv))
        if np.any(lam - np.diag(np.diag(lam))):
            raise ValueError("Lambda must be diagonal (a vector (nv,) or a diagonal (nv, nv) matrix).")
        lam = np.diag(lam).copy()
    lam = _matrix("Lambda", lam, (nv,))
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1]; got {rate}.")
    given = [Z is not None for Z in (Q, S, R)]
    if any(given) and not all(given):
        raise ValueError("pass all of Q, S, R (the incremental IQC) or none of them.")
    if Q is None:
        L = contraction_lmi(lure, M, lam, rate)
        prop = "contraction"
        msg = f"built-in REN certificate: ΔxᵀMΔx shrinks by ρ² = {rate**2:.6g} per step (M = EᵀP⁻¹E)"
    else:
        Q, S, R = _matrix("Q", Q, (ny, ny)), _matrix("S", S, (nu, ny)), _matrix("R", R, (nu, nu))
        K = np.hstack([lure.A, lure.B1, lure.B2])
        Ex = np.vstack([np.eye(nx), np.zeros((nv + nu, nx))])
        Cy = np.hstack([lure.C2, lure.D21, lure.D22])
        Eu = np.hstack([np.zeros((nu, nx + nv)), np.eye(nu)])
        L = K.T @ M @ K - rate**2 * Ex @ M @ Ex.T
        if nv:
            alpha, beta = lure.delta.slope_bounds
            Mv = np.block([[lure.C1, lure.D11, lure.D12], [np.zeros((nv, nx)), np.eye(nv), np.zeros((nv, nu))]])
            L = L + Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
        L = L - (Cy.T @ Q @ Cy + Cy.T @ S.T @ Eu + Eu.T @ S @ Cy + Eu.T @ R @ Eu)
        prop = "iqc_dissipation"
        msg = ("built-in REN certificate: V⁺ − ρ²V ≤ ΔyᵀQΔy + 2ΔuᵀSΔy + ΔuᵀRΔu with V = ΔxᵀMΔx "
               f"(ρ = {rate:g})")
    tol = rtol * max(1.0, float(np.abs(M).max()))
    ok, worst = recheck([L], tol=tol, psd=[M], lam=lam)
    ok = ok and bool(np.all(lam > 0))
    if not ok:
        msg = (f"the built-in certificate fails the numpy check (largest eigenvalue {worst:.3e} > tol {tol:.1e}, "
               "or M not positive definite, or a multiplier λ ≤ 0)")
    return Certificate(prop, ok, float(rate) if ok else None, M, lam, "numpy", "checked", worst, tol, False, msg)
