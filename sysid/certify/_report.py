"""``report``: run the certificates that apply to a model and tabulate them."""

from __future__ import annotations

from dataclasses import dataclass

import control

from ..core.lure import LureSystem
from ._certificate import Certificate
from ._contraction import contraction
from ._gain import incremental_l2_gain
from ._lyapunov import lyapunov_stability
from ._wellposed import well_posedness

__all__ = ["Report", "report"]

_COLUMNS = ("property", "certified", "bound", "scope", "solver / status")


@dataclass
class Report:
    """Certificates of one model; ``str(report)`` is an aligned table.

    Attributes
    ----------
    model : str
        What was certified.
    certificates : list of Certificate
    """

    model: str
    certificates: list[Certificate]

    @property
    def rows(self) -> list[dict]:
        """One dict per certificate with the table's columns."""
        return [dict(zip(_COLUMNS, (c.property, "yes" if c.certified else "no",
                                    "-" if c.bound is None else f"{c.bound:.6g}",
                                    "local" if c.local else "global", f"{c.solver} / {c.status}")))
                for c in self.certificates]

    def __getitem__(self, prop: str) -> Certificate:
        for c in self.certificates:
            if c.property == prop:
                return c
        raise KeyError(f"no {prop!r} certificate in this report; have {[c.property for c in self.certificates]}.")

    def __len__(self) -> int:
        return len(self.certificates)

    def __str__(self) -> str:
        table = [_COLUMNS] + [tuple(r.values()) for r in self.rows]
        w = [max(len(r[i]) for r in table) for i in range(len(_COLUMNS))]
        lines = [f"certificates for {self.model}"]
        lines += ["  ".join(cell.ljust(w[i]) for i, cell in enumerate(r)).rstrip() for r in table]
        return "\n".join(lines)


def report(model, *, solver: str | None = None) -> Report:
    """Certify what applies to ``model`` and return a table.

    * control.StateSpace: Lyapunov stability, contraction and (with inputs and outputs) the
      incremental ℓ2 gain (= H∞ norm).
    * LureSystem: well-posedness (when D11 is not strictly lower triangular), contraction,
      incremental ℓ2 gain.
    * An estimator: its exact ``to_lure()`` when it has one; otherwise its ``linearize()``, and
      every certificate is marked local (valid near the operating point only).

    Parameters
    ----------
    model : control.StateSpace, LureSystem or fitted estimator
    solver : str, optional
        Passed to every certificate.

    Returns
    -------
    Report
    """
    from ._inputs import check_solver

    check_solver(solver)
    local = False
    if isinstance(model, (LureSystem, control.StateSpace, control.TransferFunction)):
        system, label = model, type(model).__name__
    elif hasattr(model, "to_lure") or hasattr(model, "linearize"):
        label = type(model).__name__
        try:
            system = model.to_lure()
        except (NotImplementedError, AttributeError):
            if not hasattr(model, "linearize"):
                raise
            system = model.linearize()
            local = True
            label += " (linearized)"
    else:
        raise TypeError(f"report expects a control.StateSpace, a sysid.LureSystem or a fitted estimator (with "
                        f"to_lure() or linearize()); got {type(model).__name__}.")
    certs: list[Certificate] = []
    if isinstance(system, (control.StateSpace, control.TransferFunction)):
        certs.append(lyapunov_stability(system, solver=solver, local=local))
        system = LureSystem.from_control(system)
    elif system.nv == 0:
        certs.append(lyapunov_stability(system, solver=solver, local=local))
    if system.nv and not system.is_acyclic:
        wp = well_posedness(system, solver=solver)
        certs.append(wp.replace(local=local) if local else wp)
    certs.append(contraction(system, solver=solver, local=local))
    if system.nu and system.ny:
        certs.append(incremental_l2_gain(system, solver=solver, local=local))
    return Report(label, certs)
