"""One identification of the fourth-order plant, for whole-process timing (e.g. /usr/bin/time -v).

    python benchmarks/n4sid_once.py --impl sysid --N 10000
    python benchmarks/n4sid_once.py --impl nfoursid --N 10000          # needs the [bench] extra
    python benchmarks/n4sid_once.py --impl nfoursid-reduced --N 100000
"""

import argparse

from sysid import datasets


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=["sysid", "nfoursid", "nfoursid-reduced", "none"], default="sysid")
    p.add_argument("--N", type=int, default=10000)
    args = p.parse_args(argv)
    d = datasets.fourth_order_plant(N=args.N, n_test=10, seed=0)
    if args.impl == "sysid":
        from sysid.linear import n4sid

        n4sid(d.train, nx=4)
    elif args.impl != "none":
        import warnings

        from linear_vs_nfoursid import run_nfoursid

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_nfoursid(d.train, 10, args.impl == "nfoursid-reduced")


if __name__ == "__main__":
    main()
