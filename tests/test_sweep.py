"""sysid.sweep: every trial's row equals a direct fit + compare (the oracle), on both backends; failed
trials are rows; the JSON lines resume; ASHA stops trials early; bad input is refused before anything
runs. The default tests use tiny fits (a few hundredths of a second each) and one local Ray instance;
the spawned-process pool and a full Ray table without a scheduler are the slow ones (-m slow)."""
import functools
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from sysid import compare, datasets  # noqa: E402
from sysid.estimators import NeuralNetStep  # noqa: E402
from sysid.sweep import ASHA, SweepResult, sample_grid, sweep  # noqa: E402

D = datasets.fourth_order_plant(N=200, n_test=80)
BASE = dict(hidden=3, epochs=3, x0="burn_in", burn_in=5, horizon=40)
# the third point fails inside fit (no window fits a 10⁶-sample past): a row with its error
POINTS = [{"hidden": 3}, {"hidden": 6, "lr": 1e-2}, {"hidden": 3, "burn_in": 10**6}]
SEEDS = [0, 1]


def _direct(params, seed):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        est = NeuralNetStep(**{**BASE, **params, "seed": seed}).fit(D.train)
    finally:
        torch.set_num_threads(threads)
    return est, float(np.mean(compare(est, D.test).fit_percent))


def _test_fit(est, data):
    return {"fit": float(np.mean(compare(est, data).fit_percent))}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "trials.jsonl"
    seen = []
    res = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=POINTS, seeds=SEEDS, results=path, on_trial=seen.append,
                evaluate=functools.partial(_test_fit, data=D.test))
    return res, path, seen


def test_local_rows_equal_direct_fits(local_run):
    res, path, seen = local_run
    assert isinstance(res, SweepResult) and len(res.records) == 6 and len(seen) == 6
    assert [(r["params"], r["seed"]) for r in res.records] == [(p, s) for p in POINTS for s in SEEDS]
    for r in res.records:
        if r["params"].get("burn_in") == 10**6:
            assert r["status"] == "error" and "ValueError: no window fits" in r["error"]
            continue
        assert r["status"] == "ok", r["error"]
        est, score = _direct(r["params"], r["seed"])
        np.testing.assert_allclose(r["score"], score, rtol=1e-9)
        np.testing.assert_allclose(r["history"]["loss"], est.history_.loss, rtol=1e-9)
        sel = getattr(est.history_, "selection", None)  # with refit: the run that validated, then the refit
        assert r["epochs"] == len(est.history_.loss) + (0 if sel is None else len(sel.loss))
        assert r["fit_seconds"] > 0 and r["cpu_seconds"] > 0
        assert r["threads"] == 1 and r["evaluation"]["fit"] == pytest.approx(score, rel=1e-9)
        assert set(r["scores"]) == {"fit_percent", "nrmse", "rmse", "r2"} and len(r["scores"]["rmse"]) == D.test.ny
    best = max((r for r in res.records if r["status"] == "ok"), key=lambda r: r["score"])
    assert res.best_record is best
    np.testing.assert_allclose(np.mean(compare(res.best_estimator, D.test).fit_percent), best["score"], rtol=1e-9)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert sorted(x["trial"] for x in lines) == list(range(6))
    assert "best: trial" in str(res) and res.trial_epochs == sum(r["epochs"] for r in res.records)


def test_scores_during_training_equal_a_direct_fit_scored_in_its_callback(local_run):
    """score_at: each trial's score at those epochs (the model as the engine scores it then, before the
    refit) equals a direct fit scored by compare inside its own callback; scoring does not change the rows."""
    res, _, _ = local_run
    traced = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=POINTS[:2], seeds=SEEDS[:1], score_at=[2, 1])
    for r in traced.records:
        assert r["status"] == "ok", r["error"]
        ref = next(x for x in res.records if x["params"] == r["params"] and x["seed"] == r["seed"])
        _same_row(r, ref)
        seen = {}
        est = NeuralNetStep(**{**BASE, **r["params"], "seed": r["seed"]})

        def callback(epoch, train_loss, val_loss, est=est, seen=seen):
            seen[str(epoch + 1)] = float(np.mean(compare(est, D.test).fit_percent))

        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            est.fit(D.train, callback=callback)
        finally:
            torch.set_num_threads(threads)
        assert set(r["epoch_scores"]) == {"1", "2"}
        for k in ("1", "2"):
            assert r["epoch_scores"][k] == pytest.approx(seen[k], rel=1e-9)
        assert r["epoch_scores"]["2"] != pytest.approx(r["score"], rel=1e-6)  # before the refit, not the final model


