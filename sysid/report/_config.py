"""Study configuration: a TOML file (or command-line flags) → a validated dict.

A study names its data, the models to fit and how to score them::

    title = "Pendulum: a linear and a neural model"
    out = "out"                        # results folder (relative to the working directory)

    [data]
    dataset = "pendulum"               # a simulated system of sysid.datasets ...
    options = { seed = 0 }             # ... and its keyword arguments
    # file = "plant.csv"               # or a CSV / .npz / .mat file (relative to this file)
    # inputs = ["u"]
    # outputs = ["y"]
    # dt = 0.01                        # or time = "t"
    # test_file = "plant_test.csv"     # or split = 0.7 (chronological)

    [compare]
    skip = 20                          # samples that set the initial state, not scored
    # horizon = 10                     # k-step prediction instead of free-run simulation

    [linearize]
    u0 = [0.0]                         # operating input (default: zeros)

    [certify]
    enabled = true

    [[model]]
    name = "N4SID"
    estimator = "N4SID"
    params = { nx = 2 }

    [[model]]
    name = "neural"
    estimator = "NeuralNetStep"
    decimate = 5                       # fit and score on every 5th sample
    params = { nx = 2, hidden = 16, epochs = 100 }
"""

from __future__ import annotations

import copy
import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "load_config", "check_config", "ESTIMATORS", "DATASETS"]

ESTIMATORS = ("N4SID", "ARX", "NeuralNetStep", "MatrixStep", "NeuralODE", "NeuralODEMatrix", "LSTM", "REN")
DATASETS = ("pendulum", "fourth_order_plant", "damped_oscillator", "cascaded_tanks", "silverbox", "f16")

_TOP = {"title", "out", "data", "compare", "linearize", "certify", "model", "residuals"}
_DATA = {"dataset", "options", "path", "file", "inputs", "outputs", "dt", "time", "test_file", "split",
         "input_units", "output_units", "test"}
_MODEL = {"name", "estimator", "params", "decimate"}


class ConfigError(ValueError):
    """A study configuration that cannot be used; the message says what to change."""


def _unknown(found, allowed, where: str) -> None:
    bad = sorted(set(found) - set(allowed))
    if bad:
        raise ConfigError(f"{where}: unknown key {bad[0]!r}; expected one of {sorted(allowed)}.")


