"""The damped, driven oscillator of the RNN lecture
================================================

m ẍ + γ ẋ + x = F(t), α = γ/m, δ = 1/m (m = 1, γ = 0.3 here):

1. **Euler's method as a recurrent network** — the cell s⁺ = W s + U F with the exact weights
   W = [[1, h], [−hδ, 1 − hα]], U = [0, hδ] (``sysid.models.oscillator.EulerRNNModule``); its
   outputs equal a hand-written Euler loop to machine precision.
2. **The same system identified from data** — ``NeuralNetStep`` (discrete) and ``NeuralODE``
   (continuous) fitted to a multisine-forced record; the poles of their linearizations against
   the true ones (−γ/2m ± i·sqrt(1/m − γ²/4m²)).
3. **A trial-solution network** — g(t) = x0 + v0 t + t² N(t) satisfies the initial conditions by
   construction; N minimizes the ODE residual on collocation points. Its residual on a dense
   grid and its error against ``scipy.integrate.solve_ivp`` (rtol 1e-10).

    python examples/oscillator.py [--out out/] [--full]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
from scipy.integrate import solve_ivp

from sysid import datasets
from sysid.estimators import NeuralNetStep, NeuralODE
from sysid.exceptions import FitWarning
from sysid.linear import IdentificationWarning
from sysid.models.oscillator import EulerRNNModule, TrialSolution

M, GAMMA = 1.0, 0.3


def forcing(t):
    return torch.cos(1.5 * t) if torch.is_tensor(t) else np.cos(1.5 * t)


def euler_check(h: float = 0.05, n: int = 2000, seed: int = 0) -> float:
    """Largest difference between the Euler RNN and a hand-written Euler loop."""
    F = np.random.default_rng(seed).normal(size=n)
    with torch.no_grad():
        y = EulerRNNModule(M, GAMMA, h)(torch.tensor(F[None, :, None]), torch.tensor([[1.0, 0.0]], dtype=torch.float64))[0, :, 0].numpy()
    x, v, ref = 1.0, 0.0, []
    for f in F:
        ref.append(x)
        x, v = x + h * v, v + h * (-(GAMMA / M) * v - x / M + f / M)
    return float(np.abs(y - np.array(ref)).max())


def identify(max_time: float, seed: int = 0) -> dict:
    """Poles of NeuralNetStep and NeuralODE fitted to the oscillator, against the true poles."""
    d = datasets.damped_oscillator(m=M, gamma=GAMMA, N=1000, dt=0.05, seed=seed)
    true = np.sort_complex(np.linalg.eigvals(np.asarray(d.system.A)))
    out = {"true_poles": [[p.real, p.imag] for p in true]}
    for name, est in (("NeuralNetStep", NeuralNetStep(nx=2, max_time=max_time, seed=seed)),
                      ("NeuralODE", NeuralODE(nx=2, max_time=max_time, seed=seed))):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            warnings.simplefilter("ignore", IdentificationWarning)  # the multisine is band-limited
            est.fit(d.train)
        lin = est.linearize()
        z = np.linalg.eigvals(lin.A)
        s = np.log(z.astype(complex)) / lin.dt if lin.dt else z
        s = np.sort_complex(s)
        err = float(np.abs(s - true).max())
        y = est.simulate(d.test.u)
        fit = float(100 * (1 - np.linalg.norm(y - d.test.y) / np.linalg.norm(d.test.y - d.test.y.mean())))
        out[name] = dict(poles=[[p.real, p.imag] for p in s], pole_error=err, test_fit_percent=fit,
                         fit_seconds=time.perf_counter() - t0)
        print(f"{name:14s} poles {np.round(s, 4)}  (true {np.round(true, 4)}), |error| {err:.2e}, "
              f"test fit {fit:.1f} %", flush=True)
    return out


def trial(T: float = 4.0, hidden: int = 16, max_iter: int = 300, x0: float = 1.0, v0: float = 0.0) -> dict:
    """The trial solution's largest ODE residual on a dense grid and its error against solve_ivp."""
    t0 = time.perf_counter()
    ts = TrialSolution(x0, v0, T=T, hidden=hidden, seed=0)
    ts.fit(M, GAMMA, forcing, n_points=200, max_iter=max_iter)
    t = torch.linspace(0, T, 4001, dtype=torch.float64)
    res = float(ts.residual(t, M, GAMMA, forcing).detach().abs().max())
    ref = solve_ivp(lambda s, z: [z[1], (forcing(s) - GAMMA * z[1] - z[0]) / M], (0, T), [x0, v0], rtol=1e-10,
                    atol=1e-12, dense_output=True)
    g = ts(t).detach().numpy()
    err = float(np.abs(g - ref.sol(t.numpy())[0]).max())
    print(f"trial solution on [0, {T:g}]: max |residual| {res:.2e}, max |g − solve_ivp| {err:.2e} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return dict(T=T, hidden=hidden, max_residual=res, max_error_vs_solve_ivp=err, t=t.numpy()[::40].tolist(),
                g=g[::40].tolist(), reference=ref.sol(t.numpy()[::40])[0].tolist())


def plot(res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = res["trial"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(tr["t"], tr["reference"], "k", lw=2, label="solve_ivp")
    axes[0].plot(tr["t"], tr["g"], "C1--", label="trial solution")
    axes[0].set_xlabel("t")
    axes[0].set_ylabel("x")
    axes[0].legend()
    true = np.array(res["identify"]["true_poles"])
    axes[1].plot(true[:, 0], true[:, 1], "kx", ms=10, label="true")
    for k, name in enumerate(("NeuralNetStep", "NeuralODE")):
        p = np.array(res["identify"][name]["poles"])
        axes[1].plot(p[:, 0], p[:, 1], "o", mfc="none", color=f"C{k}", label=name)
    axes[1].set_xlabel("Re s")
    axes[1].set_ylabel("Im s")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out")
    p.add_argument("--full", action="store_true", help="longer identification, a longer interval for the trial solution")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    res = {"euler_vs_loop_max_abs": euler_check()}
    print(f"Euler RNN vs hand-written Euler loop: max |difference| {res['euler_vs_loop_max_abs']:.1e}")
    res["identify"] = identify(60.0 if args.full else 10.0)
    res["trial"] = trial(T=8.0, hidden=32, max_iter=1000) if args.full else trial()
    plot(res, os.path.join(args.out, "oscillator.png"))
    with open(os.path.join(args.out, "oscillator.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    return res


if __name__ == "__main__":
    main()
