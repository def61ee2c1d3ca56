"""Residual analysis (MATLAB's ``resid``): whiteness of the residuals and their independence
from past inputs, with confidence bands and portmanteau tests.

References
----------
L. Ljung, *System Identification: Theory for the User*, 2nd ed., 1999, §16.6 (model validation
by residual analysis: the bands and the χ² tests used here).
"""

from __future__ import annotations

from dataclasses import dataclass

import control
import numpy as np
from scipy import stats

from .iodata import IOData
from .lure import LureSystem

__all__ = ["ResidResult", "resid"]


@dataclass(frozen=True)
class ResidResult:
    """Result of :func:`resid`.

    Attributes
    ----------
    residuals : ndarray, shape (N, ny)
        One-step prediction errors (models with a noise model) or simulation errors.
    kind : str
        ``"prediction"`` or ``"simulation"``.
    lags : ndarray, shape (M + 1,)
        0 … M.
    auto : ndarray, shape (M + 1, ny)
        Normalized autocorrelation r_ee(τ) of each output's residual (r_ee(0) = 1).
    auto_bound : float
        z/√N: the band of r_ee(τ), τ ≥ 1, for white residuals at ``confidence``.
    cross_lags : ndarray, shape (2M + 1,)
        −M … M; a positive lag τ pairs e(t) with the past input u(t − τ).
    cross : ndarray, shape (2M + 1, ny, nu)
        Normalized cross-correlation r_eu(τ).
    cross_bound : ndarray, shape (ny, nu)
        z·√(P/N), P = Σ_k r_ee(k) r_uu(k): the band for residuals independent of the input.
    whiteness_pvalue : ndarray, shape (ny,)
        p-value of N Σ_{τ=1}^{M} r_ee(τ)² ~ χ²(M) (Ljung–Box form).
    independence_pvalue : ndarray, shape (ny, nu)
        p-value of N rᵀ S⁻¹ r ~ χ²(M + 1), r = (r_eu(0), …, r_eu(M)) over past inputs, S their
        covariance for a residual independent of the input (both may be coloured).
    confidence : float
    white, independent : ndarray of bool, shapes (ny,) and (ny, nu)
        The tests passed at ``confidence`` (p > 1 − confidence).
    """

    residuals: np.ndarray
    kind: str
    lags: np.ndarray
    auto: np.ndarray
    auto_bound: float
    cross_lags: np.ndarray
    cross: np.ndarray
    cross_bound: np.ndarray
    whiteness_pvalue: np.ndarray
    independence_pvalue: np.ndarray
    confidence: float
    white: np.ndarray
    independent: np.ndarray

    @property
    def passed(self) -> bool:
        """True when the residuals are independent of every past input and — for prediction errors,
        which a right noise model makes white — white. (Simulation errors of output-error models
        are coloured whenever the noise is; only their independence from the input is tested.)"""
        white = bool(np.all(self.white)) if self.kind == "prediction" else True
        return white and bool(np.all(self.independent))

    def __str__(self) -> str:
        lines = [f"resid ({self.kind} errors, {len(self.residuals)} samples, lags 0…{self.lags[-1]}, "
                 f"{100 * self.confidence:g} % level): {'passed' if self.passed else 'FAILED'}"]
        for i in range(self.auto.shape[1]):
            lines.append(f"  output {i}: whiteness p = {self.whiteness_pvalue[i]:.3g} "
                         f"({'white' if self.white[i] else 'NOT white'}); independence from past inputs p = "
                         + ", ".join(f"{p:.3g}" for p in self.independence_pvalue[i]))
        return "\n".join(lines)


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> np.ndarray:
    """r_ab(τ) = Σ_t a(t) b(t − τ) / (N σ_a σ_b) for τ = −M … M (a, b zero-mean 1-D)."""
    N = len(a)
    na, nb = np.sqrt(np.mean(a**2)), np.sqrt(np.mean(b**2))
    out = np.zeros(2 * max_lag + 1)
    if na == 0 or nb == 0:
        return out
    for k, tau in enumerate(range(-max_lag, max_lag + 1)):
        if tau >= 0:
            out[k] = a[tau:] @ b[: N - tau]
        else:
            out[k] = a[: N + tau] @ b[-tau:]
    return out / (N * na * nb)


def _residuals(model, data: IOData) -> tuple[np.ndarray, str]:
    if hasattr(model, "prediction_errors"):
        e = np.asarray(model.prediction_errors(data), float)
        A, B, C, D, K = model.innovations_
        return e, ("prediction" if np.any(K) else "simulation")
    if isinstance(model, control.TransferFunction):
        model = control.ss(model)
    if isinstance(model, control.StateSpace):
        model = LureSystem.from_control(model)
    if isinstance(model, LureSystem):
        x0 = model.estimate_x0(data)
        return data.y - model.simulate(data.u, x0, t=data.t if model.is_continuous else None), "simulation"
    if hasattr(model, "simulate") and hasattr(model, "estimate_x0"):
        return data.y - np.asarray(model.simulate(data.u, x0=model.estimate_x0(data)), float), "simulation"
    raise TypeError("resid expects a fitted sysid estimator, a control.StateSpace / TransferFunction or a "
                    f"sysid.LureSystem; got {type(model).__name__}.")


