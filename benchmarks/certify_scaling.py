"""Time of the contraction and incremental-l2-gain LMIs against REN size, Clarabel vs SCS,
and of the numpy check of a REN's built-in certificate.

    python benchmarks/certify_scaling.py [--sizes 4 8 16 32] [--full]

`--full` adds nx = nv = 64 and the (slow, ~3 min each) SCS gain runs above 16.
`auto` is the default choice of `certify.contraction` (SCS on the Schur form from nx + nv >= 48). Writes benchmarks/results/certify_scaling.json.
"""

import argparse
import json
import os
import time

from sysid import certify

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    p.add_argument("--full", action="store_true")
    args = p.parse_args(argv)
    sizes = args.sizes + ([64] if args.full else [])
    rows = []
    print(f"{'nx=nv':>6} {'solver':>9} {'contraction [s]':>16} {'l2 gain [s]':>12} {'gamma':>10} {'numpy check [ms]':>17}")
    for n in sizes:
        lure, M, lam = certify.random_contracting_ren(n, n, 2, 2, seed=n)
        t_np, chk = timed(lambda: certify.check_ren_certificate(lure, M, lam))
        for solver in (None, "CLARABEL", "SCS"):
            t_c, c = timed(lambda: certify.contraction(lure, solver=solver))
            if solver == "SCS" and n > 16 and not args.full:
                t_g, g = float("nan"), certify.Certificate("incremental_l2_gain", False)  # ~3 min each
            else:
                t_g, g = timed(lambda: certify.incremental_l2_gain(lure, solver=solver))
            solver = solver or "auto"
            row = dict(n=n, solver=solver, contraction_s=t_c, contraction_ok=c.certified, gain_s=t_g,
                       gamma=g.bound, numpy_check_ms=1e3 * t_np, numpy_check_ok=chk.certified)
            rows.append(row)
            gam = f"{g.bound:.4g}" if g.bound is not None else "-"
            print(f"{n:>6} {solver:>9} {t_c:>12.2f} ({'ok' if c.certified else 'no'}) {t_g:>12.2f} {gam:>10} "
                  f"{1e3 * t_np:>17.2f}", flush=True)
    out = os.path.join(HERE, "results", "certify_scaling.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(rows, fh, indent=2)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
