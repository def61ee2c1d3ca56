"""Linear baselines on the benchmark data, beside the published results.

    python benchmarks/run_benchmarks.py [--data ../shared/data] [--only cascaded_tanks] [--markdown out.md]

For every benchmark: ARX models of several orders (the reference), N4SID (fixed orders and the
automatic order), N4SID refined by the prediction-error method (output-error criterion,
analytic gradients), and for the one-input one-output benchmarks OE models. The protocol is
:func:`sysid.benchmarks.evaluate` (train on the literature's split, free-run simulation of each
test record from an initial state fitted on its first samples). Also times PEM on 25,000
samples of a sixth-order SISO system (the speed target: <= 10 s on 2 cores).

Writes benchmarks/results/linear_baselines.json and a markdown table (also printed), and checks
(i) the best sysid linear model is at least as good as the best ARX on every test set, and
(ii) PEM never makes a test error worse by more than 10 % than its N4SID start (for nx = 3 on the
cascaded tanks the least-squares N4SID model is unstable; PEM starts from the stable one).
"""

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from sysid import IOData, LureSystem, benchmarks, datasets  # noqa: E402
from sysid.estimators import ARX, N4SID, OE  # noqa: E402
from sysid.linear import n4sid, pem  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def models_for(name):
    if name == "cascaded_tanks":
        return {
            "ARX(2,2,1)": lambda: ARX(2, 2, 1), "ARX(3,3,1)": lambda: ARX(3, 3, 1), "ARX(5,5,1)": lambda: ARX(5, 5, 1),
            "N4SID nx=2": lambda: N4SID(nx=2), "N4SID nx=2 + PEM": lambda: N4SID(nx=2, pem=True),
            "N4SID nx=3 (stable)": lambda: N4SID(nx=3, stable=True),  # the least-squares A is unstable here
            "N4SID nx=3 + PEM": lambda: N4SID(nx=3, pem=True),
            "N4SID (order by BIC)": lambda: N4SID(),
            "OE(2,2,1)": lambda: OE(2, 2, 1), "OE(3,3,1)": lambda: OE(3, 3, 1),
        }
    if name == "silverbox":
        return {
            "ARX(2,2,1)": lambda: ARX(2, 2, 1), "ARX(4,4,1)": lambda: ARX(4, 4, 1), "ARX(8,8,1)": lambda: ARX(8, 8, 1),
            "N4SID nx=2": lambda: N4SID(nx=2), "N4SID nx=2 + PEM": lambda: N4SID(nx=2, pem=True),
            "N4SID nx=4": lambda: N4SID(nx=4), "N4SID nx=4 + PEM": lambda: N4SID(nx=4, pem=True),
            "N4SID (order by BIC)": lambda: N4SID(),
            "OE(2,2,0)": lambda: OE(2, 2, 0),
        }
    return {  # F-16: 2 inputs, 3 outputs, 4 x 73,728 training samples
        "ARX(4,4,1)": lambda: ARX(4, 4, 1), "ARX(8,8,1)": lambda: ARX(8, 8, 1),
        "N4SID nx=10": lambda: N4SID(nx=10), "N4SID nx=10 + PEM": lambda: SegmentPEM(nx=10),
        "N4SID (order by BIC)": lambda: N4SID(max_order=16),
    }


class SegmentPEM(N4SID):
    """N4SID on all training data, then PEM (output error) on the first ``segment`` samples of each
    training record: the full F-16 problem (4 x 73,728 samples x 3 outputs) would need a Jacobian
    of 0.9 M rows, more than this benchmark's budget on 2 cores."""

    segment = 8192

    def fit(self, data, *, val=None):
        super().fit(data, val=val)
        exps = data if isinstance(data, list) else [data]
        refined = pem([d[: self.segment] for d in exps], self.system_, max_nfev=30)
        self.pem_ = refined
        self._set_system(refined.system, exps)
        return self


PEM_PAIRS = {"N4SID nx=2 + PEM": "N4SID nx=2", "N4SID nx=3 + PEM": "N4SID nx=3 (stable)", "N4SID nx=4 + PEM": "N4SID nx=4",
             "N4SID nx=10 + PEM": "N4SID nx=10"}


def speed_benchmark(N=25000, nx=6, seed=3):
    """PEM (N4SID start, output-error criterion) on N samples of a random stable SISO system of order nx."""
    rng = np.random.default_rng(seed)
    poles = []
    while len(poles) < nx:
        r, th = rng.uniform(0.5, 0.95), rng.uniform(0.1, 2.5)
        poles += [r * np.exp(1j * th), r * np.exp(-1j * th)]
    import control

    den = np.real(np.poly(poles[:nx]))
    G = control.ss(control.tf(rng.normal(size=nx), den, 1.0))
    u = rng.normal(size=(N, 1))
    y = LureSystem.from_control(G).simulate(u)
    d = IOData(u, y + 0.05 * y.std() * rng.normal(size=y.shape), dt=1.0)
    t0 = time.perf_counter()
    start = n4sid(d, nx)
    t1 = time.perf_counter()
    res = pem(d, start.system)
    t2 = time.perf_counter()
    return {"N": N, "nx": nx, "n4sid_seconds": t1 - t0, "pem_seconds": t2 - t1, "nfev": res.nfev,
            "cost_initial": res.cost_initial, "cost_final": res.cost_final, "threads": os.environ.get("OMP_NUM_THREADS")}


