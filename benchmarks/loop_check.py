"""Cost and decisiveness of LureSystem's numpy well-posedness check of the loop w = Δ(D11 w + b),
against the LMI of sysid.certify.well_posedness (cvxpy) on the same matrices.

    python benchmarks/loop_check.py                 # nv ∈ {2, 4, 8, 16, 32}, ~1 min
    python benchmarks/loop_check.py --sizes 2 64    # other sizes

Test matrices: dense D11 = s·G/√nv with G standard normal, s ∈ {0.5, 1, 1.5, 2, 3} (10 seeds
each), Δ = tanh (slopes [0, 1]). For each size the table gives how many loops the numpy check
calls well posed / ill posed / undecided, the median and worst time of one check, and the
agreement with the LMI: "LMI ok, numpy not" counts loops the LMI certifies that the numpy check
does not prove (its diagonal-multiplier search is weaker than the SDP); "numpy ill, LMI ok"
must be 0 (that would be a contradiction). Writes benchmarks/results/loop_check.json (or --out).
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from sysid import LureSystem, certify
from sysid.core._loop import loop_verdict
from sysid.delta import Tanh

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--out", default=os.path.join(HERE, "results", "loop_check.json"))
    args = p.parse_args(argv)
    delta = Tanh()
    rows = []
    print(f"{'nv':>4} {'well':>5} {'ill':>5} {'undec.':>6} {'median ms':>10} {'max ms':>8} "
          f"{'LMI ok, numpy not':>18} {'numpy ill, LMI ok':>18}")
    for n in args.sizes:
        counts = {"well-posed": 0, "ill-posed": 0, "unknown": 0}
        times, weaker, contradictions = [], 0, 0
        for s in (0.5, 1.0, 1.5, 2.0, 3.0):
            for seed in range(args.seeds):
                D = s * np.random.default_rng(seed).normal(size=(n, n)) / np.sqrt(n)
                t0 = time.perf_counter()
                verdict, _ = loop_verdict(D, delta)
                times.append(time.perf_counter() - t0)
                counts[verdict] += 1
                sys = LureSystem(A=np.zeros((1, 1)), B1=np.zeros((1, n)), C1=np.zeros((n, 1)), D11=D,
                                 C2=[[1.0]], delta=delta, dt=1.0)
                lmi = certify.well_posedness(sys).certified
                weaker += bool(lmi and verdict != "well-posed")
                contradictions += bool(lmi and verdict == "ill-posed")
        row = dict(nv=n, **counts, median_ms=1e3 * float(np.median(times)), max_ms=1e3 * float(np.max(times)),
                   lmi_only=weaker, contradictions=contradictions)
        rows.append(row)
        print(f"{n:>4} {counts['well-posed']:>5} {counts['ill-posed']:>5} {counts['unknown']:>6} "
              f"{row['median_ms']:>10.2f} {row['max_ms']:>8.1f} {weaker:>18} {contradictions:>18}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(dict(rows=rows, machine=platform.platform(), python=platform.python_version()), fh, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
