"""Hyper-parameter and seed sweeps: fit an estimator over a grid × seeds, score every fit with
:func:`sysid.compare`, keep the best.

Two backends run the same trial function, so the same seeds give the same table on both (CPU,
float64, ``threads`` torch threads per trial):

* ``"local"`` (default): processes on this machine (``concurrent.futures``, spawned workers), no
  extra dependency;
* ``"ray"``: Ray Tune (``pip install "sysid[distributed]"``), a local Ray instance by default or a
  cluster with ``address=``; with ``scheduler="asha"`` bad trials stop early (asynchronous
  successive halving, Li et al. 2020) on the engine's per-epoch validation loss, reported through
  the ``callback`` hook of :func:`sysid.training.train`.

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

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

from .core.iodata import as_experiments

__all__ = ["ASHA", "SweepResult", "sample_grid", "sweep"]

log = logging.getLogger("sysid.sweep")

BACKENDS = ("local", "ray")
METRICS = {"fit_percent": "max", "r2": "max", "nrmse": "min", "rmse": "min"}
_SCORES = ("fit_percent", "nrmse", "rmse", "r2")


@dataclass(frozen=True)
class ASHA:
    """Asynchronous successive halving on the engine's per-epoch validation loss (backend "ray").

    A trial reaching ``grace_period · reduction_factor^k`` epochs goes on only when its best
    validation loss so far is among the best ``1/reduction_factor`` of the trials that reached
    that rung before it; the others stop there (their records say ``status="stopped"``).

    Parameters
    ----------
    grace_period : int, optional
        Epochs before the first rung (default: a ninth of ``max_t``, at least 1).
    reduction_factor : float
    max_t : int, optional
        The epoch count of a full trial (default: the largest ``epochs`` of the sweep).
    """

    grace_period: int | None = None
    reduction_factor: float = 3.0
    max_t: int | None = None

    def validate(self) -> None:
        for name in ("grace_period", "max_t"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1):
                raise ValueError(f"ASHA's {name} must be an int >= 1 or None; got {v!r}.")
        if not (isinstance(self.reduction_factor, (int, float)) and self.reduction_factor > 1):
            raise ValueError(f"ASHA's reduction_factor must be a number > 1; got {self.reduction_factor!r}.")


@dataclass
class SweepResult:
    """The records of a sweep and its best fitted estimator.

    Attributes
    ----------
    records : list of dict
        One per trial, in trial order: ``trial``, ``params`` (the grid point), ``seed``,
        ``status`` (``"ok"``, ``"error"`` or ``"stopped"`` by the scheduler), ``error``,
        ``scores`` (``fit_percent, nrmse, rmse, r2`` per output, free-run simulation of the
        validation data by :func:`sysid.compare`, averaged over its records), ``score`` (the
        metric averaged over outputs), ``fit_seconds``, ``epochs`` (trained), ``history``
        (the :class:`sysid.training.TrainResult` fields), ``warnings``.
    best_estimator : estimator or None
        The fitted estimator of the best ``"ok"`` trial (None when no trial succeeded).
    metric : str
    path : str or None
        The JSON-lines file.
    """

    records: list
    best_estimator: object
    metric: str
    path: str | None = None
    backend: str = "local"
    wall_seconds: float = 0.0
    resumed: int = 0

    @property
    def best_record(self) -> dict | None:
        ok = [r for r in self.records if r["status"] == "ok" and r["score"] is not None and math.isfinite(r["score"])]
        if not ok:
            return None
        sign = 1.0 if METRICS[self.metric] == "max" else -1.0
        return max(ok, key=lambda r: (sign * r["score"], -r["trial"]))

    @property
    def trial_epochs(self) -> int:
        """Epochs trained over all trials (the cost a scheduler saves)."""
        return int(sum(r.get("epochs") or 0 for r in self.records))

    def table(self) -> list[dict]:
        """One flat row per trial: trial, the parameters, seed, status, score, epochs, fit_seconds, error."""
        rows = []
        for r in self.records:
            rows.append({"trial": r["trial"], **r["params"], "seed": r["seed"], "status": r["status"],
                         self.metric: r["score"], "epochs": r.get("epochs"), "fit_seconds": r.get("fit_seconds"),
                         "error": r.get("error")})
        return rows

    def __str__(self) -> str:
        rows = self.table()
        if not rows:
            return "sweep: no trials"
        cols = [c for c in rows[0] if c != "error"]

        def fmt(v):
            if isinstance(v, float):
                return f"{v:.4g}"
            return "" if v is None else str(v)

        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(fmt(row[c]) for c in cols) + " |" for row in rows]
        best = self.best_record
        if best is not None:
            lines.append(f"best: trial {best['trial']} {best['params']} seed {best['seed']}: "
                         f"{self.metric} {best['score']:.4g}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- the plan
def sample_grid(space: dict, n: int, *, seed: int = 0) -> list[dict]:
    """``n`` random points of a search space, for ``sweep(grid=...)`` (random search).

    Parameters
    ----------
    space : dict
        name → a list (uniform choice), ``("uniform", low, high)``, ``("log", low, high)``
        (log-uniform) or ``("int", low, high)`` (integers in [low, high]).
    n : int
    seed : int

    Examples
    --------
    >>> pts = sample_grid({"lr": ("log", 1e-4, 1e-2), "hidden": [16, 32]}, 3, seed=0)
    >>> len(pts), sorted(pts[0])
    (3, ['hidden', 'lr'])
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1; got {n!r}.")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        point = {}
        for name, spec in space.items():
            if isinstance(spec, list) and spec:
                point[name] = _plain(spec[int(rng.integers(len(spec)))])
            elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] in ("uniform", "log", "int"):
                kind, lo, hi = spec
                if kind == "uniform":
                    point[name] = float(rng.uniform(lo, hi))
                elif kind == "log":
                    if not lo > 0:
                        raise ValueError(f"space[{name!r}] = {spec!r}: a log-uniform range needs low > 0.")
                    point[name] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                else:
                    point[name] = int(rng.integers(lo, hi + 1))
            else:
                raise ValueError(f"space[{name!r}] must be a non-empty list of values or a tuple ('uniform' | 'log' | "
                                 f"'int', low, high); got {spec!r}.")
        out.append(point)
    return out


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _points(grid, params: list[str], owner: str) -> list[dict]:
    if grid is None:
        return [{}]
    if isinstance(grid, dict):
        names = list(grid)
        for k, vals in grid.items():
            if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__") or len(list(vals)) == 0:
                raise ValueError(f"grid[{k!r}] must be a non-empty list of values; got {vals!r}. Write "
                                 f"grid={{{k!r}: [{vals!r}]}} for a single value.")
        points = [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[k]) for k in names))]
    elif isinstance(grid, (list, tuple)) and grid and all(isinstance(p, dict) for p in grid):
        points = [dict(p) for p in grid]
    else:
        raise TypeError(f"grid must be a dict name → list of values (a Cartesian grid) or a non-empty list of dicts "
                        f"(explicit points, e.g. from sample_grid); got {type(grid).__name__}.")
    for p in points:
        for k, v in list(p.items()):
            if k == "seed":
                raise ValueError("the grid holds 'seed'; give the seeds as sweep(..., seeds=[0, 1, 2]) instead, so "
                                 "that every grid point runs with every seed.")
            if k not in params:
                raise ValueError(f"{k!r} is not a parameter of {owner}; its parameters are {params}. Fix the grid key.")
            v = _plain(v)
            if not (v is None or isinstance(v, (bool, int, float, str))):
                raise ValueError(f"grid value {k}={v!r} must be a number, a string, a bool or None (the results are "
                                 "JSON lines); for objects such as a Loss, sweep over a name or a number instead.")
            p[k] = v
    return points


