"""Irregularly sampled trajectories: Δt-RNN, decay-RNN, ODE-RNN, latent ODE and NeuralODE
=========================================================================================

The spiral source, the center and a free pendulum, each observed at random irregular times
(40 % of a fine grid kept, ``sysid.datasets.irregular_subset``). Every model is trained on the
irregular training trajectories; on separate test trajectories it

* **interpolates**: given the kept samples of the whole trajectory, it predicts the whole fine
  grid;
* **extrapolates**: given the kept samples of the first half, it predicts the second half.

The table is the mean squared error (physical units) per system and task, as in the latent-ODE
paper's tables. NeuralODE starts from the first observation (its state is the output) and uses
no other sample. The latent ODE's posterior samples are plotted for one test trajectory.

    python examples/irregular.py [--out out/] [--full]

The default run trains each model for a few seconds (under two minutes in all); ``--full``
trains longer on more trajectories.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
from scipy.integrate import solve_ivp

from sysid import IOData, datasets
from sysid.datasets import irregular_subset
from sysid.estimators import ODERNN, LatentODE, NeuralODE, RNNDecay, RNNDelta
from sysid.exceptions import FitWarning

MODELS = ("RNNDelta", "RNNDecay", "ODERNN", "LatentODE", "NeuralODE")


def pendulum_records(n: int, t: np.ndarray, seed: int) -> list[IOData]:
    """Free swings θ̈ = −(g/l) sin θ − μ θ̇ (g/l = 9.81, μ = 0.3), y = (θ, θ̇), from random (θ0, ω0)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s0 = [rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)]
        sol = solve_ivp(lambda _, s: [s[1], -9.81 * np.sin(s[0]) - 0.3 * s[1]], (t[0], t[-1]), s0, t_eval=t,
                        rtol=1e-10, atol=1e-12)
        out.append(IOData(None, sol.y.T, dt=float(t[1] - t[0]), output_names=["theta", "omega"]))
    return out


def systems(n_train: int, n_test: int, n_grid: int) -> dict:
    """Training and test trajectories on a fine regular grid, per system."""
    out = {}
    for name, make, T in (("spiral", datasets.spiral_source, 4.0), ("center", datasets.center, 1.0)):
        d = make(t=np.linspace(0, T, n_grid), n_initial_states=n_train - 1, seed=0)
        test = make(t=np.linspace(0, T, n_grid), n_initial_states=n_test, seed=1).test[:n_test]
        out[name] = (d.train, test)
    t = np.linspace(0, 3.0, n_grid)
    out["pendulum"] = (pendulum_records(n_train, t, 0), pendulum_records(n_test, t, 1))
    return out


def build(name: str, max_time: float, seed: int = 0):
    common = dict(max_time=max_time, epochs=100000, val_fraction=0.0, seed=seed, loss="simulation", batch_size=8)
    if name == "RNNDelta":
        return RNNDelta(nx=32, **common)
    if name == "RNNDecay":
        return RNNDecay(nx=32, **common)
    if name == "ODERNN":
        return ODERNN(nx=16, hidden=32, **common)
    if name == "LatentODE":
        return LatentODE(nx=4, hidden=32, enc_units=16, enc_hidden=32, **common)
    return NeuralODE(hidden=32, init="random", x0="measured", **common)


def predict(est, name: str, obs: IOData, t: np.ndarray) -> np.ndarray:
    if name == "NeuralODE":  # a simulator: from the first observation (state = output); its fixed-step
        grid = np.union1d(obs.t, t)  # integrator takes `substeps` steps per interval: keep the intervals short
        y = est.simulate(np.zeros((len(grid), 0)), x0=obs.y[0], t=grid)
        return y[np.searchsorted(grid, t)]
    return est.predict_at(obs, t)


def evaluate(est, name: str, test: list[IOData], keep: float, seed: int) -> tuple[float, float]:
    """(interpolation MSE, extrapolation MSE) over the test trajectories."""
    ei, ee = [], []
    for k, d in enumerate(test):
        obs = irregular_subset(d, keep=keep, seed=seed + k)
        ei.append(np.mean((predict(est, name, obs, d.t) - d.y) ** 2))
        half = d.N // 2
        first = irregular_subset(d[:half], keep=keep, seed=seed + k)
        ee.append(np.mean((predict(est, name, first, d.t[half:]) - d.y[half:]) ** 2))
    return float(np.mean(ei)), float(np.mean(ee))


def run_study(*, max_time: float, n_train: int, n_test: int, n_grid: int = 50, keep: float = 0.4,
              only: tuple | None = None, models: tuple = MODELS, seed: int = 0, out: str | None = None) -> dict:
    """Train and score every model on every system; returns {system: {model: {...}}}."""
    results: dict = {}
    fitted = {}
    for sname, (train, test) in systems(n_train, n_test, n_grid).items():
        if only and sname not in only:
            continue
        tr = irregular_subset(train, keep=keep, seed=seed)
        results[sname] = {}
        for mname in models:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FitWarning)
                est = build(mname, max_time, seed).fit(tr)
            fit_s = time.perf_counter() - t0
            mi, me = evaluate(est, mname, test, keep, 1000 + seed)
            results[sname][mname] = dict(interp_mse=mi, extrap_mse=me, fit_seconds=fit_s,
                                         epochs=len(est.history_.loss))
            fitted[(sname, mname)] = est
            print(f"{sname:9s} {mname:10s} interp {mi:9.3e}  extrap {me:9.3e}  ({fit_s:5.1f} s, "
                  f"{len(est.history_.loss)} epochs)", flush=True)
        if out and "LatentODE" in models:
            plot_posterior(fitted[(sname, "LatentODE")], test[0], keep, os.path.join(out, f"irregular_{sname}.png"))
    return results


def plot_posterior(est, d: IOData, keep: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    half = d.N // 2
    obs = irregular_subset(d[:half], keep=keep, seed=7)
    s = est.sample_posterior(obs, d.t, n_samples=20, seed=0)
    fig, axes = plt.subplots(d.ny, 1, figsize=(7, 2.4 * d.ny), sharex=True)
    for j, ax in enumerate(np.atleast_1d(axes)):
        ax.plot(d.t, s[:, :, j].T, color="C0", alpha=0.25, lw=1)
        ax.plot(d.t, d.y[:, j], "k--", lw=1, label="truth")
        ax.plot(obs.t, obs.y[:, j], "ko", ms=4, label="observed")
        ax.axvline(d.t[half - 1], color="gray", lw=0.8)
        ax.set_ylabel(d.output_names[j])
    np.atleast_1d(axes)[0].legend(loc="upper right", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("t")
    fig.suptitle("latent ODE: posterior trajectories given the first half")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results: dict) -> str:
    lines = ["| system | model | interpolation MSE | extrapolation MSE | fit [s] |", "|---|---|---|---|---|"]
    for s, rows in results.items():
        for m, r in rows.items():
            lines.append(f"| {s} | {m} | {r['interp_mse']:.3e} | {r['extrap_mse']:.3e} | {r['fit_seconds']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out")
    p.add_argument("--full", action="store_true", help="longer training on more trajectories")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    cfg = dict(max_time=60.0, n_train=40, n_test=20) if args.full else dict(max_time=4.0, n_train=16, n_test=8)
    results = run_study(out=args.out, **cfg)
    print(table(results))
    with open(os.path.join(args.out, "irregular.json"), "w") as fh:
        json.dump({"settings": cfg, "results": results}, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
