"""Sweep scaling: a 3 × 3 grid × 3 seeds of NeuralNetStep on the cascaded tanks through sysid.sweep.

    python benchmarks/sweep.py                                  # all four runs, 30 epochs per trial
    python benchmarks/sweep.py --runs local1 ray_asha --grace 8 --reduction 3
    python benchmarks/sweep.py --set patience=10 --out benchmarks/results/sweep_patience10.json
    python benchmarks/sweep.py --runs ray_asha --full earlier.json    # ASHA against a full grid run before
    python benchmarks/sweep.py --replay benchmarks/results/sweep_current.json   # other rungs, no training

Runs (the same 27 trials each): ``local1`` (one worker: this process, one trial after another),
``local2`` (two worker processes), ``ray`` (a local Ray instance with 2 CPUs), ``ray_asha`` (the
same with ASHA stopping bad trials on the per-epoch validation loss). Every trial uses one torch
thread, so the tables agree across backends. Printed and written to
``benchmarks/results/sweep.json``: wall time of each run and its ratio to ``local1``; the best
fit % (free-run simulation of the test record, x0 estimated on its first 5 samples, which are not
scored); the trial-epochs (every epoch trained, the refit on all samples included) of ASHA
against the full grid, and whether ASHA kept the best score. The machine's load average is
recorded beside the times: on a shared machine the ratios say as much about the other jobs as
about the backends.

The full grid also scores every trial at the epochs of the rungs replayed (``score_at``), and the
results keep each trial's held-out losses and those scores: ``--replay`` applies ASHA's rule to
them for other grace periods, reduction factors and both ``--metric`` choices without training
(docs/cluster.md). Training settings: the estimator's defaults except ``epochs`` (30, a budget
chosen under the previous training defaults, where the learning rates swept reached their best
validation loss within about 15 epochs; with the current ones the ``lr = 1e-3`` trials still
improve at epoch 30) and whatever ``--set`` gives. With the default patience
(40) no trial stops early on its own within 30 epochs, so the full grid trains every epoch; ``--set
patience=10`` measures ASHA against a grid whose trials do stop on their own. The ASHA settings
(grace period 8 epochs, reduction factor 4: one rung, at epoch 8; the next, 32, is past the end)
give the learning rates swept time to get past the first epochs, where a larger learning rate's
validation loss rises before it falls. With reduction factor 3 there is a second rung, at epoch
24, where a trial whose validation loss is still falling can be stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "sweep.json")
GRID = {"hidden": [8, 16, 32], "lr": [1e-3, 5e-3, 2e-2]}
SEEDS = [0, 1, 2]


def _setting(text: str):
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _code_state() -> dict:
    """The commit of the sysid that runs, and whether its package differs from it."""
    import subprocess

    import sysid

    root = os.path.dirname(os.path.dirname(os.path.abspath(sysid.__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sysid"], cwd=root, capture_output=True,
                               text=True).stdout.split("\n")
        return {"commit": head, "changed_files": [x[3:] for x in dirty if x.strip()]}
    except OSError:
        return {}


REPLAY = [(g, rf) for g in (4, 8, 16) for rf in (2, 3, 4)]  # grace periods × reduction factors replayed


def replay_epochs(epochs: int) -> list:
    """Every rung epoch of the replayed settings: the full grid scores its trials there (``score_at``)."""
    from sysid.sweep import ASHA

    return sorted({int(r) for g, rf in REPLAY if g < epochs for r in ASHA(grace_period=g, reduction_factor=rf)
                   .rungs(epochs)})


def _rung_value(full: dict, i: int, r: int, metric: str):
    """Trial i's ranking value at rung r (lower is better), or None when it ended before the rung."""
    import numpy as np

    v = full["val_loss"][i]
    if v is None or len(v) < r:
        return None
    if metric == "val_loss":
        return float(np.min(v[:int(r)]))
    s = (full.get("epoch_scores") or [None] * len(full["val_loss"]))[i]
    if not s or str(int(r)) not in s:
        return None
    return np.inf if s[str(int(r))] is None else -float(s[str(int(r))])  # fit %: higher is better


