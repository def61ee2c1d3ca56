"""Accuracy of LSTM weights calculated from an LTI model (the fourth-order plant), in float64.

Relative error ‖y_LSTM − y‖ / ‖y‖ over 51, 1,000 and 10,000 samples of unit-variance input,
at 1u, 3u and 10u, for scales 1e-3 and 3e-4, balanced and python-control's realization.
Writes benchmarks/results/lstm_lti_accuracy.json.
"""

import json
import os

import numpy as np
import torch

from sysid import LureSystem, datasets
from sysid.models import lstm_from_lti

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    d = datasets.fourth_order_plant()
    G = d.info["default_system"]
    true = LureSystem.from_control(G)
    rows = []
    print(f"{'scale':>8} {'balanced':>9} {'N':>7} {'1u':>10} {'3u':>10} {'10u':>10}")
    for scale in (1e-3, 3e-4):
        for balance in (True, False):
            m = lstm_from_lti(G, scale=scale, balance=balance)
            for N in (51, 1000, 10000):
                errs = []
                for seed in range(3):
                    u = np.random.default_rng(seed).normal(size=(N, 1))
                    e = []
                    for k in (1, 3, 10):
                        with torch.no_grad():
                            yl = m(torch.tensor(k * u)[None], torch.zeros(1, m.nx, dtype=torch.float64))[0].numpy()
                        y = true.simulate(k * u)
                        e.append(np.linalg.norm(yl - y) / np.linalg.norm(y))
                    errs.append(e)
                med = np.median(np.array(errs), axis=0)
                rows.append(dict(scale=scale, balanced=balance, N=N, err_1u=med[0], err_3u=med[1], err_10u=med[2]))
                print(f"{scale:>8.0e} {str(balance):>9} {N:>7} {med[0]:>10.2e} {med[1]:>10.2e} {med[2]:>10.2e}")
    out = os.path.join(HERE, "results", "lstm_lti_accuracy.json")
    with open(out, "w") as fh:
        json.dump(rows, fh, indent=2)
    print(f"written: {out} (median over 3 input seeds)")


if __name__ == "__main__":
    main()
