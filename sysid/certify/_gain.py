"""Incremental ℓ2 / L2 gain: a Lipschitz bound of the input–output map (docs/math.md §4.3, §4.7, §4.8)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ..core.lure import LureSystem
from ..exceptions import SolverError
from ._blas import one_blas_thread
from ._certificate import Certificate
from ._balance import balance
from ._inputs import as_lure, check_solver
from ._lmi import DEFAULT_SOLVER, SOLVER_ERROR, finish, slope_multiplier, solve, sym
from ._verify import Strict, norm, rounding

__all__ = ["incremental_l2_gain"]

# from this LMI size on (nx + nv), the default solver is CVXOPT on the affine form
_LARGE = 48
# above this size a failed first-order search is not handed to CVXOPT (hours at nx = nv = 128)
_FALLBACK_MAX = 64

_CVXOPT_STATUS = {"optimal": cp.OPTIMAL, "primal infeasible": cp.INFEASIBLE, "dual infeasible": cp.UNBOUNDED}


def _have_cvxopt() -> bool:
    try:
        import cvxopt  # noqa: F401
    except ImportError:
        return False
    return True


def _affine_columns(lure):
    """The gain LMI as M0 + Σ x_k C_k over x = (P upper triangle, λ, s); returns M0 (N, N) and
    C (m, N, N), N = nx + nv + nu, m = nx(nx+1)/2 + nv + 1 (the basis of P: e_i e_jᵀ + e_j e_iᵀ)."""
    nx, nv, nu = lure.nx, lure.nv, lure.nu
    N = nx + nv + nu
    K = np.hstack([lure.A, lure.B1, lure.B2])                # (nx, N)
    F = np.eye(nx, N)                                          # rows: Δx_i selectors
    I, J = np.triu_indices(nx)
    half = np.where(I == J, 0.5, 1.0)[:, None, None]

    def sym_outer(a, b):                                       # a_p b_pᵀ + b_p a_pᵀ, (p, N, N)
        ab = np.einsum("pa,pb->pab", a, b)
        return ab + ab.transpose(0, 2, 1)

    if lure.is_continuous:
        CP = half * (sym_outer(F[I], K[J]) + sym_outer(F[J], K[I]))
    else:
        CP = half * (sym_outer(K[I], K[J]) - sym_outer(F[I], F[J]))
    cols = [CP]
    if nv:
        alpha, beta = lure.delta.slope_bounds
        a = np.hstack([lure.C1, lure.D11, lure.D12])          # Δv
        b = np.eye(nv, N, k=nx)                                # Δw
        cols.append(-2 * alpha * beta * np.einsum("ka,kb->kab", a, a) + (alpha + beta) * sym_outer(a, b)
                    - 2 * np.einsum("ka,kb->kab", b, b))
    Eu = np.zeros((1, N, N))
    Eu[0, nx + nv:, nx + nv:] = -np.eye(nu)
    cols.append(Eu)
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    return Cy.T @ Cy, np.concatenate(cols)


def _solve_cvxopt(lure, margin: float, strict: np.ndarray):
    """min s over (P, λ, s) with CVXOPT's primal-dual SDP solver; returns (status, P, λ, s).

    CVXOPT solves the Newton system through the dense m × m Schur complement
    Σ tr(W⁻¹CᵢW⁻¹Cⱼ) with BLAS, while Clarabel factors the sparse KKT system that holds
    the (N(N+1)/2)² scaling block of the LMI cone; for this LMI (m ≈ nx²/2, N ≈ 2nx) the
    former is several times cheaper (nx = nv = 32: ~3 s against ~12 s).
    """
    from cvxopt import matrix, solvers

    nx, nv = lure.nx, lure.nv
    M0, C = _affine_columns(lure)
    m, N = C.shape[0], C.shape[1]
    # equilibration (the solution is unchanged): congruence with T = diag(1, 1, Tu), Tu scaling
    # each input column of [B2; D12; D22] to unit norm (physical inputs of very different
    # sizes), then Cy'Cy scaled to unit norm (the LMI is homogeneous in (Cy'Cy, P, λ, s))
    t = np.ones(N)
    cu = np.linalg.norm(np.vstack([lure.B2, lure.D12, lure.D22]), axis=0)
    t[N - lure.nu:] = 1.0 / np.where(cu > 0, cu, 1.0)
    M0, C = t[:, None] * M0 * t[None, :], t[None, :, None] * C * t[None, None, :]
    scale = max(1.0, float(np.abs(M0).max()))
    M0, margin = M0 / scale, margin / scale
    # and each variable scaled so that its column C_k has unit largest entry: x = σ x̃
    sigma = 1.0 / np.maximum(np.abs(C).reshape(m, -1).max(axis=1), 1e-300)
    C = C * sigma[:, None, None]
    npar = nx * (nx + 1) // 2
    Gs = [matrix(C.reshape(m, N * N).T.copy())]
    hs = [matrix(-M0 - margin * strict)]
    if nx:  # P ⪰ 0: −P + S = 0, S ⪰ 0
        I, J = np.triu_indices(nx)
        GP = np.zeros((nx, nx, m))
        GP[I, J, np.arange(npar)] = -sigma[:npar]
        GP[J, I, np.arange(npar)] = -sigma[:npar]
        Gs.append(matrix(GP.reshape(nx * nx, m)))
        hs.append(matrix(np.zeros((nx, nx))))
    Gl = np.zeros((nv + 1, m))
    Gl[np.arange(nv + 1), npar + np.arange(nv + 1)] = -1.0  # λ ≥ 0, s ≥ 0
    c = np.zeros(m)
    c[-1] = 1.0
    sol = solvers.sdp(matrix(c), Gl=matrix(Gl), hl=matrix(np.zeros(nv + 1)), Gs=Gs, hs=hs,
                      options=dict(show_progress=False, abstol=1e-7, reltol=1e-7, feastol=1e-6, maxiters=100))
    status = _CVXOPT_STATUS.get(sol["status"], f"cvxopt: {sol['status']}")
    if sol["x"] is None:
        return status, None, None, None
    x = scale * sigma * np.asarray(sol["x"], dtype=float).ravel()
    P = np.zeros((nx, nx))
    if nx:
        I, J = np.triu_indices(nx)
        P[I, J] = x[:npar]
        P[J, I] = x[:npar]
    return status, P, x[npar:npar + nv], float(x[-1])


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


def gain_scale(lure, P, lam, s) -> float:
    """Sum of the norms of the terms of the gain LMI at (P, λ, s) (for the rounding bound)."""
    K = np.hstack([lure.A, lure.B1, lure.B2])
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    nP = norm(P)
    scale = (2 * norm(K) * nP if lure.is_continuous else norm(K) ** 2 * nP + nP) + norm(Cy) ** 2 + abs(s)
    if lure.nv:
        alpha, beta = lure.delta.slope_bounds
        Mv = np.block([[lure.C1, lure.D11, lure.D12], [np.zeros((lure.nv, lure.nx)), np.eye(lure.nv),
                                                         np.zeros((lure.nv, lure.nu))]])
        scale += norm(Mv) ** 2 * (2 * abs(alpha * beta) + 2 * abs(alpha + beta) + 2) * float(np.max(np.abs(lam)))
    return scale


def _exact_s(lure, P, lam) -> float | None:
    """Smallest s for which the numeric gain LMI holds at fixed (P, λ), or None.

    With M0 = gain_lmi(P, λ, 0) = [[M11, M12], [M21, M22]] (last block Δu), the LMI holds iff
    M11 ≺ 0 and s ≥ λ_max(M22 − M21 M11⁻¹ M12) (Schur complement). This turns any approximate
    solver output into a valid bound, so solver accuracy affects tightness only.
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


