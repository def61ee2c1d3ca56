"""Run a study: read the data, fit every model, score, linearize, certify, save → ``run.json``.

``run.json`` (format ``sysid-run/1``) holds everything the report shows: the data summary, the
models with their settings and fit times, the fit table, the linearizations (matrices, poles,
zeros, DC gain, damping table), the certificates and the training histories. The signals the
figures need are in ``run_data.npz`` beside it; the fitted models in ``models/<name>/``.
"""

from __future__ import annotations

import datetime
import importlib
import json
import math
import os
import time
from collections.abc import Callable

import control
import numpy as np

from ..core.iodata import IOData
from ._config import ConfigError

__all__ = ["run_study", "load_study_data", "make_estimator", "linearization_summary", "modes", "RUN_FORMAT"]

RUN_FORMAT = "sysid-run/1"


def _iodata_summary(d: IOData) -> dict:
    def stats(x, names, units):
        return [{"name": n, "unit": un, "min": float(np.min(c)), "max": float(np.max(c)), "mean": float(np.mean(c)),
                 "std": float(np.std(c))} for n, un, c in zip(names, units, x.T)]

    return {"N": d.N, "nu": d.nu, "ny": d.ny, "dt": d.dt, "duration": float(d.t[-1] - d.t[0]),
            "inputs": stats(d.u, d.input_names, d.input_units),
            "outputs": stats(d.y, d.output_names, d.output_units), "name": d.name}


def load_study_data(cfg: dict) -> tuple[IOData, IOData, dict]:
    """Training and test records of a checked configuration, and a description of the source.

    Returns
    -------
    train, test : IOData
    source : dict
        ``{"kind": "dataset" | "file", ...}``; for a simulated dataset also the true system's
        linearization (``reference``) when it has one.
    """
    from .. import datasets

    data = cfg["data"]
    if "dataset" in data:
        name = data["dataset"]
        func = getattr(datasets, name)
        source = {"kind": "dataset", "dataset": name, "options": dict(data.get("options", {}))}
        if name in ("cascaded_tanks", "silverbox", "f16"):
            if "path" not in data:
                raise ConfigError(f"[data] dataset = {name!r} needs path = the folder with the benchmark files "
                                  "(e.g. ../shared/data/...).")
            bench = func(data["path"], **data.get("options", {}))
            test_name = data.get("test", next(iter(bench.test)))
            if test_name not in bench.test:
                raise ConfigError(f"[data] test = {test_name!r} is not a test set of {name}; it has "
                                  f"{list(bench.test)}.")
            train, test = bench.train, bench.test[test_name]
            source.update(path=data["path"], test=test_name, init_window=bench.init_window)
        else:
            try:
                sim = func(**data.get("options", {}))
            except TypeError as exc:
                raise ConfigError(f"[data] options do not fit sysid.datasets.{name}: {exc}; see its docstring "
                                  "for the keyword arguments.") from None
            train, test = sim.train, sim.test
            system = sim.system
            try:
                if hasattr(system, "linearize"):
                    nu = train.nu if isinstance(train, IOData) else 0
                    lin = system.linearize(u0=np.zeros(nu)) if not isinstance(system, control.StateSpace) else system
                    source["reference"] = {"label": "true system (linearized)", **linearization_summary(lin)}
            except Exception:  # a reference is a courtesy; the study does not depend on it
                pass
        if not isinstance(train, IOData) or not isinstance(test, IOData):
            raise ConfigError(f"[data] dataset {name!r} gives several experiments; the command line fits one "
                              "training and one test record. Use the Python API for several experiments.")
    else:
        from ..datasets import read_data

        kw = dict(inputs=data["inputs"], outputs=data["outputs"], dt=data.get("dt"), time=data.get("time"),
                  input_units=data.get("input_units"), output_units=data.get("output_units"))
        rec = read_data(data["file"], **kw)
        source = {"kind": "file", "file": data["file"], "sha256": _sha256(data["file"])}
        if data.get("test_file"):
            train, test = rec, read_data(data["test_file"], **kw)
            source.update(test_file=data["test_file"], test_sha256=_sha256(data["test_file"]))
        else:
            train, test = rec.split(float(data["split"]))
            source["split"] = data["split"]
    return train, test, source


