"""The certificate a REN carries by construction, checked in numpy only (docs/math.md §3.3, §3.4).

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE TAC 2023.
"""

from __future__ import annotations

import numpy as np

from ._blas import one_blas_thread
from ._certificate import Certificate
from ._contraction import contraction_check
from ._inputs import as_lure
from ._lmi import slope_multiplier
from ._verify import Strict, norm, rounding, verify

__all__ = ["check_ren_certificate"]


def _matrix(name, Z, shape):
    if np.iscomplexobj(Z):
        raise ValueError(f"{name} must be real; got complex entries.")
    Z = np.asarray(Z, dtype=float)
    if Z.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {Z.shape}.")
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"{name} contains NaN or inf.")
    return Z


@one_blas_thread
def check_ren_certificate(system, M, Lambda, *, rate: float = 1.0, Q=None, S=None, R=None,
                          rtol: float = 1e-9) -> Certificate:
    """Check a REN's built-in certificate (metric M, multipliers Λ) in numpy — no solver.

    Without (Q, S, R): the explicit-form contraction LMI (docs/math.md §3.3)

        [A B1]ᵀ M [A B1] − blkdiag(ρ²M, 0) + Mvᵀ Q_Λ Mv ⪯ −τ·I.

    With (Q, S, R): the dissipation inequality V⁺ − ρ²V ≤ ΔyᵀQΔy + 2ΔuᵀSΔy + ΔuᵀRΔu in
    ξ = (Δx, Δw, Δu) (docs/math.md §3.4). One symmetric eigenvalue problem: milliseconds at any size.

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
        Strictness relative to the metric: contraction at ρ = 1 is certified only with
        τ = rtol·λ_min(M) (then ΔxᵀMΔx shrinks by at least 1 − τ/λ_max(M) per step); at ρ < 1,
        and for the IQC, τ is the rounding bound of the check (the LMI must hold beyond rounding;
        the IQC is allowed a slack of rtol·λ_min(M) instead, as a dissipation inequality is
        non-strict). The tolerance never grows with max |M|.

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
    if np.iscomplexobj(Lambda):
        raise ValueError("Lambda must be real; got complex entries.")
    lam = np.asarray(Lambda, dtype=float)
    if lam.ndim == 2:
        lam = _matrix("Lambda", lam, (nv, nv))
        if np.any(lam - np.diag(np.diag(lam))):
            raise ValueError("Lambda must be diagonal (a vector (nv,) or a diagonal (nv, nv) matrix).")
        lam = np.diag(lam).copy()
    lam = _matrix("Lambda", lam, (nv,))
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise TypeError(f"rate must be a real number in (0, 1]; got {type(rate).__name__}.") from None
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1]; got {rate}.")
    if not (np.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be a finite float >= 0; got {rtol}.")
    given = [Z is not None for Z in (Q, S, R)]
    if any(given) and not all(given):
        raise ValueError("pass all of Q, S, R (the incremental IQC) or none of them.")
    Ms = 0.5 * (M + M.T)
    ev = np.linalg.eigvalsh(Ms) if nx else np.ones(1)
    lo = float(ev.min())
    pd_ok = bool(lo > rounding(nx, norm(Ms)))
    if Q is None:
        # strict at ρ = 1, relative to the smallest eigenvalue of M (not its largest entry)
        margin = 2 * rtol * max(lo, 0.0) if rate == 1.0 else 0.0
        check = contraction_check(lure, Ms, lam, rate, margin)
        prop = "contraction"
        msg = f"built-in REN certificate: ΔxᵀMΔx shrinks by ρ² = {rate**2:.6g} per step (M = EᵀP⁻¹E)"
        if rate == 1.0:
            msg += f", strictly: by at least 1 − {rtol:g}·λ_min(M)/λ_max(M)"
    else:
        Q, S, R = _matrix("Q", Q, (ny, ny)), _matrix("S", S, (nu, ny)), _matrix("R", R, (nu, nu))
        K = np.hstack([lure.A, lure.B1, lure.B2])
        Ex = np.vstack([np.eye(nx), np.zeros((nv + nu, nx))])
        Cy = np.hstack([lure.C2, lure.D21, lure.D22])
        Eu = np.hstack([np.zeros((nu, nx + nv)), np.eye(nu)])
        L = K.T @ Ms @ K - rate**2 * Ex @ Ms @ Ex.T
        scale = (norm(K) ** 2 + rate**2) * norm(Ms) + norm(Cy) ** 2 * (norm(Q) + 2 * norm(S)) + norm(R)
        if nv:
            alpha, beta = lure.delta.slope_bounds
            Mv = np.block([[lure.C1, lure.D11, lure.D12], [np.zeros((nv, nx)), np.eye(nv), np.zeros((nv, nu))]])
            L = L + Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
            scale += norm(Mv) ** 2 * (2 * abs(alpha * beta) + 2 * abs(alpha + beta) + 2) * float(np.abs(lam).max())
        L = L - (Cy.T @ Q @ Cy + Cy.T @ S.T @ Eu + Eu.T @ S @ Cy + Eu.T @ R @ Eu)
        # non-strict dissipation: a slack of rtol·λ_min(M), never more
        L = L - rtol * max(lo, 0.0) * np.eye(L.shape[0])
        check = Strict(L, scale, 0.0)
        prop = "iqc_dissipation"
        msg = ("built-in REN certificate: V⁺ − ρ²V ≤ ΔyᵀQΔy + 2ΔuᵀSΔy + ΔuᵀRΔu with V = ΔxᵀMΔx "
               f"(ρ = {rate:g}, up to {rtol:g}·λ_min(M)·|ξ|²)")
    ok, worst, tol, reason = verify([check], pd=[Ms], lam=lam)
    if ok and not (pd_ok and bool(np.all(lam > 0))):
        ok, reason = False, "M is not positive definite or a multiplier λ ≤ 0"
    if Q is not None:
        worst, tol = worst + rtol * max(lo, 0.0), tol + rtol * max(lo, 0.0)
    if not ok:
        msg = f"the built-in certificate fails the numpy check: {reason}"
    return Certificate(prop, ok, rate if ok else None, M, lam, "numpy", "checked", worst, tol, False, msg)