def resid(model, data: IOData, *, max_lag: int = 25, confidence: float = 0.99) -> ResidResult:
    """Residual analysis of ``model`` on ``data``: are the residuals white, and independent of past inputs?

    Parameters
    ----------
    model : fitted estimator, control.StateSpace or LureSystem
        Estimators with a noise model (ARX, ARMAX, BJ, N4SID(noise=True)) give one-step prediction
        errors; output-error models (N4SID, OE, neural simulators, plain systems) give
        simulation errors from the least-squares initial state — for them only the
        independence test is meaningful (their residuals are coloured unless the noise is white).
    data : IOData
        Uniformly sampled, with inputs; preferably not the training data.
    max_lag : int
        Largest lag M of the correlations (>= 1, < N/2).
    confidence : float
        Level of the bands and of the tests, in (0, 1) (0.99 by default).

    Returns
    -------
    ResidResult

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from sysid import IOData, resid
    >>> from sysid.estimators import ARX
    >>> rng = np.random.default_rng(0)
    >>> u, e = rng.normal(size=2000), 0.1 * rng.normal(size=2000)
    >>> y = signal.lfilter([0, 1.0], [1, -0.8], u) + signal.lfilter([1.0], [1, -0.8], e)
    >>> resid(ARX(1, 1, 1).fit(IOData(u, y, dt=1.0)), IOData(u, y, dt=1.0)).passed
    True
    """
    if not isinstance(data, IOData):
        raise TypeError(f"data must be a sysid.IOData (one experiment); got {type(data).__name__}.")
    if not data.is_uniform:
        raise ValueError("resid needs uniformly sampled data (IOData with dt); the correlations are over lags.")
    if not isinstance(max_lag, (int, np.integer)) or isinstance(max_lag, bool) or not 1 <= max_lag < data.N // 2:
        raise ValueError(f"max_lag must be an int in [1, N/2) = [1, {data.N // 2}); got {max_lag!r}. "
                         "Use fewer lags or a longer record.")
    if not (isinstance(confidence, (float, int)) and 0 < confidence < 1):
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.99; got {confidence!r}.")
    e, kind = _residuals(model, data)
    if e.shape != data.y.shape or not np.all(np.isfinite(e)):
        raise ValueError(f"the model's residuals have shape {e.shape} or are not finite; expected finite "
                         f"values of shape {data.y.shape}.")
    N, ny, nu = data.N, data.ny, data.nu
    M = int(max_lag)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    ec = e - e.mean(0)
    uc = data.u - data.u.mean(0)
    lags = np.arange(M + 1)
    K = 2 * M  # lags of the auto-correlations used in the covariance of r_eu
    auto_long = np.stack([_xcorr(ec[:, i], ec[:, i], K + 2 * M)[K + 2 * M:] for i in range(ny)], axis=1)
    auto = auto_long[: M + 1]
    cross = np.zeros((2 * M + 1, ny, nu))
    bound = np.zeros((ny, nu))
    p_ind = np.ones((ny, nu))
    ks = np.arange(-K, K + 1)
    d = lags[:, None] - lags[None, :]
    for j in range(nu):
        ruu = _xcorr(uc[:, j], uc[:, j], K + 2 * M)[K + 2 * M:]  # lags 0 … K + 2M
        for i in range(ny):
            cross[:, i, j] = _xcorr(ec[:, i], uc[:, j], M)
            ree = auto_long[np.abs(ks), i]
            # covariance of (r_eu(0), …, r_eu(M)) for e independent of u: Σ_k r_ee(k) r_uu(k + τ1 − τ2) / N
            S = np.einsum("k,kab->ab", ree, ruu[np.abs(ks[:, None, None] + d[None])])
            P = max(float(S[0, 0]), 1e-3)
            bound[i, j] = z * np.sqrt(P / N)
            r = cross[M:, i, j]
            try:
                stat = N * float(r @ np.linalg.solve(S + 1e-9 * np.eye(M + 1), r))
            except np.linalg.LinAlgError:
                stat = N * float(np.sum(r**2)) / P
            p_ind[i, j] = float(stats.chi2.sf(stat, M + 1))
    q = N * np.sum(auto[1:] ** 2, axis=0)
    p_white = stats.chi2.sf(q, M)
    alpha = 1.0 - confidence
    return ResidResult(residuals=e, kind=kind, lags=lags, auto=auto, auto_bound=z / np.sqrt(N),
                       cross_lags=np.arange(-M, M + 1), cross=cross, cross_bound=bound,
                       whiteness_pvalue=np.asarray(p_white), independence_pvalue=p_ind, confidence=float(confidence),
                       white=np.asarray(p_white) > alpha, independent=p_ind > alpha)
