"""Linear baselines on the benchmark data, beside the published results.

    python benchmarks/run_benchmarks.py [--data ../shared/data] [--only cascaded_tanks]

Writes benchmarks/results/linear_baselines.json.
"""

import argparse
import os
import sys

import numpy as np

from sysid import benchmarks, datasets
from sysid.estimators import ARX, N4SID

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--only", default=None)
    p.add_argument("--out", default=os.path.join(HERE, "results", "linear_baselines.json"))
    args = p.parse_args(argv)
    loaders = {"cascaded_tanks": datasets.cascaded_tanks, "silverbox": datasets.silverbox, "f16_gvt": datasets.f16}
    models = {
        "cascaded_tanks": {"N4SID nx=2": lambda: N4SID(nx=2), "N4SID nx=2 + PEM": lambda: N4SID(nx=2, pem=True),
                           "N4SID nx=3 + PEM": lambda: N4SID(nx=3, pem=True), "ARX(2,2,1)": lambda: ARX(2, 2, 1)},
        "silverbox": {"N4SID nx=2": lambda: N4SID(nx=2), "N4SID nx=2 + PEM": lambda: N4SID(nx=2, pem=True),
                      "N4SID nx=4": lambda: N4SID(nx=4), "ARX(2,2,1)": lambda: ARX(2, 2, 1)},
        "f16_gvt": {"N4SID nx=10": lambda: N4SID(nx=10), "N4SID (order from SV gap)": lambda: N4SID()},
    }
    results = []
    for name, load in loaders.items():
        if args.only and name != args.only:
            continue
        bench = load(os.path.join(args.data, name))
        for label, make in models[name].items():
            r = benchmarks.evaluate(make, bench, label=label)
            results.append(r)
            print(f"{name:<16}{label:<26} fit {r['fit_seconds']:6.2f} s  " +
                  "  ".join(f"{t}: RMSE {np.round(v['rmse'], 4).tolist()} {v['unit']}, NRMSE "
                            f"{np.round(v['nrmse'], 3).tolist()}" for t, v in r["tests"].items()), flush=True)
    print(benchmarks.format_table(results))
    benchmarks.save_json(results, args.out)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    sys.exit(main())