def _key(params: dict, seed) -> str:
    return json.dumps({"params": params, "seed": seed}, sort_keys=True)


def _signature(estimator, grid_names) -> str:
    base = {k: v for k, v in estimator.get_params().items() if k not in grid_names and k != "seed"}
    text = json.dumps({"estimator": type(estimator).__qualname__, "base": base}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _clone(estimator, params: dict, seed):
    est = type(estimator)(**estimator.get_params())
    extra = {} if seed is None else {"seed": seed}
    est.set_params(**params, **extra)
    return est


def _dry_check(est, point: dict, seed, nu: int, ny: int, where: str) -> None:
    """Validate one trial's estimator (settings, and a model built without training)."""
    try:
        if hasattr(est, "_config"):
            est._config()
        if hasattr(est, "_build_module"):
            import torch

            with torch.random.fork_rng(devices=[]):
                est._build_module(nu, ny)
    except (ValueError, TypeError) as err:
        raise ValueError(f"the grid point {point} (seed {seed}, {where}) is not valid for {type(est).__name__}: {err} "
                         "Fix or remove that value; no trial was run.") from err


# ---------------------------------------------------------------------- one trial
def _run_trial(spec: dict, template, data, val, score_kwargs: dict, threads: int | None, callback=None):
    """Fit and score one trial; never raises. Returns (record, fitted estimator or None)."""
    import torch

    record = {"trial": spec["trial"], "key": spec["key"], "sweep": spec["sweep"], "estimator": spec["estimator"],
              "params": spec["params"], "seed": spec["seed"], "status": "error", "error": None, "scores": None,
              "score": None, "fit_seconds": None, "epochs": 0, "history": None, "warnings": []}
    old_threads = torch.get_num_threads()
    est = None
    try:
        if threads:
            torch.set_num_threads(threads)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = _clone(template, spec["params"], spec["seed"])
            seen = []  # per-epoch losses, kept when fit raises (a divergence after some epochs)

            def count(epoch, train_loss, val_loss):
                seen.append((train_loss, val_loss))
                return callback(epoch, train_loss, val_loss) if callback is not None else False

            kw = {"callback": count} if _takes_callback(est) else {}
            t0 = time.perf_counter()
            try:
                est.fit(data, **kw)
            finally:
                record["fit_seconds"] = time.perf_counter() - t0
                h = getattr(est, "history_", None)
                if h is not None and hasattr(h, "loss"):
                    record["history"] = {"loss": list(h.loss), "val_loss": list(h.val_loss), "seconds": list(h.seconds),
                                         "initial_loss": h.initial_loss, "best_epoch": h.best_epoch,
                                         "best_loss": h.best_loss, "stopped": h.stopped}
                    record["epochs"] = len(h.loss)
                elif seen:
                    record["history"] = {"loss": [a for a, _ in seen], "val_loss": [b for _, b in seen if b is not None],
                                         "stopped": "error"}
                    record["epochs"] = len(seen)
            from .core.compare import compare

            res = compare(est, val, **score_kwargs)
            res = res if isinstance(res, list) else [res]
            record["scores"] = {m: np.mean([getattr(r, m) for r in res], axis=0).tolist() for m in _SCORES}
            record["score"] = float(np.mean(record["scores"][spec["metric"]]))
            if not math.isfinite(record["score"]):
                raise FloatingPointError(f"the validation {spec['metric']} is {record['score']}")
            record["status"] = "ok"
        record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    except BaseException as err:  # noqa: BLE001 - a failed trial is a record, never the end of the sweep
        if isinstance(err, KeyboardInterrupt):
            raise
        record["status"] = "error"
        record["error"] = f"{type(err).__name__}: {err}"
        record["traceback"] = traceback.format_exc(limit=-6)
        est = None
    finally:
        torch.set_num_threads(old_threads)
    return record, est


def _takes_callback(est) -> bool:
    import inspect

    try:
        return "callback" in inspect.signature(est.fit).parameters
    except (TypeError, ValueError):
        return False


def _init_worker(threads) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------- results file
def _read_records(path: str, sweep_id: str) -> dict:
    done = {}
    if not path or not os.path.isfile(path):
        return done
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # the last line of an interrupted write: dropped, that trial runs again
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write("".join(x + "\n" for x in lines[:-1]))
                continue
            raise ValueError(f"{path} line {i + 1} is not JSON; it is not a sweep results file. Use another "
                             "results= path.") from None
        if rec.get("sweep") != sweep_id:
            raise ValueError(f"{path} holds trials of another sweep (other estimator or fixed settings: sweep id "
                             f"{rec.get('sweep')!r}, this one {sweep_id!r}); give this sweep its own results= path, or "
                             "delete the file to start over.")
        done[rec["key"]] = rec
    return done


class _Sink:
    """Appends records to the JSON-lines file as they come, shows progress, keeps the best estimator."""

    def __init__(self, path, total, resumed, progress, metric, on_trial):
        from tqdm.auto import tqdm

        self.path, self.metric, self.on_trial = path, metric, on_trial
        self.records: dict[int, dict] = {}
        self.best = None  # (score, record, estimator)
        self.bar = tqdm(total=total, initial=resumed, disable=not progress, desc="sweep", unit="trial")
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def add(self, record: dict, est=None, *, write=True) -> None:
        self.records[record["trial"]] = record
        if write and self.path:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True, default=repr) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        if write:
            self.bar.update(1)
            what = (f"{self.metric} {record['score']:.4g}" if record["status"] == "ok"
                    else record["status"] + (f" ({record['error']})" if record.get("error") else ""))
            self.bar.set_postfix_str(f"trial {record['trial']}: {what}")
            log.info("trial %d %s seed %s: %s, %s epochs, %.1f s", record["trial"], record["params"], record["seed"],
                     what, record.get("epochs"), record.get("fit_seconds") or 0.0)
            if self.on_trial is not None:
                self.on_trial(record)
        if est is not None and record["status"] == "ok":
            sign = 1.0 if METRICS[self.metric] == "max" else -1.0
            s = sign * record["score"]
            if self.best is None or s > self.best[0] or (s == self.best[0] and record["trial"] < self.best[1]["trial"]):
                self.best = (s, record, est)

    def close(self):
        self.bar.close()


