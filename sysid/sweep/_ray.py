"""Backend "ray": Ray Tune trials, ASHA on the engine's per-epoch validation loss or the sweep's score."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from ._plan import METRICS, _clone
from ._trial import _failed, _run_trial


@dataclass(frozen=True)
class ASHA:
    """Asynchronous successive halving (backend "ray") on the engine's validation loss or on the sweep's score.

    The rungs are the epoch counts ``grace_period · reduction_factor^k`` below ``max_t``. A trial
    reaching a rung goes on only when its ``metric`` there is among the best ``1/reduction_factor``
    of the trials that reached that rung before it; the others stop there (``status="stopped"``,
    their epochs and partial history in the record). Past the last rung a trial runs to its end:
    a rung at the last epoch would save nothing and only drop finished trials.

    Parameters
    ----------
    grace_period : int, optional
        Epochs before the first rung (default: a quarter of ``max_t``, at least 1). Give it
        enough epochs to get past the early transient of the settings swept (a large learning
        rate that starts with a loss spike ranks low at an early rung and is stopped).
    reduction_factor : float
    max_t : int, optional
        The epoch count of a full trial (default: the largest ``epochs`` of the sweep).
    metric : {"val_loss", "score"}
        What ranks the trials at a rung. ``"val_loss"``: the best loss so far on the part of the
        training data the estimator holds out (``val_fraction``; no extra cost). ``"score"``: the
        sweep's own score (``metric`` of :func:`sweep` on its ``val`` records, ``score_kwargs``)
        of the model as the engine scores it at the rung epoch (the averaged weights of the run
        that validates, before a refit) — the quantity the sweep picks its best by, at the cost
        of one free-run simulation per trial and rung. The two can rank differently: a k-step
        loss on a few held-out blocks need not order long free-run simulations the same way.
    """

    grace_period: int | None = None
    reduction_factor: float = 3.0
    max_t: int | None = None
    metric: str = "val_loss"

    def validate(self) -> None:
        for name in ("grace_period", "max_t"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1):
                raise ValueError(f"ASHA's {name} must be an int >= 1 or None; got {v!r}.")
        if not (isinstance(self.reduction_factor, (int, float)) and self.reduction_factor > 1):
            raise ValueError(f"ASHA's reduction_factor must be a number > 1; got {self.reduction_factor!r}.")
        if self.metric not in ("val_loss", "score"):
            raise ValueError(f"ASHA's metric must be 'val_loss' (the engine's held-out loss) or 'score' (the sweep's "
                             f"score at the rung); got {self.metric!r}.")

    def rungs(self, max_t: int) -> list:
        """The epoch counts at which trials may be stopped: ``grace · rf^k < max_t``."""
        max_t = self.max_t or max_t
        grace = self.grace_period or max(1, max_t // 4)
        out = []
        while grace * self.reduction_factor ** len(out) < max_t:
            r = grace * self.reduction_factor ** len(out)
            out.append(int(r) if float(r).is_integer() else r)
        return out


def _ray_trainable(config, *, specs, template, data, val, score_kwargs, threads):
    from ray import tune

    spec = specs[config["trial"]]
    best = [math.inf]
    rung = [math.inf]  # the rung metric, lower is better: the score (sign by the sweep's metric) at the last rung
    sign = -1.0 if METRICS[spec["metric"]] == "max" else 1.0
    scored = set(spec.get("score_at") or ())  # epochs at which the trial hands its score to report()

    def finite(x):  # Ray's loggers and the scheduler get a huge number for NaN or inf
        return float(x) if x is not None and math.isfinite(x) else 1e300

    def report(epoch, train_loss, val_loss, score=None):
        v = float(val_loss if val_loss is not None else train_loss)
        best[0] = min(best[0], v) if math.isfinite(v) else best[0]
        if epoch + 1 in scored:
            rung[0] = sign * score if score is not None and math.isfinite(score) else math.inf
        tune.report({"epoch": epoch + 1, "train_loss": finite(train_loss), "val_loss": finite(v),
                     "best_val_loss": finite(best[0]), "rung_score": finite(rung[0])})

    record, _ = _run_trial(spec, template, data, val, score_kwargs, threads, callback=report)
    # the record, without the scheduler's time ("epoch"): ASHA passes it by, so a trial that ended before a
    # rung (early stopping, an error) is not ranked at that rung with its final loss
    tune.report({"val_loss": finite(best[0]), "best_val_loss": finite(best[0]), "rung_score": finite(rung[0]),
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

        rungs = scheduler.rungs(_max_epochs(template, pending))
        # max_t half a rung past the last one: Ray places exactly these rungs; stop_last_trials=False: a trial
        # past the last rung runs to its end
        rf = scheduler.reduction_factor
        tune_scheduler = ASHAScheduler(time_attr="epoch", mode="min",
                                       metric="best_val_loss" if scheduler.metric == "val_loss" else "rung_score",
                                       max_t=rungs[-1] * rf**0.5, grace_period=rungs[0], reduction_factor=rf,
                                       stop_last_trials=False)
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
                                            reuse_actors=True),
                run_config=tune.RunConfig(name="sysid_sweep", storage_path=tmp, verbose=0, callbacks=[Writer()]),
            )
            tuner.fit()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _max_epochs(template, specs) -> int:
    return max(int(_clone(template, s["params"], s["seed"]).get_params().get("epochs", 1)) for s in specs)
