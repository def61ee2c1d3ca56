"""Nonlinearities Δ for Lur'e systems (``sysid.delta.Tanh()``, ...). See :mod:`sysid.core.delta`."""

from .core.delta import (  # noqa: F401
    Identity, LeakyReLU, Nonlinearity, ReLU, Sigmoid, Tanh, ZMinusSin, from_dict, get,
)
from .core.delta import __all__  # noqa: F401
