"""An LSTM layer as a nonlinear dynamical system: calculated weights, training, read-back.

On the seed's fourth-order plant zpk(−4, [−9 ± 5i, −2 ± 50i], 5e5) at Ts = 0.01 s:
(a) LSTM weights calculated from the (balanced) state-space model vs the true response;
(b) training from the calculated weights with a small learning rate (loss curve);
(c) training from random weights;
(d) poles, zeros and DC gain read back (saturated gates) or linearized (trained LSTM) next to
the true ones (DC gain 7.5351); (e) the linearity check with 3u.

    python examples/lstm_linear_system.py [--out out/] [--full]
"""

import argparse
import os

import control
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sysid import IOData, LureSystem, datasets  # noqa: E402
from sysid.core.lti import transmission_zeros  # noqa: E402
from sysid.estimators import LSTM  # noqa: E402
from sysid.models import lstm_from_lti, lti_from_lstm  # noqa: E402
from sysid.training import TrainConfig, make_windows, train  # noqa: E402


def run_lstm(module, u):
    with torch.no_grad():
        return module(torch.tensor(u)[None], torch.zeros(1, module.nx, dtype=torch.float64))[0].numpy()


def describe(sys):
    p = np.linalg.eigvals(np.asarray(sys.A))
    p = p[np.abs(p) > 1e-6]  # the input-carrying units add poles at z = 0
    z = transmission_zeros(sys)
    z = z[np.abs(z) < 1e6]
    return np.sort_complex(p), np.sort_complex(z), float(np.squeeze(control.dcgain(sys)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out")
    p.add_argument("--full", action="store_true", help="the seed's 10,000-epoch runs")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    epochs = args.epochs or (10000 if args.full else 150)
    d = datasets.fourth_order_plant(N=1000, n_test=51, seed=0)
    G = d.system
    true = LureSystem.from_control(G)
    rows = []

    # (a) calculated weights
    calc = lstm_from_lti(G, scale=1e-3)
    u_val = d.test.u
    y_val = true.simulate(u_val)
    err_a = np.linalg.norm(run_lstm(calc, u_val) - y_val) / np.linalg.norm(y_val)
    print(f"(a) calculated weights: relative error on the 51-sample validation record {err_a:.2e}")

    # (b) training from the calculated weights, small learning rate (the seed: a very narrow basin)
    w = make_windows([(d.train.u, d.train.y)])
    tuned = lstm_from_lti(G, scale=1e-3)
    hist_b = train(tuned, w, TrainConfig(epochs=epochs, lr=1e-6, optimizer="adam"))
    # (c) training from random weights (the shared engine, normalized data, fitted window states)
    est = LSTM(n_units=8, epochs=epochs, lr=1e-2, horizon=100, seed=0).fit(d.train)

    true_p, true_z, true_g = describe(G)
    results = {"true": (true_p, true_z, true_g),
               "(a) calculated": describe(lti_from_lstm(calc, dt=G.dt)),
               "(b) tuned from calculated": describe(lti_from_lstm(tuned, dt=G.dt, force=True)),
               "(c) trained from random (linearized)": describe(est.linearize(u0=[0.0]))}
    print(f"(b) loss from {hist_b.loss[0]:.3e} to {min(hist_b.loss):.3e} (best at epoch {hist_b.best_epoch})")
    y_c = est.simulate(u_val, x0=est.estimate_x0(d.test, n=10))
    err_c = np.linalg.norm(y_c - y_val) / np.linalg.norm(y_val)
    print(f"(c) trained from random weights: validation relative error {err_c:.2e}")
    print("\n(d) poles, zeros and DC gain")
    for name, (pp, zz, g) in results.items():
        print(f"  {name:<38} DC gain {g:9.4f}   poles {np.round(pp, 4)}   zeros {np.round(zz, 4)}")
        rows.append({"model": name, "dcgain": g, "poles": [str(x) for x in pp], "zeros": [str(x) for x in zz]})

    # (e) linearity check: the calculated weights at 3u and 10u
    errs = {k: np.linalg.norm(run_lstm(calc, k * u_val) - k * y_val) / np.linalg.norm(k * y_val) for k in (1, 3, 10)}
    print("\n(e) linearity check (calculated weights): " + ", ".join(f"{k}u: {e:.2e}" for k, e in errs.items()))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    t = d.test.t
    axes[0].plot(t, y_val, "k", label="true plant")
    axes[0].plot(t, run_lstm(calc, u_val), "--", label=f"(a) calculated LSTM ({err_a:.1e})")
    axes[0].plot(t, y_c, ":", label=f"(c) trained from random ({err_c:.1e})")
    axes[0].set_xlabel("t [s]"), axes[0].set_ylabel("y"), axes[0].legend(fontsize="small")
    axes[1].semilogy(hist_b.loss, label="(b) from calculated weights, lr 1e-6")
    axes[1].semilogy(est.history_.loss, label="(c) from random weights (normalized loss)")
    axes[1].set_xlabel("epoch"), axes[1].set_ylabel("training loss"), axes[1].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "lstm_linear_system.png"), dpi=110)
    plt.close(fig)
    print(f"figure saved in {args.out}/")
    return {"err_a": err_a, "err_c": err_c, "linearity": errs, "rows": rows}


if __name__ == "__main__":
    main()
