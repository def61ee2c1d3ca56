"""The plan of a sweep: grid points, trial keys, the sweep's signature, one trial's estimator."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np

BACKENDS = ("local", "ray")
METRICS = {"fit_percent": "max", "r2": "max", "nrmse": "min", "rmse": "min"}
SCORES = ("fit_percent", "nrmse", "rmse", "r2")


def sample_grid(space: dict, n: int, *, seed: int = 0) -> list[dict]:
    """``n`` random points of a search space, for ``sweep(grid=...)`` (random search).

    Parameters
    ----------
    space : dict
        name → a list (uniform choice), ``("uniform", low, high)``, ``("log", low, high)``
        (log-uniform) or ``("int", low, high)`` (integers in [low, high]).
    n : int
    seed : int

    Examples
    --------
    >>> pts = sample_grid({"lr": ("log", 1e-4, 1e-2), "hidden": [16, 32]}, 3, seed=0)
    >>> len(pts), sorted(pts[0])
    (3, ['hidden', 'lr'])
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1; got {n!r}.")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        point = {}
        for name, spec in space.items():
            if isinstance(spec, list) and spec:
                point[name] = _plain(spec[int(rng.integers(len(spec)))])
            elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] in ("uniform", "log", "int"):
                kind, lo, hi = spec
                if kind == "uniform":
                    point[name] = float(rng.uniform(lo, hi))
                elif kind == "log":
                    if not lo > 0:
                        raise ValueError(f"space[{name!r}] = {spec!r}: a log-uniform range needs low > 0.")
                    point[name] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                else:
                    point[name] = int(rng.integers(lo, hi + 1))
            else:
                raise ValueError(f"space[{name!r}] must be a non-empty list of values or a tuple ('uniform' | 'log' | "
                                 f"'int', low, high); got {spec!r}.")
        out.append(point)
    return out


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _points(grid, params: list[str], owner: str) -> list[dict]:
    if grid is None:
        return [{}]
    if isinstance(grid, dict):
        names = list(grid)
        for k, vals in grid.items():
            if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__") or len(list(vals)) == 0:
                raise ValueError(f"grid[{k!r}] must be a non-empty list of values; got {vals!r}. Write "
                                 f"grid={{{k!r}: [{vals!r}]}} for a single value.")
        points = [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[k]) for k in names))]
    elif isinstance(grid, (list, tuple)) and grid and all(isinstance(p, dict) for p in grid):
        points = [dict(p) for p in grid]
    else:
        raise TypeError(f"grid must be a dict name → list of values (a Cartesian grid) or a non-empty list of dicts "
                        f"(explicit points, e.g. from sample_grid); got {type(grid).__name__}.")
    for p in points:
        for k, v in list(p.items()):
            if k == "seed":
                raise ValueError("the grid holds 'seed'; give the seeds as sweep(..., seeds=[0, 1, 2]) instead, so "
                                 "that every grid point runs with every seed.")
            if k not in params:
                raise ValueError(f"{k!r} is not a parameter of {owner}; its parameters are {params}. Fix the grid key.")
            v = _plain(v)
            if not (v is None or isinstance(v, (bool, int, float, str))):
                raise ValueError(f"grid value {k}={v!r} must be a number, a string, a bool or None (the results are "
                                 "JSON lines); for objects such as a Loss, sweep over a name or a number instead.")
            p[k] = v
    return points


def _key(params: dict, seed) -> str:
    return json.dumps({"params": params, "seed": seed}, sort_keys=True)


def _signature(estimator, grid_names) -> str:
    base = {k: v for k, v in estimator.get_params().items() if k not in grid_names and k != "seed"}
    text = json.dumps({"estimator": type(estimator).__qualname__, "base": base}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _clone(estimator, params: dict, seed):
    est = type(estimator)(**estimator.get_params())
    extra = {} if seed is None else {"seed": seed}
    est.set_params(**params, **extra)
    return est


def _dry_check(est, point: dict, seed, nu: int, ny: int, where: str) -> None:
    """Validate one trial's estimator (settings, and a model built without training)."""
    try:
        if hasattr(est, "_config"):
            est._config()
        if hasattr(est, "_build_module"):
            import torch

            with torch.random.fork_rng(devices=[]):
                est._build_module(nu, ny)
    except (ValueError, TypeError) as err:
        raise ValueError(f"the grid point {point} (seed {seed}, {where}) is not valid for {type(est).__name__}: {err} "
                         "Fix or remove that value; no trial was run.") from err

