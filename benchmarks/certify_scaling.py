"""Time of the contraction and incremental-ℓ2-gain LMIs against REN size (Clarabel, SCS and the
default choice), and of the numpy check of a REN's built-in certificate.

    python benchmarks/certify_scaling.py            # nx = nv ∈ {4, 8, 16, 32}, ~1 min
    python benchmarks/certify_scaling.py --full     # adds 64 and the slow SCS / Clarabel gain runs
    python benchmarks/certify_scaling.py --sizes 4 8 16 32 64   # 64 with the automatic choices only

Test systems: contracting RENs built in numpy from the direct parameterization
(sysid.certify._ren_numpy.random_contracting_ren; nu = ny = 2, ReLU). "auto" is what
certify.contraction / incremental_l2_gain choose without solver=: for contraction, SCS on the
Schur-complement form from nx + nv >= 48 (sparser conic data), Clarabel on the direct form below;
for the gain, Clarabel below nx + nv = 48 and CVXOPT from there, called directly on the affine
form of the LMI (dense Schur-complement Newton steps with BLAS; see incremental_l2_gain).
"rel. diff" is |γ − γ_Clarabel| / γ_Clarabel at the same size.
Writes benchmarks/results/certify_scaling.json (or --out).
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from sysid import certify
from sysid.certify._ren_numpy import random_contracting_ren

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    p.add_argument("--full", action="store_true", help="add nx = nv = 64 and SCS gain runs above 16")
    p.add_argument("--out", default=os.path.join(HERE, "results", "certify_scaling.json"),
                   help="output JSON (default benchmarks/results/certify_scaling.json)")
    args = p.parse_args(argv)
    sizes = args.sizes + ([64] if args.full and 64 not in args.sizes else [])
    rows = []
    head = (f"{'nx=nv':>6} {'solver':>9} {'contraction [s]':>18} {'l2 gain [s]':>12} {'gain solver':>12} "
            f"{'gamma':>10} {'rel. diff':>10} {'numpy check [ms]':>17}")
    print(head)
    print("-" * len(head))
    for n in sizes:
        lure, (M, lam) = random_contracting_ren(n, n, 2, 2, seed=n)
        certify.check_ren_certificate(lure, M, lam)  # warm-up
        reps = 20
        t_np = min(timed(lambda: certify.check_ren_certificate(lure, M, lam))[0] for _ in range(reps))
        chk = certify.check_ren_certificate(lure, M, lam)
        gamma_ref = None  # Clarabel's γ at this size: the reference for the relative difference
        for solver in ("CLARABEL", "SCS", None):
            if solver is not None and n >= 64 and not args.full:
                continue  # Clarabel's direct forms and SCS's gain take many minutes at 64: --full
            t_c, c = timed(lambda: certify.contraction(lure, solver=solver))
            skip_gain = (solver == "SCS" and n > 16 and not args.full) or (solver == "CLARABEL" and n >= 64
                                                                            and not args.full)
            if skip_gain:
                t_g, g = float("nan"), None
            else:
                t_g, g = timed(lambda: certify.incremental_l2_gain(lure, solver=solver))
            gamma = None if g is None else g.bound
            if solver == "CLARABEL":
                gamma_ref = gamma
            rel = None if gamma is None or gamma_ref is None else abs(gamma - gamma_ref) / gamma_ref
            name = solver or "auto"
            row = dict(n=n, solver=name, contraction_s=t_c, contraction_certified=c.certified,
                       contraction_solver=c.solver, gain_s=None if g is None else t_g,
                       gain_solver=None if g is None else g.solver, gamma=gamma, gamma_rel_diff_clarabel=rel,
                       numpy_check_ms=1e3 * t_np, numpy_check_certified=chk.certified)
            rows.append(row)
            gam = "-" if gamma is None else f"{gamma:.5g}"
            tg = "skipped" if g is None else f"{t_g:.2f}"
            print(f"{n:>6} {name:>9} {t_c:>13.2f} ({'ok' if c.certified else 'no'}) {tg:>12} "
                  f"{'-' if g is None else g.solver:>12} {gam:>10} {'-' if rel is None else f'{rel:.1e}':>10} "
                  f"{1e3 * t_np:>17.3f}", flush=True)
    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(dict(machine=platform.platform(), cpu_count=os.cpu_count(), full=args.full,
                       numpy=np.__version__, rows=rows), fh, indent=2)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