def certify_gain_at(lure, P, lam, s_solver, margin):
    """Strictly re-checked gain bound at (P, λ) on ``lure``: returns (s, checks, exact) with the checks
    to pass to :func:`._lmi.finish`.

    s is the exact Schur-complement value plus the smallest slack (from 1e-10 relative, ×10 up
    to 1e-3) that puts the whole LMI below minus its rounding bound; the (Δx, Δw) block must
    also keep half the margin the solver was asked for.
    """
    nu, N = lure.nu, lure.nx + lure.nv + lure.nu
    s_exact = _exact_s(lure, P, lam)
    base = s_solver if s_exact is None else s_exact
    base = max(float(base), 0.0)
    M = None
    for k in range(8):
        s_rep = base * (1 + 1e-10 * 10**k) + rounding(N, gain_scale(lure, P, lam, base)) * 10**k
        M = gain_lmi(lure, P, lam, s_rep)
        sc = gain_scale(lure, P, lam, s_rep)
        if float(np.linalg.eigvalsh(sym(M)).max()) <= -rounding(N, sc):
            break
    checks = [Strict(M, sc, 0.0)]
    if lure.nx + lure.nv:
        checks.append(Strict(sym(M)[:-nu, :-nu], sc, margin))
    return s_rep, checks, s_exact is not None


