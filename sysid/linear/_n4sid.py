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

from dataclasses import dataclass

import control
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg

from ..core.iodata import IOData, as_experiments
from ._sim import state_response

__all__ = ["N4SIDResult", "n4sid", "fit_BD_x0"]

_CHUNK = 20000


@dataclass
class N4SIDResult:
    """Result of :func:`n4sid`.

    Attributes
    ----------
    system : control.StateSpace
        The identified model, with the data's dt.
    x0 : ndarray, shape (nx,) or list of them
        Initial state(s), one per experiment (least squares).
    singular_values : ndarray
        Singular values of the weighted projection (the order is read from their gap).
    nx : int
        The order used.
    horizon : int
        Number of block rows s.
    """

    system: control.StateSpace
    x0: object
    singular_values: np.ndarray
    nx: int
    horizon: int
    weighting: str


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


def n4sid(data, nx: int | None = None, *, horizon: int | None = None, weighting: str = "moesp",
          feedthrough: bool = True, max_order: int | None = None) -> N4SIDResult:
    """Identify a discrete LTI state-space model by subspace identification.

    Parameters
    ----------
    data : IOData or list of IOData
        Uniformly sampled; several experiments are stacked column-wise in the Hankel matrix.
    nx : int, optional
        Model order; by default the largest gap of the singular values.
    horizon : int, optional
        Number of block rows s (past and future). Default ``max(20, nx + 1)`` — long enough to
        leave no noise bias (with 10 block rows the DC gain of the fourth-order plant is off by
        > 10 % at 1 % output noise).
    weighting : {"moesp", "cva"}
        PO-MOESP (unweighted) or canonical-variate weighting of the projection.
    feedthrough : bool
        Estimate D (else D = 0).
    max_order : int, optional
        Largest order considered by the automatic selection (default min(10, s·ny − 1)).

    Returns
    -------
    N4SIDResult

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
    if nx is not None and (not isinstance(nx, (int, np.integer)) or nx < 1):
        raise ValueError(f"nx must be a positive int or None (automatic); got {nx!r}.")
    s = horizon if horizon is not None else max(20, (nx or 0) + 1)
    if not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"horizon must be a positive int; got {s!r}.")
    if nx is not None and nx >= s * ny:
        raise ValueError(f"nx = {nx} is too large for horizon s = {s} with ny = {ny}: need nx < s·ny = {s * ny}. "
                         f"Increase horizon to at least {nx // ny + 1}.")
    p = 2 * s * (nu + ny)
    usable = [d for d in exps if d.N >= 2 * s]
    ncols = sum(d.N - 2 * s + 1 for d in usable)
    if ncols < p:
        need = p + 2 * s - 1
        raise ValueError(f"too few samples for horizon s = {s}: the Hankel matrix needs at least {p} columns "
                         f"(about {need} samples in one experiment); got {ncols} columns from "
                         f"{sum(d.N for d in exps)} samples. Give more data or a smaller horizon.")
    R, _ = _streaming_r(usable, s)
    L = R.T
    iz = slice(s * nu, s * (2 * nu + ny))
    iy = slice(s * (2 * nu + ny), p)
    diag_u = np.abs(np.diag(L)[: 2 * s * nu])
    if diag_u.min() <= 1e-10 * max(diag_u.max(), np.finfo(float).tiny):
        raise ValueError(f"the input is not persistently exciting of order {2 * s} (the input block-Hankel "
                         "matrix is rank deficient): use a richer input (e.g. white noise or a multisine with "
                         "enough frequencies) or a smaller horizon.")
    L32 = L[iy, iz]
    if weighting == "cva":
        L33 = L[iy, iy]
        Syy = L32 @ L32.T + L33 @ L33.T
        W1 = linalg.cholesky(Syy + 1e-14 * np.trace(Syy) / Syy.shape[0] * np.eye(Syy.shape[0]), lower=True)
        U, sv, _ = linalg.svd(linalg.solve_triangular(W1, L32, lower=True), full_matrices=False)
    else:
        U, sv, _ = linalg.svd(L32, full_matrices=False)
    max_order = min(max_order or 10, s * ny - 1)
    n = nx if nx is not None else _select_order(sv, max_order)
    Os = U[:, :n] * np.sqrt(sv[:n])
    if weighting == "cva":
        Os = W1 @ Os
    C = Os[:ny]
    A = np.linalg.lstsq(Os[:-ny], Os[ny:], rcond=None)[0]
    B, D, x0s = fit_BD_x0(A, C, exps, feedthrough=feedthrough)
    sys = control.ss(A, B, C, D, dt)
    return N4SIDResult(system=sys, x0=x0s[0] if len(x0s) == 1 else x0s, singular_values=sv, nx=n,
                       horizon=s, weighting=weighting)


def fit_BD_x0(A: np.ndarray, C: np.ndarray, experiments: list[IOData], *, feedthrough: bool = True):
    """Least-squares B, D and one initial state per experiment for fixed (A, C).

    y_k = C Aᵏ x0 + Σ_{j<k} C A^{k−1−j} B u_j + D u_k is linear in (vec B, vec D, x0).

    Returns
    -------
    B : ndarray (nx, nu), D : ndarray (ny, nu), x0s : list of ndarray (nx,)
    """
    nx, ny = A.shape[0], C.shape[0]
    nu = experiments[0].nu
    n_exp = len(experiments)
    nB, nD = nx * nu, (ny * nu if feedthrough else 0)
    cols = nB + nD + nx * n_exp
    rows = sum(d.N for d in experiments) * ny
    Phi = np.zeros((rows, cols))
    target = np.empty(rows)
    r = 0
    for e, d in enumerate(experiments):
        N = d.N
        blk = slice(r, r + N * ny)
        for i in range(nx):
            for j in range(nu):
                drive = np.zeros((N, nx))
                drive[:, i] = d.u[:, j]
                Phi[blk, i * nu + j] = (state_response(A, drive) @ C.T).ravel()
        if feedthrough:
            for i in range(ny):
                for j in range(nu):
                    col = np.zeros((N, ny))
                    col[:, i] = d.u[:, j]
                    Phi[blk, nB + i * nu + j] = col.ravel()
        for i in range(nx):
            e_i = np.zeros(nx)
            e_i[i] = 1.0
            Phi[blk, nB + nD + e * nx + i] = (state_response(A, np.zeros((N, nx)), e_i) @ C.T).ravel()
        target[blk] = d.y.ravel()
        r += N * ny
    scale = np.linalg.norm(Phi, axis=0)
    scale[scale == 0] = 1.0
    theta = np.linalg.lstsq(Phi / scale, target, rcond=None)[0] / scale
    B = theta[:nB].reshape(nx, nu)
    D = theta[nB: nB + nD].reshape(ny, nu) if feedthrough else np.zeros((ny, nu))
    x0s = [theta[nB + nD + e * nx: nB + nD + (e + 1) * nx] for e in range(n_exp)]
    return B, D, x0s
