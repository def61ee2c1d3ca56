"""Shared code of examples/spiral_source.py and examples/center.py (the seed study
"Learning dynamics from data": NN step, matrix, NeuralODE, NeuralODE matrix)."""

from __future__ import annotations

import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.linalg import expm  # noqa: E402

from sysid.estimators import MatrixStep, NeuralNetStep, NeuralODE, NeuralODEMatrix  # noqa: E402

# the seed's training: its random start, whole records, full batch, no held-out data
SEED_STEP = dict(loss="simulation", lr=1e-2, init="random", val_fraction=0.0, batch_size=None, patience=None)
SEED_NODE = dict(loss="simulation", lr=5e-2, substeps=4, normalize="scale", init="random", val_fraction=0.0,
                 batch_size=None, patience=None)

SEED_TABLE = {  # the seed document's Table 1 / 2 (loss, seconds) where it states them
    "spiral": {"NN step": 2.3e-3, "NeuralODE": 2.0e-3},
}


def _loss(est, data) -> float:
    y = est.simulate(np.zeros((data.N, 0)), x0=data.y[0])
    return float(np.mean((y - data.y) ** 2))


def run(name: str, data_matrix, data_node, *, epochs: int, out: str) -> dict:
    """Fit the four methods, print the table and the matrices, save the figures."""
    os.makedirs(out, exist_ok=True)
    methods = {
        "NN step": (lambda: NeuralNetStep(hidden=16, epochs=epochs, **SEED_STEP, seed=0), data_matrix),
        "matrix": (lambda: MatrixStep(), data_matrix),
        "NeuralODE": (lambda: NeuralODE(hidden=16, epochs=epochs, **SEED_NODE, seed=0), data_node),
        "NeuralODE matrix": (lambda: NeuralODEMatrix(), data_node),
    }
    rows, fitted = [], {}
    for label, (make, d) in methods.items():
        t0 = time.perf_counter()
        est = make().fit(d.train)
        seconds = time.perf_counter() - t0
        loss = _loss(est, d.train[0])
        fitted[label] = est
        rows.append({"method": label, "loss": loss, "seconds": seconds, "epochs": len(est.history_.loss),
                     "seed_loss": SEED_TABLE.get(name, {}).get(label)})
    print(f"\n{name}: loss (MSE of the free-run trajectory from y0) and training time")
    print(f"{'method':<18}{'loss':>12}{'seed loss':>12}{'time [s]':>10}{'epochs':>8}")
    for r in rows:
        seed = f"{r['seed_loss']:.1e}" if r["seed_loss"] else "-"
        print(f"{r['method']:<18}{r['loss']:>12.3e}{seed:>12}{r['seconds']:>10.3f}{r['epochs']:>8}")
    A = data_node.info["A"]
    print("\nlearned vs true matrices")
    print("matrix step B̂ =\n", np.round(fitted["matrix"].B_hat_, 6), "\ntrue expm(AΔt) =\n", np.round(data_matrix.info["Ad"], 6))
    print("NeuralODE matrix M =\n", np.round(fitted["NeuralODE matrix"].M_, 6), "\ntrue A =\n", np.round(A, 6))
    _figures(name, fitted, data_matrix, data_node, out)
    summary = {"name": name, "rows": rows, "B_hat": fitted["matrix"].B_hat_.tolist(),
               "M": fitted["NeuralODE matrix"].M_.tolist(), "A": A.tolist()}
    with open(os.path.join(out, f"{name}_study.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary


def _figures(name, fitted, dm, dn, out):
    d0 = dm.train[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    tf = np.linspace(dn.train[0].t[0], dm.train[0].t[-1], 200)
    A = dn.info["A"]
    exact = np.stack([expm(A * t) @ d0.y[0] for t in tf])
    axes[0].plot(tf, exact, "k-", lw=0.8)
    axes[0].plot(d0.t, d0.y, "ko")[0].set_label("data")
    for label, est in fitted.items():
        d = dm if label in ("NN step", "matrix") else dn
        y = est.simulate(np.zeros((d.train[0].N, 0)), x0=d.train[0].y[0])
        axes[0].plot(d.train[0].t, y, "x--")[0].set_label(label)
        axes[1].plot(y[:, 0], y[:, 1], "x--", label=label)
    axes[0].set_xlabel("t [s]"), axes[0].set_ylabel("y"), axes[0].legend(fontsize="small")
    axes[1].plot(exact[:, 0], exact[:, 1], "k-", lw=0.8, label="exact")
    axes[1].set_xlabel("y1"), axes[1].set_ylabel("y2"), axes[1].set_title("phase plane"), axes[1].legend(fontsize="small")
    axes[2].plot(d0.y[:-1, 0], d0.y[1:, 0], "o-", label="y1")
    axes[2].plot(d0.y[:-1, 1], d0.y[1:, 1], "s-", label="y2")
    axes[2].set_xlabel("y(n)"), axes[2].set_ylabel("y(n+1)"), axes[2].legend()
    fig.suptitle(f"{name}: trajectories, phase plane, y(n) against y(n+1)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"{name}_trajectories.png"), dpi=110)
    plt.close(fig)
    # the loss over a grid of initial states for the matrix step, with the eigenvectors of B̂
    est = fitted["matrix"]
    g = np.linspace(-3, 3, 41)
    G1, G2 = np.meshgrid(g, g)
    Ad = dm.info["Ad"]
    loss = np.zeros_like(G1)
    for i in range(G1.shape[0]):
        for j in range(G1.shape[1]):
            x = np.array([G1[i, j], G2[i, j]])
            loss[i, j] = np.sum((est.B_hat_ @ x - Ad @ x) ** 2)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cs = ax.contourf(G1, G2, np.log10(loss + 1e-30), levels=30)
    fig.colorbar(cs, label="log10 one-step error")
    w, V = np.linalg.eig(est.B_hat_)
    for k in range(V.shape[1]):
        for part, style in ((V[:, k].real, "w-"), (V[:, k].imag, "w--")):
            if np.linalg.norm(part) > 1e-12:
                v = 2.5 * part / np.linalg.norm(part)
                ax.plot([-v[0], v[0]], [-v[1], v[1]], style, lw=1)
    ax.set_xlabel("y1(0)"), ax.set_ylabel("y2(0)")
    ax.set_title(f"{name}: matrix step error over initial states\n(eigenvector real/imag parts in white)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"{name}_circle.png"), dpi=110)
    plt.close(fig)
