"""``report``: run the certificates that apply to a model and tabulate them."""

from __future__ import annotations

from dataclasses import dataclass

import control

from ..core.lure import LureSystem
from ._gain import incremental_l2_gain
from ._lmi import Certificate
from ._stability import contraction, lyapunov_stability, well_posedness

__all__ = ["Report", "report"]


@dataclass
class Report:
    """Certificates of one model; ``str(report)`` is an aligned table."""

    model: str
    certificates: list[Certificate]

    def __getitem__(self, prop: str) -> Certificate:
        for c in self.certificates:
            if c.property == prop:
                return c
        raise KeyError(f"no {prop!r} certificate in this report; have {[c.property for c in self.certificates]}.")

    def __str__(self) -> str:
        rows = [("property", "certified", "bound", "scope", "solver / status")]
        for c in self.certificates:
            rows.append((c.property, "yes" if c.certified else "no", "-" if c.bound is None else f"{c.bound:.6g}",
                         "local" if c.local else "global", f"{c.solver} / {c.status}"))
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"certificates for {self.model}"]
        lines += ["  ".join(cell.ljust(w[i]) for i, cell in enumerate(r)) for r in rows]
        return "\n".join(lines)


def report(model, *, solver: str | None = None) -> Report:
    """Certify what applies to ``model``.

    * control.StateSpace: Lyapunov stability and (if stable, with inputs) the ℓ2 gain (H∞ norm).
    * LureSystem: well-posedness (dense D11), contraction, incremental ℓ2 gain.
    * An estimator: its exact ``to_lure()`` when it has one; otherwise its ``linearize()``,
      and the certificates are marked local.
    """
    local = False
    label = type(model).__name__
    if not isinstance(model, (LureSystem, control.StateSpace, control.TransferFunction)):
        try:
            system = model.to_lure()
        except NotImplementedError:
            system = model.linearize()
            local = True
        label = repr(model)
    else:
        system = model
    certs: list[Certificate] = []
    if isinstance(system, (control.StateSpace, control.TransferFunction)):
        lyap = lyapunov_stability(system, solver=solver)
        lyap.local = local
        certs.append(lyap)
        system = LureSystem.from_control(system)
    if system.nv and not system.is_acyclic:
        certs.append(well_posedness(system, solver=solver))
    certs.append(contraction(system, solver=solver, local=local))
    if system.nu:
        certs.append(incremental_l2_gain(system, solver=solver, local=local))
    return Report(label, certs)