@one_blas_thread
def incremental_l2_gain(system, *, solver: str | None = None, eps: float | None = None,
                        local: bool = False) -> Certificate:
    """Smallest certified γ with Σ‖Δy‖² ≤ γ² Σ‖Δu‖² for trajectories from equal initial states.

    Solves: minimize s = γ² over P ⪰ 0, Λ = diag(λ) ⪰ 0 subject to

        KᵀPK − EₓᵀPEₓ + CyᵀCy + Mvᵀ Q_Λ Mv − s EᵤᵀEᵤ ⪯ 0           (discrete; ξ = (Δx, Δw, Δu))

    (continuous: EₓᵀPK + KᵀPEₓ in place of the storage difference), with Q_Λ the incremental
    sector multiplier of Δ's slope bounds. γ is then a Lipschitz bound of the input–output map
    (in ℓ2 / L2). For an LTI system it is the H∞ norm. Biases do not enter. States, inputs
    and outputs are first rescaled by powers of two (exact). The reported γ is recomputed in
    numpy from the returned (P, λ) by a Schur complement plus the smallest slack that puts
    the whole LMI below minus its rounding bound, and the (Δx, Δw) block must keep half the
    margin imposed, so it is valid whatever the accuracy of the solver.

    Parameters
    ----------
    system : LureSystem or control.StateSpace
        Needs nu ≥ 1 and ny ≥ 1.
    solver : str, optional
        None (default): an LTI system (nv = 0) gets the Riccati path (bounded-real lemma,
        :mod:`sysid.certify._riccati`: exact, O(nx³) per step, no SDP); a Lur'e system
        Clarabel below nx + nv = 48 and from there the first-order path
        (:func:`sysid.certify._firstorder.gain_firstorder`: a coarse bisection on γ² with the
        homogenized LMI finds the multipliers, then a Riccati equation gives the optimal
        storage and the smallest γ² for them), with CVXOPT (then Clarabel) as fallback. The
        first-order bound is a feasible point of the same LMI, never below its optimum and
        typically within about 2 % of it (benchmarks/certify_scaling.py); pass solver="CVXOPT"
        for the interior-point optimum (minutes at nx = nv = 64). "CVXOPT" is called directly on the affine form M0 + Σ xₖCₖ
        of the LMI (dense Schur-complement Newton steps with BLAS); "CLARABEL", "SCS"
        (first-order, slow and loose on this problem) and other cvxpy solvers go through cvxpy.
        A missing solver raises :class:`sysid.SolverError`; a solver that breaks down gives
        "not certified" with the reason.
    eps : float, optional
        Relative strictness margin δ imposed on the (Δx, Δw) block (LMI ⪯ −δ·s·blkdiag(I, 0),
        s = max(1, ‖[C2 D21 D22]‖₂²)), so that the exact numpy recomputation of γ applies even
        to a slightly inaccurate solver output. Default 1e-7 (1e-5 for SCS).
    local : bool
        Mark the certificate as local (the system is a linearization at an operating point).

    Returns
    -------
    Certificate
        ``bound`` is γ; ``P`` the storage, ``multipliers`` λ. ``extra`` holds the margin, the
        solver's own γ (``solver_gamma``), whether the exact recomputation applied
        (``exact_recompute``) and the LMI form passed to the solver (``form``, "direct"). The
        status is a cvxpy status string ("optimal", "infeasible", ...).

    Examples
    --------
    >>> import control
    >>> from sysid.certify import incremental_l2_gain
    >>> round(incremental_l2_gain(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)).bound, 4)
    2.0
    """
    solver = check_solver(solver)
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite float > 0 (or None for the default); got {eps}.")
    lure = as_lure(system)
    nx, nv, nu = lure.nx, lure.nv, lure.nu
    if nu == 0 or lure.ny == 0:
        raise ValueError(f"incremental_l2_gain needs inputs and outputs (nu >= 1, ny >= 1); got nu = {nu}, "
                         f"ny = {lure.ny}. For autonomous systems use contraction().")
    large = nx + nv >= _LARGE
    name = solver or ("CVXOPT" if large and _have_cvxopt() else DEFAULT_SOLVER)
    if eps is None:
        eps = 1e-5 if name == "SCS" else 1e-7
    where = "; local: valid for the linearization at its operating point only" if local else ""
    # exact power-of-two rescaling of states, inputs and outputs; everything is solved and
    # checked on the rescaled system, which is exactly congruent to the original one
    lure, sc = balance(lure, io=True)
    # and, for a small gain, the outputs once more so that the gain itself is ~1 (a frozen-slope
    # H∞ sweep: a lower bound), so that the margin below does not inflate it
    from ._firstorder import frozen_slope_lower_bound

    g_est = frozen_slope_lower_bound(lure)
    # (LTI: the sweep is tight, so always; Lur'e: the frozen-slope bound can be far below the
    # gain, and rescaling by it only when it is tiny keeps the first-order path well scaled)
    small = np.isfinite(g_est) and (0 < g_est < 0.5 if nv == 0 else 0 < g_est < 1e-2)
    if small:
        f = float(np.exp2(np.round(np.log2(1.0 / g_est))))
        lure = LureSystem(A=lure.A, B1=lure.B1, B2=lure.B2, C1=lure.C1, D11=lure.D11, D12=lure.D12,
                          C2=f * lure.C2, D21=f * lure.D21, D22=f * lure.D22, delta=lure.delta, dt=lure.dt,
                          nx=nx, nu=nu, nv=nv, ny=lure.ny)
        sc.cy *= f
    cu, cy = sc.cu, sc.cy
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    margin = eps * (1.0 if small else max(1.0, float(np.linalg.norm(Cy, 2)) ** 2))
    strict = np.diag(np.r_[np.ones(nx + nv), np.zeros(nu)])
    note = ""
    if solver is None and nv == 0 and nx:
        from ._lyapunov import LARGE as LTI_LARGE, clearly_unstable
        from ._riccati import lti_gain
        from ._verify import verify

        def passes(P, s_try):
            s_rep, checks, _ = certify_gain_at(lure, P, np.zeros(0), s_try, margin)
            return s_rep if verify(checks, pd=[P])[0] else None

        found = lti_gain(lure, margin, passes)
        if found is not None:
            Pv, sv, info = found
            return _finish(lure, sc, "optimal", "riccati", Pv, np.zeros(0), sv, margin, where, info, local, "")
        bad = clearly_unstable(lure.A, lure.is_continuous)
        if bad or nx >= LTI_LARGE:
            return Certificate("incremental_l2_gain", False, None, None, None, "riccati",
                               "infeasible" if bad else "marginal", None, 0.0, local,
                               (bad.replace("quadratic certificate", "finite gain certificate") if bad else
                                "no Riccati storage passed the strict re-check (A is marginally stable to "
                                "working precision); not certified") + where, dict(scaling=dict(cu=cu, cy=cy)))
    if solver is None and large:
        from ._firstorder import gain_firstorder

        fo = gain_firstorder(lure, margin, g_lo=g_est)
        if fo is not None:
            Pv, lamv, sv, info = fo
            return _finish(lure, sc, "optimal", "first-order", Pv, lamv, sv, margin, where, info, local, "")
        if nx + nv > _FALLBACK_MAX:
            return Certificate("incremental_l2_gain", False, None, None, None, "first-order",
                               "no_certificate_found", None, 0.0, local,
                               "the first-order search found no gain certificate (it needs a contraction point "
                               "to start from); not certified. Pass solver='CVXOPT' for an interior-point search, "
                               "which can take hours at this size" + where, dict(scaling=dict(cu=cu, cy=cy)))
    if name == "CVXOPT":  # called directly, see _solve_cvxopt
        if not _have_cvxopt():
            raise SolverError("the solver 'CVXOPT' is not installed; pip install cvxopt, or pass "
                              "solver='CLARABEL'.")
        try:
            status, Pv, lamv, sv = _solve_cvxopt(lure, margin, strict)
        except (ArithmeticError, ValueError) as exc:  # a numerical breakdown inside CVXOPT
            status, note = SOLVER_ERROR, f"{type(exc).__name__}: {exc}"
        if solver is None and status != cp.OPTIMAL:  # stalled, or infeasible: confirmed through cvxpy
            name = DEFAULT_SOLVER
    if name != "CVXOPT":
        P = cp.Variable((nx, nx), symmetric=True) if nx else np.zeros((0, 0))
        lam = cp.Variable(nv, nonneg=True) if nv else None
        s = cp.Variable(nonneg=True)
        cons = [sym(gain_lmi(lure, P, lam, s)) << -margin * strict]
        if nx:
            cons.append(P >> 0)
        name, status, note = solve(cp.Problem(cp.Minimize(s), cons), name)
        Pv = P.value if nx else np.zeros((0, 0))
        lamv = None if lam is None else lam.value
        sv = None if s.value is None else float(s.value)
    if status != cp.OPTIMAL or sv is None or (nx and Pv is None) or (nv and lamv is None):
        if status == cp.OPTIMAL:
            status = "no_solution"
        return finish("incremental_l2_gain", status, name, [], local=local, note=note)
    return _finish(lure, sc, status, name, Pv, lamv, sv, margin, where, dict(form="direct"), local, note)


