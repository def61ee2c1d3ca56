"""Exceptions raised by sysid."""

__all__ = ["ConvergenceError", "NotFittedError", "SolverError", "DivergenceError", "FitWarning"]


class ConvergenceError(RuntimeError):
    """An iterative solve (algebraic loop, equilibrium, integrator) did not converge."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` was called."""


class SolverError(RuntimeError):
    """A convex-optimization solver is missing or failed (not: the problem is infeasible)."""


class DivergenceError(RuntimeError):
    """Training diverged (NaN/inf or exploding loss); the best weights were restored."""


class FitWarning(UserWarning):
    """A fit finished but its result deserves a look (e.g. training did not improve on the start)."""
