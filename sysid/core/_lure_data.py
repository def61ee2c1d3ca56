"""Data-driven helpers of :class:`~sysid.core.lure.LureSystem`: initial-state estimation
and k-step prediction (functions of the system, called by its methods)."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from .iodata import IOData

__all__ = ["estimate_x0", "predict", "check_data"]


def estimate_x0(system, data: IOData, *, n: int | None = None) -> np.ndarray:
    """Initial state that best explains the first ``n`` samples (all by default), shape (nx,).

    Linear systems: exact linear least squares, anchored at the steady state for the first
    input (directions the window does not determine stay there). Nonlinear:
    ``scipy.optimize.least_squares`` on the simulation error, started from zeros.
    """
    u, y = check_data(system, data)
    if n is not None:
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive number of samples; got {n!r}.")
        if n > len(y):
            raise ValueError(f"n = {n} exceeds the record length {len(y)}.")
        u, y = u[:n], y[:n]
    if system.nx == 0:
        return np.zeros(0)
    times = data.t[: len(y)] if system.is_continuous else None
    y_forced = system.simulate(u, t=times)
    lin = system if system.nv == 0 else None
    if lin is not None:
        O = np.empty((len(y), system.ny, system.nx))
        for j in range(system.nx):
            e = np.zeros(system.nx)
            e[j] = 1.0
            O[:, :, j] = system.simulate(u, e, t=times) - y_forced
        O = O.reshape(-1, system.nx)
        # anchor at the steady state for the first input: with a short window the free
        # response is poorly determined along slow directions, which then stay at rest
        anchor = np.zeros(system.nx)
        M = np.eye(system.nx) - system.A
        if np.linalg.cond(M) < 1e12:
            anchor = np.linalg.solve(M, system.B2 @ u[0] + system.bx)
        r = (y - y_forced).ravel() - O @ anchor
        delta, *_ = np.linalg.lstsq(O, r, rcond=None)
        return anchor + delta

    def residual(z):
        return (system.simulate(u, z, t=times) - y).ravel()

    sol = optimize.least_squares(residual, np.zeros(system.nx), method="lm" if y.size >= system.nx else "trf")
    return sol.x

def check_data(system, data) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, IOData):
        raise TypeError(f"data must be a sysid.IOData; got {type(data).__name__}.")
    if (data.nu, data.ny) != (system.nu, system.ny):
        raise ValueError(f"data has (nu, ny) = ({data.nu}, {data.ny}) but the system has ({system.nu}, {system.ny}).")
    if not system.is_continuous:
        if data.dt is None:
            raise ValueError("a discrete-time system needs uniformly sampled data (IOData with dt).")
        if not np.isclose(data.dt, system.dt, rtol=1e-9):
            raise ValueError(f"the data's sampling period dt = {data.dt:g} differs from the system's "
                             f"dt = {system.dt:g}; resample the data or discretize the model at the data's dt.")
    return data.u, data.y

def predict(system, data: IOData, *, horizon: int, K=None, x0=None) -> np.ndarray:
    """``horizon``-step-ahead prediction ŷ(t | t − horizon), shape (N, ny).

    The state is tracked by the observer x̂⁺ = f(x̂, u) + K (y − ŷ). With ``K=None`` the
    state must be measured: C2 of full column rank and D21 = 0, and x̂ is reconstructed
    from y by least squares at each sample. The first ``horizon`` samples are predicted
    from ``x0`` (zeros by default).
    """
    if system.is_continuous:
        raise ValueError("k-step prediction is defined for discrete-time systems; discretize first.")
    if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1; got {horizon!r}.")
    u, y = check_data(system, data)
    N = len(y)
    if horizon >= N:
        raise ValueError(
            f"horizon = {horizon} is not shorter than the record (N = {N} samples): every sample would be "
            f"predicted without using the measured outputs. Use horizon <= {N - 1}, or simulate() for a "
            "free-run simulation."
        )
    if K is not None:
        K = np.asarray(K, dtype=float)
        if K.shape != (system.nx, system.ny):
            raise ValueError(f"K must have shape (nx, ny) = ({system.nx}, {system.ny}); got {K.shape}.")
    elif system.nx > 0 and (np.any(system.D21) or np.linalg.matrix_rank(system.C2) < system.nx):
        raise ValueError(
            "k-step prediction needs a state estimate: this system has no observer gain K and its "
            "state is not measured (C2 lacks full column rank or D21 ≠ 0). Pass K= (e.g. the Kalman "
            "gain from sysid.linear.n4sid) or use horizon=None (free-run simulation)."
        )
    # filtered state estimates x̂(s) for every s
    xs = np.empty((N, system.nx))
    x = system._vec(x0, system.nx, "x0")
    C2p = np.linalg.pinv(system.C2) if K is None else None
    for s in range(N):
        if K is None:
            x = C2p @ (y[s] - system.D22 @ u[s] - system.by)
            xs[s] = x
            x = system.step(x, u[s])
        else:
            xs[s] = x
            xn, w = system._rhs(x, u[s])
            e = y[s] - (system.C2 @ x + system.D21 @ w + system.D22 @ u[s] + system.by)
            x = xn + K @ e
    # for K: xs[s] is the one-step predicted state x̂(s | s−1); for measured states: x̂(s | s)
    lag = horizon - 1 if K is not None else horizon
    yp = np.empty((N, system.ny))
    x_init = system._vec(x0, system.nx, "x0")
    for t in range(N):
        s = t - lag
        if s < 0:
            x, start = x_init.copy(), 0
        else:
            x, start = xs[s].copy(), s
        for k in range(start, t):
            x = system.step(x, u[k])
        yp[t] = system.output(x, u[t])
    return yp
