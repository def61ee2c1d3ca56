"""The ``sysid`` command line: ``sysid demo``, ``sysid info``."""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def _sorted_poles(sys) -> np.ndarray:
    p = np.atleast_1d(sys.poles())
    return p[np.lexsort((p.imag, -np.abs(p)))]


def demo(out: str = "out", seed: int = 0, quick: bool = False) -> int:
    """Identify the seed pendulum, print fit % and poles, save a compare figure."""
    import matplotlib

    matplotlib.use("Agg")
    from . import compare, datasets, plot
    from .estimators import N4SID

    os.makedirs(out, exist_ok=True)
    d = datasets.pendulum(seed=seed)
    print(f"pendulum: {d.train.N} training and {d.test.N} test samples at dt = {d.train.dt} s; "
          "input torque [N m], output angle [rad]")
    true_lin = d.system.linearize(u0=[0.0])

    results, labels, models, fitted = [], [], [], []
    t0 = time.perf_counter()
    lin = N4SID(nx=2).fit(d.train)
    results.append(compare(lin, d.test, x0="estimate", skip=20))
    labels.append(f"N4SID (nx=2, {time.perf_counter() - t0:.2f} s)")
    models.append(lin.linearize())
    fitted.append(lin)
    # a neural state-space model (Δt = 0.05 s: every 5th sample), linearized at the bottom
    from .estimators import NeuralNetStep

    t0 = time.perf_counter()
    net = NeuralNetStep(nx=2, hidden=16, residual=True, init_std=0.1, horizon=60, epochs=60 if quick else 300,
                        seed=seed, progress=not quick).fit(d.train[::5])
    res = compare(net, d.test[::5], x0="estimate", skip=4)
    results.append(res)
    labels.append(f"NeuralNetStep (nx=2, Δt=0.05 s, {time.perf_counter() - t0:.1f} s)")
    models.append(net.linearize(u0=[0.0]))
    fitted.append(net)

    print("\ntest set, free-run simulation (initial state from the first 20 samples):")
    rows = [["model", "fit %", "RMSE [rad]"]]
    for lab, res in zip(labels, results):
        rows.append([lab, f"{res.fit_percent[0]:.2f}", f"{res.rmse[0]:.4g}"])
    print(_table(rows))

    print("\npoles of the linearization at the bottom: identified vs true (discrete; the network's at Δt = 0.05 s, "
          "compared with the true poles to the 5th power)")
    true_p = _sorted_poles(true_lin)
    rows = [["true linearized (Δt = 0.01 s)"] + [f"{p:.5f}" for p in true_p],
            ["true linearized, ^5 (Δt = 0.05 s)"] + [f"{p:.5f}" for p in true_p**5]]
    for lab, m in zip(labels, models):
        rows.append([lab.split(" (")[0]] + [f"{p:.5f}" for p in _sorted_poles(m)])
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    print(_table(rows))

    from . import certify

    print("\ncertificates (LMIs, re-checked in numpy):")
    for est in fitted:
        print(certify.report(est))

    fig = plot.compare(results[:1], labels[:1], title="pendulum, test set: free-run simulation (linear model)")
    plot.save(fig, os.path.join(out, "demo_compare_linear.png"))
    fig = plot.compare(results[1:], labels[1:], title="pendulum, test set: free-run simulation (neural model)")
    path = os.path.join(out, "demo_compare.png")
    plot.save(fig, path)
    print(f"\nfigure saved: {path}")
    return 0


def info() -> int:
    import sysid

    print(f"sysid {sysid.__version__}")
    for name in ("numpy", "scipy", "control", "cvxpy", "clarabel", "scs", "cvxopt", "torch", "torchdiffeq"):
        try:
            mod = __import__(name)
            print(f"  {name:<12}{getattr(mod, '__version__', '?')}")
        except ImportError:  # pragma: no cover
            print(f"  {name:<12}missing")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sysid", description="System identification in control-theory style.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="identify the seed pendulum, print fit %% and poles, save a figure")
    p.add_argument("--out", default="out", help="folder for the figure (default: out/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="shorter training (for tests)")
    sub.add_parser("info", help="versions of sysid and its dependencies")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(out=args.out, seed=args.seed, quick=args.quick)
    return info()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
