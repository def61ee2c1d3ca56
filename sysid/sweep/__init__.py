"""Hyper-parameter and seed sweeps: fit an estimator over a grid × seeds, score every fit with
:func:`sysid.compare`, keep the best.

Two backends run the same trial function, so the same seeds give the same table on both (CPU,
float64, ``threads`` torch threads per trial):

* ``"local"`` (default): processes on this machine (``concurrent.futures``, spawned workers), no
  extra dependency;
* ``"ray"``: Ray Tune (``pip install "sysid[distributed]"``), a local Ray instance by default or a
  cluster with ``address=``; with ``scheduler="asha"`` bad trials stop early (asynchronous
  successive halving, Li et al. 2020) on the engine's per-epoch validation loss or, with
  ``ASHA(metric="score")``, on the sweep's own score at the rung, reported through the
  ``callback`` hook of :func:`sysid.training.train`.

Every finished trial is appended to a JSON-lines file as it comes (``results=``); running the same
sweep again with that file redoes only the trials it lacks. A trial that raises is recorded with
its error and never stops the sweep. Bad input (an unknown backend, a parameter the estimator does
not have, a grid value it refuses) is refused before any trial starts. See docs/cluster.md.

References
----------
L. Li, K. Jamieson, A. Rostamizadeh et al., "A system for massively parallel hyperparameter
tuning", MLSys 2020 (ASHA).
"""

from __future__ import annotations

import itertools
import math
import os
import time
import warnings

import numpy as np

from ..core.iodata import as_experiments
from ._plan import BACKENDS, METRICS, _clone, _dry_check, _key, _plain, _points, _signature, sample_grid
from ._local import _run_local
from ._ray import ASHA, _max_epochs, _run_ray
from ._records import SweepResult, _read_records, _Sink
from ._trial import _run_trial, _takes_callback

__all__ = ["ASHA", "SweepResult", "sample_grid", "sweep"]