# ---------------------------------------------------------------------- the sweep
def sweep(estimator, data, val, *, grid=None, seeds=(0,), backend: str = "local", workers: int | None = None,
          results: str | os.PathLike | None = None, metric: str = "fit_percent", score_kwargs: dict | None = None,
          scheduler=None, address: str | None = None, threads: int | None = 1, progress: bool = False,
          on_trial=None) -> SweepResult:
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
                      "metric": metric})
    keys = [s["key"] for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("the grid repeats a point (the same parameters and seed twice); remove the duplicates.")
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


def _run_local(pending, template, data, val, score_kwargs, threads, workers, sink) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if workers == 1:  # one after another in this process: no start-up cost, same rows
        for spec in pending:
            sink.add(*_run_trial(spec, template, data, val, score_kwargs, threads))
        return
    queue = list(pending)
    attempts = {s["trial"]: 0 for s in pending}
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    while queue:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(_run_trial, s, template, data, val, score_kwargs, threads): s for s in queue}
            queue = []
            try:
                remaining = set(futures)
                while remaining:
                    finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        spec = futures[fut]
                        try:
                            rec, est = fut.result()
                        except BrokenProcessPool as err:
                            # a worker died (killed, out of memory): every trial in flight fails with it;
                            # each is retried in a fresh pool and recorded as failed after three deaths
                            attempts[spec["trial"]] += 1
                            if attempts[spec["trial"]] < 3:
                                queue.append(spec)
                                continue
                            rec, est = _failed(spec, f"the worker process died three times ({err})"), None
                        except Exception as err:  # noqa: BLE001 - e.g. an estimator that cannot be pickled
                            rec, est = _failed(spec, f"{type(err).__name__}: {err}"), None
                        sink.add(rec, est)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        queue.sort(key=lambda s: s["trial"])


