"""F-16 ground vibration test: a contracting REN vs LSTM vs N4SID, with the REN's certified gain.

Data: the FullMSine records of the F-16 GVT benchmark (Noël & Schoukens 2017), inputs shaker
force [N] and voltage [V], outputs three accelerations [m/s²], Fs = 400 Hz. Train on levels
1, 3, 5, 7, test on 2, 4, 6; the estimators normalize with training statistics only. Scores:
NRMSE per output (free-run simulation; initial state estimated on the first 50 test samples,
which are not scored). The REN is contracting by construction; its incremental ℓ2 gain is
certified by the LMI of ``sysid.certify.incremental_l2_gain`` on the exported LureSystem.

The REN starts from an N4SID model of the same order (``init="linear"``) and is trained by
truncated back-propagation through time. The default run is short (a 1500-sample segment
per level after the first two periods, 4 epochs; < 1 min). ``--full`` trains on one full
period (8192 samples) per level for 20 epochs, adds the LSTM baseline, and tests on one full
period per level (about 5 min on 2 cores).

    python examples/f16.py --out out/ [--data ../shared/data/f16_gvt] [--full]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import sysid  # noqa: E402
from sysid.estimators import N4SID, REN  # noqa: E402
from sysid.linear import IdentificationWarning  # noqa: E402

PERIOD = 8192
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "f16_gvt"


def segment(d, start: int, n: int):
    return d[start:start + n]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder with the F16 FullMSine CSV files")
    parser.add_argument("--full", action="store_true", help="one full period per level, longer training, the LSTM baseline")
    parser.add_argument("--n-train", type=int, default=None, help="samples per training level")
    parser.add_argument("--n-test", type=int, default=None, help="samples per test level")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--nx", type=int, default=None)
    parser.add_argument("--nv", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    full = args.full
    n_train = args.n_train or (PERIOD if full else 1500)
    n_test = args.n_test or (PERIOD if full else 1500)
    epochs = args.epochs if args.epochs is not None else (20 if full else 4)
    nx = args.nx or 10
    nv = args.nv or (16 if full else 8)
    lr = 5e-4 if full else 2e-4
    t_start = time.time()

    bench = sysid.datasets.f16(args.data)
    start = 2 * PERIOD  # skip the transient periods
    skip = bench.init_window
    train = [segment(d, start, n_train) for d in bench.train]
    test = [segment(d, start, n_test) for d in bench.test["test"]]
    print(f"F16 GVT: train levels 1,3,5,7 ({n_train} samples each), test levels 2,4,6 ({n_test} each); "
          f"nu = {train[0].nu}, ny = {train[0].ny}, dt = {train[0].dt:g} s")

    models = {
        f"REN (nx={nx}, nv={nv})": REN(nx=nx, nv=nv, kind="contracting", init="linear", epochs=epochs, lr=lr,
                                      horizon=100, batch_size=16, seed=args.seed),
        "N4SID (nx=10)": N4SID(nx=10),
    }
    if full or args.epochs is not None:
        from sysid.estimators import LSTM

        # burn-in windows: the LSTM's (h, c) is set by the 50 samples before each window, the way
        # it is scored (x0 estimated on the first 50 test samples); 3x the REN's epochs (cheaper)
        models["LSTM"] = LSTM(n_units=16, epochs=3 * epochs, horizon=100, batch_size=32, lr=5e-3, x0="burn_in",
                              burn_in=skip, seed=args.seed)
    else:
        print("note: the LSTM baseline needs longer training; it runs with --full (or --epochs N)")

    table, results = {}, {}
    for name, est in models.items():
        t0 = time.time()
        with warnings.catch_warnings(record=True) as caught:
            # N4SID's closed-loop check fires on this record: the shaker force is measured at the
            # structure, so it feels the structure's response; the warning is shown, not raised
            warnings.simplefilter("always", IdentificationWarning)
            est.fit(train)
        for w in caught:
            if issubclass(w.category, IdentificationWarning):
                print(f"  note ({name}): {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        res = sysid.compare(est, test, x0="estimate", skip=skip)
        res = res if isinstance(res, list) else [res]
        nrmse = np.array([r.nrmse for r in res])  # (levels, ny)
        table[name] = nrmse
        results[name] = res
        print(f"  fitted {name:<22} in {time.time() - t0:6.1f} s")

    outs = test[0].output_names
    print("\nNRMSE on the test levels (free-run simulation, x0 estimated on the first "
          f"{skip} samples, not scored):")
    header = f"  {'model':<22} {'level':>5} " + " ".join(f"{o:>14}" for o in outs) + f" {'mean':>8}"
    print(header)
    for name, nrmse in table.items():
        for lev, row in zip((2, 4, 6), nrmse):
            print(f"  {name:<22} {lev:>5} " + " ".join(f"{v:14.4f}" for v in row) + f" {row.mean():8.4f}")

    ren_name = next(n for n in models if n.startswith("REN"))
    ren = models[ren_name]
    builtin = ren.certificate()
    lure = ren.to_lure()
    gain = sysid.certify.incremental_l2_gain(lure)
    print(f"\n{ren_name}: built-in {builtin.property} certificate {'passes' if builtin.certified else 'FAILS'} "
          f"(numpy, max eig {builtin.max_eig:.2e}); LMI incremental l2 gain (physical units, [m/s²]/[N, V]) "
          f"γ = {gain.bound if gain.certified else float('nan'):.4g} [{gain.status}]")

    fig, axs = plt.subplots(len(outs), 1, figsize=(10, 7), sharex=True)
    d = test[1]
    t = d.t[:600]
    for k, ax in enumerate(axs):
        ax.plot(t, d.y[:600, k], "k", lw=1.5, label="measured (level 4)")
        for name, res in results.items():
            ax.plot(t, res[1].y_model[:600, k], lw=0.8, label=name)
        ax.set_ylabel(outs[k])
    axs[0].legend(fontsize=7, ncol=4)
    axs[-1].set_xlabel("t [s]")
    fig.suptitle("F16 GVT test level 4, free-run simulation")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "f16_compare.png"), dpi=120)
    plt.close(fig)

    summary = dict(nrmse={n: v.tolist() for n, v in table.items()}, outputs=outs, test_levels=[2, 4, 6],
                   ren_builtin_certified=bool(builtin.certified),
                   ren_gamma_lmi=gain.bound if gain.certified else None, n_train=n_train, n_test=n_test,
                   epochs=epochs, full=full, runtime_s=time.time() - t_start)
    with open(os.path.join(args.out, "f16.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"figures saved in {args.out}/ ({time.time() - t_start:.1f} s)")
    return summary


if __name__ == "__main__":
    main()
