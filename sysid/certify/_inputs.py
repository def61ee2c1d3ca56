"""Validation of what the certificates are given: systems, solver names, slope bounds.

Every error says what was expected, what came, and how to fix it.
"""

from __future__ import annotations

import control
import numpy as np

from ..core.lure import LureSystem

__all__ = ["as_lure", "check_solver", "check_slopes", "ACCURATE_SOLVERS"]

# interior-point SDP solvers whose "optimal" is accurate to ~1e-8; SCS (first-order, ~1e-4)
# is never chosen automatically and never recommended
ACCURATE_SOLVERS = ("CLARABEL", "MOSEK", "CVXOPT", "COPT")


def check_solver(solver) -> str | None:
    """None, or the upper-cased solver name; anything but a str is a TypeError."""
    if solver is None:
        return None
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a solver name such as 'CVXOPT' or 'CLARABEL' (a str), or None for "
                        f"the automatic choice; got {type(solver).__name__} ({solver!r}).")
    if not solver.strip():
        raise ValueError("solver must be a solver name such as 'CLARABEL'; got an empty string. Pass "
                         "solver=None for the automatic choice.")
    return solver.strip().upper()


def check_slopes(alpha, beta, *, what: str = "the nonlinearity") -> tuple[float, float]:
    """Finite slope bounds α ≤ β as floats."""
    try:
        a, b = float(alpha), float(beta)
    except (TypeError, ValueError):
        raise TypeError(f"the slope bounds of {what} must be two real numbers (alpha, beta); got "
                        f"({alpha!r}, {beta!r}).") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"the slope bounds of {what} must be finite, alpha <= beta; got ({a}, {b}). An "
                         "unbounded slope admits no quadratic certificate: restrict the slope (e.g. a "
                         "saturated or clipped activation) or give its true bounds.")
    if a > b:
        raise ValueError(f"the slope bounds of {what} must satisfy alpha <= beta; got ({a}, {b}). Swap them.")
    return a, b


def _check_complex(name, M):
    if np.iscomplexobj(M) and np.any(np.imag(M) != 0):
        raise ValueError(f"{name} must be a real matrix; got complex entries (e.g. {np.ravel(M)[np.argmax(np.abs(np.imag(np.ravel(M))))]}). "
                         "A real system has real matrices; for a complex realization, certify the real "
                         "system of twice the size [[Re, -Im], [Im, Re]].")


def as_lure(system) -> LureSystem:
    """A LureSystem from a LureSystem or a python-control StateSpace / TransferFunction (no Δ).

    Raises for complex matrices, python-control's unspecified time bases (dt=None, dt=True),
    non-finite matrices and slope bounds.
    """
    if isinstance(system, LureSystem):
        lure = system
    elif isinstance(system, (control.StateSpace, control.TransferFunction)):
        if system.dt is None:
            raise ValueError("the python-control system has dt=None (time base unspecified), so it is unknown "
                             "whether it is continuous or discrete; a certificate differs between the two. "
                             "Give the time base: control.ss(A, B, C, D, 0) for continuous time, or "
                             "control.ss(A, B, C, D, dt) with the sampling period dt > 0.")
        if system.dt is True:
            raise ValueError("the python-control system has dt=True (discrete, period unspecified); give the "
                             "sampling period, e.g. control.ss(A, B, C, D, 0.01).")
        if isinstance(system, control.StateSpace):
            for name in ("A", "B", "C", "D"):
                M = np.asarray(getattr(system, name))
                _check_complex(name, M)
                if not np.all(np.isfinite(M)):
                    raise ValueError(f"{name} of the StateSpace contains NaN or inf; every matrix must be finite.")
        lure = LureSystem.from_control(system)
    else:
        raise TypeError(f"expected a sysid.LureSystem or a control.StateSpace; got {type(system).__name__}. "
                        "For an estimator use est.to_lure() (or est.linearize() for a local certificate), "
                        "or call sysid.certify.report(est).")
    for name in ("A", "B1", "B2", "C1", "D11", "D12", "C2", "D21", "D22"):
        M = getattr(lure, name)
        _check_complex(name, M)
        if not np.all(np.isfinite(M)):
            raise ValueError(f"{name} contains NaN or inf; every block must be finite.")
    if lure.nv:
        check_slopes(*lure.delta.slope_bounds, what=repr(lure.delta))
    return lure
