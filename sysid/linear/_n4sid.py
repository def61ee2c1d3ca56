"""Subspace identification (PO-MOESP / CVA weighting) with a streaming LQ factorization.

The block-Hankel matrix [U_f; U_p; Y_p; Y_f] (2s(nu+ny) rows, about N columns) is never
formed whole: its R factor is accumulated by QR over chunks of columns, so memory is
O(s²(nu+ny)²) plus one chunk, and time is linear in N.

References
----------
M. Verhaegen, V. Verdult, *Filtering and System Identification*, Cambridge 2007, ch. 9
(PO-MOESP). P. Van Overschee, B. De Moor, *Subspace Identification for Linear Systems*,
Kluwer 1996 (CVA weighting).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import control
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg

from ..core.iodata import IOData, as_experiments
from ._sim import batched_response, state_response

__all__ = ["N4SIDResult", "n4sid", "fit_BD_x0", "IdentificationWarning"]

_CHUNK = 20000


class IdentificationWarning(UserWarning):
    """The data make an estimate less reliable (ill-conditioned input, short record, feedback);
    the estimate is still returned. The message says why and what to do."""


@dataclass
class N4SIDResult:
    """Result of :func:`n4sid`.

    Attributes
    ----------
    system : control.StateSpace
        The identified model, with the data's dt (with ``integrator=True`` its last ny states
        are the integrators, A = [[A0, 0], [C0, I]]).
    x0 : ndarray, shape (nx,) or list of them
        Initial state(s), one per experiment (least squares).
    singular_values : ndarray
        Singular values of the weighted projection (the order is read from their gap).
    nx : int
        The order used (integrators included).
    horizon : int
        Number of block rows s.
    weighting : str
    input_condition : float
        Condition number of the (future) input block-Hankel matrix; above 1e8 the input is
        treated as band-limited: only its well-excited directions are projected out.
    excited_directions : int
        Number of input-Hankel directions above the truncation level (of s·nu).
    order_scores : dict of int -> dict
        With automatic order selection: for each candidate order, ``"cost"`` (mean squared
        scaled simulation error on the data, or on ``val``), ``"criterion"`` (the value
        minimized: BIC on the data, or the validation cost) and ``"params"``.
    feedback : dict
        The closed-loop check: ``"statistic"`` (N Σ r²_eu(τ), τ = 1 … ``"lags"``, between the
        innovations of a high-order ARX model and *future* inputs; χ² with lags·nu·ny degrees of
        freedom in open loop; τ starts at 0 with ``feedthrough=False``), ``"pvalue"``, ``"closed_loop"`` (p < 1e-3).
    """

    system: control.StateSpace
    x0: object
    singular_values: np.ndarray
    nx: int
    horizon: int
    weighting: str
    input_condition: float = 1.0
    excited_directions: int = 0
    order_scores: dict = field(default_factory=dict)
    feedback: dict = field(default_factory=dict)


def _hankel_rows(sig: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Past and future block-Hankel rows as (columns × s·n) matrices for one signal (T, n)."""
    win = sliding_window_view(sig, 2 * s, axis=0)           # (T-2s+1, n, 2s)
    win = win.transpose(0, 2, 1).reshape(win.shape[0], -1)  # time-major blocks
    n = sig.shape[1]
    return win[:, : s * n], win[:, s * n:]


def _streaming_r(experiments: list[IOData], s: int) -> tuple[np.ndarray, int]:
    """Upper-triangular R with Wᵀ = Q R for W = [U_f; U_p; Y_p; Y_f] over all experiments."""
    R = None
    ncols = 0
    for d in experiments:
        T = d.N
        for a in range(0, T - 2 * s + 1, _CHUNK):
            b = min(T - 2 * s + 1, a + _CHUNK)
            u = d.u[a: b + 2 * s - 1]
            y = d.y[a: b + 2 * s - 1]
            Up, Uf = _hankel_rows(u, s)
            Yp, Yf = _hankel_rows(y, s)
            block = np.hstack([Uf, Up, Yp, Yf])
            stacked = block if R is None else np.vstack([R, block])
            R = np.linalg.qr(stacked, mode="r")
            ncols += b - a
    return R, ncols