def markdown(results, speed, checks):
    """One table per benchmark: models down, test sets across (free-run RMSE; mean over outputs)."""
    lines = []
    by = {}
    for r in results:
        by.setdefault(r["benchmark"], []).append(r)
    for bench, rs in by.items():
        tests = list(rs[0]["tests"])
        unit = rs[0]["tests"][tests[0]]["unit"]
        multi = len(rs[0]["tests"][tests[0]]["rmse"]) > 1
        lines.append(f"**{bench}** — free-run test RMSE [{unit}]{' (mean of the outputs)' if multi else ''}, "
                     "published results beside ours\n")
        lines.append("| model | " + " | ".join(tests) + " | fit time [s] |")
        lines.append("|---|" + "---:|" * len(tests) + "---:|")
        for r in sorted(rs, key=lambda r: float(np.mean(r["tests"][tests[0]]["rmse"]))):
            cells = [f"{float(np.mean(r['tests'][t]['rmse'])):.4g}" for t in tests]
            lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {r['fit_seconds']:.1f} |")
        published = benchmarks.PUBLISHED.get(bench if bench != "f16_gvt" else "f16", {})
        names = sorted({m for t in tests for m, _, _ in published.get(t, []) if m.startswith(("LTI", "Best linear"))})
        for name in names:
            cells = [next((f"{v:.4g}" for m, v, _ in published.get(t, []) if m == name), "") for t in tests]
            lines.append(f"| *published: {name}* | " + " | ".join(cells) + " | |")
        lines.append("")
    if speed:
        lines.append(f"PEM speed (`speed_benchmark`): {speed['N']} samples, nx = {speed['nx']}, SISO, output error: "
                     f"N4SID {speed['n4sid_seconds']:.2f} s, PEM {speed['pem_seconds']:.2f} s ({speed['nfev']} "
                     f"evaluations, OMP_NUM_THREADS={speed['threads']}).\n")
    lines.append("Checks:\n")
    for c in checks:
        lines.append(f"- {c}")
    return "\n".join(lines)


def summary_checks(results):
    checks = []
    by = {}
    for r in results:
        by.setdefault(r["benchmark"], {})[r["model"]] = r
    for bench, rs in by.items():
        tests = next(iter(rs.values()))["tests"]
        for test in tests:
            def score(m):
                return float(np.mean(rs[m]["tests"][test]["rmse"]))
            arx = [m for m in rs if m.startswith("ARX")]
            other = [m for m in rs if not m.startswith("ARX")]
            best_arx = min(arx, key=score)
            best = min(other, key=score)
            ok = score(best) <= score(best_arx)
            checks.append(f"{bench}/{test}: best non-ARX {best} {score(best):.4g} vs best ARX {best_arx} "
                          f"{score(best_arx):.4g} -> {'OK' if ok else 'WORSE'}")
            for refined, base in PEM_PAIRS.items():
                if refined in rs and base in rs:
                    ratio = score(refined) / score(base)
                    checks.append(f"{bench}/{test}: {refined} / {base} = {ratio:.3f} -> "
                                  f"{'OK' if ratio <= 1.10 else 'WORSE by more than 10 %'}")
    return checks


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--only", default=None)
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results", "linear_baselines.json"))
    p.add_argument("--markdown", default=os.path.join(HERE, "results", "linear_baselines.md"))
    p.add_argument("--merge", nargs="+", default=None,
                   help="combine result JSON files of earlier runs (e.g. one per --only) instead of running")
    args = p.parse_args(argv)
    loaders = {"cascaded_tanks": datasets.cascaded_tanks, "silverbox": datasets.silverbox, "f16_gvt": datasets.f16}
    results = []
    speed = None
    if args.merge:
        for path in args.merge:
            with open(path) as fh:
                doc = json.load(fh)
            results += doc["results"]
            speed = doc.get("pem_speed") or speed
        loaders = {}
        args.no_speed = speed is not None
    for name, load in loaders.items():
        if args.only and name != args.only:
            continue
        bench = load(os.path.join(args.data, name))
        for label, make in models_for(name).items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = benchmarks.evaluate(make, bench, label=label)
            r["warnings"] = sorted({str(w.message)[:160] for w in caught})
            results.append(r)
            print(f"{name:<16}{label:<24} fit {r['fit_seconds']:7.2f} s  " +
                  "  ".join(f"{t}: RMSE {np.round(v['rmse'], 4).tolist()} {v['unit']}"
                            for t, v in r["tests"].items()), flush=True)
    print(benchmarks.format_table(results))
    if not args.no_speed:
        speed = speed_benchmark()
    checks = summary_checks(results)
    table = markdown(results, speed, checks)
    print("\n" + table)
    benchmarks.save_json(results, args.out)
    with open(args.out) as fh:
        doc = json.load(fh)
    doc["pem_speed"] = speed
    doc["checks"] = checks
    with open(args.out, "w") as fh:
        json.dump(doc, fh, indent=2)
    with open(args.markdown, "w") as fh:
        fh.write(table + "\n")
    print(f"\nwritten: {args.out}, {args.markdown}")


if __name__ == "__main__":
    sys.exit(main())