def sweep(estimator, data, val, *, grid=None, seeds=(0,), backend: str = "local", workers: int | None = None,
          results: str | os.PathLike | None = None, metric: str = "fit_percent", score_kwargs: dict | None = None,
          scheduler=None, address: str | None = None, threads: int | None = 1, progress: bool = False,
          on_trial=None, evaluate=None, score_at=None) -> SweepResult:
    """Fit ``estimator`` at every grid point × seed, score each on ``val``, return the table and the best fit.

    Parameters
    ----------
    estimator : estimator
        The template (unfitted); every trial is a copy with the grid point and the seed set
        through ``set_params``.
    data : IOData or list of IOData
        Training records (the estimator carves its own early-stopping part, ``val_fraction``).
    val : IOData or list of IOData
        Scoring records: free-run simulation by :func:`sysid.compare` (``score_kwargs`` are
        passed on, e.g. ``dict(x0="estimate", skip=5)``), averaged over records.
    grid : dict or list of dict, optional
        name → list of values (the Cartesian product), or explicit points (:func:`sample_grid`).
        Values are numbers, strings, bools or None.
    seeds : sequence of int, or None
        Every grid point runs with every seed; None keeps the estimator's own seed.
    backend : {"local", "ray"}
    workers : int, optional
        Concurrent trials: processes for ``"local"`` (default 1: the trials run one after another
        in this process), CPUs of the local Ray instance
        for ``"ray"`` (default: all; with ``address=``, concurrent trials on the cluster).
    results : path, optional
        JSON-lines file: each trial is appended when it ends; trials already there are not
        run again (resume).
    metric : {"fit_percent", "r2", "nrmse", "rmse"}
        Which score picks the best trial (mean over outputs).
    scheduler : None, "asha" or ASHA
        Early stopping of bad trials (backend "ray" only).
    address : str, optional
        Ray cluster address (``"auto"``, ``"ray://head:10001"``); default a local instance.
    threads : int, optional
        Torch threads per trial (1: reproducible tables, as many trials as cores).
    progress : bool
        A progress bar over trials (each trial's outcome also goes to the ``sysid.sweep`` logger).
    on_trial : callable, optional
        ``on_trial(record)`` whenever a trial ends.
    evaluate : callable, optional
        ``evaluate(fitted_estimator)`` → a dict of JSON values, run in the trial after scoring and
        kept in its record as ``"evaluation"`` (e.g. a benchmark's own protocol on several test
        sets). It travels to the workers: a module-level function or a ``functools.partial``.
    score_at : sequence of int, optional
        Epoch counts at which every trial is also scored during training (the model as the engine
        scores it at that epoch, in the run that validates: before a refit), kept in its record as
        ``"epoch_scores"`` ({"8": 81.2, ...}; None where the model could not be simulated). The
        learning curves of the score, e.g. to choose ASHA's rungs from a few full trials;
        ``ASHA(metric="score")`` adds its rungs itself.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError, TypeError, ImportError
        Bad input, before any trial runs: an unknown backend, a grid name the estimator does not
        have, a value its validation refuses, ``scheduler`` without Ray, Ray not installed.
    """
    t_start = time.perf_counter()
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; got {backend!r}. Use 'local' (processes on this "
                         "machine) or 'ray' (Ray Tune; pip install \"sysid[distributed]\").")
    for need in ("get_params", "set_params", "fit"):
        if not callable(getattr(estimator, need, None)):
            raise TypeError(f"sweep expects a sysid estimator (get_params, set_params, fit); got "
                            f"{type(estimator).__name__}, which has no {need}().")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}; got {metric!r}.")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be an int >= 1 or None; got {workers!r}.")
    if threads is not None and (not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"threads must be an int >= 1 or None; got {threads!r}.")
    if scheduler is not None:
        if isinstance(scheduler, str) and scheduler == "asha":
            scheduler = ASHA()
        if not isinstance(scheduler, ASHA):
            raise ValueError(f"scheduler must be None, 'asha' or sysid.sweep.ASHA(...); got {scheduler!r}.")
        scheduler.validate()
        if backend != "ray":
            raise ValueError("scheduler='asha' stops trials through Ray Tune; use backend='ray' (or scheduler=None "
                             "with the local backend).")
        if not _takes_callback(estimator):
            raise ValueError(f"scheduler='asha' needs per-epoch losses; {type(estimator).__name__}.fit takes no "
                             "callback (neural estimators do).")
    if score_at is not None:
        at = [_plain(e) for e in np.atleast_1d(np.asarray(score_at, dtype=object))]
        if not at or any(not isinstance(e, int) or isinstance(e, bool) or e < 1 for e in at):
            raise ValueError(f"score_at must be a sequence of epoch counts (ints >= 1); got {score_at!r}.")
        score_at = sorted(set(at))
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"evaluate must be a callable evaluate(fitted_estimator) -> dict; got {evaluate!r}.")
    if address is not None and backend != "ray":
        raise ValueError(f"address={address!r} is a Ray cluster address; use it with backend='ray'.")
    if backend == "ray":
        try:
            import ray  # noqa: F401
            from ray import tune  # noqa: F401
        except ImportError as err:
            raise ImportError('backend="ray" needs Ray Tune: pip install "sysid[distributed]" (or "ray[tune]"); '
                              f"importing it failed: {err}") from err
    score_kwargs = dict(score_kwargs or {})
    owner = type(estimator).__name__
    params = list(estimator.get_params())
    points = _points(grid, params, owner)
    if seeds is None:
        seeds = [None]
    else:
        seeds = [_plain(s) for s in seeds]
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
            raise ValueError(f"seeds must be a non-empty sequence of ints >= 0, or None; got {seeds!r}.")
        if "seed" not in params:
            raise ValueError(f"{owner} has no 'seed' parameter; use seeds=None.")
    exps = as_experiments(data)
    vals = as_experiments(val)
    nu, ny = exps[0].nu, exps[0].ny
    if (vals[0].nu, vals[0].ny) != (nu, ny):
        raise ValueError(f"val has (nu, ny) = ({vals[0].nu}, {vals[0].ny}) but data has ({nu}, {ny}).")
    grid_names = sorted({k for p in points for k in p})
    sweep_id = _signature(estimator, grid_names)
    specs = []
    for p, s in itertools.product(points, seeds):
        i = len(specs)
        _dry_check(_clone(estimator, p, s), p, s, nu, ny, f"trial {i} of {len(points) * len(seeds)}")
        specs.append({"trial": i, "key": _key(p, s), "sweep": sweep_id, "estimator": owner, "params": p, "seed": s,
                      "metric": metric, "evaluate": evaluate})
    keys = [s["key"] for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("the grid repeats a point (the same parameters and seed twice); remove the duplicates.")
    if scheduler is not None and not scheduler.rungs(_max_epochs(estimator, specs)):
        raise ValueError(f"ASHA's grace_period ({scheduler.grace_period}) is not below the epochs of a trial "
                         f"({scheduler.max_t or _max_epochs(estimator, specs)}): there is no epoch at which to stop a "
                         "trial. Give a smaller grace_period or more epochs.")
    if scheduler is not None and scheduler.metric == "score":
        rungs = [int(math.ceil(r)) for r in scheduler.rungs(_max_epochs(estimator, specs))]
        score_at = sorted(set(score_at or []) | set(rungs))
    for spec in specs:
        spec["score_at"] = score_at
    path = os.fspath(results) if results is not None else None
    done = _read_records(path, sweep_id)
    sink = _Sink(path, len(specs), sum(k in done for k in keys), progress, metric, on_trial)
    for spec in specs:
        if spec["key"] in done:
            sink.add({**done[spec["key"]], "trial": spec["trial"]}, write=False)
    pending = [s for s in specs if s["key"] not in done]
    try:
        if pending:
            if backend == "local":
                _run_local(pending, estimator, data, val, score_kwargs, threads, workers or 1, sink)
            else:
                _run_ray(pending, estimator, data, val, score_kwargs, threads, workers, sink, scheduler, address)
    finally:
        sink.close()
    records = [sink.records[s["trial"]] for s in specs if s["trial"] in sink.records]
    out = SweepResult(records=records, best_estimator=None, metric=metric, path=path, backend=backend,
                      resumed=sum(k in done for k in keys))
    best = out.best_record
    if best is not None:
        if sink.best is not None and sink.best[1]["trial"] == best["trial"]:
            out.best_estimator = sink.best[2]
        else:  # resumed from the file or fitted on Ray: refit (same seed, same table row)
            spec = next(s for s in specs if s["trial"] == best["trial"])
            rec, est = _run_trial(spec, estimator, data, val, score_kwargs, threads)
            out.best_estimator = est
            if rec["status"] != "ok" or not np.isclose(rec["score"], best["score"], rtol=1e-6, atol=1e-9):
                warnings.warn(f"sweep: refitting the best trial {best['trial']} gave {metric} {rec['score']} instead "
                              f"of {best['score']} (a different machine or thread count?); the refitted estimator "
                              "is returned.", RuntimeWarning, stacklevel=2)
    out.wall_seconds = time.perf_counter() - t_start
    return out

