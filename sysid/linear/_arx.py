"""ARX models by linear least squares (MIMO), realized as a state-space model.

    y(t) + A1 y(t−1) + … + A_na y(t−na) = B0 u(t−nk) + … + B_{nb−1} u(t−nk−nb+1) + e(t)

References
----------
L. Ljung, *System Identification: Theory for the User*, 2nd ed., Prentice Hall 1999, §4.2, §7.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import control
import numpy as np

from ..core.iodata import as_experiments

__all__ = ["ARXResult", "arx"]


@dataclass
class ARXResult:
    """Result of :func:`arx`.

    Attributes
    ----------
    system : control.StateSpace
        Block observer-form realization, order ny·max(na, nk + nb − 1).
    A : ndarray, shape (na, ny, ny)
        A1 … A_na (the leading A0 = I is implied).
    B : ndarray, shape (nb, ny, nu)
        B0 … B_{nb−1}, acting on u(t − nk − j).
    na, nb, nk : int
    """

    system: control.StateSpace
    A: np.ndarray
    B: np.ndarray
    na: int
    nb: int
    nk: int


def _check_orders(na, nb, nk):
    for name, value, low in (("na", na, 0), ("nb", nb, 1), ("nk", nk, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")


def arx(data, na: int, nb: int, nk: int = 1) -> ARXResult:
    """Fit an ARX model by least squares.

    Parameters
    ----------
    data : IOData or list of IOData
    na : int
        Number of past outputs (>= 0).
    nb : int
        Number of input coefficients (>= 1).
    nk : int
        Input delay in samples (>= 0; 0 gives a direct feedthrough).

    Returns
    -------
    ARXResult
    """
    _check_orders(na, nb, nk)
    exps = as_experiments(data)
    nu, ny = exps[0].nu, exps[0].ny
    if nu == 0:
        raise ValueError("arx needs inputs (nu >= 1).")
    lag = max(na, nk + nb - 1)
    rows, targets = [], []
    for d in exps:
        if d.dt is None:
            raise ValueError("arx needs uniformly sampled data (IOData with dt).")
        T = d.N
        if T <= lag:
            continue
        t = np.arange(lag, T)
        reg = [-d.y[t - i] for i in range(1, na + 1)] + [d.u[t - nk - j] for j in range(nb)]
        rows.append(np.hstack(reg))
        targets.append(d.y[t])
    n_par = na * ny + nb * nu
    if not rows or sum(len(r) for r in rows) < n_par:
        raise ValueError(f"too few samples for an ARX({na}, {nb}, {nk}) model: need more than {n_par + lag} samples.")
    Phi, Y = np.vstack(rows), np.vstack(targets)
    if np.linalg.matrix_rank(Phi) < n_par:
        raise ValueError("the ARX regression is rank deficient: the input is not persistently exciting of order "
                         f"{nb} (or the orders are too high for the data).")
    theta = np.linalg.lstsq(Phi, Y, rcond=None)[0]  # (n_par, ny)
    A = np.stack([theta[i * ny:(i + 1) * ny].T for i in range(na)]) if na else np.zeros((0, ny, ny))
    off = na * ny
    B = np.stack([theta[off + j * nu: off + (j + 1) * nu].T for j in range(nb)])
    return ARXResult(system=_realize(A, B, nk, exps[0].dt), A=A, B=B, na=na, nb=nb, nk=nk)


def _realize(A: np.ndarray, B: np.ndarray, nk: int, dt: float) -> control.StateSpace:
    na, nb = A.shape[0], B.shape[0]
    ny, nu = B.shape[1], B.shape[2]
    n = max(na, nk + nb - 1)
    P = [-A[i - 1] if i <= na else np.zeros((ny, ny)) for i in range(n + 1)]
    Q = [B[i - nk] if nk <= i <= nk + nb - 1 else np.zeros((ny, nu)) for i in range(n + 1)]
    D = Q[0]
    if n == 0:
        return control.ss(np.zeros((0, 0)), np.zeros((0, nu)), np.zeros((ny, 0)), D, dt)
    As = np.zeros((n * ny, n * ny))
    Bs = np.zeros((n * ny, nu))
    for i in range(1, n + 1):
        r = slice((i - 1) * ny, i * ny)
        As[r, :ny] = P[i]
        if i < n:
            As[r, i * ny:(i + 1) * ny] = np.eye(ny)
        Bs[r] = Q[i] + P[i] @ D
    Cs = np.zeros((ny, n * ny))
    Cs[:, :ny] = np.eye(ny)
    return control.ss(As, Bs, Cs, D, dt)
