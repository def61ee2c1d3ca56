"""Estimators with one contract (scikit-learn style): ``est = N4SID(nx=4).fit(data)``.

Names load lazily so that linear estimators never import torch.
"""

from __future__ import annotations

import importlib

from ._base import BaseEstimator

_LAZY = {
    "N4SID": "._linear",
    "ARX": "._linear",
    "OE": "._polynomial",
    "ARMAX": "._polynomial",
    "BJ": "._polynomial",
    "NeuralNetStep": "._neural",
    "MatrixStep": "._neural",
    "NeuralODE": "._neural",
    "NeuralODEMatrix": "._neural",
    "NeuralEstimator": "._neural_base",
    "LSTM": "._lstm",
    "REN": "._ren",
    "Implicit": "._implicit",
    "RNNDelta": "._irregular",
    "RNNDecay": "._irregular",
    "ODERNN": "._irregular",
    "LatentODE": "._irregular",
}

__all__ = ["BaseEstimator", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sysid.estimators' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
