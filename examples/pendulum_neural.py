"""Identify the seed pendulum (only the angle measured) with NeuralNetStep and NeuralODE.

The data are decimated to Δt = 0.05 s. Both models have two states (the angle and a hidden
one, fitted per training window). Prints the test fit % (free-run simulation) and the poles
of each model linearized at the bottom next to the true linearization; saves a figure.

    python examples/pendulum_neural.py [--out out/] [--full]
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import sysid  # noqa: E402
from sysid import plot  # noqa: E402
from sysid.estimators import N4SID, NeuralNetStep, NeuralODE  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out")
    p.add_argument("--full", action="store_true")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    d = sysid.datasets.pendulum(seed=0)
    train, test = d.train[::5], d.test[::5]
    ep = args.epochs or (1500 if args.full else 300)
    models = {
        "N4SID nx=2": N4SID(nx=2),
        "NeuralNetStep nx=2 (residual)": NeuralNetStep(nx=2, hidden=16, residual=True, init_std=0.1, horizon=60,
                                                       epochs=ep, seed=0),
        "NeuralODE nx=2": NeuralODE(nx=2, hidden=16, loss="truncated", horizon=60, epochs=max(ep // 2, 1), lr=2e-2,
                                    substeps=2, normalize="standard", seed=0),
    }
    g, l, m, mu = (d.info[k] for k in ("g", "l", "m", "mu"))
    true_c = np.roots([1.0, mu / (m * l**2), g / l])          # physical (continuous) poles
    true_d = np.linalg.eigvals(d.system.linearize(u0=[0.0]).A) ** 5  # the simulated system at Δt = 0.05
    results, summary = [], {}
    for name, est in models.items():
        est.fit(train)
        x0 = np.zeros(2) if isinstance(est, NeuralODE) else "estimate"  # the test record starts at rest
        res = sysid.compare(est, test, x0=x0, skip=0 if isinstance(est, NeuralODE) else 10)
        poles = np.sort_complex(np.atleast_1d(est.linearize(u0=[0.0]).poles()))
        results.append(res)
        summary[name] = {"fit_percent": float(res.fit_percent[0]), "poles": [str(p) for p in poles]}
        print(f"{name:<32} test fit {res.fit_percent[0]:6.2f} %   poles {np.round(poles, 4)}")
    print(f"{'true (discrete, Δt = 0.05 s)':<32} {'':>17}poles {np.round(np.sort_complex(true_d), 4)}")
    print(f"{'true (continuous)':<32} {'':>17}poles {np.round(np.sort_complex(true_c), 4)}")
    fig = plot.compare(results, list(models), title="pendulum (test): free-run simulation")
    plot.save(fig, os.path.join(args.out, "pendulum_neural.png"))
    with open(os.path.join(args.out, "pendulum_neural.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary


if __name__ == "__main__":
    main()