def _sha256(path: str) -> str:
    from .._hashing import sha256_file

    return sha256_file(path)


def make_estimator(name: str, params: dict, *, progress: bool | None = None):
    """An unfitted estimator from its class name and parameters, with one-line errors."""
    from ._config import ESTIMATORS

    if name not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {name!r}; expected one of {list(ESTIMATORS)}.")
    cls = getattr(importlib.import_module("sysid.estimators"), name)
    valid = cls._param_names()
    bad = [k for k in params if k not in valid]
    if bad:
        raise ConfigError(f"{bad[0]!r} is not a parameter of {name}; valid parameters: {valid}.")
    params = dict(params)
    if progress is not None and "progress" in valid and "progress" not in params:
        params["progress"] = progress
    return cls(**params)


def _complex_list(z) -> list:
    return [[float(np.real(v)), float(np.imag(v))] for v in np.atleast_1d(z)]


def modes(sys: control.StateSpace) -> list[dict]:
    """Damping / natural-frequency table of the poles (as MATLAB's ``damp``).

    Discrete poles are mapped to s = log(z)/dt. ``wn`` [rad/s] = |s|, ``zeta`` = −Re s / |s|,
    ``tau`` [s] = −1/Re s (inf for Re s = 0, negative for unstable poles).

    Examples
    --------
    >>> import control
    >>> from sysid.report import modes
    >>> G = control.ss([[0.0, 1.0], [-4.0, -0.8]], [[0.0], [1.0]], [[1.0, 0.0]], [[0.0]])  # ωn = 2, ζ = 0.2
    >>> [(round(r["wn"], 6), round(r["zeta"], 6)) for r in modes(G)]
    [(2.0, 0.2), (2.0, 0.2)]
    """
    p = np.atleast_1d(control.poles(sys)).astype(complex)
    discrete = control.isdtime(sys, strict=True)
    rows = []
    for z in p[np.lexsort((p.imag, -np.abs(p)))]:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.log(z) / sys.dt if discrete else z
        if discrete and z == 0:
            rows.append({"pole": [z.real, z.imag], "magnitude": 0.0, "wn": math.inf, "zeta": 1.0, "tau": 0.0})
            continue
        wn = float(abs(s))
        zeta = float(-s.real / wn) if wn > 0 else -1.0
        tau = float(-1.0 / s.real) if s.real != 0 else math.inf
        rows.append({"pole": [float(z.real), float(z.imag)], "magnitude": float(abs(z)), "wn": wn, "zeta": zeta,
                     "tau": tau})
    return rows


def linearization_summary(sys: control.StateSpace) -> dict:
    """Matrices, poles, zeros, DC gain and the damping table of an LTI system (JSON-ready)."""
    sys = control.ss(sys)
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            dc = np.atleast_2d(np.real(control.dcgain(sys))).reshape(sys.noutputs, sys.ninputs)
        except Exception:
            dc = np.full((sys.noutputs, sys.ninputs), np.nan)
    try:
        zeros = np.atleast_1d(control.zeros(sys)) if sys.ninputs and sys.noutputs else np.empty(0)
    except Exception:
        zeros = np.empty(0)
    zeros = zeros[np.isfinite(zeros)]
    poles = np.atleast_1d(control.poles(sys))
    stable = bool(np.all(np.abs(poles) < 1)) if control.isdtime(sys, strict=True) else bool(np.all(poles.real < 0))
    return {"dt": float(sys.dt), "nx": int(sys.nstates), "A": np.asarray(sys.A).tolist(),
            "B": np.asarray(sys.B).tolist(), "C": np.asarray(sys.C).tolist(), "D": np.asarray(sys.D).tolist(),
            "poles": _complex_list(poles), "zeros": _complex_list(zeros),
            "dcgain": [[float(v) if np.isfinite(v) else None for v in row] for row in dc],
            "stable": stable, "modes": modes(sys)}


