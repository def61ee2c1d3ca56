"""One training loop for every torch model.

The contract (docs/training.md):

* a model is a :class:`sysid.models.SequenceModule` — ``nx, nu, ny``,
  ``forward(u (B, T, nu), x0 (B, nx)) -> y (B, T, ny)`` and ``to_lure(dt)``;
* a :class:`Loss` says where the windows lie in a record and how they are scored
  (:class:`Simulation`, :class:`Truncated`, :class:`KStep`);
* an :class:`InitialState` says how each window starts and which past samples it reads
  (:class:`Zero`, :class:`Measured`, :class:`Fitted`, :class:`Simulated`, :class:`BurnIn`,
  :class:`Encoder`);
* :class:`TrainConfig` declares every shared setting once; :func:`train` runs the loop and
  returns a :class:`TrainResult`.

Checkpoints carry a SHA-256 of the weights. ``TrainConfig`` and ``TrainResult`` load without
torch; everything else imports it on first use.
"""

from __future__ import annotations

import importlib

from ._config import TrainConfig, TrainResult

_LAZY = {
    "Windows": "._engine", "cut_windows": "._engine", "make_windows": "._engine", "train": "._engine",
    "Loss": "._losses", "Simulation": "._losses", "Truncated": "._losses", "KStep": "._losses", "as_loss": "._losses",
    "InitialState": "._initial", "Zero": "._initial", "Measured": "._initial", "Fitted": "._initial",
    "Simulated": "._initial", "BurnIn": "._initial", "Encoder": "._initial", "as_initial_state": "._initial",
    "save_checkpoint": "._checkpoint", "load_checkpoint": "._checkpoint",
    "train_distributed": "._distributed",
}

__all__ = ["TrainConfig", "TrainResult", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sysid.training' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