def _failed(spec, message: str) -> dict:
    return {"trial": spec["trial"], "key": spec["key"], "sweep": spec["sweep"], "estimator": spec["estimator"],
            "params": spec["params"], "seed": spec["seed"], "status": "error", "error": message, "scores": None,
            "score": None, "fit_seconds": None, "epochs": 0, "history": None, "warnings": []}


# ---------------------------------------------------------------------- Ray Tune
def _ray_trainable(config, *, specs, template, data, val, score_kwargs, threads):
    from ray import tune

    spec = specs[config["trial"]]
    best = [math.inf]

    def finite(x):  # Ray's loggers and the scheduler get a huge number for NaN or inf
        return float(x) if math.isfinite(x) else 1e300

    def report(epoch, train_loss, val_loss):
        v = float(val_loss if val_loss is not None else train_loss)
        best[0] = min(best[0], v) if math.isfinite(v) else best[0]
        tune.report({"epoch": epoch + 1, "train_loss": finite(train_loss), "val_loss": finite(v),
                     "best_val_loss": finite(best[0])})

    record, _ = _run_trial(spec, template, data, val, score_kwargs, threads, callback=report)
    # one epoch past the last: ASHA's max_t is the longest trial + 1, so only this report can end a full trial
    tune.report({"epoch": record["epochs"] + 1, "val_loss": finite(best[0]), "best_val_loss": finite(best[0]),
                 "sysid_record": json.dumps(record, default=repr)})