def _finish(lure, sc, status, name, Pv, lamv, sv, margin, where, info, local, note):
    """Strict re-check on the rescaled system, then the certificate in original units."""
    nx, nv = lure.nx, lure.nv
    cu, cy = sc.cu, sc.cy
    Pn = sym(np.asarray(Pv, dtype=float)) if nx else np.zeros((0, 0))
    if nx:  # P ⪰ 0 is needed (equal initial states); make it definite beyond rounding
        lo = float(np.linalg.eigvalsh(Pn).min())
        floor = rounding(nx, norm(Pn)) * 4
        if lo < floor:
            Pn = Pn + (floor - min(lo, 0.0) + floor) * np.eye(nx)
    lamn = np.zeros(0) if not nv else np.maximum(np.asarray(lamv, dtype=float), 0.0)
    s_rep, checks, exact = certify_gain_at(lure, Pn, lamn, sv, margin)
    if "lower_bound" in info:  # back to physical units
        info = dict(info, lower_bound=info["lower_bound"] / (cu * cy))
    cert = finish("incremental_l2_gain", status, name, checks, bound=float(np.sqrt(s_rep)) / (cu * cy),
                  P=sc.P_back(Pn) / cy**2 if nx else Pn, lam=lamn / cy**2, pd=[Pn] if nx else [], local=local,
                  message="Σ‖Δy‖² ≤ γ² Σ‖Δu‖² for any two trajectories from equal initial states",
                  extra=dict(margin=margin / cy**2, solver_gamma=float(np.sqrt(max(sv, 0.0))) / (cu * cy),
                             exact_recompute=exact, scaling=dict(cu=cu, cy=cy), **info), note=note)
    return cert
