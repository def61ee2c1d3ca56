"""LTI helpers over python-control: time-first simulation, zeros, DC gain, balancing.

The LTI type is ``control.StateSpace``; these helpers only convert at the boundary
(python-control puts time on the last axis) and add what python-control offers only
with slycot (balanced realizations).
"""

from __future__ import annotations

import control
import numpy as np
from scipy import linalg

__all__ = ["forced_response", "dcgain", "transmission_zeros", "balanced_realization", "describe"]


def _check_ss(sys, name: str = "sys") -> control.StateSpace:
    if isinstance(sys, control.TransferFunction):
        sys = control.ss(sys)
    if not isinstance(sys, control.StateSpace):
        raise TypeError(f"{name} must be a control.StateSpace; got {type(sys).__name__}.")
    return sys


def forced_response(sys, u, x0=None) -> np.ndarray:
    """Output of a discrete ``sys`` for input ``u`` of shape (N, nu); returns (N, ny)."""
    from .lure import LureSystem

    sys = _check_ss(sys)
    if not control.isdtime(sys, strict=True):
        raise ValueError("forced_response needs a discrete-time system; for continuous ones use "
                         "sysid.LureSystem.from_control(sys).simulate(u, t=...).")
    return LureSystem.from_control(sys).simulate(u, x0)


def dcgain(sys) -> np.ndarray:
    """Steady-state gain G(1) (discrete) or G(0) (continuous), shape (ny, nu).

    Raises
    ------
    ValueError
        If the system has a pole at z = 1 (or s = 0): the DC gain is infinite.
    """
    sys = _check_ss(sys)
    A, B, C, D = (np.asarray(M) for M in (sys.A, sys.B, sys.C, sys.D))
    M = (np.eye(A.shape[0]) - A) if control.isdtime(sys, strict=True) else -A
    if A.shape[0] and np.linalg.cond(M) > 1e14:
        raise ValueError("the system has a pole at z = 1 (or s = 0), so its DC gain is infinite.")
    return C @ np.linalg.solve(M, B) + D if A.shape[0] else D.copy()


def transmission_zeros(sys) -> np.ndarray:
    """Finite transmission zeros of a square system (generalized eigenvalues of the Rosenbrock pencil)."""
    sys = _check_ss(sys)
    A, B, C, D = (np.asarray(M) for M in (sys.A, sys.B, sys.C, sys.D))
    if B.shape[1] != C.shape[0]:
        raise ValueError(f"transmission_zeros needs a square system (nu = ny); got nu = {B.shape[1]}, "
                         f"ny = {C.shape[0]}. Select a square channel pair, e.g. sys[i, j].")
    n = A.shape[0]
    M = np.block([[A, B], [C, D]])
    N = np.zeros_like(M)
    N[:n, :n] = np.eye(n)
    z = linalg.eig(M, N, right=False)
    return z[np.isfinite(z)]


def _gramian(A, B, discrete: bool) -> np.ndarray:
    if discrete:
        return linalg.solve_discrete_lyapunov(A, B @ B.T)
    return linalg.solve_continuous_lyapunov(A, -B @ B.T)


def balanced_realization(sys) -> tuple[control.StateSpace, np.ndarray]:
    """Balanced realization by the square-root method (Laub 1987); no slycot needed.

    Returns
    -------
    balanced : control.StateSpace
        Equal, diagonal controllability and observability Gramians.
    hsv : ndarray, shape (nx,)
        Hankel singular values, decreasing.

    Raises
    ------
    ValueError
        If the system is unstable or not minimal (a Gramian is singular).
    """
    sys = _check_ss(sys)
    A, B, C, D = (np.asarray(M, dtype=float) for M in (sys.A, sys.B, sys.C, sys.D))
    discrete = control.isdtime(sys, strict=True)
    eig = np.linalg.eigvals(A)
    if (discrete and np.max(np.abs(eig)) >= 1) or (not discrete and np.max(eig.real) >= 0):
        raise ValueError("balanced_realization needs a stable system (the Gramians do not exist otherwise).")
    Wc = _gramian(A, B, discrete)
    Wo = _gramian(A.T, C.T, discrete)
    try:
        Lc = linalg.cholesky((Wc + Wc.T) / 2, lower=True)
        Lo = linalg.cholesky((Wo + Wo.T) / 2, lower=True)
    except linalg.LinAlgError:
        raise ValueError("a Gramian is singular: the system is not minimal. Remove the uncontrollable or "
                         "unobservable states first (control.minreal).") from None
    U, s, Vt = linalg.svd(Lo.T @ Lc)
    if s[-1] <= 1e-12 * s[0]:
        raise ValueError("the system is not minimal (a Hankel singular value is ~0); use control.minreal first.")
    S = np.diag(s ** -0.5)
    T = S @ U.T @ Lo.T          # x_bal = T x
    Ti = Lc @ Vt.T @ S
    bal = control.ss(T @ A @ Ti, T @ B, C @ Ti, D, sys.dt)
    return bal, s


def describe(sys) -> dict:
    """Poles, transmission zeros (square systems) and DC gain of an LTI system."""
    sys = _check_ss(sys)
    out = {"poles": np.linalg.eigvals(np.asarray(sys.A)) if sys.nstates else np.zeros(0),
           "dt": sys.dt}
    out["zeros"] = transmission_zeros(sys) if sys.ninputs == sys.noutputs else None
    try:
        out["dcgain"] = dcgain(sys)
    except ValueError:
        out["dcgain"] = None
    return out