def test_resume_runs_only_missing_trials(local_run, tmp_path):
    res, path, _ = local_run
    mine = tmp_path / "resume.jsonl"
    lines = path.read_text().splitlines()
    cut = next(i for i, x in enumerate(lines) if json.loads(x)["params"] == {"hidden": 3} and json.loads(x)["seed"] == 1)
    # an interrupted sweep: one trial's line half written at the end
    mine.write_text("".join(x + "\n" for i, x in enumerate(lines) if i != cut) + lines[cut][:40])
    seen = []
    again = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=POINTS, seeds=SEEDS + [2], workers=1, results=mine,
                  on_trial=seen.append)
    assert sorted((r["params"].get("hidden"), r["params"].get("burn_in", 0), r["seed"]) for r in seen) == \
        [(3, 0, 1), (3, 0, 2), (3, 10**6, 2), (6, 0, 2)]
    assert again.resumed == 5 and len(again.records) == 9
    old = {(json.dumps(r["params"]), r["seed"]): r for r in res.records}
    for r in again.records:
        if (json.dumps(r["params"]), r["seed"]) in old and r["status"] == "ok":
            assert r["score"] == pytest.approx(old[(json.dumps(r["params"]), r["seed"])]["score"], rel=1e-9)
    assert len(mine.read_text().splitlines()) == 9


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason='Ray Tune is not installed (pip install -e ".[distributed]")')
    pytest.importorskip("ray.tune", reason='Ray Tune is not installed (pip install -e ".[distributed]")')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _val_curve(history):
    """The per-epoch validation losses (with refit: of the selection run, the one that validates)."""
    return (history.get("selection") or history)["val_loss"]


def _same_row(a, b):
    assert (a["params"], a["seed"], a["status"], a["error"]) == (b["params"], b["seed"], b["status"], b["error"])
    if a["status"] == "ok":
        assert a["score"] == pytest.approx(b["score"], rel=1e-9)
        np.testing.assert_allclose(_val_curve(a["history"]), _val_curve(b["history"]), rtol=1e-9)


def test_ray_asha_stops_trials_and_keeps_the_local_rows(local_run, ray_local):
    res, _, _ = local_run
    local = {(json.dumps(r["params"]), r["seed"]): r for r in res.records}
    # the better point runs first (2 CPUs: two trials at a time), so that the later, worse one is
    # usually below the rung's median at epoch 1 (rungs at 1 and 2 of 3 epochs) and stops
    order = [POINTS[1], POINTS[0], POINTS[2]]
    cut = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=order, seeds=SEEDS, backend="ray", workers=2,
                scheduler=ASHA(grace_period=1, reduction_factor=2))
    assert cut.backend == "ray" and [(r["params"], r["seed"]) for r in cut.records] == \
        [(p, s) for p in order for s in SEEDS]
    for r in cut.records:
        ref = local[(json.dumps(r["params"]), r["seed"])]
        if r["status"] == "stopped":
            assert 1 <= r["epochs"] < ref["epochs"] and r["history"]["stopped"] == "scheduler"
            np.testing.assert_allclose(r["history"]["val_loss"], _val_curve(ref["history"])[:r["epochs"]], rtol=1e-9)
        else:  # a trial ASHA let finish, or one that failed, is the same row as on the local backend
            _same_row(r, ref)
    # which trial a rung stops depends on the order trials report in (asynchronous ASHA, a loaded
    # machine can reorder them); the failing point fails on every backend
    assert cut.records[-1]["status"] == "error"
    assert sum(r["status"] == "stopped" for r in cut.records) >= 1
    assert cut.trial_epochs < sum(local[(json.dumps(p), s)]["epochs"] for p in order for s in SEEDS)
    # the best trial is fitted again in this process: the same fit
    np.testing.assert_allclose(np.mean(compare(cut.best_estimator, D.test).fit_percent), cut.best_record["score"],
                               rtol=1e-9)


