"""Figures (the only module of the package that imports matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence

import control
import matplotlib.pyplot as plt
import numpy as np

from .core.compare import CompareResult

__all__ = ["compare", "poles", "save"]


def compare(results: CompareResult | Sequence[CompareResult], labels: Sequence[str] | None = None, *,
            fig=None, title: str | None = None):
    """Measured output next to one or more models' outputs, one panel per output channel.

    Parameters
    ----------
    results : CompareResult or list of CompareResult
        Results of :func:`sysid.compare` on the same data.
    labels : list of str, optional
        Legend entries, one per result.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(results, CompareResult):
        results = [results]
    if not results:
        raise ValueError("compare() needs at least one CompareResult.")
    labels = list(labels) if labels is not None else [f"model {i}" for i in range(len(results))]
    if len(labels) != len(results):
        raise ValueError(f"labels must have one entry per result ({len(results)}); got {len(labels)}.")
    ref = results[0]
    ny = ref.y_true.shape[1]
    if fig is None:
        fig, axes = plt.subplots(ny, 1, sharex=True, figsize=(8, 2.2 + 1.8 * ny), squeeze=False)
        axes = axes[:, 0]
    else:
        axes = fig.axes
    for i, ax in enumerate(axes):
        ax.plot(ref.t, ref.y_true[:, i], color="k", lw=1.0, label="measured")
        for res, lab in zip(results, labels):
            ax.plot(res.t, res.y_model[:, i], lw=1.0, label=f"{lab} (fit {res.fit_percent[i]:.1f} %)")
        if ref.skip:
            ax.axvspan(ref.t[0], ref.t[ref.skip], color="0.9", label="initialization window")
        unit = f" [{ref.output_units[i]}]" if ref.output_units and ref.output_units[i] else ""
        ax.set_ylabel(f"{ref.output_names[i]}{unit}")
        ax.legend(loc="upper right", fontsize="small")
    axes[-1].set_xlabel("time [s]")
    what = "free-run simulation" if ref.kind == "simulation" else f"{ref.horizon}-step prediction"
    axes[0].set_title(title or f"compare: {what}")
    fig.tight_layout()
    return fig


def poles(systems: Sequence[control.StateSpace], labels: Sequence[str], *, ax=None):
    """Pole maps of several LTI systems (unit circle drawn for discrete time)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    markers = "xo+^sv"
    for k, (sys, lab) in enumerate(zip(systems, labels)):
        p = np.atleast_1d(control.poles(sys))
        ax.plot(p.real, p.imag, markers[k % len(markers)], mfc="none", ms=9, label=lab)
    if any(control.isdtime(s, strict=True) for s in systems):
        th = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(th), np.sin(th), "k:", lw=0.8)
        ax.set_aspect("equal")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.axvline(0, color="0.7", lw=0.5)
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.legend(fontsize="small")
    return ax.figure


def save(fig, path) -> None:
    """Save a figure (PNG by extension) and close it."""
    fig.savefig(path, dpi=120)
    plt.close(fig)
