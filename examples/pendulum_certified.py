"""Certified identification of the pendulum: contracting and γ-Lipschitz RENs vs an unconstrained NN.

Identifies the seed pendulum (torque in, angle measured; decimated to dt = 0.05 s) with

* a contracting REN (contraction built in, certificate M = EᵀP⁻¹E, Λ),
* γ-Lipschitz RENs for a few γ (robustness versus accuracy),
* an unconstrained one-step network (``sysid.estimators.NeuralNetStep``) when available,

compares their free-run test fit, and certifies every model and the true pendulum with
``sysid.certify`` (contraction and incremental ℓ2 gain LMIs). The true pendulum is *not*
contracting (second equilibrium at the top), the RENs are by construction. Figures: test
outputs, the Lipschitz trade-off, and two REN trajectories from different initial states
converging under the same input.

    python examples/pendulum_certified.py --out out/            # < 1 min
    python examples/pendulum_certified.py --out out/ --full     # 5x the data, longer training
"""

from __future__ import annotations

import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import sysid  # noqa: E402
from sysid import IOData  # noqa: E402
from sysid.estimators import REN  # noqa: E402


def decimate(d: IOData, k: int) -> IOData:
    """Keep every k-th sample (the torque is low-pass, far below the new Nyquist frequency)."""
    return IOData(d.u[::k], d.y[::k], dt=d.dt * k, input_names=d.input_names, output_names=d.output_names)


