"""Figures (the only module of the package that imports matplotlib).

Every function returns a :class:`matplotlib.figure.Figure` and never opens a window; save it
with :func:`save` (which also closes it) or embed it with :func:`to_png`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import control
import matplotlib.pyplot as plt
import numpy as np

from .core.compare import CompareResult

__all__ = ["compare", "pzmap", "poles", "bode", "singular_values", "correlations", "plot_resid", "training",
           "contraction", "save", "to_png"]

_MARKERS = "xo+^sv<>"


def _new(nrows=1, ncols=1, **kw):
    kw.setdefault("squeeze", False)
    kw.setdefault("layout", "constrained")
    fig, axes = plt.subplots(nrows, ncols, **kw)
    return fig, axes


def compare(results: CompareResult | Sequence[CompareResult], labels: Sequence[str] | None = None, *,
            fig=None, title: str | None = None):
    """Measured output next to one or more models' outputs, one panel per output channel.

    Parameters
    ----------
    results : CompareResult or list of CompareResult
        Results of :func:`sysid.compare` on the same data.
    labels : list of str, optional
        Legend entries, one per result; the fit % of each output is appended.
    fig : matplotlib.figure.Figure, optional
        Draw into this figure (one axes per output).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes per output channel; lines: measured, then one per model.
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
        fig, axes = _new(ny, 1, sharex=True, figsize=(8, 2.2 + 1.8 * ny))
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
    return fig


def _as_ss(sys, what: str = "systems"):
    if isinstance(sys, control.TransferFunction):
        return control.ss(sys)
    if isinstance(sys, control.StateSpace):
        return sys
    raise TypeError(f"{what} must be control.StateSpace (or TransferFunction) objects; got {type(sys).__name__}. "
                    "Pass model.linearize() for a sysid estimator or LureSystem.")


def _labels(labels, n: int, what: str = "systems") -> list[str]:
    if labels is None:
        return [f"system {i}" for i in range(n)]
    labels = [labels] if isinstance(labels, str) else list(labels)
    if len(labels) != n:
        raise ValueError(f"labels must have one entry per {what[:-1]} ({n}); got {len(labels)}.")
    return labels


