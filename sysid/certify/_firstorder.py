"""Structure-exploiting first-order path for large contraction LMIs (placeholder)."""

from __future__ import annotations

__all__ = ["contraction_firstorder"]


def contraction_firstorder(lure, rate, margin):
    return None


def gain_firstorder(lure, margin):
    return None
