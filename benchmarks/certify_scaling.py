"""Time and tightness of the contraction and incremental-ℓ2-gain certificates at nx = nv = 32 / 64 / 128.

    python benchmarks/certify_scaling.py                    # nx = nv ∈ {32, 64, 128}, a few minutes
    python benchmarks/certify_scaling.py --sizes 32 64      # a subset
    python benchmarks/certify_scaling.py --repeat 3         # each call three times: best and median
    python benchmarks/certify_scaling.py --reference        # adds the interior-point LMI optimum at 32
                                                            # (Clarabel, ~10 s)
    python benchmarks/certify_scaling.py --reference-cvxopt # ... and at 64 (CVXOPT, minutes)

Test systems: contracting RENs built in numpy from the direct parameterization
(sysid.certify._ren_numpy.random_contracting_ren(n, n, 2, 2, seed=n); ReLU, random biases).
Both certificates run with the automatic choices (no solver=): from nx + nv = 48 on that is
the first-order path of sysid.certify._firstorder (contraction: smoothed largest eigenvalue
minimized by L-BFGS-B; gain: a coarse bisection on γ² over the homogenized LMI finds the
multipliers, a Riccati equation the storage and γ² for them). Every answer is re-checked strictly
in numpy like any other.

Columns: seconds (wall clock, one process, OMP_NUM_THREADS as set by the caller; with --repeat the
best and the median of the repeats, each repeat a fresh call on the same system); γ the certified
gain; "γ / lower" its ratio to a true lower bound of the incremental ℓ2 gain: the H∞ norm (frequency
sweep, itself a lower bound) of the linearization at the equilibrium for u = 0; "γ / LMI opt." (with
--reference) its ratio to the interior-point optimum of the same LMI; the numpy check of the REN's
own certificate in ms.

Writes benchmarks/results/certify_scaling.json and certify_scaling.md (or --out / --md).
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from sysid import certify
from sysid.certify._riccati import equilibrium_hinf_lower_bound
from sysid.certify._ren_numpy import random_contracting_ren

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = {("contraction", 32): 2.0, ("contraction", 128): 20.0, ("gain", 64): 10.0}


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--repeat", type=int, default=1, help="calls per certificate (best and median reported)")
    p.add_argument("--reference", action="store_true", help="interior-point LMI optimum at 32 (Clarabel)")
    p.add_argument("--reference-cvxopt", action="store_true", help="and at 64 (CVXOPT, minutes)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "certify_scaling.json"))
    p.add_argument("--md", default=os.path.join(HERE, "results", "certify_scaling.md"))
    args = p.parse_args(argv)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for n in args.sizes:
        lure, (M, lam) = random_contracting_ren(n, n, 2, 2, seed=n)
        certify.check_ren_certificate(lure, M, lam)  # warm-up
        t_np = min(timed(lambda: certify.check_ren_certificate(lure, M, lam))[0] for _ in range(10))
        runs_c = [timed(lambda: certify.contraction(lure)) for _ in range(args.repeat)]
        runs_g = [timed(lambda: certify.incremental_l2_gain(lure)) for _ in range(args.repeat)]
        t_c, c = min(runs_c, key=lambda r: r[0])
        t_g, g = min(runs_g, key=lambda r: r[0])
        t_c_all, t_g_all = [r[0] for r in runs_c], [r[0] for r in runs_g]
        lower = equilibrium_hinf_lower_bound(lure)
        ref = None
        if (args.reference and n <= 32) or (args.reference_cvxopt and n <= 64):
            solver = "CLARABEL" if n <= 32 else "CVXOPT"
            t_r, r = timed(lambda: certify.incremental_l2_gain(lure, solver=solver))
            ref = dict(solver=solver, seconds=t_r, gamma=r.bound if r.certified else None)
        row = dict(n=n, contraction_s=t_c, contraction_s_median=float(np.median(t_c_all)), contraction_s_all=t_c_all,
                   contraction_certified=c.certified, contraction_solver=c.solver,
                   gain_s=t_g, gain_s_median=float(np.median(t_g_all)), gain_s_all=t_g_all,
                   gain_certified=g.certified, gain_solver=g.solver, gain_form=g.extra.get("form"),
                   gain_evaluations=g.extra.get("evaluations"), gamma=g.bound,
                   gamma_all=[r[1].bound for r in runs_g],
                   lower_bound=lower, gamma_over_lower=(g.bound / lower) if g.certified and lower > 0 else None,
                   frozen_slope_bound=g.extra.get("lower_bound"), reference=ref,
                   gamma_over_lmi_optimum=(g.bound / ref["gamma"]) if ref and ref["gamma"] and g.certified else None,
                   numpy_check_ms=1e3 * t_np,
                   targets={k[0]: v for k, v in TARGETS.items() if k[1] == n})
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "reference"}, default=float), flush=True)
    lines = ["| nx = nv | contraction [s] best / median | certified | gain [s] best / median | γ | γ / lower bound | "
             "γ / LMI optimum | numpy check [ms] |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['contraction_s']:.2f} / {r['contraction_s_median']:.2f} | "
                     f"{'yes' if r['contraction_certified'] else 'no'} | "
                     f"{r['gain_s']:.2f} / {r['gain_s_median']:.2f} | {r['gamma']:.5g} | "
                     f"{'-' if r['gamma_over_lower'] is None else format(r['gamma_over_lower'], '.3f')} | "
                     f"{'-' if r['gamma_over_lmi_optimum'] is None else format(r['gamma_over_lmi_optimum'], '.4f')} | "
                     f"{r['numpy_check_ms']:.2f} |")
    lines.append("")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines.append("Targets (issue 11): contraction ≤ 2 s at 32 and ≤ 20 s at 128; gain ≤ 10 s at 64. Machine: "
                 f"{platform.platform()}, {os.cpu_count()} CPUs, OMP_NUM_THREADS="
                 f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, load average (1 min) {load0:.1f} at the start, "
                 f"{load:.1f} at the end{f', {args.repeat} calls each' if args.repeat > 1 else ''}.")
    table = "\n".join(lines)
    print(table)
    for path in (args.out, args.md):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(dict(machine=platform.platform(), cpu_count=os.cpu_count(), numpy=np.__version__, load_average=load,
                       load_average_start=load0, repeat=args.repeat,
                       omp_num_threads=os.environ.get("OMP_NUM_THREADS"), rows=rows), fh, indent=2, default=float)
    with open(args.md, "w") as fh:
        fh.write("# certify scaling (benchmarks/certify_scaling.py)\n\n" + table + "\n")
    print(f"written: {args.out}, {args.md}")


if __name__ == "__main__":
    main()
