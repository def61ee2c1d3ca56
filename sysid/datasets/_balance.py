"""Balanced realization, re-exported for the dataset and LSTM helpers.

The square-root balancing routine lives in :mod:`sysid.core.lti` (numpy/scipy only; it does
not need slycot); this module only gives it the import path ``sysid.datasets._balance``.
"""

from __future__ import annotations

from ..core.lti import balanced_realization

__all__ = ["balanced_realization"]
