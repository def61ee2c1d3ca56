"""Incremental ℓ2 / L2 gain: a Lipschitz bound of the input–output map (MATH.md §4.3, §4.7, §4.8)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._certificate import Certificate
from ._lmi import as_lure, finish, slope_multiplier, solve, sym

__all__ = ["incremental_l2_gain"]


def gain_lmi(lure, P, lam, s):
    """The gain LMI (written ⪯ 0) in ξ = (Δx, Δw, Δu), numpy or cvxpy, square of size nx+nv+nu.

    discrete:   KᵀPK − EₓᵀPEₓ + CyᵀCy + Mvᵀ Q_Λ Mv − s EᵤᵀEᵤ,   K = [A B1 B2], Cy = [C2 D21 D22]
    continuous: EₓᵀPK + KᵀPEₓ in place of KᵀPK − EₓᵀPEₓ.
    """
    nx, nv, nu = lure.nx, lure.nv, lure.nu
    K = np.hstack([lure.A, lure.B1, lure.B2])
    Ex = np.vstack([np.eye(nx), np.zeros((nv + nu, nx))])
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    Eu = np.hstack([np.zeros((nu, nx + nv)), np.eye(nu)])
    if lure.is_continuous:
        M = Ex @ P @ K + K.T @ P @ Ex.T
    else:
        M = K.T @ P @ K - Ex @ P @ Ex.T
    M = M + Cy.T @ Cy - s * (Eu.T @ Eu)
    if nv:
        alpha, beta = lure.delta.slope_bounds
        Mv = np.block([[lure.C1, lure.D11, lure.D12], [np.zeros((nv, nx)), np.eye(nv), np.zeros((nv, nu))]])
        M = M + Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
    return M


def _exact_s(lure, P, lam) -> float | None:
    """Smallest s for which the numeric gain LMI holds at fixed (P, λ), or None.

    With M0 = gain_lmi(P, λ, 0) = [[M11, M12], [M21, M22]] (last block Δu), the LMI holds iff
    M11 ≺ 0 and s ≥ λ_max(M22 − M21 M11⁻¹ M12) (Schur complement). This turns any approximate
    solver output into an exactly valid bound, so solver accuracy affects tightness only.
    """
    nu = lure.nu
    M0 = sym(gain_lmi(lure, P, lam, 0.0))
    M11, M12, M22 = M0[:-nu, :-nu], M0[:-nu, -nu:], M0[-nu:, -nu:]
    if M11.size:
        ev = np.linalg.eigvalsh(M11)
        if ev.max() >= -1e-12 * max(1.0, np.abs(ev).max()):
            return None
        schur = M22 - M12.T @ np.linalg.solve(M11, M12)
    else:
        schur = M22
    return max(0.0, float(np.linalg.eigvalsh(sym(schur)).max()))


def incremental_l2_gain(system, *, solver: str | None = None, eps: float | None = None,
                        local: bool = False) -> Certificate:
    """Smallest certified γ with Σ‖Δy‖² ≤ γ² Σ‖Δu‖² for trajectories from equal initial states.

    Solves: minimize s = γ² over P ⪰ 0, Λ = diag(λ) ⪰ 0 subject to

        KᵀPK − EₓᵀPEₓ + CyᵀCy + Mvᵀ Q_Λ Mv − s EᵤᵀEᵤ ⪯ 0           (discrete; ξ = (Δx, Δw, Δu))

    (continuous: EₓᵀPK + KᵀPEₓ in place of the storage difference), with Q_Λ the incremental
    sector multiplier of Δ's slope bounds. γ is then a Lipschitz bound of the input–output map
    (in ℓ2 / L2). For an LTI system it is the H∞ norm. Biases do not enter. The reported γ is
    recomputed in numpy from the returned (P, λ) by a Schur complement, so it is valid even
    when the solver is only approximately optimal.

    Parameters
    ----------
    system : LureSystem or control.StateSpace
        Needs nu ≥ 1 and ny ≥ 1.
    solver : str, optional
        Default: Clarabel (interior point) on the direct form above, at every size. Unlike
        :func:`contraction` (a feasibility problem, for which SCS on a sparser Schur-complement
        form wins on large systems), the gain is an optimization, and SCS converges slowly to
        its optimum in either form (benchmarks/certify_scaling.py has the figures).
        ``solver="SCS"`` is honoured (direct form).
    eps : float, optional
        Relative strictness margin δ imposed on the (Δx, Δw) block (LMI ⪯ −δ·s·blkdiag(I, 0),
        s = max(1, ‖[C2 D21 D22]‖₂²)), so that the exact numpy recomputation of γ applies even
        to a slightly inaccurate solver output. Default 1e-7 (Clarabel), 1e-5 (SCS).
    local : bool
        Mark the certificate as local (the system is a linearization at an operating point).

    Returns
    -------
    Certificate
        ``bound`` is γ; ``P`` the storage, ``multipliers`` λ. ``extra`` holds the margin, the
        solver's own γ (``solver_gamma``), whether the exact recomputation applied
        (``exact_recompute``) and the LMI form passed to the solver (``form``, "direct").

    Examples
    --------
    >>> import control
    >>> from sysid.certify import incremental_l2_gain
    >>> round(incremental_l2_gain(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)).bound, 4)
    2.0
    """
    lure = as_lure(system)
    nx, nv, nu = lure.nx, lure.nv, lure.nu
    if nu == 0 or lure.ny == 0:
        raise ValueError(f"incremental_l2_gain needs inputs and outputs (nu >= 1, ny >= 1); got nu = {nu}, "
                         f"ny = {lure.ny}. For autonomous systems use contraction().")
    P = cp.Variable((nx, nx), symmetric=True) if nx else np.zeros((0, 0))
    lam = cp.Variable(nv, nonneg=True) if nv else None
    s = cp.Variable(nonneg=True)
    name = (solver or "CLARABEL").upper() if isinstance(solver, (str, type(None))) else solver
    if eps is None:
        eps = 1e-5 if name == "SCS" else 1e-7
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    margin = eps * max(1.0, float(np.linalg.norm(Cy, 2)) ** 2)
    strict = np.diag(np.r_[np.ones(nx + nv), np.zeros(nu)])
    cons = [sym(gain_lmi(lure, P, lam, s)) << -margin * strict]
    if nx:
        cons.append(P >> 0)
    name, status = solve(cp.Problem(cp.Minimize(s), cons), solver)
    if status != cp.OPTIMAL:
        return finish("incremental_l2_gain", status, name, [], tol=0.0, local=local)
    Pn = sym(P.value) if nx else np.zeros((0, 0))
    lamn = None if lam is None else np.maximum(np.asarray(lam.value, dtype=float), 0.0)
    s_exact = _exact_s(lure, Pn, lamn)
    s_rep = (float(s.value) if s_exact is None else s_exact) * (1 + 1e-9) + 1e-12
    Mn = gain_lmi(lure, Pn, lamn, s_rep)
    tol = 1e-9 * max(1.0, float(np.abs(Mn).max()))
    psd = [Pn + 1e-12 * max(1.0, np.abs(Pn).max()) * np.eye(nx)] if nx else []  # P ⪰ 0 (non-strict)
    return finish("incremental_l2_gain", status, name, [Mn], bound=float(np.sqrt(s_rep)), P=Pn, lam=lamn,
                  tol=tol, local=local, psd=psd,
                  message="Σ‖Δy‖² ≤ γ² Σ‖Δu‖² for any two trajectories from equal initial states",
                  extra=dict(margin=margin, solver_gamma=float(np.sqrt(max(float(s.value), 0.0))),
                             exact_recompute=s_exact is not None, form="direct"))
