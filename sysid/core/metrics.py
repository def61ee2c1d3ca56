"""Fit metrics, one value per output channel (shape (ny,)).

``fit_percent = 100 (1 − ‖e‖ / ‖y − ȳ‖)`` (MATLAB's NRMSE fit), ``nrmse = ‖e‖ / ‖y − ȳ‖``
(= RMSE / std), ``rmse``, ``r2 = 1 − ‖e‖² / ‖y − ȳ‖²``. Each says nothing about whether the
prediction is a free-run simulation or a k-step prediction: :func:`sysid.compare` records that.
"""

from __future__ import annotations

import numpy as np

from .iodata import as_signal

__all__ = ["fit_percent", "nrmse", "rmse", "r2"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    yt = as_signal(y_true, "y_true", allow_empty_channels=False)
    yp = as_signal(y_pred, "y_pred", allow_empty_channels=False)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape (N, ny); got {yt.shape} and {yp.shape}.")
    if yt.shape[0] == 0:
        raise ValueError("y_true is empty (0 samples); metrics need at least one sample.")
    return yt, yp


def _scaled(yt: np.ndarray, yp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both signals divided by a per-channel scale (so that squares cannot overflow or underflow)."""
    scale = np.maximum(np.max(np.abs(yt), axis=0), np.max(np.abs(yp), axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    return yt / scale, yp / scale, scale


def _spread(yt: np.ndarray) -> np.ndarray:
    """‖y − ȳ‖ per channel of an already scaled signal."""
    spread = np.linalg.norm(yt - yt.mean(axis=0), axis=0)
    if np.any(spread == 0):
        chans = np.flatnonzero(spread == 0).tolist()
        raise ValueError(
            f"y_true is constant on output channels {chans}; NRMSE, fit % and R² are undefined "
            "there (they divide by the deviation from the mean). Use rmse instead."
        )
    return spread


def rmse(y_true, y_pred) -> np.ndarray:
    """Root-mean-square error per output, shape (ny,), in the units of y."""
    yt, yp = _pair(y_true, y_pred)
    st, sp, scale = _scaled(yt, yp)
    with np.errstate(over="ignore"):
        out = scale * np.sqrt(np.mean((st - sp) ** 2, axis=0))
    if not np.all(np.isfinite(out)):
        raise ValueError("the RMSE overflows float64 (the signals are near 1e308); rescale y_true and y_pred.")
    return out


def nrmse(y_true, y_pred) -> np.ndarray:
    """‖y − ŷ‖ / ‖y − ȳ‖ per output (= RMSE / standard deviation of y), shape (ny,)."""
    yt, yp = _pair(y_true, y_pred)
    st, sp, _ = _scaled(yt, yp)
    with np.errstate(over="ignore"):
        out = np.linalg.norm(st - sp, axis=0) / _spread(st)
    if not np.all(np.isfinite(out)):
        raise ValueError("the NRMSE overflows float64: y_true barely varies compared with the error "
                         f"(NRMSE > 1e308 on channels {np.flatnonzero(~np.isfinite(out)).tolist()}).")
    return out


def fit_percent(y_true, y_pred) -> np.ndarray:
    """100 (1 − NRMSE) per output, shape (ny,); 100 is a perfect fit, can be negative."""
    return 100.0 * (1.0 - nrmse(y_true, y_pred))


def r2(y_true, y_pred) -> np.ndarray:
    """Coefficient of determination 1 − NRMSE² per output, shape (ny,)."""
    e = nrmse(y_true, y_pred)
    with np.errstate(over="ignore"):
        out = 1.0 - e**2
    if not np.all(np.isfinite(out)):
        raise ValueError("R² overflows float64: the error is more than 1e154 times the spread of y_true.")
    return out
