"""One trial: fit a copy of the template, score it; never raises."""

from __future__ import annotations

import math
import time
import traceback
import warnings

import numpy as np

from ._plan import SCORES, _clone


def _run_trial(spec: dict, template, data, val, score_kwargs: dict, threads: int | None, callback=None):
    """Fit and score one trial; never raises. Returns (record, fitted estimator or None)."""
    import torch

    record = {"trial": spec["trial"], "key": spec["key"], "sweep": spec["sweep"], "estimator": spec["estimator"],
              "params": spec["params"], "seed": spec["seed"], "status": "error", "error": None, "scores": None,
              "score": None, "fit_seconds": None, "cpu_seconds": None, "epochs": 0, "history": None, "warnings": []}
    old_threads = torch.get_num_threads()
    est = None
    try:
        if threads:
            torch.set_num_threads(threads)
        record["threads"] = torch.get_num_threads()
        with warnings.catch_warnings(record=True) as caught, _keep_warnings(record, caught):
            warnings.simplefilter("always")
            est = _clone(template, spec["params"], spec["seed"])
            seen = []  # per-epoch losses, kept when fit raises (a divergence after some epochs)

            score_at = set(spec.get("score_at") or ())
            if score_at:
                record["epoch_scores"] = {}

            def count(epoch, train_loss, val_loss):
                seen.append((train_loss, val_loss))
                now = None
                if epoch + 1 in score_at:  # the model as the engine scored it at this epoch (first run)
                    try:
                        now = _score(est, val, score_kwargs, spec["metric"])[1]
                    except Exception:  # noqa: BLE001 - a model that cannot be simulated now scores NaN
                        now = math.nan
                    record["epoch_scores"][str(epoch + 1)] = now if math.isfinite(now) else None
                return callback(epoch, train_loss, val_loss, now) if callback is not None else False

            kw = {"callback": count} if _takes_callback(est) else {}
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                est.fit(data, **kw)
            finally:
                record["fit_seconds"] = time.perf_counter() - t0
                record["cpu_seconds"] = time.process_time() - c0
                h = getattr(est, "history_", None)
                if h is not None and hasattr(h, "loss"):
                    record["history"] = _history(h)
                    record["epochs"] = _epochs(h)
                elif seen:
                    record["history"] = {"loss": [a for a, _ in seen],
                                         "val_loss": [b for _, b in seen if b is not None], "stopped": "error"}
                    record["epochs"] = len(seen)
            record["scores"], record["score"] = _score(est, val, score_kwargs, spec["metric"])
            if not math.isfinite(record["score"]):
                raise FloatingPointError(f"the validation {spec['metric']} is {record['score']}")
            if spec.get("evaluate") is not None:
                record["evaluation"] = spec["evaluate"](est)
            record["status"] = "ok"
    except BaseException as err:  # noqa: BLE001 - a failed trial is a record, never the end of the sweep
        if isinstance(err, (KeyboardInterrupt, SystemExit)):  # Ray Tune ends a stopped trial's thread by SystemExit
            raise
        record["status"] = "error"
        record["error"] = f"{type(err).__name__}: {err}"
        record["traceback"] = traceback.format_exc(limit=-6)
        est = None
    finally:
        torch.set_num_threads(old_threads)
    return record, est


def _score(est, val, score_kwargs: dict, metric: str) -> tuple[dict, float]:
    """Every score of ``est`` on ``val`` (mean over records, per output) and the one ``metric`` picks."""
    from ..core.compare import compare

    res = compare(est, val, **score_kwargs)
    res = res if isinstance(res, list) else [res]
    scores = {m: np.mean([getattr(r, m) for r in res], axis=0).tolist() for m in SCORES}
    return scores, float(np.mean(scores[metric]))


def _history(h) -> dict:
    """A TrainResult as JSON; with ``refit`` its ``selection`` (the run that validated) is inside."""
    sel = getattr(h, "selection", None)
    return {"loss": list(h.loss), "val_loss": list(h.val_loss), "seconds": list(h.seconds),
            "initial_loss": h.initial_loss, "best_epoch": h.best_epoch, "best_loss": h.best_loss, "stopped": h.stopped,
            "selection": None if sel is None else _history(sel)}


def _epochs(h) -> int:
    """Epochs trained: the run and, with ``refit``, the selection run before it."""
    sel = getattr(h, "selection", None)
    return len(h.loss) + (0 if sel is None else _epochs(sel))


class _keep_warnings:
    """On leaving (also by an error): the distinct warnings caught, into the record."""

    def __init__(self, record, caught):
        self.record, self.caught = record, caught

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in self.caught})
        return False


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



def _failed(spec, message: str) -> dict:
    return {"trial": spec["trial"], "key": spec["key"], "sweep": spec["sweep"], "estimator": spec["estimator"],
            "params": spec["params"], "seed": spec["seed"], "status": "error", "error": message, "scores": None,
            "score": None, "fit_seconds": None, "cpu_seconds": None, "epochs": 0, "history": None, "warnings": []}

