"""sysid's n4sid against the PyPI package nfoursid on the fourth-order plant.

    pip install -e ".[bench]"; python benchmarks/linear_vs_nfoursid.py [--sizes 1000 10000 100000 1000000]

Prints time, worst relative pole error and DC-gain error, with and without 1 % output noise.
Stock nfoursid 1.0.2 (10 block rows) builds an N×N matrix in its SVD; at N = 1e5 that needs
~75 GiB, so it is skipped there and a variant with the SVD in reduced form is timed instead.
Writes benchmarks/results/linear_vs_nfoursid.json.
"""

import argparse
import json
import os
import resource
import time
import warnings

import control
import numpy as np
import pandas as pd  # nfoursid works on DataFrames

from sysid import datasets
from sysid.linear import n4sid

HERE = os.path.dirname(os.path.abspath(__file__))


def errors(sys, ref):
    p = np.sort_complex(np.linalg.eigvals(np.asarray(sys.A)))
    pt = np.sort_complex(ref.poles())
    if p.shape != pt.shape:
        return np.inf, np.inf
    pole = float(np.max(np.abs(p - pt) / np.abs(pt)))
    dc = float(abs(control.dcgain(sys) / control.dcgain(ref) - 1))
    return pole, dc


def run_nfoursid(d, block_rows, reduced):
    from nfoursid.nfoursid import NFourSID

    df = pd.DataFrame({"u": d.u[:, 0], "y": d.y[:, 0]})
    if reduced:
        orig = np.linalg.svd
        np.linalg.svd = lambda a, full_matrices=True, **kw: orig(a, full_matrices=False, **kw)
    try:
        model = NFourSID(df, output_columns=["y"], input_columns=["u"], num_block_rows=block_rows)
        model.subspace_identification()
        ss, _ = model.system_identification(rank=4)
    finally:
        if reduced:
            np.linalg.svd = orig
    return control.ss(ss.a, ss.b, ss.c, ss.d, d.dt)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    args = p.parse_args(argv)
    rows = []
    for N in args.sizes:
        clean = datasets.fourth_order_plant(N=N, n_test=10, seed=0)
        noisy = datasets.fourth_order_plant(N=N, n_test=10, seed=0, noise_std=0.01 * clean.train.y.std())
        for noise, d in (("none", clean.train), ("1 %", noisy.train)):
            t = time.perf_counter()
            res = n4sid(d, nx=4)
            rows.append(dict(N=N, noise=noise, method="sysid n4sid (s=20)", seconds=time.perf_counter() - t,
                             **dict(zip(("pole_err", "dc_err"), errors(res.system, clean.system)))))
            for label, reduced in (("nfoursid 1.0.2 (10 rows)", False), ("nfoursid reduced SVD (10 rows)", True)):
                if N > 20000 and not reduced:
                    rows.append(dict(N=N, noise=noise, method=label, seconds=None, pole_err=None, dc_err=None,
                                     note="skipped: builds an N x N matrix (~75 GiB at N = 1e5)"))
                    continue
                if N > 200000:
                    rows.append(dict(N=N, noise=noise, method=label, seconds=None, pole_err=None, dc_err=None,
                                     note="skipped: too slow / large here"))
                    continue
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sys = run_nfoursid(d, 10, reduced)
                rows.append(dict(N=N, noise=noise, method=label, seconds=time.perf_counter() - t,
                                 **dict(zip(("pole_err", "dc_err"), errors(sys, clean.system)))))
            for r in rows[-3:]:
                sec = f"{r['seconds']:.3f} s" if r["seconds"] is not None else r.get("note", "")
                pe = f"{r['pole_err']:.2e}" if r["pole_err"] is not None else "-"
                de = f"{r['dc_err']:.2e}" if r["dc_err"] is not None else "-"
                print(f"N={N:>8} noise={noise:<5} {r['method']:<32} {sec:<18} pole err {pe:<10} DC err {de}",
                      flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak resident memory of this process: {peak:.2f} GiB")
    out = os.path.join(HERE, "results", "linear_vs_nfoursid.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump({"rows": rows, "peak_rss_gib": peak}, fh, indent=2)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
