"""The records of a sweep: the result table, the JSON-lines file, progress."""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass

from ._plan import METRICS

log = logging.getLogger("sysid.sweep")


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
        metric averaged over outputs), ``fit_seconds`` (wall), ``cpu_seconds`` (of the trial's
        process during the fit), ``threads`` (torch's), ``epochs`` (trained), ``history``
        (the :class:`sysid.training.TrainResult` fields; with ``refit`` the validating run is its
        ``selection``), ``warnings``, ``evaluation`` (the result of ``evaluate=``).
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

