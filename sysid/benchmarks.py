"""The benchmark protocol every model is judged by (no torch).

Train on the literature's training split, simulate each test input free-run, set the
initial state from the first ``init_window`` test samples only and exclude them from the
score, and report RMSE in the benchmark's unit beside the published results.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import numpy as np

from .core.compare import compare
from .datasets._loaders import Benchmark

__all__ = ["PUBLISHED", "evaluate", "format_table", "save_json", "score"]

# test-set free-run simulation RMSE, from the data READMEs ("Published results")
PUBLISHED: dict[str, dict[str, list[tuple[str, float, str]]]] = {
    "cascaded_tanks": {"test": [
        ("Grey-box with physical overflow model", 0.18, "Rogers et al. 2017 (Forgione & Piga 2021)"),
        ("CT SUBNET", 0.306, "Beintema et al. 2023 (Champneys et al. 2024)"),
        ("TSEM", 0.33, "Forgione & Piga 2021"),
        ("DT SUBNET", 0.37, "Beintema et al. 2021 (Champneys et al. 2024)"),
        ("LSTM baseline", 0.490, "Champneys et al. 2024"),
        ("LTI state-space baseline", 0.588, "Champneys et al. 2024"),
        ("LTI ARX baseline", 0.685, "Champneys et al. 2024"),
        ("Best linear approximation", 0.75, "Relan et al. 2017 (Forgione & Piga 2021)"),
    ]},
    "silverbox": {
        "multisine": [("DT SUBNET", 0.36, "Beintema et al. 2021"), ("GP NARX", 0.301, "Champneys et al. 2024"),
                      ("LSTM", 1.50, "Champneys et al. 2024"), ("LTI ARX", 6.95, "Champneys et al. 2024"),
                      ("LTI state-space", 6.96, "Champneys et al. 2024")],
        "arrow_full": [("PNLSS", 0.26, "Paduart et al. 2010"), ("DT SUBNET", 1.4, "Beintema et al. 2021"),
                       ("LSTM", 2.68, "Champneys et al. 2024"), ("LTI ARX", 14.2, "Champneys et al. 2024"),
                       ("LTI state-space", 14.4, "Champneys et al. 2024")],
        "arrow_no_extrapolation": [("DT SUBNET", 0.32, "Beintema et al. 2021"),
                                   ("GP NARX", 0.259, "Champneys et al. 2024"),
                                   ("LSTM", 0.960, "Champneys et al. 2024"),
                                   ("LTI ARX", 6.59, "Champneys et al. 2024"),
                                   ("LTI state-space", 6.58, "Champneys et al. 2024")],
    },
    "f16": {"test": []},  # no confirmed published figures (see the data README)
}


def evaluate(make_estimator: Callable[[], object], bench: Benchmark, *, label: str | None = None) -> dict:
    """Fit a fresh estimator on ``bench.train`` and score it on every test set.

    Parameters
    ----------
    make_estimator : callable
        Returns an unfitted estimator that follows the estimator contract.
    bench : Benchmark
        From a loader of :mod:`sysid.datasets` (e.g. ``cascaded_tanks(path)``).

    Returns
    -------
    dict
        ``{"benchmark", "model", "fit_seconds", "tests": {name: {"rmse", "nrmse", "fit_percent"}}}``,
        RMSE in ``bench.rmse_unit`` (scaled by ``bench.rmse_scale``), one entry per output;
        for test sets with several experiments, the RMSE over all their scored samples.
    """
    est = make_estimator()
    t0 = time.perf_counter()
    est.fit(bench.train)
    fit_seconds = time.perf_counter() - t0
    return {"benchmark": bench.name, "model": label or repr(est), "fit_seconds": fit_seconds,
            "tests": score(est, bench)}


def score(est, bench: Benchmark) -> dict:
    """The scoring half of :func:`evaluate`, for an estimator already fitted on ``bench.train``.

    Returns
    -------
    dict
        ``{test name: {"rmse", "nrmse", "fit_percent", "unit"}}``, one entry per output: every test
        input simulated free-run, x0 estimated from its first ``init_window`` samples, which are
        not scored; RMSE in ``bench.rmse_unit``, over all scored samples of a test set's experiments.
    """
    tests = {}
    for name, test in bench.test.items():
        results = compare(est, test, x0="estimate", skip=bench.init_window)
        results = results if isinstance(results, list) else [results]
        err = np.concatenate([r.y_true[r.skip:] - r.y_model[r.skip:] for r in results])
        ref = np.concatenate([r.y_true[r.skip:] for r in results])
        rmse = np.sqrt(np.mean(err**2, axis=0))
        nrmse = np.linalg.norm(err, axis=0) / np.linalg.norm(ref - ref.mean(axis=0), axis=0)
        tests[name] = {"rmse": (bench.rmse_scale * rmse).tolist(), "nrmse": nrmse.tolist(),
                       "fit_percent": (100 * (1 - nrmse)).tolist(), "unit": bench.rmse_unit}
    return tests


def format_table(results: list[dict]) -> str:
    """Our results beside the published ones, per benchmark and test set."""
    lines = []
    by_bench: dict[str, list[dict]] = {}
    for r in results:
        by_bench.setdefault(r["benchmark"], []).append(r)
    for bench, rs in by_bench.items():
        for test in rs[0]["tests"]:
            unit = rs[0]["tests"][test]["unit"]
            lines.append(f"\n{bench} / {test}: free-run simulation RMSE [{unit}]")
            rows = [(r["model"], min(r["tests"][test]["rmse"]) if len(r["tests"][test]["rmse"]) == 1 else
                     float(np.mean(r["tests"][test]["rmse"])), f"sysid, fit {np.mean(r['tests'][test]['fit_percent']):.1f} %")
                    for r in rs]
            rows += [(m, v, f"published: {src}") for m, v, src in PUBLISHED.get(bench, {}).get(test, [])]
            for model, value, note in sorted(rows, key=lambda x: x[1]):
                lines.append(f"  {model:<40}{value:>10.4g}   {note}")
    return "\n".join(lines)


def save_json(results: list[dict], path) -> None:
    """Write results (with the published figures) as JSON for later comparison."""
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with open(path, "w") as fh:
        json.dump({"results": results, "published": PUBLISHED}, fh, indent=2)
