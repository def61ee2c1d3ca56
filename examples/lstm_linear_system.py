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

from sysid import LureSystem, datasets  # noqa: E402
from sysid.core.lti import transmission_zeros  # noqa: E402
from sysid.estimators import LSTM  # noqa: E402
from sysid.models import linearize_lstm, lstm_from_lti, lti_from_lstm  # noqa: E402
from sysid.training import TrainConfig, make_windows, train  # noqa: E402


def run_lstm(module, u):
    with torch.no_grad():
        return module(torch.tensor(u)[None], torch.zeros(1, module.nx, dtype=torch.float64))[0].numpy()


def describe(sys):
    """Poles (the zero poles of the input-carrying units set aside), finite zeros, DC gain."""
    p = np.linalg.eigvals(np.asarray(sys.A))
    p = p[np.abs(p) > 1e-6]
    z = transmission_zeros(sys)
    z = z[(np.abs(z) < 1e6) & (np.abs(z) > 1e-6)]  # zeros at 0 cancel the poles at 0
    return p[np.argsort(-np.abs(p))], np.sort_complex(z), float(np.squeeze(control.dcgain(sys)))


def fmt(v, k=None):
    v = v[:k] if k else v
    return " ".join(f"{x.real:.4f}{x.imag:+.4f}j" if abs(x.imag) > 1e-9 else f"{x.real:.4f}" for x in v)


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

    # (b) training from the calculated weights, small learning rate (the seed: the minimum is at the
    # start point, in a very narrow basin: the first step of size lr already raises the loss)
    w = make_windows([(d.train.u, d.train.y)])
    tuned = lstm_from_lti(G, scale=1e-3)
    loss0 = float(np.mean((run_lstm(tuned, d.train.u) - d.train.y) ** 2))
    hist_b = train(tuned, w, TrainConfig(epochs=epochs, lr=1e-6, optimizer="adam"))
    # (c) training from random weights (the shared engine, normalized data, burn-in window states)
    est = LSTM(n_units=8, epochs=epochs, lr=1e-2, horizon=100, x0="burn_in", burn_in=50, seed=0).fit(d.train)
    y_c = est.simulate(u_val, x0=est.estimate_x0(d.test, n=10))
    err_c = np.linalg.norm(y_c - y_val) / np.linalg.norm(y_val)
    err_b = np.linalg.norm(run_lstm(tuned, u_val) - y_val) / np.linalg.norm(y_val)

    print("relative error on the 51-sample validation record (free-run simulation)")
    print(f"  (a) calculated weights                 {err_a:.2e}")
    print(f"  (b) tuned from calculated, lr 1e-6     {err_b:.2e}   (training MSE {loss0:.2e} at the calculated "
          f"weights, {hist_b.loss[0]:.2e} after the first epoch, best {hist_b.best_loss:.2e} at epoch "
          f"{hist_b.best_epoch} of {epochs})")
    print(f"  (c) trained from random weights        {err_c:.2e}   (state estimated from the first 10 samples)")

    true_p, true_z, true_g = describe(G)
    results = {"true": (true_p, true_z, true_g),
               "(a) calculated, read back": describe(lti_from_lstm(calc)),
               "(a) calculated, linearized": describe(linearize_lstm(calc)),
               "(b) tuned, read back": describe(lti_from_lstm(tuned, force=True)),
               "(c) from random, linearized": describe(est.linearize(u0=[0.0]))}
    print("\n(d) DC gain, the 4 slowest poles and the zeros (poles/zeros at z = 0 set aside)")
    print(f"  {'model':<28} {'DC gain':>8}  poles | zeros")
    for name, (pp, zz, g) in results.items():
        print(f"  {name:<28} {g:8.4f}  {fmt(pp, 4)} | {fmt(zz)}")
        rows.append({"model": name, "dcgain": g, "poles": [str(x) for x in pp], "zeros": [str(x) for x in zz]})

    # (e) linearity check: the calculated weights at 3u and 10u
    errs = {k: np.linalg.norm(run_lstm(calc, k * u_val) - k * y_val) / np.linalg.norm(k * y_val) for k in (1, 3, 10)}
    print("\n(e) linearity check (calculated weights): " + ", ".join(f"{k}u: {e:.2e}" for k, e in errs.items())
          + f"  (ratio 3u/1u = {errs[3] / errs[1]:.1f}: quadratic growth)")

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    t = d.test.t
    axes[0].plot(t, y_val, "k", label="true plant")
    axes[0].plot(t, run_lstm(calc, u_val), "--", label=f"(a) calculated LSTM ({err_a:.1e})")
    axes[0].plot(t, y_c, ":", label=f"(c) trained from random ({err_c:.1e})")
    axes[0].set_xlabel("t [s]"), axes[0].set_ylabel("y"), axes[0].legend(fontsize="small")
    axes[1].semilogy(np.arange(len(hist_b.loss) + 1), [loss0] + list(hist_b.loss),
                     label="(b) from the calculated weights (epoch 0), lr 1e-6")
    axes[1].semilogy(est.history_.loss, label="(c) from random weights (normalized loss)")
    axes[1].set_ylim(top=1e4)
    axes[1].set_xlabel("epoch"), axes[1].set_ylabel("training loss (MSE)"), axes[1].legend(fontsize="x-small")
    th = np.linspace(0, 2 * np.pi, 400)
    axes[2].plot(np.cos(th), np.sin(th), color="0.7", lw=0.8)
    for (name, (pp, _, _)), mk in zip(results.items(), "o+x^s"):
        axes[2].plot(pp.real, pp.imag, mk, mfc="none", label=name)
    axes[2].set_aspect("equal"), axes[2].set_xlabel("Re z"), axes[2].set_ylabel("Im z")
    axes[2].set_title("(d) poles"), axes[2].legend(fontsize="x-small", loc="upper left")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "lstm_linear_system.png"), dpi=110)
    plt.close(fig)
    print(f"figure saved in {args.out}/")
    return {"err_a": err_a, "err_b": err_b, "err_c": err_c, "loss0_b": loss0, "loss_b": hist_b.loss, "linearity": errs,
            "rows": rows}


if __name__ == "__main__":
    main()