def system_from_summary(s: dict) -> control.StateSpace:
    """The control.StateSpace stored by :func:`linearization_summary`."""
    nx = s["nx"]
    A = np.asarray(s["A"], dtype=float).reshape(nx, nx)
    D = np.atleast_2d(np.asarray(s["D"], dtype=float))
    B = np.asarray(s["B"], dtype=float).reshape(nx, D.shape[1])
    C = np.asarray(s["C"], dtype=float).reshape(D.shape[0], nx)
    return control.ss(A, B, C, D, s["dt"])


def _cert_rows(rep) -> list[dict]:
    out = []
    for c in rep.certificates:
        out.append({"property": c.property, "certified": bool(c.certified),
                    "bound": None if c.bound is None else float(c.bound), "local": bool(c.local),
                    "solver": c.solver, "status": c.status, "message": c.message})
    return out


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def run_study(cfg: dict, *, out: str | None = None, progress: bool = False,
              log: Callable[[str], None] | None = None) -> str:
    """Fit and score every model of a checked configuration; write ``run.json``.

    Parameters
    ----------
    cfg : dict
        From :func:`load_config` or :func:`check_config`.
    out : str, optional
        Results folder (default ``cfg["out"]``).
    progress : bool
        Progress bars (models, training epochs).
    log : callable, optional
        Receives one line per step (e.g. ``print``).

    Returns
    -------
    str
        The path of ``run.json``.
    """
    from tqdm.auto import tqdm

    from .. import __version__
    from ..core.compare import compare

    say = log or (lambda _msg: None)
    out = os.fspath(out if out is not None else cfg["out"])
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    train, test, source = load_study_data(cfg)
    say(f"data: {train.N} training and {test.N} test samples, nu = {train.nu}, ny = {train.ny}, dt = {train.dt}")
    skip = cfg["compare"]["skip"]
    if skip is None:
        skip = int(source.get("init_window", min(20, test.N // 10)))
    horizon = cfg["compare"]["horizon"]
    u0 = cfg["linearize"].get("u0")
    arrays = {"train_u": train.u, "train_y": train.y, "train_t": train.t,
              "test_u": test.u, "test_y": test.y, "test_t": test.t}
    models = []
    bar = tqdm(cfg["model"], desc="models", disable=not progress, leave=False)
    for k, m in enumerate(bar):
        bar.set_postfix_str(m["name"])
        est = make_estimator(m["estimator"], m["params"], progress=progress)
        dec = m["decimate"]
        tr, te = (train, test) if dec == 1 else (train[::dec], test[::dec])
        t0 = time.perf_counter()
        est.fit(tr)
        fit_seconds = time.perf_counter() - t0
        path = os.path.join(out, "models", m["name"])
        est.save(path)
        skip_m = int(math.ceil(skip / dec))
        res = compare(est, te, x0="estimate", skip=skip_m, horizon=horizon)
        res_train = compare(est, tr, x0="estimate", skip=skip_m, horizon=horizon)
        arrays[f"model{k}_t"] = res.t
        arrays[f"model{k}_y"] = res.y_model
        arrays[f"model{k}_ytrue"] = res.y_true
        entry_resid = _resid(est, te, cfg["residuals"]["max_lag"], arrays, f"model{k}")
        uu = np.zeros(tr.nu) if u0 is None else np.asarray(u0, dtype=float)
        entry = {"name": m["name"], "estimator": m["estimator"], "params": est.get_params(),
                 "decimate": dec, "path": os.path.relpath(path, out), "fit_seconds": fit_seconds,
                 "repr": repr(est), "array_prefix": f"model{k}",
                 "compare": {"test": _scores(res), "train": _scores(res_train), "kind": res.kind,
                             "horizon": horizon, "skip": skip_m, "dt": te.dt},
                 "resid": entry_resid}
        try:
            entry["linearization"] = {"u0": uu.tolist(), **linearization_summary(est.linearize(u0=uu))}
        except Exception as exc:  # e.g. no equilibrium for this u0: say so in the report
            entry["linearization"] = {"u0": uu.tolist(), "error": f"{type(exc).__name__}: {exc}"}
        if hasattr(est, "singular_values_"):
            entry["singular_values"] = np.asarray(est.singular_values_).tolist()
            entry["nx_chosen"] = int(getattr(est, "nx_", 0) or 0) or None
        hist = getattr(est, "history_", None)
        if hist is not None:
            entry["history"] = {"loss": list(getattr(hist, "loss", []) or []),
                                "val_loss": list(getattr(hist, "val_loss", []) or []),
                                "best_epoch": int(getattr(hist, "best_epoch", -1)),
                                "stopped": str(getattr(hist, "stopped", None) or getattr(hist, "stop_reason", "") or "")}
        try:
            est.to_lure()
            entry["exact_lure"] = True
        except (NotImplementedError, AttributeError):
            entry["exact_lure"] = False
        if cfg["certify"]["enabled"]:
            from .. import certify

            try:
                rep = certify.report(est, solver=cfg["certify"].get("solver"))
                entry["certificates"] = {"model": rep.model, "rows": _cert_rows(rep)}
            except Exception as exc:
                entry["certificates"] = {"error": f"{type(exc).__name__}: {exc}"}
        say(f"{m['name']}: test fit {', '.join(f'{v:.2f}' for v in res.fit_percent)} % "
            f"({res.kind}), fitted in {fit_seconds:.2f} s, saved to {path}")
        models.append(entry)
    bar.close()
    doc = {
        "format": RUN_FORMAT,
        "title": cfg["title"],
        "sysid_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": {k: v for k, v in cfg.items()},
        "data": {"source": source, "train": _iodata_summary(train), "test": _iodata_summary(test),
                 "skip": skip},
        "residuals": cfg["residuals"],
        "models": models,
        "arrays": "run_data.npz",
    }
    np.savez(os.path.join(out, "run_data.npz"), **arrays)
    run_path = os.path.join(out, "run.json")
    with open(run_path, "w") as fh:
        json.dump(_jsonable(doc), fh, indent=1, default=str)
    return run_path


_RESID_ARRAYS = ("residuals", "lags", "auto", "cross_lags", "cross", "cross_bound", "whiteness_pvalue",
                 "independence_pvalue", "white", "independent")


def _resid(est, data: IOData, max_lag: int, arrays: dict, prefix: str) -> dict:
    """Residual analysis (:func:`sysid.resid`) on the test record: summary for run.json, arrays for the figure."""
    from ..core.resid import resid

    if data.nu == 0 or not data.is_uniform:
        return {"error": "residual analysis needs uniformly sampled data with inputs"}
    try:
        r = resid(est, data, max_lag=min(int(max_lag), data.N // 2 - 1))
    except Exception as exc:  # reported, not fatal: the fit itself succeeded
        return {"error": f"{type(exc).__name__}: {exc}"}
    for name in _RESID_ARRAYS:
        arrays[f"{prefix}_resid_{name}"] = np.asarray(getattr(r, name))
    return {"kind": r.kind, "auto_bound": float(r.auto_bound), "confidence": float(r.confidence),
            "passed": bool(r.passed), "white": np.asarray(r.white).tolist(),
            "independent": np.asarray(r.independent).tolist(),
            "whiteness_pvalue": np.asarray(r.whiteness_pvalue).tolist(),
            "independence_pvalue": np.asarray(r.independence_pvalue).tolist()}


def _scores(res) -> dict:
    return {"fit_percent": res.fit_percent.tolist(), "nrmse": res.nrmse.tolist(), "rmse": res.rmse.tolist(),
            "r2": res.r2.tolist()}