def certify(system, label: str, rows: list, **extra):
    """Contraction and incremental ℓ2-gain LMIs; returns the row added to ``rows``."""
    c = sysid.certify.contraction(system)
    g = sysid.certify.incremental_l2_gain(system)
    row = dict(model=label, contraction=bool(c.certified), lmi_gain=g.bound if g.certified else None, **extra)
    rows.append(row)
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out")
    parser.add_argument("--full", action="store_true", help="5x the data, longer training, γ in {0.5, 2, 20}")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 30, --full 60)")
    parser.add_argument("--gammas", type=float, nargs="*", default=None,
                        help="Lipschitz bounds (normalized units; default 1 5, --full 0.5 2 20)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    epochs = args.epochs if args.epochs is not None else (60 if args.full else 30)
    gammas = args.gammas if args.gammas is not None else ([0.5, 2.0, 20.0] if args.full else [1.0, 5.0])
    t_start = time.time()

    ds = sysid.datasets.pendulum(n_train=30000 if args.full else 6000, n_test=3000, seed=args.seed)
    train, test = decimate(ds.train, 5), decimate(ds.test, 5)
    fit_part, val_part = train.split(0.8)  # the REN keeps the parameters best on val_part
    common = dict(nx=3, nv=8, epochs=epochs, lr=5e-3 if args.full else 1e-2, horizon=50,
                  batch_size=16 if args.full else 4, init="linear", seed=args.seed)
    models = {"REN contracting": REN(kind="contracting", **common)}
    for g in gammas:
        models[f"REN Lipschitz γ={g:g}"] = REN(kind="lipschitz", gamma=g, **common)
    from sysid.estimators import NeuralNetStep

    models["NeuralNetStep (unconstrained)"] = NeuralNetStep(nx=2, hidden=16, residual=True, init_std=0.1, horizon=60,
                                                            epochs=max(10 * epochs, 50), seed=args.seed)

    skip = 20
    results, fits, summary = {}, {}, {"models": {}}
    print(f"pendulum: train {train.N} samples, test {test.N} samples, dt = {train.dt:g} s; epochs = {epochs}")
    for name, est in models.items():
        t0 = time.time()
        if isinstance(est, REN):
            est.fit(fit_part, val=val_part)
        else:
            est.fit(train)
        res = sysid.compare(est, test, x0="zero", skip=skip)
        results[name], fits[name] = res, float(res.fit_percent[0])
        print(f"  {name:<30} test fit {fits[name]:7.2f} %   ({time.time() - t0:.1f} s)")

    # ---------------------------------------------------------------- certificates
    print("\nbuilt-in REN certificates (numpy check of M = EᵀP⁻¹E, Λ on the exported physical-units system):")
    for name, est in models.items():
        if not isinstance(est, REN):
            continue
        cert = est.certificate()
        lam = est.certificate_data_["Lambda"]
        extra = f", γ = {est.gamma:g} (normalized) -> γ_phys = {est.gamma_phys_:.4g} rad/(N m)" if est.gamma_phys_ else ""
        print(f"  {name:<30} {cert.property}: {'certified' if cert.certified else 'NOT certified'} "
              f"(max eig {cert.max_eig:.2e}; cond(M) = {np.linalg.cond(est.certificate_data_['M']):.3g}, "
              f"λ in [{lam.min():.3g}, {lam.max():.3g}]){extra}")
        summary["models"][name] = dict(fit_percent=fits[name], builtin_certified=bool(cert.certified),
                                       gamma_phys=est.gamma_phys_)

    print("\nLMI certificates (sysid.certify: Clarabel / SCS via cvxpy, CVXOPT for large gain LMIs; re-checked in numpy):")
    rows: list = []
    true = ds.system
    true_d = sysid.LureSystem(A=true.A, B1=true.B1, B2=true.B2, C1=true.C1, C2=true.C2, delta=true.delta,
                              dt=true.dt)
    certify(true_d, "true pendulum (dt = 0.01)", rows)
    for name, est in models.items():
        try:
            system, local = est.to_lure(), False
        except NotImplementedError:
            system, local = est.linearize(), True
        certify(system, name + (" (linearized)" if local else ""), rows)
    print(f"  {'model':<40} {'contracting':>11} {'LMI incr. l2 gain':>18}")
    for r in rows:
        gain = "-" if r["lmi_gain"] is None else f"{r['lmi_gain']:.4g}"
        print(f"  {r['model']:<40} {'yes' if r['contraction'] else 'no':>11} {gain:>18}")
        summary["models"].setdefault(r["model"], {}).update(contraction_lmi=r["contraction"], lmi_gain=r["lmi_gain"])
    print("\n" + str(sysid.certify.report(models["REN contracting"])))

    # ---------------------------------------------------------------- figures
    fig, ax = plt.subplots(figsize=(9, 4))
    t = test.t
    ax.plot(t, test.y[:, 0], "k", lw=2, label="measured")
    for name, res in results.items():
        ax.plot(t, res.y_model[:, 0], lw=1, label=f"{name} ({fits[name]:.1f} %)")
    ax.set(xlabel="t [s]", ylabel="angle [rad]", title="pendulum test set, free-run simulation")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "pendulum_certified_compare.png"), dpi=120)
    plt.close(fig)

    lip = [(models[f"REN Lipschitz γ={g:g}"], g) for g in gammas]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.semilogx([g for _, g in lip], [fits[f"REN Lipschitz γ={g:g}"] for g in gammas], "o-", label="Lipschitz REN")
    ax.axhline(fits["REN contracting"], color="C1", ls="--", label="contracting REN (γ unbounded)")
    ax.set(xlabel="γ (normalized units)", ylabel="test fit [%]", title="robustness vs accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "pendulum_certified_tradeoff.png"), dpi=120)
    plt.close(fig)

    est = models["REN contracting"]
    lure = est.to_lure()
    u = test.u[:200]
    rng = np.random.default_rng(1)
    xa, xb = 5 * rng.standard_normal(est.nx), 5 * rng.standard_normal(est.nx)
    ya, Xa = lure.simulate(u, xa, return_x=True)
    yb, Xb = lure.simulate(u, xb, return_x=True)
    M = est.certificate_data_["M"]
    d = Xa - Xb
    V = np.einsum("ti,ij,tj->t", d, M, d)
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.8))
    tt = np.arange(len(u)) * test.dt
    axs[0].plot(tt, ya[:, 0], label="REN from x0 = a")
    axs[0].plot(tt, yb[:, 0], "--", label="REN from x0 = b")
    axs[0].plot(tt, test.y[:200, 0], "k:", label="measured")
    axs[0].set(xlabel="t [s]", ylabel="angle [rad]", title="same input, different initial states")
    axs[0].legend(fontsize=8)
    axs[1].semilogy(tt, V)
    axs[1].set(xlabel="t [s]", ylabel="ΔxᵀMΔx", title="certified metric shrinks every step")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "pendulum_certified_contraction.png"), dpi=120)
    plt.close(fig)
    ratio = float(np.max(V[1:] / V[:-1]))
    print(f"\ncontracting REN: two trajectories, V = ΔxᵀMΔx from {V[0]:.3g} to {V[-1]:.3g} in {len(u)} steps; "
          f"max V⁺/V = {ratio:.4f} <= rate² = {est.rate ** 2:g}")
    summary.update(max_V_ratio=ratio, V0=float(V[0]), V_end=float(V[-1]), epochs=epochs, gammas=gammas,
                   runtime_s=time.time() - t_start)
    with open(os.path.join(args.out, "pendulum_certified.json"), "w") as fh:
        json.dump(summary, fh, indent=2, default=float)
    print(f"figures saved in {args.out}/ ({time.time() - t_start:.1f} s)")
    return summary


if __name__ == "__main__":
    main()