def replay(full: dict, grace: int, reduction: float, epochs: int, metric: str = "val_loss") -> dict:
    """ASHA's decisions replayed on the full grid's recorded values (no training).

    ``metric``: ``"val_loss"`` (the best held-out loss so far) or ``"score"`` (the fit % the full grid
    recorded at the rung epochs, ``score_at``). Two orders: ``"sync"`` ranks a trial at a rung among
    *all* trials that reach it (successive halving); ``"async"`` among those that reached it earlier
    in the grid's order (Ray's ASHA with trials started in that order and running at the same speed:
    the first ones always go on). A trial goes on when its value is at or below the ``1/reduction``
    quantile of the others' (Ray's rule: among the best ``1/reduction``). A stopped trial costs its
    rung's epochs; one that goes on costs what it cost in the full grid (its refit included).
    """
    import numpy as np

    from sysid.sweep import ASHA

    rungs = ASHA(grace_period=grace, reduction_factor=reduction).rungs(epochs)
    n, cost = len(full["val_loss"]), full["epochs"]
    scores = [(-np.inf if s is None else s) for s in full["scores"]]
    out = {}
    for order in ("sync", "async"):
        alive = [v is not None for v in full["val_loss"]]
        stop_at = [None] * n
        for r in rungs:
            vals = {i: _rung_value(full, i, r, metric) for i in range(n) if alive[i]}
            vals = {i: v for i, v in vals.items() if v is not None}
            recorded = []
            for i, m in vals.items():
                others = recorded if order == "async" else [x for j, x in vals.items() if j != i]
                if others and m > np.quantile(others, 1 / reduction):
                    stop_at[i] = r
                recorded.append(m)
            for i, s in enumerate(stop_at):
                if s == r:
                    alive[i] = False
        spent = sum(int(s) if s is not None else c for s, c in zip(stop_at, cost))
        kept = [sc for sc, s in zip(scores, stop_at) if s is None]
        out[order] = {"trial_epochs": spent, "saved": 1 - spent / sum(cost), "best": float(max(kept)),
                      "same_best": bool(max(kept) == max(scores)), "stopped": sum(s is not None for s in stop_at)}
    return {"grace": grace, "reduction": reduction, "metric": metric, "rungs": rungs, **out}


def _replays(out: dict) -> list:
    full = next((out["runs"][n] for n in ("local1", "local2", "ray") if n in out["runs"]), None)
    if full is None or "val_loss" not in full:
        return []
    metrics = ["val_loss"] + (["score"] if full.get("epoch_scores") else [])
    return [replay(full, g, rf, out["epochs"], m) for m in metrics for g, rf in REPLAY if g < out["epochs"]]


