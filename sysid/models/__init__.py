"""Torch modules (parameterizations) trained by :mod:`sysid.training`; each exports to core objects.

Importing this subpackage imports torch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    # the protocol every trained model follows
    "SequenceModule": "._protocol",
    "check_sequence_module": "._protocol",
    # one-step, matrix and NeuralODE modules (training-engine issue)
    "StepModule": ".step",
    "MatrixStepModule": ".step",
    "NeuralODEModule": ".node",
    "NeuralODEMatrixModule": ".node",
    # LSTM and the LSTM <-> LTI bridge
    "LSTMModule": ".lstm",
    "lstm_from_lti": ".lstm_lti",
    "lti_from_lstm": ".lstm_lti",
    "lstm_equilibrium": ".lstm_lti",
    "linearize_lstm": ".lstm_lti",
    # recurrent equilibrium networks
    "RENModule": ".ren",
    # deep equilibrium and monotone equilibrium layers
    "DEQModule": ".deq",
    "MonDEQModule": ".deq",
    "deq_fixed_point": ".deq",
    "IFT": ".deq",
    "Phantom": ".deq",
    # irregularly sampled series
    "RNNDeltaModule": ".irregular",
    "RNNDecayModule": ".irregular",
    "ODERNNModule": ".irregular",
    "LatentODEModule": ".irregular",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sysid.models' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
