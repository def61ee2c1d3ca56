"""Loaders for the nonlinear-system-identification benchmark files (nonlinearbenchmark.org).

Each loader takes the folder holding the files and returns a :class:`Benchmark` with the
literature's train/test split and the number of test samples used to set the initial
state (excluded from the score).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..core.iodata import IOData

__all__ = ["Benchmark", "cascaded_tanks", "silverbox", "f16"]


@dataclass
class Benchmark:
    """A benchmark data set with its standard split.

    Attributes
    ----------
    name : str
    train : IOData or list of IOData
    test : dict of str -> IOData or list of IOData
        Named test sets.
    init_window : int
        Leading test samples used only to set the initial state (not scored).
    rmse_scale, rmse_unit : float, str
        Factor and unit in which the literature reports RMSE (e.g. 1000, "mV").
    """

    name: str
    train: object
    test: dict
    init_window: int
    rmse_scale: float = 1.0
    rmse_unit: str = ""
    info: dict = field(default_factory=dict)


def _file(folder, name: str) -> str:
    path = os.path.join(os.fspath(folder), name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"expected the benchmark file {name!r} in {os.fspath(folder)!r}, but it is not there. Pass the "
            "folder that holds the benchmark's files (e.g. the one downloaded from nonlinearbenchmark.org)."
        )
    return path


def _columns(path: str, names: list[str]) -> dict[str, np.ndarray]:
    with open(path) as fh:
        header = [h.strip().strip('"') for h in fh.readline().strip().split(",")]
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(f"{path!r} lacks the columns {missing}; its header is {header}.")
    cols = [header.index(n) for n in names]
    table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols, ndmin=2)
    return {n: table[:, i] for i, n in enumerate(names)}


def _first_value(path: str, column: str) -> float:
    with open(path) as fh:
        header = [h.strip().strip('"') for h in fh.readline().strip().split(",")]
        row = fh.readline().strip().split(",")
    return float(row[header.index(column)])


def cascaded_tanks(path) -> Benchmark:
    """Cascaded tanks with overflow (Schoukens et al. 2016), ``dataBenchmark.csv`` in ``path``.

    Train (uEst, yEst) and test (uVal, yVal), 1024 samples each at Ts = 4 s; input pump
    voltage [V], output lower-tank level sensor [V]. ``init_window = 5``; RMSE in V.
    """
    f = _file(path, "dataBenchmark.csv")
    c = _columns(f, ["uEst", "uVal", "yEst", "yVal"])
    Ts = _first_value(f, "Ts")
    meta = dict(input_names=["pump"], output_names=["level"], input_units=["V"], output_units=["V"])
    train = IOData(c["uEst"], c["yEst"], dt=Ts, name="cascaded tanks (estimation)", **meta)
    test = IOData(c["uVal"], c["yVal"], dt=Ts, name="cascaded tanks (validation)", **meta)
    return Benchmark("cascaded_tanks", train, {"test": test}, init_window=5, rmse_scale=1.0, rmse_unit="V")


def silverbox(path) -> Benchmark:
    """Silverbox (Wigren & Schoukens 2013), ``SNLS80mV.csv`` in ``path``.

    Split of ``nonlinear_benchmarks.Silverbox()``: train = the first 75 % of the multisine
    part ``[40650:127400]``; test sets ``multisine`` (its last 21,688 samples),
    ``arrow_full`` = ``[100:40575]`` and ``arrow_no_extrapolation`` (its first 32,000).
    fs = 1e7 / 2¹⁴ Hz; ``init_window = 50``; RMSE in mV.
    """
    f = _file(path, "SNLS80mV.csv")
    c = _columns(f, ["V1", "V2"])
    u, y = c["V1"], c["V2"]
    dt = 2.0**14 / 1e7
    meta = dict(input_names=["V1"], output_names=["V2"], input_units=["V"], output_units=["V"])

    def rec(a, b, name):
        return IOData(u[a:b], y[a:b], dt=dt, name=f"silverbox {name}", **meta)

    ms_a, ms_b = 40650, 127400
    n_train = int(round(0.75 * (ms_b - ms_a)))
    train = rec(ms_a, ms_a + n_train, "train")
    test = {"multisine": rec(ms_a + n_train, ms_b, "multisine"),
            "arrow_full": rec(100, 40575, "arrow (full)"),
            "arrow_no_extrapolation": rec(100, 100 + 32000, "arrow (no extrapolation)")}
    return Benchmark("silverbox", train, test, init_window=50, rmse_scale=1000.0, rmse_unit="mV")


def f16(path, *, inputs=("Force", "Voltage"), outputs=("Acceleration1", "Acceleration2", "Acceleration3"),
        train_levels=(1, 3, 5, 7), test_levels=(2, 4, 6)) -> Benchmark:
    """F-16 ground vibration test (Noël & Schoukens 2017), FullMSine CSVs in ``path``.

    Train on full-multisine levels 1, 3, 5, 7 and test on 2, 4, 6 (as lists of experiments);
    inputs shaker force [N] and voltage [V], outputs three accelerations; Fs = 400 Hz.
    ``init_window = 50`` (no standard value; a few periods of the lowest mode).
    """
    names = list(inputs) + list(outputs)

    def level(k):
        suffix = "_Validation" if k % 2 == 0 else ""
        f = _file(path, f"F16Data_FullMSine_Level{k}{suffix}.csv")
        c = _columns(f, names)
        fs = _first_value(f, "Fs")
        return IOData(np.column_stack([c[n] for n in inputs]), np.column_stack([c[n] for n in outputs]),
                      dt=1.0 / fs, input_names=list(inputs), output_names=list(outputs),
                      input_units=["N" if n == "Force" else "V" for n in inputs],
                      output_units=["m/s^2"] * len(outputs), name=f"F16 FullMSine level {k}")

    train = [level(k) for k in train_levels]
    test = {"test": [level(k) for k in test_levels]}
    return Benchmark("f16", train, test, init_window=50, rmse_scale=1.0, rmse_unit="m/s^2")