def _select_order(sv: np.ndarray, max_order: int) -> int:
    sv = np.maximum(sv[: max_order + 1], np.finfo(float).tiny)
    if sv[0] <= 0:
        return 1
    gaps = np.log(sv[:-1]) - np.log(sv[1:])
    return int(np.argmax(gaps[:max_order]) + 1)


_TRUNCATE = 1e-8   # input-Hankel directions below this fraction of the largest are not projected out
_SINGULAR = 1e-13  # ... and an input with fewer than 2 directions above this is not exciting at all


def _default_horizon(nx_needed: int, ny: int, nu: int, lengths: list[int]) -> int:
    """20 block rows (no noise bias at 1 % noise on the seed plant; 10 rows give 11–13 % DC-gain
    bias), at least enough for the order, at most what leaves the Hankel matrix twice as wide
    as tall."""
    s_min = nx_needed // ny + 1
    s = max(20, s_min)
    while s > s_min:
        p = 2 * s * (nu + ny)
        if sum(max(0, T - 2 * s + 1) for T in lengths) >= 2 * p:
            break
        s -= 1
    return s


def _feedback_check(exps: list[IOData], lags: int = 20, first: int = 1) -> dict:
    """Correlation of high-order ARX innovations e(t) with inputs u(t + τ), τ = first … first + lags − 1
    (zero in open loop; τ = 0 only for strictly proper plants, whose u(t) cannot react to e(t) in open loop)."""
    from scipy import stats

    nu, ny = exps[0].nu, exps[0].ny
    N = sum(d.N for d in exps)
    order = int(min(10, max(2, N // (20 * (nu + ny)))))
    if N < 10 * order * (nu + ny) + lags:
        return {}
    rows, targets = [], []
    for d in exps:
        if d.N <= order + 2 * lags:
            continue
        t = np.arange(order, d.N)
        rows.append(np.hstack([d.y[t - i] for i in range(1, order + 1)] + [d.u[t - i] for i in range(1, order + 1)]))
        targets.append(d.y[t])
    if not rows:
        return {}
    Phi, Y = np.vstack(rows), np.vstack(targets)
    G = Phi.T @ Phi
    if not np.all(np.isfinite(G)) or np.linalg.cond(G) > 1e12:
        return {}
    theta = np.linalg.solve(G, Phi.T @ Y)
    stat = 0.0
    count = 0
    peak = 0.0
    row = 0
    for d in exps:
        if d.N <= order + 2 * lags:
            continue
        n = d.N - order
        e = Y[row: row + n] - Phi[row: row + n] @ theta
        u = d.u[order:]
        row += n
        e = (e - e.mean(0)) / np.where(e.std(0) > 0, e.std(0), 1.0)
        u = (u - u.mean(0)) / np.where(u.std(0) > 0, u.std(0), 1.0)
        for tau in range(first, first + lags):
            r = e[: n - tau].T @ u[tau:] / n  # (ny, nu): e(t) against u(t + τ)
            stat += n * float(np.sum(r**2))
            peak = max(peak, float(np.max(np.abs(r))))
        count = lags * nu * ny
    if not count:
        return {}
    p = float(stats.chi2.sf(stat, count))
    # significant *and* large: nonlinear open-loop plants give small but significant correlations
    return {"statistic": stat, "dof": count, "lags": lags, "pvalue": p, "max_correlation": peak,
            "closed_loop": bool(p < 1e-3 and peak > max(0.2, 6.0 / np.sqrt(N)))}


def n4sid(data, nx: int | None = None, *, horizon: int | None = None, weighting: str = "moesp",
          feedthrough: bool = True, max_order: int | None = None, stable: bool = False,
          integrator: bool = False, val=None, check_feedback: bool = True) -> N4SIDResult:
    """Identify a discrete LTI state-space model by subspace identification.

    Parameters
    ----------
    data : IOData or list of IOData
        Uniformly sampled; several experiments are stacked column-wise in the Hankel matrix.
    nx : int, optional
        Model order (integrators included). By default it is selected: candidate orders
        1 … ``max_order`` from the singular values, each completed by least-squares B, D and x0
        and scored by BIC on the simulation error (or by the simulation error on ``val``: the
        smallest order within a factor 1 + 2/√(N·ny) of the best).
    horizon : int, optional
        Number of block rows s (past and future). Default: 20 (with 10 block rows the DC gain
        of the fourth-order plant is off by > 10 % at 1 % output noise), at least nx/ny + 1,
        and fewer when the record is short (the Hankel matrix is kept twice as wide as tall).
    weighting : {"moesp", "cva"}
        PO-MOESP (unweighted) or canonical-variate weighting of the projection.
    feedthrough : bool
        Estimate D (else D = 0).
    max_order : int, optional
        Largest order considered by the automatic selection (default min(10, s·ny − 1)).
    stable : bool
        Guarantee a stable A: when the least-squares A has eigenvalues on or outside the unit
        circle, it is re-estimated from the shift equation with a zero block appended
        (Maciejowski), which puts every eigenvalue strictly inside.
    integrator : bool
        The plant integrates (one integrator per output, e.g. a position driven by a force):
        the subspace step runs on the differenced outputs Δy(t) = y(t+1) − y(t) (one state less)
        and the model is completed with exact integrators at z = 1 (``nx`` then counts them);
        B, D and x0 are then fitted to y itself. The input must reach the integrator with at
        least one sample of delay (a strictly proper plant, as a force driving a position).
    val : IOData or list of IOData, optional
        Validation data for the automatic order selection.
    check_feedback : bool
        Warn (:class:`IdentificationWarning`) when the input is correlated with past output
        innovations — the data look closed-loop and subspace estimates are then biased.

    Returns
    -------
    N4SIDResult

    Warns
    -----
    IdentificationWarning
        For an ill-conditioned (band-limited) input, with the condition number, and for data
        that look closed-loop. The estimate is still returned.

    References
    ----------
    J. M. Maciejowski, "Guaranteed stability with subspace methods", Systems & Control Letters 26
    (1995). M. Verhaegen, V. Verdult, *Filtering and System Identification*, 2007, §9.6.

    Examples
    --------
    >>> from sysid import datasets
    >>> from sysid.linear import n4sid
    >>> d = datasets.fourth_order_plant(N=2000)
    >>> res = n4sid(d.train)
    >>> res.nx
    4
    """
    exps = as_experiments(data)
    dt = exps[0].dt
    for d in exps:
        if d.dt is None:
            raise ValueError("n4sid needs uniformly sampled data (IOData with dt), not irregular times.")
        if not np.isclose(d.dt, dt):
            raise ValueError(f"all experiments must share one sampling period; got {dt} and {d.dt}.")
    nu, ny = exps[0].nu, exps[0].ny
    if nu == 0:
        raise ValueError("n4sid identifies input-output models; the data have no inputs (nu = 0).")
    if weighting not in ("moesp", "cva"):
        raise ValueError(f"weighting must be 'moesp' or 'cva'; got {weighting!r}.")
    if nx is not None and (not isinstance(nx, (int, np.integer)) or isinstance(nx, bool) or nx < 1):
        raise ValueError(f"nx must be a positive int or None (automatic); got {nx!r}.")
    if integrator and nx is not None and nx <= ny:
        raise ValueError(f"with integrator=True, nx counts the {ny} integrator state(s); got nx = {nx}. "
                         f"Give nx >= {ny + 1} (the integrators plus at least one state).")
    # with an integrator: the forward difference y(t+1) − y(t) = (z − 1) G(z) u(t) has one state less than G
    work = [IOData(d.u[:-1], np.diff(d.y, axis=0), dt=dt) for d in exps if d.N > 2] if integrator else exps
    val_exps = None if val is None else as_experiments(val, name="val")
    n_int = ny if integrator else 0
    n_sub = None if nx is None else nx - n_int
    if max_order is not None and (not isinstance(max_order, (int, np.integer)) or max_order < 1):
        raise ValueError(f"max_order must be a positive int; got {max_order!r}.")
    s = horizon
    if s is None:
        s = _default_horizon(n_sub if n_sub is not None else min(max_order or 10, 10), ny, nu, [d.N for d in work])
    if not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"horizon must be a positive int; got {s!r}.")
    if n_sub is not None and n_sub >= s * ny:
        raise ValueError(f"nx = {nx} is too large for horizon s = {s} with ny = {ny}: need nx < s·ny = {s * ny}"
                         f"{' plus the integrators' if integrator else ''}. "
                         f"Increase horizon to at least {n_sub // ny + 1}.")
    p = 2 * s * (nu + ny)
    usable = [d for d in work if d.N >= 2 * s]
    ncols = sum(d.N - 2 * s + 1 for d in usable)
    if ncols < p:
        need = p + 2 * s - 1
        raise ValueError(f"too few samples for horizon s = {s}: the Hankel matrix needs at least {p} columns "
                         f"(about {need} samples in one experiment); got {ncols} columns from "
                         f"{sum(d.N for d in work)} samples. Give more data or a smaller horizon.")
    R, _ = _streaming_r(usable, s)
    L = R.T
    m = s * nu
    # -- input excitation: singular values of the future-input block (rows of L11)
    sv_u = linalg.svdvals(L[:m, :m])
    top = max(sv_u[0], np.finfo(float).tiny)
    cond = float(top / max(sv_u[-1], np.finfo(float).tiny))
    n_exc = int(np.sum(sv_u > _TRUNCATE * top))
    if int(np.sum(sv_u > _SINGULAR * top)) < min(m, 2) or sv_u[0] == 0:
        raise ValueError(f"the input is not persistently exciting: its block-Hankel matrix of {m} rows has "
                         f"numerical rank {int(np.sum(sv_u > _SINGULAR * top))} (condition number {cond:.1e}). "
                         "Use a richer input (e.g. white noise or a multisine with enough frequencies).")
    if cond > 1.0 / _TRUNCATE:
        warnings.warn(
            f"the input block-Hankel matrix is ill-conditioned (condition number {cond:.1e}; {n_exc} of {m} "
            f"directions above {_TRUNCATE:g} of the largest): the input looks band-limited. Only its "
            "well-excited directions are projected out; the model is reliable in the input's frequency "
            "band — check it there (e.g. with sysid.resid on data from another experiment).",
            IdentificationWarning, stacklevel=2)
    # -- orthogonal projection onto the complement of the well-excited future-input directions
    rest_rows = slice(m, p)
    if n_exc < m:
        _, _, Vt = linalg.svd(L[:m, :m])
        rot = np.hstack([L[rest_rows, :m] @ Vt.T[:, n_exc:], L[rest_rows, m:]])
        Lr = np.linalg.qr(rot.T, mode="r").T  # lower triangular, rows [Z_p; Y_f]
    else:
        Lr = L[rest_rows, m:]
    nz = s * (nu + ny)
    zc = slice(0, nz) if n_exc == m else slice(0, nz + (m - n_exc))
    L32 = Lr[nz:, zc]
    if weighting == "cva":
        L33 = Lr[nz:, zc.stop:]
        Syy = L32 @ L32.T + L33 @ L33.T
        W1 = linalg.cholesky(Syy + 1e-14 * np.trace(Syy) / Syy.shape[0] * np.eye(Syy.shape[0]), lower=True)
        U, sv, _ = linalg.svd(linalg.solve_triangular(W1, L32, lower=True), full_matrices=False)
    else:
        U, sv, _ = linalg.svd(L32, full_matrices=False)
    max_sub = min(max_order - n_int if max_order else 10, s * ny - 1)
    max_sub = max(1, max_sub)

    def realize(n):
        Os = U[:, :n] * np.sqrt(sv[:n])
        if weighting == "cva":
            Os = W1 @ Os
        C = Os[:ny]
        A = np.linalg.lstsq(Os[:-ny], Os[ny:], rcond=None)[0]
        rho = float(np.max(np.abs(np.linalg.eigvals(A)))) if n else 0.0
        if stable and rho >= 1.0:
            if n == n_final[0]:
                warnings.warn(
                    f"the least-squares A of order {n} is unstable (spectral radius {rho:.4g}); stable=True "
                    "re-estimates it with all eigenvalues inside the unit circle. If the plant itself is unstable, "
                    "pass stable=False.", IdentificationWarning, stacklevel=3)
            A = np.linalg.lstsq(Os, np.vstack([Os[ny:], np.zeros((ny, n))]), rcond=None)[0]
        return A, C

    def complete(A, C, records):
        if integrator:  # (A, C) of the integrating model; B, D, x0 by least squares on y itself
            A, _, C, _ = _add_integrators(A, np.zeros((A.shape[0], nu)), C, np.zeros((ny, nu)))
        B, D, x0s = fit_BD_x0(A, C, records, feedthrough=feedthrough)
        return A, B, C, D, x0s

    scores = {}
    n_final = [n_sub]  # warnings about the chosen order only
    if n_sub is None:
        n_sub = _choose_order(sv, max_sub, realize, complete, exps, val_exps, scores, n_int, nu, ny, feedthrough)
        n_final[0] = n_sub
    A, C = realize(n_sub)
    A, B, C, D, x0s = complete(A, C, exps)
    system = control.ss(A, B, C, D, dt)
    feedback = _feedback_check(work, first=1 if feedthrough else 0) if check_feedback else {}
    if feedback.get("closed_loop"):
        warnings.warn(
            "the data look closed-loop: the input is correlated with past output innovations "
            f"(largest correlation {feedback['max_correlation']:.2f}; chi-square {feedback['statistic']:.0f} on {feedback['dof']} degrees of freedom, p = "
            f"{feedback['pvalue']:.1e}). Subspace estimates are biased under feedback; refine with the "
            "prediction-error method (N4SID(pem=True), OE/ARMAX/BJ — the direct method) and check the "
            "model with sysid.resid.", IdentificationWarning, stacklevel=2)
    return N4SIDResult(system=system, x0=x0s[0] if len(x0s) == 1 else x0s, singular_values=sv, nx=n_sub + n_int,
                       horizon=s, weighting=weighting, input_condition=cond, excited_directions=n_exc,
                       order_scores=scores, feedback=feedback)


def _add_integrators(A0, B0, C0, D0):
    """Model of y from the model (A0, B0, C0, D0) of the forward difference Δy(t) = y(t+1) − y(t):
    x_I = y, x_I(t+1) = x_I(t) + C0 x(t) + D0 u(t), y = x_I."""
    n, ny = A0.shape[0], C0.shape[0]
    A = np.block([[A0, np.zeros((n, ny))], [C0, np.eye(ny)]])
    B = np.vstack([B0, D0])
    C = np.hstack([np.zeros((ny, n)), np.eye(ny)])
    return A, B, C, np.zeros_like(D0)


def _choose_order(sv, max_sub, realize, complete, exps, val_exps, scores, n_int, nu, ny, feedthrough):
    """Order by BIC on the simulation error over 1 … max_sub (or by the validation error)."""
    from ._sim import lsim

    target = val_exps if val_exps is not None else exps
    y_all = np.concatenate([d.y for d in target])
    scale = np.where(y_all.std(0) > 0, y_all.std(0), 1.0)
    n_res = y_all.size
    # orders beyond the numerical rank of the projection are noise-free duplicates
    rank = int(np.sum(sv > 1e-10 * sv[0])) if sv.size and sv[0] > 0 else 1
    for n in range(1, max(1, min(max_sub, rank)) + 1):
        try:
            with np.errstate(all="ignore"):
                A, C = realize(n)
                if not np.all(np.isfinite(A)) or np.max(np.abs(np.linalg.eigvals(A))) > 1.0 + 1e-6:
                    continue  # an unstable candidate cannot be scored by its simulation error
                A, B, C, D, x0s = complete(A, C, exps)
            if val_exps is not None:
                from ..core.lure import LureSystem
                lure = LureSystem.from_control(control.ss(A, B, C, D, exps[0].dt))
                x0s = [lure.estimate_x0(d) for d in val_exps]
            with np.errstate(all="ignore"):
                err = np.concatenate([((lsim(A, B, C, D, d.u, x) - d.y) / scale).ravel()
                                      for d, x in zip(target, x0s)])
            cost = float(np.mean(err**2))
        except (np.linalg.LinAlgError, ValueError):
            continue
        if not np.isfinite(cost):
            continue
        k = (n + n_int) * (nu + ny) + (ny * nu if feedthrough else 0) + (n + n_int) * len(target)
        floor = 1e-20  # simulation errors below this are round-off: ties go to the smaller order
        crit = max(cost, floor) if val_exps is not None else n_res * np.log(max(cost, floor)) + k * np.log(n_res)
        scores[n + n_int] = {"cost": cost, "criterion": float(crit), "params": k}
    if not scores:
        return _select_order(sv, max_sub)
    best = min(scores, key=lambda k: scores[k]["criterion"])
    if val_exps is not None:  # parsimony: the smallest order within the statistical spread of the best
        tol = scores[best]["criterion"] * (1.0 + 2.0 / np.sqrt(n_res))
        best = min(k for k in scores if scores[k]["criterion"] <= tol)
    return best - n_int


def fit_BD_x0(A: np.ndarray, C: np.ndarray, experiments: list[IOData], *, feedthrough: bool = True):
    """Least-squares B, D and one initial state per experiment for fixed (A, C).

    y_k = C Aᵏ x0 + Σ_{j<k} C A^{k−1−j} B u_j + D u_k is linear in (vec B, vec D, x0). The
    regressors of each experiment come from one batched simulation; the least-squares problem
    is accumulated experiment by experiment as a QR factor (memory of one experiment).

    Returns
    -------
    B : ndarray (nx, nu), D : ndarray (ny, nu), x0s : list of ndarray (nx,)
    """
    nx, ny = A.shape[0], C.shape[0]
    nu = experiments[0].nu
    n_exp = len(experiments)
    nB, nD = nx * nu, (ny * nu if feedthrough else 0)
    cols = nB + nD + nx * n_exp
    blocks = []
    norms = np.zeros(cols)
    for e, d in enumerate(experiments):
        N = d.N
        Phi = np.zeros((N * ny, cols))
        if nx:
            G = np.zeros((nx, nx * nu, N))
            for i in range(nx):
                for j in range(nu):
                    G[i, i * nu + j] = d.u[:, j]
            resp = batched_response(A, G, C=C)  # (ny, nx·nu, N)
            Phi[:, :nB] = resp.transpose(2, 0, 1).reshape(N * ny, nB)
            free = batched_response(A, np.zeros((nx, nx, N)), np.eye(nx), C=C)
            Phi[:, nB + nD + e * nx: nB + nD + (e + 1) * nx] = free.transpose(2, 0, 1).reshape(N * ny, nx)
        if feedthrough:
            for i in range(ny):
                for j in range(nu):
                    col = np.zeros((N, ny))
                    col[:, i] = d.u[:, j]
                    Phi[:, nB + i * nu + j] = col.ravel()
        norms += np.sum(Phi**2, axis=0)
        blocks.append((Phi, d.y.ravel()))
    scale = np.sqrt(norms)
    scale[scale == 0] = 1.0
    R = None
    for Phi, target in blocks:
        block = np.hstack([Phi / scale, target[:, None]])
        R = np.linalg.qr(block if R is None else np.vstack([R, block]), mode="r")
    theta = np.linalg.lstsq(R[:, :cols], R[:, cols], rcond=None)[0] / scale
    B = theta[:nB].reshape(nx, nu)
    D = theta[nB: nB + nD].reshape(ny, nu) if feedthrough else np.zeros((ny, nu))
    x0s = [theta[nB + nD + e * nx: nB + nD + (e + 1) * nx] for e in range(n_exp)]
    return B, D, x0s
