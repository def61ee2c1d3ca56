"""sysid: system identification in control-theory style.

Every model is an LTI system in feedback with a static nonlinearity (a Lur'e / LFT
system). Linear estimators return python-control ``StateSpace`` objects; neural
estimators export to :class:`LureSystem` and to linearizations; certificates are
LMIs solved with cvxpy.

``import sysid`` is light: torch, cvxpy and matplotlib load only when a submodule
that needs them is used.
"""

from __future__ import annotations

import importlib

from .core.iodata import IOData
from .core.lure import LureSystem
from .core.compare import CompareResult, compare
from .core.resid import ResidResult, resid
from .core import metrics
from .exceptions import ConvergenceError, DivergenceError, NotFittedError, SolverError
from . import delta

__version__ = "0.1.0"

_LAZY_SUBMODULES = {
    "datasets", "linear", "estimators", "certify", "training", "models",
    "solvers", "plot", "benchmarks", "cli", "report", "sweep",
}

__all__ = [
    "IOData", "LureSystem", "compare", "CompareResult", "resid", "ResidResult", "metrics", "delta",
    "ConvergenceError", "DivergenceError", "NotFittedError", "SolverError",
    *sorted(_LAZY_SUBMODULES),
]


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'sysid' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY_SUBMODULES)