def test_ray_asha_on_the_sweeps_score(local_run, ray_local):
    """ASHA(metric="score") ranks trials at a rung by the sweep's score there; a trial it lets finish is
    the local row, and a stopped one's score at its rung was below the best score seen at that rung."""
    res, _, _ = local_run
    local = {(json.dumps(r["params"]), r["seed"]): r for r in res.records}
    order = [POINTS[1], POINTS[0]]
    cut = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=order, seeds=SEEDS, backend="ray", workers=2,
                scheduler=ASHA(grace_period=1, reduction_factor=2, metric="score"))
    assert sum(r["status"] == "stopped" for r in cut.records) >= 1
    for r in cut.records:
        ref = local[(json.dumps(r["params"]), r["seed"])]
        if r["status"] == "stopped":
            assert 1 <= r["epochs"] < ref["epochs"] and r["history"]["stopped"] == "scheduler"
        else:
            _same_row(r, ref)
            assert set(r["epoch_scores"]) == {"1", "2"}  # the rungs, at epochs 1 and 2 of 3
    assert cut.trial_epochs < sum(local[(json.dumps(p), s)]["epochs"] for p in order for s in SEEDS)


@pytest.mark.slow
def test_ray_same_table_as_local(local_run, ray_local):
    res, _, _ = local_run
    on_ray = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=POINTS, seeds=SEEDS, backend="ray", workers=2)
    assert on_ray.backend == "ray" and len(on_ray.records) == 6
    for a, b in zip(on_ray.records, res.records):
        _same_row(a, b)


@pytest.mark.slow
def test_local_worker_processes_same_table(local_run):
    res, _, _ = local_run
    two = sweep(NeuralNetStep(**BASE), D.train, D.test, grid=POINTS, seeds=SEEDS, workers=2)
    for a, b in zip(two.records, res.records):
        _same_row(a, b)
    np.testing.assert_allclose(np.mean(compare(two.best_estimator, D.test).fit_percent), res.best_record["score"],
                               rtol=1e-9)


def test_asha_rungs_lie_below_the_last_epoch():
    assert ASHA(grace_period=8, reduction_factor=3).rungs(30) == [8, 24]
    assert ASHA(grace_period=8, reduction_factor=2).rungs(16) == [8]  # a rung at 16 of 16 epochs would save nothing
    assert ASHA(grace_period=1, reduction_factor=2).rungs(3) == [1, 2]
    assert ASHA(reduction_factor=3).rungs(40) == [10, 30]  # default grace period: a quarter of max_t
    assert ASHA(grace_period=4, max_t=10).rungs(100) == [4]
    assert ASHA(grace_period=5).rungs(5) == []


def test_estimator_that_cannot_be_pickled_stays_in_its_worker():
    from sysid.estimators import N4SID
    from sysid.sweep._local import _worker_trial

    spec = {"trial": 0, "key": "k", "sweep": "s", "estimator": "N4SID", "params": {}, "seed": None,
            "metric": "fit_percent"}
    rec, est = _worker_trial(spec, N4SID(nx=2), D.train, D.test, {}, 1)
    assert rec["status"] == "ok", rec["error"]
    assert est is None  # its record came back; the caller refits the best trial
    np.testing.assert_allclose(rec["score"], np.mean(compare(N4SID(nx=2).fit(D.train), D.test).fit_percent), rtol=1e-9)


