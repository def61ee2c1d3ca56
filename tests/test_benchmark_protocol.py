"""sysid.benchmarks: the literature protocol's scoring (evaluate / score) against hand computations."""

import numpy as np
import pytest

from sysid import IOData, compare, datasets
from sysid.benchmarks import evaluate, format_table, score
from sysid.datasets._loaders import Benchmark
from sysid.estimators import N4SID


@pytest.fixture(scope="module")
def bench():
    d = datasets.fourth_order_plant(N=600, n_test=400, noise_std=0.05, seed=3)
    t = d.test
    halves = [IOData(t.u[:200], t.y[:200], dt=t.dt), IOData(t.u[200:], t.y[200:], dt=t.dt)]
    return Benchmark("plant", d.train, {"whole": t, "halves": halves}, init_window=10, rmse_scale=1000.0,
                     rmse_unit="mV")


def test_evaluate_pools_experiments_and_skips_the_init_window(bench):
    out = evaluate(lambda: N4SID(nx=4), bench, label="n4sid")
    assert out["benchmark"] == "plant" and out["model"] == "n4sid" and out["fit_seconds"] >= 0
    est = N4SID(nx=4).fit(bench.train)
    # one record: RMSE of the free-run simulation after the first init_window samples, x0 from them only
    r = compare(est, bench.test["whole"], x0="estimate", skip=10)
    e = r.y_true[10:] - r.y_model[10:]
    assert out["tests"]["whole"]["rmse"] == pytest.approx(1000 * np.sqrt(np.mean(e**2, axis=0)), rel=1e-9)
    assert out["tests"]["whole"]["unit"] == "mV"
    # several experiments: one RMSE over every scored sample of all of them (not a mean of RMSEs)
    errs = [c.y_true[10:] - c.y_model[10:] for c in (compare(est, h, x0="estimate", skip=10)
                                                     for h in bench.test["halves"])]
    pooled = np.sqrt(sum((x**2).sum(0) for x in errs) / sum(len(x) for x in errs))
    assert out["tests"]["halves"]["rmse"] == pytest.approx(1000 * pooled, rel=1e-9)
    ref = np.concatenate([h.y[10:] for h in bench.test["halves"]])
    nrmse = np.linalg.norm(np.concatenate(errs), axis=0) / np.linalg.norm(ref - ref.mean(0), axis=0)
    assert out["tests"]["halves"]["fit_percent"] == pytest.approx(100 * (1 - nrmse), rel=1e-9)
    # score() is evaluate's scoring half
    assert score(est, bench) == out["tests"]
    assert "n4sid" in format_table([out]) and "halves" in format_table([out])
