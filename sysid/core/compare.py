"""``compare``: how well does a model reproduce measured data (MATLAB's ``compare``)."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field

import control
import numpy as np

from ..exceptions import ConvergenceError
from .iodata import IOData, as_experiments, as_real_array
from .lure import LureSystem
from .metrics import fit_percent, nrmse, r2, rmse

__all__ = ["CompareResult", "compare"]


@dataclass(frozen=True)
class CompareResult:
    """Result of :func:`compare` for one experiment.

    Attributes
    ----------
    fit_percent, nrmse, rmse, r2 : ndarray, shape (ny,)
        Scores on samples ``skip:`` of the record.
    y_model : ndarray, shape (N, ny)
        Simulated or predicted output over the whole record.
    y_true : ndarray, shape (N, ny)
    kind : str
        ``"simulation"`` (free run) or ``"prediction"`` (``horizon``-step ahead).
    horizon : int or None
    skip : int
        Samples excluded from the score (used to set the initial state with ``x0="estimate"``).
    x0 : ndarray or None
        Initial state used (None when the estimator chose its own).
    t : ndarray, shape (N,)
    output_names, output_units : list of str
    """

    fit_percent: np.ndarray
    nrmse: np.ndarray
    rmse: np.ndarray
    r2: np.ndarray
    y_model: np.ndarray
    y_true: np.ndarray
    kind: str
    horizon: int | None
    skip: int
    x0: np.ndarray | None
    t: np.ndarray
    output_names: list = field(default_factory=list)
    output_units: list = field(default_factory=list)

    def __str__(self) -> str:
        what = "free-run simulation" if self.kind == "simulation" else f"{self.horizon}-step prediction"
        lines = [f"compare ({what}, scored on samples {self.skip}:{len(self.y_true)})",
                 f"{'output':<16}{'fit %':>10}{'NRMSE':>12}{'RMSE':>14}"]
        for i, name in enumerate(self.output_names):
            unit = f" [{self.output_units[i]}]" if self.output_units and self.output_units[i] else ""
            lines.append(f"{(name + unit):<16}{self.fit_percent[i]:>10.2f}{self.nrmse[i]:>12.4g}{self.rmse[i]:>14.4g}")
        return "\n".join(lines)


def _is_estimator(model) -> bool:
    return hasattr(model, "fit") and hasattr(model, "simulate") and hasattr(model, "get_params")


def _as_model(model):
    if isinstance(model, control.TransferFunction):
        model = control.ss(model)
    if isinstance(model, control.StateSpace):
        return LureSystem.from_control(model)  # a continuous one gets the zero-order-hold warning
    if isinstance(model, LureSystem) or _is_estimator(model):
        return model
    raise TypeError(
        "compare expects a control.StateSpace, a sysid.LureSystem or a fitted sysid estimator; got "
        f"{type(model).__name__}."
    )


def compare(model, data, *, horizon: int | None = None, x0=None, skip: int = 0):
    """Simulate (or predict) ``data`` with ``model`` and score the fit per output.

    Parameters
    ----------
    model : control.StateSpace, LureSystem or fitted estimator
    data : IOData or list of IOData
        One experiment, or several (then a list of results is returned).
    horizon : int, optional
        ``None`` for free-run simulation, k for k-step-ahead prediction.
    x0 : {"zero", "estimate"} or array_like, shape (nx,), optional
        Initial state. ``"zero"``: zeros (an estimator's own default initial state);
        ``"estimate"``: least squares on the first ``skip`` samples (the whole record when
        ``skip = 0``). Default (None): ``"zero"``, with a warning when the model has no
        input (nu = 0): its output then depends on the initial state only.
    skip : int
        Number of initial samples excluded from the score.

    Returns
    -------
    CompareResult or list of CompareResult

    Raises
    ------
    ValueError
        When the model and the data disagree: channels, sampling period (a discrete-time
        model at dt = 1 scored on data at dt = 0.1), irregular samples for a fixed-rate model,
        a prediction horizon not shorter than the record.
    ConvergenceError
        When the model's output is not finite.

    Warns
    -----
    UserWarning
        A continuous-time ``control.StateSpace`` (python-control's default ``dt = 0``) on
        sampled data: it is simulated with a zero-order hold, as ``control.c2d(model, dt,
        "zoh")``; pass that (or build the model with its sampling period) to be explicit.
    """
    experiments = as_experiments(data)
    model = _as_model(model)  # converted once, for every experiment
    results = [_compare_one(model, d, horizon=horizon, x0=x0, skip=skip) for d in experiments]
    return results[0] if isinstance(data, IOData) else results


def _estimator_dt(model) -> tuple[float | None, bool]:
    """(sampling period the estimator was fitted at, whether it simulates at other sample times)."""
    dt = getattr(model, "dt_", None)
    flexible = bool(getattr(model, "_irregular_ok", False)) and "t" in inspect.signature(model.simulate).parameters
    return (None if dt is None else float(dt)), flexible


def _check_time_base(model, data: IOData, estimator: bool, horizon) -> bool:
    """Refuse a sampling-period mismatch; returns True when the estimator must be given t=data.t."""
    name = type(model).__name__
    if estimator:
        dt, flexible = _estimator_dt(model)
        if not data.is_uniform:
            if not flexible:
                raise ValueError(f"{name} simulates at a fixed sampling period; the data are irregularly sampled "
                                 "(IOData with t). Use a continuous-time model (NeuralODE) or resample the data.")
            return True
        if dt is None or np.isclose(data.dt, dt, rtol=1e-9):
            return False
        if flexible:
            return True  # continuous time: integrate over the data's own sample times
        raise ValueError(
            f"{name} was fitted on data sampled at dt = {dt:g}, but these data are sampled at dt = {data.dt:g}; "
            f"a discrete-time model only runs at its own sampling period. Resample the data to dt = {dt:g} "
            f"(e.g. data[::k] when dt is k times the data's period) or fit the model on data at dt = {data.dt:g}."
        )
    if model.is_continuous:
        if data.is_uniform and getattr(model, "_from_control", False):
            warnings.warn(
                f"compare: the model is a continuous-time StateSpace (dt = 0, python-control's default when no "
                f"sampling period is given) and the data are sampled at dt = {data.dt:g}; it is simulated with the "
                f"input held between samples (zero-order hold), i.e. as control.c2d(model, {data.dt:g}, 'zoh'). If "
                f"the model is already discrete, give it its sampling period (control.ss(A, B, C, D, {data.dt:g})); "
                f"to say that the zero-order hold is meant, pass control.c2d(model, {data.dt:g}, 'zoh').",
                UserWarning, stacklevel=4,
            )
        if horizon is not None:
            raise ValueError("k-step prediction needs a discrete-time model; this one is continuous (dt = 0). "
                             "Discretize it first (control.c2d) or use horizon=None.")
    else:
        model._data(data)  # channels and dt
    return False


def _compare_one(model, data: IOData, *, horizon, x0, skip) -> CompareResult:
    if not isinstance(skip, (int, np.integer)) or isinstance(skip, bool) or skip < 0:
        raise ValueError(f"skip must be an int >= 0; got {skip!r}.")
    if skip >= data.N - 1:
        raise ValueError(f"skip = {skip} leaves fewer than 2 of the {data.N} samples to score.")
    if horizon is not None:
        if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 1:
            raise ValueError(f"horizon must be None (simulation) or an int >= 1; got {horizon!r}.")
        if horizon >= data.N:
            raise ValueError(
                f"horizon = {horizon} is not shorter than the record (N = {data.N} samples): every sample would be "
                f"predicted without using the measured outputs. Use horizon <= {data.N - 1}, or horizon=None for a "
                "free-run simulation."
            )
    estimator = not isinstance(model, LureSystem)
    if not estimator and (model.nu, model.ny) != (data.nu, data.ny):
        raise ValueError(f"data has (nu, ny) = ({data.nu}, {data.ny}) but the model has ({model.nu}, {model.ny}).")
    use_t = _check_time_base(model, data, estimator, horizon)
    if x0 is None:
        nu = getattr(model, "nu_", None) if estimator else model.nu
        if nu == 0:
            warnings.warn(
                f"compare: the model has no input (nu = 0), so its output is set by the initial state alone, and "
                f"x0 defaults to zeros ('zero'); the fit says little about the model. Pass x0='estimate' (fitted to "
                f"the first samples; with skip=k they are left out of the score) or the measured initial state, "
                f"or x0='zero' to keep zeros without this warning.",
                UserWarning, stacklevel=3,
            )
        x0 = "zero"
    if isinstance(x0, str):
        if x0 == "zero":
            x_init = None if estimator else np.zeros(model.nx)
        elif x0 == "estimate":
            x_init = model.estimate_x0(data, n=skip if skip > 0 else None)
        else:
            raise ValueError(f"x0 must be 'zero', 'estimate' or an array of shape (nx,); got {x0!r}.")
    else:
        x_init = as_real_array(x0, "x0")
        if x_init.ndim != 1 or not np.all(np.isfinite(x_init)):
            raise ValueError(f"x0 must be 'zero', 'estimate' or a finite array of shape (nx,); got an array of "
                             f"shape {x_init.shape}{'' if np.all(np.isfinite(x_init)) else ' with NaN or inf'}.")
    if horizon is None:
        if estimator and not use_t:
            y_model = model.simulate(data.u, x0=x_init)
        elif estimator:
            y_model = model.simulate(data.u, x0=x_init, t=data.t)
        else:
            y_model = model.simulate(data.u, x_init, t=data.t if model.is_continuous else None)
        kind = "simulation"
    else:
        y_model = model.predict(data, horizon=int(horizon)) if estimator else \
            model.predict(data, horizon=int(horizon), x0=x_init)
        kind = "prediction"
    y_model = as_real_array(y_model, "the model output")
    if y_model.shape != data.y.shape:
        raise ValueError(f"the model returned an output of shape {y_model.shape}; the data has {data.y.shape}.")
    bad = ~np.all(np.isfinite(y_model), axis=1)
    if bad.any():
        raise ConvergenceError(
            f"the model's {'simulation' if horizon is None else 'prediction'} is not finite from sample "
            f"{int(np.flatnonzero(bad)[0])} on (NaN or inf); the model diverges on these data or is broken "
            "(e.g. trained on badly scaled data). No fit is computed from it."
        )
    yt, ym = data.y[skip:], y_model[skip:]
    return CompareResult(
        fit_percent=fit_percent(yt, ym), nrmse=nrmse(yt, ym), rmse=rmse(yt, ym), r2=r2(yt, ym),
        y_model=y_model, y_true=data.y, kind=kind, horizon=horizon, skip=int(skip),
        x0=None if x_init is None else np.asarray(x_init), t=data.t,
        output_names=list(data.output_names), output_units=list(data.output_units),
    )
