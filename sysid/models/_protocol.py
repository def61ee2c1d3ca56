"""The sequence-module protocol: what the training engine and the estimators expect of a model.

A *sequence module* is a ``torch.nn.Module`` that simulates a dynamic system free-run:

* integer attributes ``nx, nu, ny`` (states, inputs, outputs);
* ``forward(u (B, T, nu), x0 (B, nx)) -> y (B, T, ny)`` — free-run simulation from x0, in the
  units the module trains in (normalized signals inside an estimator);
* ``to_lure(dt) -> LureSystem`` — its exact Lur'e form, ``dt`` being the sampling period of the
  data it trains on (continuous-time modules count time in samples and return the continuous
  system in the time unit of ``dt``); a model that is no Lur'e system (an LSTM: its gates
  multiply) raises ``NotImplementedError`` with a pointer to linearization.

Optional: ``forward_states(u, x0) -> (y (B, T, ny), x (B, T, nx))`` with x[:, t] the state
entering step t (needed by the ``Simulated`` initial-state strategy), and a keyword ``dt``
(B, T − 1) in ``forward`` for irregularly sampled records (continuous-time modules).
"""

from __future__ import annotations

import inspect
from numbers import Integral
from typing import Protocol, runtime_checkable

__all__ = ["SequenceModule", "check_sequence_module"]


@runtime_checkable
class SequenceModule(Protocol):
    """Structural type of every model the engine trains (see the module docstring)."""

    nx: int
    nu: int
    ny: int

    def forward(self, u, x0):  # pragma: no cover - protocol
        ...

    def to_lure(self, dt: float):  # pragma: no cover - protocol
        ...


def check_sequence_module(module, *, owner: str = "train", need_states: bool = False) -> None:
    """Raise a ``TypeError`` that says what is missing when ``module`` does not follow the protocol.

    Parameters
    ----------
    module : object
        The candidate module.
    owner : str
        Who asks (named in the message).
    need_states : bool
        Also require ``forward_states(u, x0) -> (y, x)``.
    """
    import torch

    name = type(module).__name__
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{owner} needs a torch.nn.Module following sysid.models.SequenceModule; got {name}.")
    for attr in ("nx", "nu", "ny"):
        v = getattr(module, attr, None)
        if not isinstance(v, Integral) or isinstance(v, bool) or v < 0:
            raise TypeError(f"{owner}: the module {name} must have an int attribute {attr!r} >= 0 "
                            f"(sysid.models.SequenceModule); got {v!r}.")
    params = list(inspect.signature(module.forward).parameters)
    if len(params) < 2:
        raise TypeError(f"{owner}: {name}.forward must take (u (B, T, nu), x0 (B, nx)); its signature is "
                        f"{inspect.signature(module.forward)}.")
    if need_states and not callable(getattr(module, "forward_states", None)):
        raise TypeError(f"{owner}: {name} has no forward_states(u, x0) -> (y, x), which this initial-state "
                        "strategy needs (the state along the record). Use x0='fit', 'burn_in' or 'encoder'.")
