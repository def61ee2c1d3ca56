"""The Certificate value returned by every function of :mod:`sysid.certify`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Certificate"]


@dataclass
class Certificate:
    """The outcome of an LMI certificate; infeasible is an answer, not an exception.

    Attributes
    ----------
    property : str
        What is certified ("lyapunov_stability", "contraction", "incremental_l2_gain", ...).
    certified : bool
        True only if the solver succeeded *and* the numpy re-check passed.
    bound : float or None
        The rate, gain or margin certified (its meaning depends on ``property``: the
        contraction rate, the gain γ, the Lipschitz constant, the monotonicity margin).
        None when nothing is certified.
    P : ndarray, shape (nx, nx), or None
        The quadratic storage / Lyapunov / contraction metric.
    multipliers : ndarray, shape (nv,), or None
        Diagonal IQC multipliers λ (Λ = diag(λ)).
    solver, status : str
        Solver used and its status ("optimal", "infeasible", "optimal_inaccurate", ...).
    max_eig : float or None
        Largest eigenvalue of the explicitly symmetrized LMI (written as ``... ⪯ 0``) at the
        returned multipliers, computed in numpy.
    tol : float
        Tolerance of the numpy re-check: certified requires ``max_eig <= tol``.
    local : bool
        True when the certificate is about a linearization at an operating point only.
    message : str
        What the certificate means, or why it failed.
    extra : dict
        Further numbers (e.g. the strictness margin used).
    """

    property: str
    certified: bool
    bound: float | None = None
    P: np.ndarray | None = None
    multipliers: np.ndarray | None = None
    solver: str = ""
    status: str = ""
    max_eig: float | None = None
    tol: float = 0.0
    local: bool = False
    message: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        """Alias of ``bound`` (reads naturally for contraction certificates)."""
        return self.bound

    @property
    def Lambda(self) -> np.ndarray | None:
        """The multiplier matrix Λ = diag(λ), shape (nv, nv), or None."""
        return None if self.multipliers is None else np.diag(self.multipliers)

    def __bool__(self) -> bool:
        return bool(self.certified)

    def __str__(self) -> str:
        verdict = "certified" if self.certified else "NOT certified"
        bound = "" if self.bound is None else f", bound {self.bound:.6g}"
        where = " (local)" if self.local else ""
        return f"{self.property}: {verdict}{bound}{where} [{self.solver}: {self.status}] {self.message}".rstrip()
