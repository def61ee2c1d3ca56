"""Identify a marginally stable plant from closed-loop data: a mass with friction under a PI loop.

The plant (force → position, ``sysid.datasets.closed_loop_positioner``) is a mass with
viscous and Coulomb friction: one integrator (velocity → position) and one stable pole.
It is measured under a PI position loop, so the force reacts to the measurement noise.

We identify it by the direct method: the measured force is the input, the measured position
the output. Plain N4SID estimates a pole *near* 1, and a free-run simulation of a long record
then drifts with any error in it; with ``integrator=True`` the integrator is kept exactly at
z = 1 (the subspace step runs on Δy), and the prediction-error refinement (output-error
criterion, consistent here because the noise is white measurement noise) fits the rest.
Residual analysis (``sysid.resid``) closes the loop.

    python examples/closed_loop.py --out out/
"""

from __future__ import annotations

import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import sysid  # noqa: E402
from sysid import plot  # noqa: E402
from sysid.estimators import ARX, N4SID  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    d = sysid.datasets.closed_loop_positioner(seed=args.seed)
    span = float(np.ptp(d.test.y))
    true_poles = np.sort(np.real(d.info["discrete"].poles()))
    print(f"closed-loop positioner: {d.train.N} training and {d.test.N} test samples, dt = {d.train.dt} s; "
          f"test position range {1000 * span:.1f} mm; true discrete poles {np.round(true_poles, 5).tolist()}")
    models = {
        "ARX(2, 2)": ARX(2, 2, 1),
        "N4SID nx=2": N4SID(nx=2, feedthrough=False),
        "N4SID nx=2, integrator": N4SID(nx=2, integrator=True, feedthrough=False),
        "N4SID nx=2, integrator + PEM": N4SID(nx=2, integrator=True, feedthrough=False, pem=True),
    }
    results, summary = [], {}
    for name, est in models.items():
        t0 = time.perf_counter()
        est.fit(d.train)
        seconds = time.perf_counter() - t0
        res = sysid.compare(est, d.test, x0="estimate", skip=50)  # free run over the whole test record
        results.append(res)
        poles = np.sort_complex(est.linearize().poles())
        summary[name] = {"rmse_mm": 1000 * float(res.rmse[0]), "rmse_percent_of_range": 100 * float(res.rmse[0]) / span,
                         "poles": [complex(p).real if abs(complex(p).imag) < 1e-12 else str(complex(p)) for p in poles],
                         "fit_seconds": seconds}
        print(f"{name:<30} free-run test RMSE {1000 * res.rmse[0]:8.3f} mm = {100 * res.rmse[0] / span:7.2f} % "
              f"of the range   poles {np.round(poles, 5).tolist()}   ({seconds:.2f} s)")
    best = models["N4SID nx=2, integrator + PEM"]
    check = sysid.resid(best, d.test)
    print(check)
    summary["resid"] = {"passed": check.passed, "independence_pvalue": check.independence_pvalue.ravel().tolist()}
    plot.save(plot.compare(results, list(models)), os.path.join(args.out, "closed_loop_compare.png"))
    plot.save(plot.plot_resid(check), os.path.join(args.out, "closed_loop_resid.png"))
    with open(os.path.join(args.out, "closed_loop.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary


if __name__ == "__main__":
    main()