def load_config(path) -> dict:
    """Read and check a study configuration (TOML).

    Relative data paths are made relative to the configuration file's folder.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        The checked configuration (see :func:`check_config`).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no configuration file at {path!r}; pass a TOML file, e.g. "
                                "examples/configs/pendulum.toml.")
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path!r} is not valid TOML: {exc}; fix the syntax at that line.") from None
    cfg = check_config(cfg, where=path)
    base = os.path.dirname(os.path.abspath(path))
    for key in ("file", "test_file", "path"):
        value = cfg["data"].get(key)
        if value and not os.path.isabs(value):
            cfg["data"][key] = os.path.normpath(os.path.join(base, value))
    cfg["config_path"] = os.path.abspath(path)
    return cfg


def check_config(cfg: dict, *, where: str = "configuration") -> dict:
    """Validate a study configuration dict and fill in defaults; returns a new dict."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a table of settings; got {type(cfg).__name__}.")
    cfg = copy.deepcopy(cfg)
    _unknown(cfg, _TOP | {"config_path"}, where)
    cfg.setdefault("title", "sysid study")
    cfg.setdefault("out", "out")
    data = cfg.get("data")
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a [data] table is required (dataset = \"pendulum\", or file = \"x.csv\" "
                          "with inputs, outputs and dt).")
    _unknown(data, _DATA, f"{where} [data]")
    if ("dataset" in data) == ("file" in data):
        raise ConfigError(f"{where} [data]: give exactly one of dataset (one of {list(DATASETS)}) or file "
                          "(a CSV / .npz / .mat path).")
    if "dataset" in data:
        if data["dataset"] not in DATASETS:
            raise ConfigError(f"{where} [data]: unknown dataset {data['dataset']!r}; expected one of "
                              f"{list(DATASETS)}, or use file = \"...\".")
        if not isinstance(data.setdefault("options", {}), dict):
            raise ConfigError(f"{where} [data]: options must be a table of keyword arguments; got "
                              f"{data['options']!r}.")
    else:
        for key in ("inputs", "outputs"):
            value = data.get(key)
            if isinstance(value, str):
                data[key] = value = [value]
            if key == "outputs" and not value:
                raise ConfigError(f"{where} [data]: outputs must name the output column(s), e.g. outputs = "
                                  "[\"y\"].")
            if not isinstance(value if value is not None else [], list):
                raise ConfigError(f"{where} [data]: {key} must be a list of column names; got {value!r}.")
            data.setdefault(key, [])
        if "dt" not in data and "time" not in data:
            data["dt"] = None  # the file may carry dt; read_data says so otherwise
        if "split" in data and "test_file" in data:
            raise ConfigError(f"{where} [data]: give test_file or split, not both.")
        split = data.get("split", 0.7 if "test_file" not in data else None)
        if split is not None and not (isinstance(split, float) and 0 < split < 1):
            raise ConfigError(f"{where} [data]: split must be a fraction in (0, 1) (the training share); "
                              f"got {split!r}.")
        data["split"] = split
    cmp = cfg.setdefault("compare", {})
    _unknown(cmp, {"skip", "horizon"}, f"{where} [compare]")
    skip = cmp.setdefault("skip", None)
    if skip is not None and (not isinstance(skip, int) or isinstance(skip, bool) or skip < 0):
        raise ConfigError(f"{where} [compare]: skip must be an int >= 0; got {skip!r}.")
    horizon = cmp.setdefault("horizon", None)
    if horizon is not None and (not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1):
        raise ConfigError(f"{where} [compare]: horizon must be an int >= 1 (omit it for free-run simulation); "
                          f"got {horizon!r}.")
    lin = cfg.setdefault("linearize", {})
    _unknown(lin, {"u0"}, f"{where} [linearize]")
    cert = cfg.setdefault("certify", {})
    _unknown(cert, {"enabled", "solver"}, f"{where} [certify]")
    cert.setdefault("enabled", True)
    res = cfg.setdefault("residuals", {})
    _unknown(res, {"max_lag"}, f"{where} [residuals]")
    res.setdefault("max_lag", 25)
    models = cfg.get("model")
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{where}: at least one [[model]] table is required, e.g. [[model]] with "
                          "estimator = \"N4SID\" and params = { nx = 2 }.")
    names = set()
    for k, m in enumerate(models):
        here = f"{where} [[model]] #{k + 1}"
        if not isinstance(m, dict):
            raise ConfigError(f"{here}: expected a table; got {m!r}.")
        _unknown(m, _MODEL, here)
        est = m.get("estimator")
        if est not in ESTIMATORS:
            raise ConfigError(f"{here}: unknown estimator {est!r}; expected one of {list(ESTIMATORS)}.")
        m.setdefault("name", est)
        if not isinstance(m["name"], str) or not m["name"] or any(c in m["name"] for c in "/\\:"):
            raise ConfigError(f"{here}: name must be a non-empty string without '/', '\\\\' or ':'; "
                              f"got {m['name']!r}.")
        if m["name"] in names:
            raise ConfigError(f"{here}: the model name {m['name']!r} is used twice; give each model its own "
                              "name.")
        names.add(m["name"])
        if not isinstance(m.setdefault("params", {}), dict):
            raise ConfigError(f"{here}: params must be a table; got {m['params']!r}.")
        dec = m.setdefault("decimate", 1)
        if not isinstance(dec, int) or isinstance(dec, bool) or dec < 1:
            raise ConfigError(f"{here}: decimate must be an int >= 1; got {dec!r}.")
    return cfg
