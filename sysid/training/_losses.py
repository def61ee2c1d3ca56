"""Losses as objects: where the windows lie in a record, and how a window is scored.

A :class:`Loss` gives the layout of the scored windows in a record (``layout``), the data term
of one batch (``data_term``: a sum of squared errors and its count, so batches of different
window lengths average correctly) and an optional ``regularization(module)`` added once per
step — the place for later terms (an equilibrium penalty, an ELBO's KL) without touching the
engine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Loss", "Simulation", "Truncated", "KStep", "as_loss"]


class Loss:
    """Base class: mean squared error of the normalized outputs over the scored samples."""

    name = "loss"
    horizon: int | None = None

    def layout(self, a: int, b: int) -> list[tuple[int, int]]:  # pragma: no cover - abstract
        """Scored windows (start, length) inside the samples [a, b) of one record."""
        raise NotImplementedError

    def data_term(self, y_hat, y):
        """(sum of squared errors, number of terms) of one batch; y_hat, y (B, T, ny)."""
        err = (y_hat - y) ** 2
        return err.sum(), err.numel()

    def regularization(self, module):
        """Extra term added once per step (default none)."""
        return 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.horizon is None else f"{type(self).__name__}(horizon={self.horizon})"


class Simulation(Loss):
    """Each record (or its training / validation part) whole: one free-run simulation."""

    name = "simulation"

    def layout(self, a, b):
        return [(a, b - a)] if b - a >= 1 else []


def _horizon(h, name):
    if not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h < 2:
        raise ValueError(f"loss={name!r} needs horizon (the window length) as an int >= 2; got {h!r}.")
    return int(h)


class Truncated(Loss):
    """Consecutive windows of ``horizon`` samples (truncated simulation / multiple shooting).

    A part shorter than the horizon is one window, whole; the last window is aligned with the
    end of the part, so every sample is scored and all windows of a part have one length.
    """

    name = "truncated"

    def __init__(self, horizon: int = 100):
        self.horizon = _horizon(horizon, self.name)

    def _stride(self, H: int) -> int:
        return H

    def layout(self, a, b):
        n = b - a
        if n < 1:
            return []
        H = min(self.horizon, n)
        starts = list(range(a, b - H + 1, self._stride(H)))
        if starts[-1] + H < b:
            starts.append(b - H)
        return [(s, H) for s in starts]


class KStep(Truncated):
    """A window of ``horizon`` samples at every sample (k-step-ahead prediction error)."""

    name = "kstep"

    def __init__(self, horizon: int = 20):
        super().__init__(horizon)

    def _stride(self, H: int) -> int:
        return 1


def as_loss(loss, horizon=None) -> Loss:
    """A :class:`Loss` from a name (``"simulation"``, ``"truncated"``, ``"kstep"``) and a horizon."""
    if isinstance(loss, Loss):
        return loss
    if loss == "simulation":
        return Simulation()
    if loss in ("truncated", "kstep"):
        if horizon is None:
            raise ValueError(f"loss={loss!r} needs horizon (the window length) as an int >= 2; got None.")
        return Truncated(horizon) if loss == "truncated" else KStep(horizon)
    raise ValueError(f"loss must be one of ['simulation', 'truncated', 'kstep'] or a sysid.training.Loss; "
                     f"got {loss!r}.")
