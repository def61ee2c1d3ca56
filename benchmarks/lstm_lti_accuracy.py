"""Accuracy of LSTM weights calculated from an LTI model (the fourth-order plant), in float64.

Relative error ‖y_LSTM − y‖ / ‖y‖ against ``control.forced_response`` over 51, 1,000 and
10,000 samples of unit-variance white input, at amplitudes 1u, 3u and 10u, median over 3 input
seeds, for three realizations of the same plant:

* ``balanced``: ``lstm_from_lti(..., balance=True)`` (balanced, states scaled to unit variance);
* ``python-control``: ``control.c2d(control.ss(zpk))`` as is (states ≈ 0.08, C ≈ 1e6);
* ``observable canonical``: states of the size of y (≈ 50), like the seed's MATLAB realization
  whose ~12 % error motivated balancing.

    python benchmarks/lstm_lti_accuracy.py [--scales 1e-3 3e-4]

Writes benchmarks/results/lstm_lti_accuracy.json.
"""

import argparse
import json
import os
import time

import control
import numpy as np
import torch

from sysid import datasets
from sysid.models import lstm_from_lti

HERE = os.path.dirname(os.path.abspath(__file__))


def observable_canonical(G):
    tf = control.ss2tf(G)
    num, den = np.atleast_1d(np.squeeze(tf.num[0][0])), np.atleast_1d(np.squeeze(tf.den[0][0]))
    num, den = num / den[0], den / den[0]
    n = len(den) - 1
    num = np.concatenate([np.zeros(n + 1 - len(num)), num])
    A = np.zeros((n, n))
    A[:, 0], A[:-1, 1:] = -den[1:], np.eye(n - 1)
    return control.ss(A, (num[1:] - num[0] * den[1:])[:, None], np.eye(1, n), [[num[0]]], G.dt)


def lstm_response(m, u):
    with torch.no_grad():
        return m(torch.tensor(u)[None], torch.zeros(1, m.nx, dtype=torch.float64))[0].numpy()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", type=float, nargs="+", default=[1e-3, 3e-4])
    p.add_argument("--out", default=os.path.join(HERE, "results", "lstm_lti_accuracy.json"))
    args = p.parse_args(argv)
    G = datasets.fourth_order_plant().info["default_system"]
    realizations = {"balanced": (G, True), "python-control": (G, False),
                    "observable canonical": (observable_canonical(G), False)}
    rows = []
    t0 = time.perf_counter()
    print(f"{'realization':<21} {'max|x|':>7} {'scale':>7} {'N':>6} {'1u':>9} {'3u':>9} {'10u':>9}")
    for name, (sys, balance) in realizations.items():
        u_probe = np.random.default_rng(0).normal(size=(1000, 1))
        max_x = float(np.abs(control.forced_response(sys, U=u_probe.T, X0=0).states).max())
        for scale in args.scales:
            m = lstm_from_lti(sys, scale=scale, balance=balance)
            for N in (51, 1000, 10000):
                errs = []
                for seed in range(3):
                    u = np.random.default_rng(seed).normal(size=(N, 1))
                    y = control.forced_response(sys, U=u.T, X0=0, squeeze=False).outputs.T
                    errs.append([np.linalg.norm(lstm_response(m, k * u) - k * y) / np.linalg.norm(k * y)
                                 for k in (1, 3, 10)])
                med = np.median(np.array(errs), axis=0)
                rows.append(dict(realization=name, balanced=balance, max_abs_x_unbalanced=max_x, scale=scale, N=N,
                                 err_1u=float(med[0]), err_3u=float(med[1]), err_10u=float(med[2])))
                print(f"{name:<21} {max_x:>7.3g} {scale:>7.0e} {N:>6} {med[0]:>9.2e} {med[1]:>9.2e} {med[2]:>9.2e}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"description": "relative error of lstm_from_lti vs control.forced_response, float64, median "
                                  "over 3 unit-variance white inputs; max|x| of the realization as given (before "
                                  "balancing) for 1,000 samples", "seconds": time.perf_counter() - t0,
                   "rows": rows}, fh, indent=2)
    print(f"written: {args.out} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