@contextlib.contextmanager
def _ray_session(workers, address):
    import ray

    started = False
    if not ray.is_initialized():
        kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address is None:
            kw["num_cpus"] = workers
        ray.init(address=address, **kw)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _run_ray(pending, template, data, val, score_kwargs, threads, workers, sink, scheduler, address) -> None:
    from ray import tune

    specs = {s["trial"]: s for s in pending}
    partial: dict[int, list] = {i: [] for i in specs}
    written: set = set()

    class Writer(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            i = trial.config["trial"]
            if "sysid_record" in result:
                if i not in written:
                    written.add(i)
                    sink.add(json.loads(result["sysid_record"]))
            else:
                partial[i].append((result["epoch"], result["train_loss"], result["val_loss"]))

        def _ended(self, trial, status, error=None):
            i = trial.config["trial"]
            if i in written:
                return
            written.add(i)
            rec = _failed(specs[i], error) if error else _failed(specs[i], None)
            rec["status"] = status
            if partial[i]:
                rec["epochs"] = len(partial[i])
                rec["history"] = {"loss": [p[1] for p in partial[i]], "val_loss": [p[2] for p in partial[i]],
                                  "stopped": "scheduler" if status == "stopped" else "error"}
            sink.add(rec)

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._ended(trial, "stopped")

        def on_trial_error(self, iteration, trials, trial, **info):
            self._ended(trial, "error", f"the Ray trial failed: {getattr(trial, 'error_file', None) or 'see Ray logs'}")

    tune_scheduler = None
    if scheduler is not None:
        from ray.tune.schedulers import ASHAScheduler

        max_t = scheduler.max_t or max(int(_clone(template, s["params"], s["seed"]).get_params().get("epochs", 1))
                                       for s in pending)
        grace = scheduler.grace_period or max(1, max_t // 9)
        tune_scheduler = ASHAScheduler(time_attr="epoch", metric="best_val_loss", mode="min", max_t=max_t + 1,
                                       grace_period=grace, reduction_factor=scheduler.reduction_factor)
    cpu = threads or 1
    fn = tune.with_resources(tune.with_parameters(_ray_trainable, specs=specs, template=template, data=data, val=val,
                                                  score_kwargs=score_kwargs, threads=threads), {"cpu": cpu})
    saved = {k: os.environ.get(k) for k in ("RAY_AIR_NEW_OUTPUT",)}
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        with _ray_session(workers, address), tempfile.TemporaryDirectory(prefix="sysid-sweep-") as tmp, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tuner = tune.Tuner(
                fn,
                param_space={"trial": tune.grid_search(sorted(specs))},
                tune_config=tune.TuneConfig(scheduler=tune_scheduler, max_concurrent_trials=workers,
                                            reuse_actors=tune_scheduler is None),  # a stopped actor is not reused
                run_config=tune.RunConfig(name="sysid_sweep", storage_path=tmp, verbose=0, callbacks=[Writer()]),
            )
            tuner.fit()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
