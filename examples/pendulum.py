"""Identify the seed pendulum (only the angle is measured) with linear models.

Simulates the torque-driven pendulum with friction (a Lur'e system with Δ(z) = z − sin z),
identifies it with N4SID (and N4SID refined by PEM), compares free-run simulations on the
test record, and prints the identified poles next to the true linearization at the bottom.

    python examples/pendulum.py --out out/
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import sysid  # noqa: E402
from sysid import plot  # noqa: E402
from sysid.estimators import N4SID  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    d = sysid.datasets.pendulum(seed=args.seed)
    true_lin = d.system.linearize(u0=[0.0])
    models = {"N4SID nx=2": N4SID(nx=2), "N4SID nx=2 + PEM": N4SID(nx=2, pem=True)}
    results, summary = [], {}
    for name, est in models.items():
        est.fit(d.train)
        res = sysid.compare(est, d.test, x0="estimate", skip=20)
        results.append(res)
        poles = np.sort_complex(est.linearize().poles())
        summary[name] = {"fit_percent": float(res.fit_percent[0]), "rmse": float(res.rmse[0]),
                         "poles": poles.tolist()}
        print(f"{name:<20} test fit {res.fit_percent[0]:6.2f} %   poles {np.round(poles, 6)}")
    print(f"{'true linearization':<20} {'':>17}poles {np.round(np.sort_complex(true_lin.poles()), 6)}")

    fig = plot.compare(results, list(models), title="pendulum: test set, free-run simulation")
    plot.save(fig, os.path.join(args.out, "pendulum_compare.png"))
    fig = plot.poles([true_lin] + [m.linearize() for m in models.values()],
                     ["true (linearized)"] + list(models))
    plot.save(fig, os.path.join(args.out, "pendulum_poles.png"))
    print(f"figures saved in {args.out}/")
    return summary


if __name__ == "__main__":
    main()