def pzmap(systems, labels: Sequence[str] | None = None, *, zeros: bool = True, inset: bool | None = None,
          title: str | None = None):
    """Pole-zero map with the unit circle (discrete time) or the imaginary axis (continuous time).

    Poles are crosses, zeros circles, one colour per system. When the poles and zeros cluster in
    a small part of the view (slowly sampled plants: all poles near z = 1), a zoomed inset shows
    the cluster.

    Parameters
    ----------
    systems : control.StateSpace or list of them
        All discrete (dt > 0) or all continuous (dt = 0).
    labels : list of str, optional
    zeros : bool
        Also draw the (transmission) zeros.
    inset : bool, optional
        Force (True) or suppress (False) the zoomed inset; default: automatic.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` is the map; the inset, when there is one, is ``fig.axes[0].child_axes[0]``.
    """
    systems = [systems] if isinstance(systems, (control.StateSpace, control.TransferFunction)) else list(systems)
    if not systems:
        raise ValueError("pzmap() needs at least one system.")
    systems = [_as_ss(s) for s in systems]
    labels = _labels(labels, len(systems))
    discrete = [control.isdtime(s, strict=True) for s in systems]
    if any(discrete) and not all(discrete):
        raise ValueError("pzmap() draws discrete (dt > 0) or continuous (dt = 0) systems, not both; got dt = "
                         f"{[s.dt for s in systems]}. Convert with control.c2d / sysid's d2c first.")
    discrete = discrete[0]
    fig, axes = _new(figsize=(5.6, 5.2))
    ax = axes[0, 0]
    pts = []
    drawn = []
    for k, (sys, lab) in enumerate(zip(systems, labels)):
        color = f"C{k % 10}"
        p = np.atleast_1d(control.poles(sys))
        z = np.atleast_1d(control.zeros(sys)) if zeros else np.empty(0)
        z = z[np.isfinite(z)]
        drawn.append((p, z, color, lab))
        pts.extend(p.tolist() + z.tolist())
    pts = np.asarray(pts, dtype=complex)

    def draw(a, legend: bool):
        for p, z, color, lab in drawn:
            a.plot(p.real, p.imag, "x", color=color, ms=9, mew=1.6, label=f"{lab}: poles" if legend else None)
            if z.size:
                a.plot(z.real, z.imag, "o", color=color, mfc="none", ms=8, label=f"{lab}: zeros" if legend else None)
        if discrete:
            th = np.linspace(0, 2 * np.pi, 2000)
            a.plot(np.cos(th), np.sin(th), "k:", lw=0.8, label="unit circle" if legend else None)
        a.axhline(0, color="0.6", lw=0.6)
        a.axvline(0, color="0.6", lw=0.6 if discrete else 1.0)

    draw(ax, True)
    # the view follows the poles; far-away zeros (e.g. of a nearly non-minimal model) are only listed
    pol_all = np.concatenate([d[0] for d in drawn]).astype(complex)
    far_zero = 3.0 * max(1.0, float(np.max(np.abs(pol_all)))) if pol_all.size else np.inf
    shown = pts[np.abs(pts) <= far_zero] if pts.size else pts
    if discrete:
        r = max(1.1, 1.1 * np.max(np.abs(shown))) if shown.size else 1.1
        ax.set_xlim(-r, r)
        ax.set_ylim(-r, r)
        ax.set_aspect("equal")
        ax.set_xlabel("Re z")
        ax.set_ylabel("Im z")
    else:
        ax.set_xlabel("Re s [rad/s]")
        ax.set_ylabel("Im s [rad/s]")
        if shown.size:
            span = max(np.max(np.abs(shown.real)), np.max(np.abs(shown.imag)), 1e-3) * 1.2
            ax.set_xlim(min(-span, 1.2 * shown.real.min()), max(0.2 * span, 1.2 * shown.real.max()))
            ax.set_ylim(-span, span)
    hidden = pts.size - shown.size
    if hidden:
        far = pts[np.abs(pts) > far_zero]
        ax.text(0.99, 0.01, f"{hidden} zero(s) outside the view (|·| up to {np.max(np.abs(far)):.3g})",
                transform=ax.transAxes, ha="right", va="bottom", fontsize="x-small", color="0.3")
    view = max(np.diff(ax.get_xlim())[0], np.diff(ax.get_ylim())[0])
    pol = np.concatenate([d[0] for d in drawn]).astype(complex)
    if pol.size:
        extent = max(np.ptp(pol.real), np.ptp(pol.imag))
        auto = extent < 0.08 * view
        if inset if inset is not None else auto:
            c = np.array([0.5 * (pol.real.max() + pol.real.min()), 0.5 * (pol.imag.max() + pol.imag.min())])
            half = max(0.6 * extent, 1e-6 * max(1.0, np.abs(c).max()))
            axins = ax.inset_axes([0.2, 0.29, 0.42, 0.42] if discrete else
                                 ([0.08, 0.06, 0.4, 0.4] if c[0] > 0 else [0.54, 0.06, 0.4, 0.4]))
            draw(axins, False)
            axins.set_xlim(c[0] - half, c[0] + half)
            axins.set_ylim(c[1] - half, c[1] + half)
            axins.tick_params(labelsize="x-small")
            axins.set_title("zoom", fontsize="x-small")
            ax.indicate_inset_zoom(axins, edgecolor="0.3")
    ax.legend(fontsize="x-small", loc="upper left")
    ax.set_title(title or ("pole-zero map (discrete time)" if discrete else "pole-zero map (continuous time)"))
    return fig


def poles(systems, labels: Sequence[str] | None = None, *, ax=None):
    """Pole map of several LTI systems: :func:`pzmap` without zeros (kept for older scripts).

    ``ax`` is accepted for compatibility and ignored (a new figure is made).
    """
    return pzmap(systems, labels, zeros=False)


def _freq_response(sys: control.StateSpace, w: np.ndarray) -> np.ndarray:
    """G(jw) or G(e^{jw dt}), shape (nw, ny, nu)."""
    A, B, C, D = (np.asarray(m, dtype=float) for m in (sys.A, sys.B, sys.C, sys.D))
    s = np.exp(1j * w * sys.dt) if control.isdtime(sys, strict=True) else 1j * w
    n = A.shape[0]
    out = np.empty((w.size, C.shape[0], B.shape[1]), dtype=complex)
    for k, sk in enumerate(s):
        out[k] = D + (C @ np.linalg.solve(sk * np.eye(n) - A, B) if n else 0.0)
    return out


