"""``compare``: how well does a model reproduce measured data (MATLAB's ``compare``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import control
import numpy as np

from .iodata import IOData, as_experiments
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
        return LureSystem.from_control(model)
    if isinstance(model, LureSystem) or _is_estimator(model):
        return model
    raise TypeError(
        "compare expects a control.StateSpace, a sysid.LureSystem or a fitted sysid estimator; got "
        f"{type(model).__name__}."
    )


def compare(model, data, *, horizon: int | None = None, x0="zero", skip: int = 0):
    """Simulate (or predict) ``data`` with ``model`` and score the fit per output.

    Parameters
    ----------
    model : control.StateSpace, LureSystem or fitted estimator
    data : IOData or list of IOData
        One experiment, or several (then a list of results is returned).
    horizon : int, optional
        ``None`` for free-run simulation, k for k-step-ahead prediction.
    x0 : {"zero", "estimate"} or array_like, shape (nx,)
        Initial state. ``"zero"``: zeros (an estimator's own default initial state);
        ``"estimate"``: least squares on the first ``skip`` samples (the whole record when
        ``skip = 0``).
    skip : int
        Number of initial samples excluded from the score.

    Returns
    -------
    CompareResult or list of CompareResult
    """
    experiments = as_experiments(data)
    results = [_compare_one(_as_model(model), d, horizon=horizon, x0=x0, skip=skip) for d in experiments]
    return results[0] if isinstance(data, IOData) else results


def _compare_one(model, data: IOData, *, horizon, x0, skip) -> CompareResult:
    if not isinstance(skip, (int, np.integer)) or skip < 0:
        raise ValueError(f"skip must be an int >= 0; got {skip!r}.")
    if skip >= data.N - 1:
        raise ValueError(f"skip = {skip} leaves fewer than 2 of the {data.N} samples to score.")
    estimator = not isinstance(model, LureSystem)
    if isinstance(x0, str):
        if x0 == "zero":
            x_init = None if estimator else np.zeros(model.nx)
        elif x0 == "estimate":
            x_init = model.estimate_x0(data, n=skip if skip > 0 else None)
        else:
            raise ValueError(f"x0 must be 'zero', 'estimate' or an array of shape (nx,); got {x0!r}.")
    else:
        x_init = np.asarray(x0, dtype=float)
    if horizon is None:
        if estimator and data.is_uniform:
            y_model = model.simulate(data.u, x0=x_init)
        elif estimator:
            import inspect

            if "t" not in inspect.signature(model.simulate).parameters:
                raise ValueError(f"{type(model).__name__} simulates at a fixed sampling period; the data are "
                                 "irregularly sampled (IOData with t). Use a continuous-time model (NeuralODE).")
            y_model = model.simulate(data.u, x0=x_init, t=data.t)
        else:
            if not model.is_continuous:
                model._data(data)  # checks channels and dt
            y_model = model.simulate(data.u, x_init, t=data.t if model.is_continuous else None)
        kind = "simulation"
    else:
        if not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"horizon must be None (simulation) or an int >= 1; got {horizon!r}.")
        y_model = model.predict(data, horizon=int(horizon)) if estimator else \
            model.predict(data, horizon=int(horizon), x0=x_init)
        kind = "prediction"
    y_model = np.asarray(y_model, dtype=float)
    if y_model.shape != data.y.shape:
        raise ValueError(f"the model returned an output of shape {y_model.shape}; the data has {data.y.shape}.")
    yt, ym = data.y[skip:], y_model[skip:]
    return CompareResult(
        fit_percent=fit_percent(yt, ym), nrmse=nrmse(yt, ym), rmse=rmse(yt, ym), r2=r2(yt, ym),
        y_model=y_model, y_true=data.y, kind=kind, horizon=horizon, skip=int(skip),
        x0=None if x_init is None else np.asarray(x_init), t=data.t,
        output_names=list(data.output_names), output_units=list(data.output_units),
    )
