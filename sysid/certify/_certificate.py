"""The Certificate value returned by every function of :mod:`sysid.certify`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Certificate"]

# the only field that may be reassigned after construction (appending a note to the text
# changes no claim); every other field is frozen: use Certificate.replace(...)
_ANNOTATABLE = frozenset({"message"})


def _readonly(a):
    if a is None:
        return None
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


@dataclass
class Certificate:
    """The outcome of an LMI certificate; infeasible is an answer, not an exception.

    A Certificate is a value: its verdict fields cannot be reassigned, and its arrays are
    read-only, so that ``certified=True`` can only come from the numpy re-check. Use
    :meth:`replace` for a modified copy. (Only ``message`` may be reassigned, e.g. to append a
    note; that changes no claim.)

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
        The quadratic storage / Lyapunov / contraction metric (read-only).
    multipliers : ndarray, shape (nv,), or None
        Diagonal IQC multipliers λ (Λ = diag(λ)) (read-only).
    solver, status : str
        Solver used and its status ("optimal", "infeasible", "optimal_inaccurate", ...).
    max_eig : float or None
        Largest eigenvalue of the explicitly symmetrized LMI (written as ``... ⪯ 0``) at the
        returned multipliers, computed in float64 numpy, in the coordinates the check ran in:
        states (and, for the gain, inputs and outputs) rescaled by powers of two
        (``extra["state_scaling"]``, ``extra["scaling"]``), an exact congruence of the LMI in
        the original coordinates (same signs, not the same eigenvalues).
    tol : float
        Threshold of the numpy re-check: certified requires ``max_eig <= tol``. For strict
        LMIs ``tol`` is negative: minus the larger of (half the strictness margin imposed on
        the solver) and (a bound on the rounding error of forming the LMI and its eigenvalues).
    local : bool
        True when the certificate is about a linearization at an operating point only.
    message : str
        What the certificate means, or why it failed.
    extra : dict
        Further numbers (e.g. the strictness margin used, a rate bracket).
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

    def __post_init__(self):
        object.__setattr__(self, "certified", bool(self.certified))
        object.__setattr__(self, "P", _readonly(self.P))
        object.__setattr__(self, "multipliers", _readonly(self.multipliers))
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False) and name not in _ANNOTATABLE:
            raise dataclasses.FrozenInstanceError(
                f"Certificate.{name} cannot be reassigned (a certificate is a value); use "
                f"cert.replace({name}=...) for a modified copy.")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise dataclasses.FrozenInstanceError(f"Certificate.{name} cannot be deleted.")

    def replace(self, **changes) -> "Certificate":
        """A copy with some fields changed (``dataclasses.replace`` also works).

        Examples
        --------
        >>> from sysid.certify import Certificate
        >>> c = Certificate("contraction", False, message="infeasible")
        >>> c.replace(message=c.message + "; see the docs").message
        'infeasible; see the docs'
        """
        return dataclasses.replace(self, **changes)

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