def _etfe(u: np.ndarray, y: np.ndarray, dt: float, nperseg: int | None):
    """Welch estimate H = P_uy / P_uu per (output, input) pair; w [rad/s], H (nw, ny, nu), coherence."""
    from scipy import signal

    N = u.shape[0]
    nperseg = nperseg or int(min(N, max(256, N // 4)))
    H, coh = None, None
    for j in range(u.shape[1]):
        f, Puu = signal.welch(u[:, j], fs=1 / dt, nperseg=nperseg, detrend="constant")
        if H is None:
            H = np.zeros((f.size, y.shape[1], u.shape[1]), dtype=complex)
            coh = np.zeros((f.size, y.shape[1], u.shape[1]))
        for i in range(y.shape[1]):
            _, Puy = signal.csd(u[:, j], y[:, i], fs=1 / dt, nperseg=nperseg, detrend="constant")
            _, Pyy = signal.welch(y[:, i], fs=1 / dt, nperseg=nperseg, detrend="constant")
            with np.errstate(divide="ignore", invalid="ignore"):
                H[:, i, j] = Puy / Puu
                coh[:, i, j] = np.abs(Puy) ** 2 / (Puu * Pyy)
    w = 2 * np.pi * f
    keep = w > 0
    return w[keep], H[keep], coh[keep]


def bode(systems, labels: Sequence[str] | None = None, *, data=None, omega=None, nperseg: int | None = None,
         title: str | None = None):
    """Bode diagram of LTI models, beside the data's empirical transfer estimate.

    Parameters
    ----------
    systems : control.StateSpace or list of them
        E.g. linearizations of identified models (``est.linearize()``).
    labels : list of str, optional
    data : IOData, optional
        Uniformly sampled record; its empirical transfer function estimate (Welch: P_uy / P_uu
        per input-output pair, points with coherence < 0.5 drawn faint) is drawn as dots.
    omega : array_like, shape (nw,), optional
        Frequencies [rad/s]; default log-spaced up to the Nyquist frequency of the discrete
        systems (or of the data).
    nperseg : int, optional
        Welch segment length for the estimate.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        For each output i and input j, a magnitude axes (row 2i) and a phase axes (row 2i + 1)
        in column j.
    """
    systems = [systems] if isinstance(systems, (control.StateSpace, control.TransferFunction)) else list(systems)
    systems = [_as_ss(s) for s in systems]
    if not systems and data is None:
        raise ValueError("bode() needs at least one system or data.")
    labels = _labels(labels, len(systems))
    dims = {(s.noutputs, s.ninputs) for s in systems}
    if data is not None:
        if not getattr(data, "is_uniform", False):
            raise ValueError("bode(data=...) needs uniformly sampled IOData (dt > 0); got irregular samples.")
        if data.nu == 0:
            raise ValueError("bode(data=...) needs data with inputs; got nu = 0 (an autonomous record).")
        dims.add((data.ny, data.nu))
    if len(dims) != 1:
        raise ValueError(f"all systems (and the data) must have the same (ny, nu); got {sorted(dims)}.")
    ny, nu = dims.pop()
    dts = [s.dt for s in systems if control.isdtime(s, strict=True)] + ([data.dt] if data is not None else [])
    if omega is None:
        w_hi = np.pi / min(dts) if dts else 100.0
        w_lo = w_hi * 1e-4
        for s in systems:
            p = np.atleast_1d(control.poles(s)).astype(complex)
            if control.isdtime(s, strict=True):
                p = np.log(p[np.abs(p) > 1e-12]) / s.dt  # poles at z = 0 have no continuous counterpart
            mags = np.abs(p[np.abs(p) > 0])
            if mags.size:
                w_lo = min(w_lo, 0.1 * mags.min())
        omega = np.logspace(np.log10(w_lo), np.log10(w_hi), 400)
    omega = np.asarray(omega, dtype=float)
    fig, axes = _new(2 * ny, nu, sharex=True, figsize=(5.5 * nu + 1.5, 3.6 * ny + 0.8))
    ref_phase = None
    for k, (sys, lab) in enumerate(zip(systems, labels)):
        wk = omega[omega <= np.pi / sys.dt * (1 + 1e-12)] if control.isdtime(sys, strict=True) else omega
        G = _freq_response(sys, wk)
        phase = np.degrees(np.unwrap(np.angle(G), axis=0))
        if ref_phase is None:
            ref_phase = (wk, phase)
        for i in range(ny):
            for j in range(nu):
                axes[2 * i, j].semilogx(wk, 20 * np.log10(np.abs(G[:, i, j])), color=f"C{k % 10}", lw=1.3, label=lab)
                axes[2 * i + 1, j].semilogx(wk, phase[:, i, j], color=f"C{k % 10}", lw=1.3)
    if data is not None:
        w, H, coh = _etfe(data.u, data.y, data.dt, nperseg)
        for i in range(ny):
            for j in range(nu):
                ph = np.degrees(np.angle(H[:, i, j]))
                if ref_phase is not None:  # shift by multiples of 360 deg next to the first model's phase
                    near = np.interp(w, ref_phase[0], ref_phase[1][:, i, j])
                    ph = ph + 360.0 * np.round((near - ph) / 360.0)
                good = coh[:, i, j] >= 0.5
                for mask, alpha, lab in ((good, 0.9, "data (empirical estimate)"), (~good, 0.25, None)):
                    axes[2 * i, j].semilogx(w[mask], 20 * np.log10(np.abs(H[mask, i, j])), ".", color="0.3",
                                            ms=3, alpha=alpha, label=lab)
                    axes[2 * i + 1, j].semilogx(w[mask], ph[mask], ".", color="0.3", ms=3, alpha=alpha)
    in_names = list(data.input_names) if data is not None else [f"u{j}" for j in range(nu)]
    out_names = list(data.output_names) if data is not None else [f"y{i}" for i in range(ny)]
    for i in range(ny):
        for j in range(nu):
            axes[2 * i, j].set_ylabel(f"|{out_names[i]}/{in_names[j]}| [dB]")
            axes[2 * i + 1, j].set_ylabel("phase [deg]")
            axes[2 * i, j].grid(True, which="both", lw=0.3)
            axes[2 * i + 1, j].grid(True, which="both", lw=0.3)
    for j in range(nu):
        axes[-1, j].set_xlabel("frequency [rad/s]")
    axes[0, 0].legend(fontsize="x-small")
    axes[0, 0].set_title(title or "Bode diagram")
    return fig


def singular_values(sv, *, nx: int | None = None, title: str | None = None):
    """Singular values of the subspace method's weighted Hankel matrix, for choosing the order.

    Parameters
    ----------
    sv : array_like, shape (n,)
        Singular values (e.g. ``N4SID(...).fit(data).singular_values_``), largest first.
    nx : int, optional
        The chosen order, marked by a vertical line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sv = np.asarray(sv, dtype=float).ravel()
    if sv.size == 0 or not np.all(np.isfinite(sv)) or np.any(sv < 0):
        raise ValueError(f"sv must be a non-empty vector of finite values >= 0; got {sv.tolist()[:8]}.")
    fig, axes = _new(figsize=(6, 3.6))
    ax = axes[0, 0]
    k = np.arange(1, sv.size + 1)
    ax.semilogy(k, np.maximum(sv, np.finfo(float).tiny), "o-", ms=4, label="singular values")
    if nx is not None:
        ax.axvline(nx + 0.5, color="C3", ls="--", label=f"chosen order nx = {nx}")
    ax.set_xlabel("index")
    ax.set_ylabel("singular value")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title or "order selection: singular values")
    return fig


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalized correlation r_ab(tau) = sum_t a(t+tau) b(t) / sqrt(sum a^2 sum b^2), tau = -max_lag..max_lag."""
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    N = a.size
    r = np.empty(2 * max_lag + 1)
    for k, tau in enumerate(range(-max_lag, max_lag + 1)):
        r[k] = np.dot(a[tau:], b[:N - tau]) if tau >= 0 else np.dot(a[:N + tau], b[-tau:])
    return r / den if den > 0 else np.zeros_like(r)


def correlations(e, u=None, *, max_lag: int = 25, confidence: float = 0.99, output_names=None, input_names=None,
                 title: str | None = None):
    """Residual auto-correlation and residual-input cross-correlation with confidence bands.

    For white residuals independent of the input, each normalized correlation lies within
    ±z/√N with probability ``confidence`` (z the normal quantile).

    Parameters
    ----------
    e : array_like, shape (N, ny)
        Residuals (measured minus model output).
    u : array_like, shape (N, nu), optional
        Inputs; adds one column of cross-correlations per input (lags −max_lag … max_lag;
        positive lags: residual after input).
    max_lag : int
    confidence : float in (0, 1)

    Returns
    -------
    matplotlib.figure.Figure
        ny rows; column 0 auto-correlation, column 1 + j cross-correlation with input j.
    """
    from scipy.stats import norm

    e = np.asarray(e, dtype=float)
    e = e[:, None] if e.ndim == 1 else e
    if e.ndim != 2 or not np.all(np.isfinite(e)):
        raise ValueError(f"e must be a finite array of shape (N, ny); got shape {e.shape}.")
    N, ny = e.shape
    U = np.zeros((N, 0)) if u is None else np.asarray(u, dtype=float)
    U = U[:, None] if U.ndim == 1 else U
    if U.shape[0] != N:
        raise ValueError(f"u must have shape (N, nu) with N = {N} like e; got {U.shape}.")
    if not isinstance(max_lag, (int, np.integer)) or not 1 <= max_lag < N:
        raise ValueError(f"max_lag must be an int in [1, N) = [1, {N}); got {max_lag!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
    band = norm.ppf(0.5 + confidence / 2) / np.sqrt(N)
    out_names = output_names or [f"e{i}" for i in range(ny)]
    in_names = input_names or [f"u{j}" for j in range(U.shape[1])]
    fig, axes = _new(ny, 1 + U.shape[1], figsize=(4.2 * (1 + U.shape[1]), 2.6 * ny + 0.6))
    lags = np.arange(-max_lag, max_lag + 1)
    for i in range(ny):
        r = _xcorr(e[:, i], e[:, i], max_lag)[max_lag:]
        ax = axes[i, 0]
        ax.vlines(lags[max_lag:], 0, r, color="C0")
        ax.plot(lags[max_lag:], r, "o", color="C0", ms=3)
        ax.axhspan(-band, band, color="C2", alpha=0.2, label=f"{100 * confidence:g} % band")
        ax.set_ylabel(f"auto-corr. {out_names[i]}")
        for j in range(U.shape[1]):
            r = _xcorr(e[:, i], U[:, j], max_lag)
            ax = axes[i, 1 + j]
            ax.vlines(lags, 0, r, color="C1")
            ax.plot(lags, r, "o", color="C1", ms=3)
            ax.axhspan(-band, band, color="C2", alpha=0.2)
            ax.set_ylabel(f"{out_names[i]} × {in_names[j]}")
    for ax in axes[-1]:
        ax.set_xlabel("lag [samples]")
    axes[0, 0].legend(fontsize="x-small")
    axes[0, 0].set_title(title or "residual correlations")
    return fig


def plot_resid(result, *, title: str | None = None):
    """Figure of a :class:`sysid.ResidResult`: residual auto-correlation (left) and cross-correlation
    with each input (right; positive lags pair the residual with past inputs), with the
    result's confidence bands (the cross band accounts for coloured inputs and residuals).

    Returns
    -------
    matplotlib.figure.Figure
        ny rows, 1 + nu columns.
    """
    ny, nu = result.cross.shape[1], result.cross.shape[2]
    fig, axes = _new(ny, 1 + nu, figsize=(4.2 * (1 + nu), 2.6 * ny + 0.6))
    for i in range(ny):
        ax = axes[i, 0]
        ax.vlines(result.lags, 0, result.auto[:, i], color="C0")
        ax.plot(result.lags, result.auto[:, i], "o", color="C0", ms=3)
        ax.axhspan(-result.auto_bound, result.auto_bound, color="C2", alpha=0.2,
                   label=f"{100 * result.confidence:g} % band")
        ax.set_ylabel(f"auto-corr. e{i} (p = {result.whiteness_pvalue[i]:.2g})")
        for j in range(nu):
            ax = axes[i, 1 + j]
            r = result.cross[:, i, j]
            ax.vlines(result.cross_lags, 0, r, color="C1")
            ax.plot(result.cross_lags, r, "o", color="C1", ms=3)
            ax.axhspan(-result.cross_bound[i, j], result.cross_bound[i, j], color="C2", alpha=0.2)
            ax.set_ylabel(f"e{i} × u{j} (p = {result.independence_pvalue[i, j]:.2g})")
    for ax in axes[-1]:
        ax.set_xlabel("lag [samples]")
    axes[0, 0].legend(fontsize="x-small")
    axes[0, 0].set_title(title or f"residuals ({result.kind} errors): {'passed' if result.passed else 'FAILED'}")
    return fig


def training(history, *, label: str | None = None, title: str | None = None):
    """Training curves: training and validation loss per epoch, the restored epoch marked.

    Parameters
    ----------
    history : sysid.training.TrainResult or dict
        Anything with ``loss``, ``val_loss`` (may be empty) and ``best_epoch`` (−1: unknown),
        e.g. ``est.history_``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    get = history.get if isinstance(history, dict) else (lambda k, d=None: getattr(history, k, d))
    loss = np.asarray(get("loss", []) or [], dtype=float)
    val = np.asarray(get("val_loss", []) or [], dtype=float)
    best = get("best_epoch", -1)
    best = -1 if best is None else int(best)
    if loss.size == 0 and val.size == 0:
        raise ValueError("history has no loss values (loss and val_loss are empty); train the model first.")
    fig, axes = _new(figsize=(6, 3.6))
    ax = axes[0, 0]
    positive = (loss.size == 0 or np.all(loss[np.isfinite(loss)] > 0)) and (val.size == 0 or np.all(val[np.isfinite(val)] > 0))
    plotter = ax.semilogy if positive else ax.plot
    if loss.size:
        plotter(np.arange(loss.size), loss, color="C0", label="training loss")
    if val.size:
        plotter(np.arange(val.size), val, color="C1", label="validation loss")
    if best >= 0:
        ax.axvline(best, color="C3", ls="--", label=f"restored epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE, normalized)")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title or (f"training: {label}" if label else "training"))
    return fig


def contraction(system, u, x0s, *, t=None, labels: Sequence[str] | None = None, title: str | None = None):
    """Trajectories of one system from different initial states under the same input.

    A contracting system forgets its initial state: the distance between the trajectories
    decays (exponentially for a certified rate).

    Parameters
    ----------
    system : LureSystem or control.StateSpace
    u : array_like, shape (N, nu)
    x0s : array_like, shape (k, nx)
        k >= 2 initial states.
    t : array_like, shape (N,), optional
        Sample times for the time axis (default: sample index × dt, or the index).

    Returns
    -------
    matplotlib.figure.Figure
        Axes 0: the first output of each trajectory; axes 1: ‖x_i − x_0‖ on a log scale.
    """
    from .core.lure import LureSystem

    if isinstance(system, (control.StateSpace, control.TransferFunction)):
        system = LureSystem.from_control(_as_ss(system, "system"))
    if not isinstance(system, LureSystem):
        raise TypeError(f"system must be a LureSystem or control.StateSpace; got {type(system).__name__}. "
                        "For an estimator pass est.to_lure().")
    x0s = np.asarray(x0s, dtype=float)
    if x0s.ndim != 2 or x0s.shape[0] < 2 or x0s.shape[1] != system.nx:
        raise ValueError(f"x0s must have shape (k, nx) = (k >= 2, {system.nx}); got {x0s.shape}.")
    labels = _labels(labels, x0s.shape[0], "initial states") if labels is not None else \
        [f"x0 = {np.array2string(x, precision=2)}" for x in x0s]
    u = np.asarray(u, dtype=float)
    N = u.shape[0]
    if t is None:
        t = np.arange(N) * (system.dt if system.dt else 1.0)
        xlabel = "time [s]" if system.dt else "sample"
    else:
        xlabel = "time [s]"
    runs = [system.simulate(u, x0, t=t if system.is_continuous else None, return_x=True) for x0 in x0s]
    fig, axes = _new(2, 1, sharex=True, figsize=(7, 5))
    for k, ((y, _), lab) in enumerate(zip(runs, labels)):
        axes[0, 0].plot(t, y[:, 0], color=f"C{k % 10}", lw=1.1, label=lab)
    axes[0, 0].set_ylabel("output y0")
    axes[0, 0].legend(fontsize="x-small")
    x_ref = runs[0][1]
    for k in range(1, len(runs)):
        d = np.linalg.norm(runs[k][1] - x_ref, axis=1)
        axes[1, 0].semilogy(t, np.maximum(d, 1e-300), color=f"C{k % 10}", lw=1.1,
                            label=f"‖x − x(from {labels[0]})‖" if k == 1 else None)
    axes[1, 0].set_ylabel("state distance")
    axes[1, 0].set_xlabel(xlabel)
    axes[1, 0].grid(True, which="both", lw=0.3)
    axes[1, 0].legend(fontsize="x-small")
    axes[0, 0].set_title(title or "contraction: trajectories from different initial states")
    return fig


def save(fig, path) -> None:
    """Save a figure (PNG by extension) and close it."""
    fig.savefig(path, dpi=120)
    plt.close(fig)


def to_png(fig, *, dpi: int = 100, close: bool = True) -> bytes:
    """The figure as PNG bytes (for embedding in a report); closes it unless ``close=False``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if close:
        plt.close(fig)
    return buf.getvalue()