def _print_replays(rows: list) -> None:
    if not rows:
        return
    print("\nASHA replayed on the full grid's recorded values (no training):")
    print("| ranked by | grace | reduction | rungs | sync: saved, best kept (best) | async: saved, best kept (best) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        s, a = r["sync"], r["async"]
        print(f"| {r.get('metric', 'val_loss')} | {r['grace']} | {r['reduction']} | {r['rungs']} | "
              f"{100 * s['saved']:.0f} %, {s['same_best']} ({s['best']:.2f}) | "
              f"{100 * a['saved']:.0f} %, {a['same_best']} ({a['best']:.2f}) |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYSID_DATA", os.path.join(HERE, "..", "..", "shared", "data")))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="other estimator settings for every trial, e.g. patience=10 refit=false")
    ap.add_argument("--runs", nargs="+", default=["local1", "local2", "ray", "ray_asha"],
                    choices=["local1", "local2", "ray", "ray_asha"])
    ap.add_argument("--grace", type=int, default=8, help="ASHA's grace period in epochs")
    ap.add_argument("--reduction", type=float, default=4.0, help="ASHA's reduction factor")
    ap.add_argument("--metric", default="val_loss", choices=["val_loss", "score"],
                    help="what ASHA ranks trials by at a rung (sysid.sweep.ASHA(metric=...))")
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--full", default=None, metavar="JSON",
                    help="take the full grid from an earlier results file of this script instead of running it")
    ap.add_argument("--replay", default=None, metavar="JSON",
                    help="print ASHA's decisions replayed on the full grid of a results file; runs nothing")
    args = ap.parse_args(argv)
    if args.replay:
        with open(args.replay) as fh:
            _print_replays(_replays(json.load(fh)))
        return 0

    import torch

    from sysid import datasets
    from sysid.estimators import NeuralNetStep
    from sysid.sweep import ASHA, sweep

    torch.set_num_threads(1)
    bench = datasets.cascaded_tanks(os.path.join(args.data, "cascaded_tanks"))
    settings = dict(_setting(s) for s in args.set)
    est = NeuralNetStep(nx=2, epochs=args.epochs, **settings)
    score = dict(x0="estimate", skip=bench.init_window)
    asha = ASHA(grace_period=args.grace, reduction_factor=args.reduction, metric=args.metric)
    trace = dict(score_at=replay_epochs(args.epochs))  # the full grid's score at every rung replayed
    setups = {
        "local1": dict(backend="local", workers=1),
        "local2": dict(backend="local", workers=2),
        "ray": dict(backend="ray", workers=2),
        "ray_asha": dict(backend="ray", workers=2, scheduler=asha),
    }
    out = {"code": _code_state(), "grid": GRID, "seeds": SEEDS, "epochs": args.epochs, "settings": settings,
           "estimator": repr(est),
           "cpus": os.cpu_count(), "runs": {},
           "asha": {"grace_period": args.grace, "reduction_factor": args.reduction, "rungs": asha.rungs(args.epochs),
                    "metric": {"val_loss": "best validation loss so far (the engine's carved validation part)",
                               "score": "fit % on the test record at the rung (sweep's score)"}[args.metric]}}
    if args.full:  # the full grid measured earlier by this script (the same grid, epochs and settings)
        with open(args.full) as fh:
            earlier = json.load(fh)
        same = {k: earlier.get(k) for k in ("grid", "seeds", "epochs", "settings")}
        if same != {"grid": GRID, "seeds": SEEDS, "epochs": args.epochs, "settings": settings}:
            raise SystemExit(f"--full {args.full}: another sweep ({same}); rerun the full grid instead.")
        name = next(n for n in ("local1", "local2", "ray") if n in earlier["runs"])
        out["runs"][name] = {**earlier["runs"][name], "from": {"file": args.full, "code": earlier.get("code")}}
    for name in args.runs:
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        res = sweep(est, bench.train, bench.test["test"], grid=GRID, seeds=SEEDS, score_kwargs=score, **setups[name],
                    **({} if name == "ray_asha" else trace))
        wall = time.perf_counter() - t0
        best = res.best_record
        out["runs"][name] = {
            "wall_s": wall, "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
            "best_fit_percent": best["score"] if best else None,
            "best": {"params": best["params"], "seed": best["seed"]} if best else None,
            "trial_epochs": res.trial_epochs,
            "status": {s: sum(r["status"] == s for r in res.records) for s in ("ok", "stopped", "error")},
            "scores": [r["score"] for r in res.records],
            "epochs": [r["epochs"] for r in res.records],
            "statuses": [r["status"] for r in res.records],
            "selection_best_epoch": [((r["history"] or {}).get("selection") or r["history"] or {}).get("best_epoch")
                                     for r in res.records],
            "errors": sorted({f"{r['params']}: {r['error'][:200]}" for r in res.records if r["status"] == "error"}),
            # the per-epoch validation loss of the run that validated (with refit: the first run), to replay
            # other rung settings on the full grid offline (benchmarks/sweep.py --replay)
            "val_loss": [((r["history"] or {}).get("selection") or r["history"] or {}).get("val_loss")
                         for r in res.records],
            "epoch_scores": [r.get("epoch_scores") for r in res.records],
            "params": [r["params"] for r in res.records], "seeds": [r["seed"] for r in res.records],
        }
        print(f"{name:9s} wall {wall:7.1f} s  best fit {out['runs'][name]['best_fit_percent']}  "
              f"trial-epochs {res.trial_epochs}  load {load0:.1f}", flush=True)
    runs = out["runs"]
    if "local1" in runs:
        for name, r in runs.items():
            r["wall_ratio_to_local1"] = r["wall_s"] / runs["local1"]["wall_s"]
    full = next((runs[n] for n in ("local1", "local2", "ray") if n in runs), None)
    if full and "ray_asha" in runs:
        a = runs["ray_asha"]
        a["trial_epochs_saved"] = 1 - a["trial_epochs"] / full["trial_epochs"]
        a["same_best"] = abs(a["best_fit_percent"] - full["best_fit_percent"]) < 1e-9
        # every trial ASHA let finish is the full grid's trial (same seed, same epochs, same score)
        a["finished_trials_equal_full"] = all(
            s != "ok" or (abs(x - y) < 1e-9 and e == f) for s, x, y, e, f in
            zip(a["statuses"], a["scores"], full["scores"], a["epochs"], full["epochs"]))
    same = [n for n in ("local2", "ray") if n in runs and full is not runs[n]]
    out["same_table"] = {n: all((a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)
                                for a, b in zip(runs[n]["scores"], full["scores"])) for n in same}
    print("\n| run | wall [s] | ratio to local1 | best fit % | trial-epochs |")
    print("|---|---|---|---|---|")
    for name, r in runs.items():
        ratio = r.get("wall_ratio_to_local1")
        print(f"| {name} | {r['wall_s']:.1f} | {'' if ratio is None else f'{ratio:.2f}'} | "
              f"{r['best_fit_percent']:.2f} | {r['trial_epochs']} |")
    if "ray_asha" in runs and "trial_epochs_saved" in runs["ray_asha"]:
        a = runs["ray_asha"]
        print(f"\nASHA (rungs at {out['asha']['rungs']} epochs): {100 * a['trial_epochs_saved']:.0f} % of the "
              f"trial-epochs saved; same best: {a['same_best']}; finished trials equal the full grid's: "
              f"{a['finished_trials_equal_full']}")
    print(f"same table as the first full run: {out['same_table']}")
    out["replay"] = _replays(out)
    _print_replays(out["replay"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
