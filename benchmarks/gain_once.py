"""One incremental-ℓ2-gain certificate of a random contracting REN (whole-process timing).

    python benchmarks/gain_once.py --n 32 [--solver CLARABEL]

nx = nv = n, nu = ny = 2 (sysid.certify._ren_numpy.random_contracting_ren, seed n); prints γ,
the solver and the time of the call itself.
"""

import argparse
import time

from sysid import certify
from sysid.certify._ren_numpy import random_contracting_ren


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--solver", default=None, help="default: the automatic choice (first-order + Riccati from nx + nv = 48)")
    args = p.parse_args(argv)
    lure, _ = random_contracting_ren(args.n, args.n, 2, 2, seed=args.n)
    t = time.perf_counter()
    c = certify.incremental_l2_gain(lure, solver=args.solver)
    print(f"n = {args.n}: gamma = {c.bound:.6g} ({c.solver}, {c.status}, certified {c.certified}) "
          f"in {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
