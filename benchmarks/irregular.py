"""Irregular sampling and the oscillator lecture: the targets of the issue, measured.

    python benchmarks/irregular.py                    # spiral, 30 s per model, seed 0
    python benchmarks/irregular.py --max-time 120 --seeds 0 1 2 --systems spiral center pendulum

Writes ``benchmarks/results/irregular.json``:

* per system, model and seed: interpolation / extrapolation MSE (examples/irregular.py protocol:
  40 % of a 50-point grid kept, test trajectories from other initial states);
* the targets: on the spiral, ODE-RNN and latent ODE interpolate with lower MSE than the Δt-RNN
  (mean over seeds); the trial solution's largest residual on a dense grid ≤ 1e-4 and its error
  against solve_ivp (rtol 1e-10) ≤ 1e-3; the Euler RNN equals the Euler loop to 1e-12.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import irregular as study  # noqa: E402
import oscillator as lecture  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-time", type=float, default=30.0, help="training seconds per model")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--systems", nargs="+", default=["spiral"])
    p.add_argument("--n-train", type=int, default=32)
    p.add_argument("--n-test", type=int, default=16)
    p.add_argument("--out", default=os.path.join(HERE, "results", "irregular.json"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    runs = {}
    for seed in args.seeds:
        runs[seed] = study.run_study(max_time=args.max_time, n_train=args.n_train, n_test=args.n_test,
                                     only=tuple(args.systems), seed=seed)
    mean = {s: {m: {k: float(np.mean([runs[sd][s][m][k] for sd in args.seeds])) for k in ("interp_mse", "extrap_mse")}
                for m in study.MODELS} for s in args.systems}
    euler = lecture.euler_check()
    tr = lecture.trial()
    targets = {"euler_rnn_vs_loop_le_1e-12": euler <= 1e-12, "trial_residual_le_1e-4": tr["max_residual"] <= 1e-4,
               "trial_error_vs_solve_ivp_le_1e-3": tr["max_error_vs_solve_ivp"] <= 1e-3}
    if "spiral" in mean:
        sp = mean["spiral"]
        targets["spiral_odernn_interp_below_rnndelta"] = sp["ODERNN"]["interp_mse"] < sp["RNNDelta"]["interp_mse"]
        targets["spiral_latentode_interp_below_rnndelta"] = sp["LatentODE"]["interp_mse"] < sp["RNNDelta"]["interp_mse"]
    doc = {"settings": vars(args) | {"keep": 0.4, "grid": 50}, "runs": {str(k): v for k, v in runs.items()},
           "mean": mean, "euler_vs_loop_max_abs": euler,
           "trial": {k: tr[k] for k in ("T", "hidden", "max_residual", "max_error_vs_solve_ivp")},
           "targets": targets, "seconds": time.perf_counter() - t0}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(doc, fh, indent=2)
    print("| system | model | interpolation MSE | extrapolation MSE |\n|---|---|---|---|")
    for s, rows in mean.items():
        for m, r in rows.items():
            print(f"| {s} | {m} | {r['interp_mse']:.3e} | {r['extrap_mse']:.3e} |")
    print(f"Euler RNN vs loop: {euler:.1e}; trial solution: residual {tr['max_residual']:.1e}, error "
          f"{tr['max_error_vs_solve_ivp']:.1e}")
    for k, v in targets.items():
        print(f"{k}: {'met' if v else 'NOT met'}")
    return doc


if __name__ == "__main__":
    main()