E = NeuralNetStep(**BASE)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(backend="dask"), ValueError, r"backend must be one of \['local', 'ray'\]; got 'dask'"),
    (dict(grid={"widht": [8]}), ValueError, r"'widht' is not a parameter of NeuralNetStep; its parameters are"),
    (dict(grid={"lr": [1e-3, -1.0]}), ValueError, r"grid point \{'lr': -1.0\}.*The 'lr' parameter of NeuralNetStep "
                                                  r"must be > 0.*no trial was run"),
    (dict(grid={"hidden": [0]}), ValueError, r"The 'hidden' parameter of NeuralNetStep must be an int >= 1"),
    (dict(grid={"x0": ["warm"]}), ValueError, r"The 'x0' parameter of NeuralNetStep must be one of"),
    (dict(grid={"seed": [0, 1]}), ValueError, r"give the seeds as sweep\(\.\.\., seeds="),
    (dict(grid={"hidden": 8}), ValueError, r"grid\['hidden'\] must be a non-empty list"),
    (dict(grid=[{"hidden": 4}, {"hidden": 4}]), ValueError, r"repeats a point"),
    (dict(grid={"loss": [object()]}), ValueError, r"must be a number, a string, a bool or None"),
    (dict(seeds=[-1]), ValueError, r"seeds must be a non-empty sequence of ints >= 0"),
    (dict(scheduler="asha"), ValueError, r"scheduler='asha' stops trials through Ray Tune; use backend='ray'"),
    (dict(scheduler="hyperband"), ValueError, r"scheduler must be None, 'asha'"),
    (dict(metric="mse"), ValueError, r"metric must be one of"),
    (dict(workers=0), ValueError, r"workers must be an int >= 1"),
    (dict(address="auto"), ValueError, r"use it with backend='ray'"),
    (dict(evaluate="fit"), TypeError, r"evaluate must be a callable evaluate\(fitted_estimator\) -> dict"),
    (dict(score_at=[0, 4]), ValueError, r"score_at must be a sequence of epoch counts \(ints >= 1\); got \[0, 4\]"),
    (dict(score_at="8"), ValueError, r"score_at must be a sequence of epoch counts"),
    (dict(backend="ray", scheduler=ASHA(grace_period=1, metric="loss")), ValueError,
     r"ASHA's metric must be 'val_loss' \(the engine's held-out loss\) or 'score'.*got 'loss'"),
])
def test_bad_input_refused_before_anything_runs(kwargs, exc, match, tmp_path):
    path = tmp_path / "never.jsonl"
    with pytest.raises(exc, match=match):
        sweep(E, D.train, D.test, results=path, on_trial=lambda r: pytest.fail("a trial ran"), **kwargs)
    assert not path.exists()


def test_asha_without_a_rung_refused_before_anything_runs(ray_local):
    with pytest.raises(ValueError, match=r"grace_period \(3\) is not below the epochs of a trial \(3\).*smaller"):
        sweep(E, D.train, D.test, backend="ray", scheduler=ASHA(grace_period=3),
              on_trial=lambda r: pytest.fail("a trial ran"))


def test_results_file_of_another_sweep_is_refused(local_run):
    _, path, _ = local_run
    with pytest.raises(ValueError, match="holds trials of another sweep.*its own results= path"):
        sweep(NeuralNetStep(**{**BASE, "epochs": 4}), D.train, D.test, grid=POINTS, results=path)


def test_not_an_estimator():
    with pytest.raises(TypeError, match="sweep expects a sysid estimator.*has no get_params"):
        sweep(object(), D.train, D.test)


def test_sample_grid_draws_from_the_space():
    pts = sample_grid({"lr": ("log", 1e-4, 1e-2), "hidden": [8, 16], "horizon": ("int", 20, 40)}, 200, seed=1)
    lr = np.array([p["lr"] for p in pts])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-2
    assert abs(np.mean(np.log10(lr)) + 3) < 0.15  # log-uniform: mean of log10 at the middle, −3
    assert {p["hidden"] for p in pts} == {8, 16} and all(20 <= p["horizon"] <= 40 for p in pts)
    assert sample_grid({"lr": [1, 2]}, 5, seed=3) == sample_grid({"lr": [1, 2]}, 5, seed=3)
    with pytest.raises(ValueError, match=r"space\['lr'\] must be a non-empty list"):
        sample_grid({"lr": 0.1}, 2)
