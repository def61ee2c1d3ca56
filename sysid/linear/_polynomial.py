"""Polynomial input-output models by the prediction-error method (SISO): OE, ARMAX, BJ.

    OE     y(t) = B(q)/F(q) u(t − nk) + e(t)
    ARMAX  A(q) y(t) = B(q) u(t − nk) + C(q) e(t)
    BJ     y(t) = B(q)/F(q) u(t − nk) + C(q)/D(q) e(t)

with B(q) = b0 + b1 q⁻¹ + … + b_{nb−1} q^{−nb+1} and monic A, C, D, F. Each is written as an
innovations-form state-space model in observer canonical form, whose matrices are affine (and,
with nk = 0, bilinear) in the coefficients, and minimized by the shared prediction-error
engine (:mod:`sysid.linear._pe`: analytic Jacobian, ``scipy.optimize.least_squares``, initial
states estimated). Start values: Steiglitz–McBride iterations (OE, the B/F part of BJ) and
the Hannan–Rissanen two-stage regression (ARMAX, the C/D part of BJ).

References
----------
L. Ljung, *System Identification: Theory for the User*, 2nd ed., 1999, §4.2, §10.2 (gradients),
§10.4 (start values). K. Steiglitz, L. McBride, IEEE Trans. Automatic Control 10 (1965).
E. J. Hannan, J. Rissanen, Biometrika 69 (1982).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import control
import numpy as np
from scipy import signal

from ..core.iodata import as_experiments
from ._pe import PEFit, Structure, minimize_prediction_error

__all__ = ["PolynomialResult", "oe", "armax", "bj", "PolynomialStructure"]


class _Block:
    """One observer-canonical block: denominator α (monic, from θ), optional numerator β (input,
    with delay nk), optional noise numerator γ (monic C polynomial), state dimension n."""

    def __init__(self, n, alpha_idx, beta_idx=None, nk=0, noise=False, gamma_idx=None):
        self.n, self.alpha_idx, self.beta_idx, self.nk = n, list(alpha_idx), beta_idx, nk
        self.noise, self.gamma_idx = noise, gamma_idx


class PolynomialStructure(Structure):
    """Block-diagonal observer-canonical innovations model built from polynomial coefficients."""

    def __init__(self, blocks: list[_Block], n_theta: int):
        self.blocks, self.n_theta = blocks, n_theta
        self.nx = sum(b.n for b in blocks)
        self.nu, self.ny = 1, 1

    def build(self, theta):
        nx, M = self.nx, self.n_theta
        A = np.zeros((nx, nx))
        B = np.zeros((nx, 1))
        C = np.zeros((1, nx))
        D = np.zeros((1, 1))
        K = np.zeros((nx, 1))
        dA, dB, dC = np.zeros((M, nx, nx)), np.zeros((M, nx, 1)), np.zeros((M, 1, nx))
        dD, dK = np.zeros((M, 1, 1)), np.zeros((M, nx, 1))
        o = 0
        for blk in self.blocks:
            n = blk.n
            if n == 0:
                continue
            s = slice(o, o + n)
            alpha = np.zeros(n)
            for i, m in enumerate(blk.alpha_idx):
                alpha[i] = theta[m]
            A[s, o] = -alpha
            A[o:o + n - 1, o + 1:o + n] += np.eye(n - 1)
            C[0, o] = 1.0
            for i, m in enumerate(blk.alpha_idx):
                dA[m, o + i, o] = -1.0
            if blk.beta_idx is not None:
                beta = np.zeros(n + 1)
                for j, m in enumerate(blk.beta_idx):
                    beta[blk.nk + j] = theta[m]
                B[s, 0] = beta[1:] - alpha * beta[0]
                D[0, 0] += beta[0]
                for j, m in enumerate(blk.beta_idx):
                    i = blk.nk + j
                    if i == 0:
                        dB[m, s, 0] -= alpha
                        dD[m, 0, 0] += 1.0
                    else:
                        dB[m, o + i - 1, 0] += 1.0
                for i, m in enumerate(blk.alpha_idx):
                    dB[m, o + i, 0] -= beta[0]
            if blk.noise:
                gamma = np.zeros(n)
                for i, m in enumerate(blk.gamma_idx or []):
                    gamma[i] = theta[m]
                    dK[m, o + i, 0] += 1.0
                K[s, 0] = gamma - alpha
                for i, m in enumerate(blk.alpha_idx):
                    dK[m, o + i, 0] -= 1.0
            o += n
        return (A, B, C, D, K), (dA, dB, dC, dD, dK)


def _check(name, value, low):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")


def _siso(data, what):
    exps = as_experiments(data)
    d0 = exps[0]
    if (d0.nu, d0.ny) != (1, 1):
        raise ValueError(f"{what} models here have one input and one output; the data have (nu, ny) = "
                         f"({d0.nu}, {d0.ny}). Fit one model per output, or use N4SID(pem=True) for MIMO.")
    for d in exps:
        if d.dt is None:
            raise ValueError(f"{what} needs uniformly sampled data (IOData with dt), not irregular times.")
    return exps


def _stable_poly(p: np.ndarray, radius: float = 0.99) -> np.ndarray:
    """Monic polynomial [1, p1, …] (given without the 1) with roots outside ``radius`` reflected inside."""
    if p.size == 0:
        return p
    r = np.roots(np.concatenate([[1.0], p]))
    big = np.abs(r) >= radius
    if not big.any():
        return p
    r[big] = 1.0 / np.conj(r[big])
    on = np.abs(r) >= radius
    r[on] *= radius / np.abs(r[on])
    return np.real(np.poly(r))[1:]


def _lagged(x, lags, offset=0):
    """Columns x(t − offset − k), k = lags..., zeros before the record (N, len(lags))."""
    N = len(x)
    out = np.zeros((N, len(lags)))
    for j, k in enumerate(lags):
        s = offset + k
        if s < N:
            out[s:, j] = x[: N - s]
    return out


def _ls(rows, targets):
    Phi, Y = np.vstack(rows), np.concatenate(targets)
    return np.linalg.lstsq(Phi, Y, rcond=None)[0]


def _oe_start(exps, nb, nf, nk, iters=8):
    """B/F by Steiglitz–McBride: ARX on data prefiltered by 1/F of the previous iterate."""
    f = np.zeros(nf)
    b = np.zeros(nb)
    for _ in range(iters):
        den = np.concatenate([[1.0], f])
        rows, targets = [], []
        for d in exps:
            uf = signal.lfilter([1.0], den, d.u[:, 0])
            yf = signal.lfilter([1.0], den, d.y[:, 0])
            rows.append(np.hstack([-_lagged(yf, range(1, nf + 1)), _lagged(uf, range(nb), nk)]))
            targets.append(yf)
        th = _ls(rows, targets)
        f = _stable_poly(th[:nf])
        b = th[nf:]
    return b, f


def _arma_hr(v_list, nd, nc, exog=None):
    """Hannan–Rissanen: high-order AR for the innovations, then LS for D (AR) and C (MA)."""
    order = int(min(max(20, 3 * (nc + nd)), max(1, min(len(v) for v in v_list) // 10)))
    rows, targets = [], []
    for v in v_list:
        rows.append(-_lagged(v, range(1, order + 1)))
        targets.append(v)
    ar = _ls(rows, targets)
    rows, targets = [], []
    for i, v in enumerate(v_list):
        e = signal.lfilter(np.concatenate([[1.0], ar]), [1.0], v)
        cols = [-_lagged(v, range(1, nd + 1)), _lagged(e, range(1, nc + 1))]
        if exog is not None:
            cols.insert(1, exog[i])
        rows.append(np.hstack(cols))
        targets.append(v)
    th = _ls(rows, targets)
    return th


@dataclass
class PolynomialResult:
    """Result of :func:`oe`, :func:`armax`, :func:`bj`.

    Attributes
    ----------
    kind : str
        ``"oe"``, ``"armax"`` or ``"bj"``.
    A, B, C, D, F : ndarray
        Polynomial coefficients in powers of q⁻¹, monic ones with their leading 1 (A = [1] for OE
        and BJ; C = D = [1] for OE; B without its nk leading zeros).
    nk : int
    system : control.StateSpace
        The input-output part B/(A F) q^−nk (observer canonical form, the data's dt).
    innovations : tuple of ndarray
        (A, B, C, D, K) of the whole innovations-form model (its states include the noise model's).
    std : dict of str -> ndarray
        Standard errors of the estimated coefficients (same layout as the polynomials, 0 for the
        fixed leading ones).
    covariance : ndarray
        Covariance of θ (the free coefficients in the order of :attr:`theta_names`).
    theta_names : list of str
    x0 : ndarray or list of ndarray
        Initial state(s) of the innovations model.
    noise_variance : float
    cost_initial, cost_final : float
        Criterion of the start values and of the result.
    message : str
    """

    kind: str
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    F: np.ndarray
    nk: int
    system: control.StateSpace
    innovations: tuple
    std: dict
    covariance: np.ndarray | None
    theta_names: list
    x0: object
    noise_variance: float
    cost_initial: float
    cost_final: float
    message: str
    fit: PEFit | None = field(default=None, repr=False)


def _finish(kind, structure, fit, layout, nk, dt, n_g, exps):
    th = fit.theta
    polys = {"A": np.array([1.0]), "C": np.array([1.0]), "D": np.array([1.0]), "F": np.array([1.0]),
             "B": np.zeros(0)}
    std = {}
    sd = np.sqrt(np.clip(np.diag(fit.covariance), 0, None)) if fit.covariance is not None else np.full(th.size, np.nan)
    names = []
    for key, idx in layout.items():
        if key == "B":
            polys["B"] = th[idx]
            std["B"] = sd[idx]
            names += [f"b{j}" for j in range(len(idx))]
        else:
            polys[key] = np.concatenate([[1.0], th[idx]])
            std[key] = np.concatenate([[0.0], sd[idx]])
            names += [f"{key.lower()}{j + 1}" for j in range(len(idx))]
    mats, _ = structure.build(th)
    A, B, C, D, K = mats
    sys = control.ss(A[:n_g, :n_g], B[:n_g], C[:, :n_g], D, dt)
    order = [i for key in layout for i in layout[key]]
    cov = fit.covariance[np.ix_(order, order)] if fit.covariance is not None else None
    x0 = fit.x0[0] if len(fit.x0) == 1 else fit.x0
    return PolynomialResult(kind=kind, A=polys["A"], B=polys["B"], C=polys["C"], D=polys["D"], F=polys["F"], nk=nk,
                            system=sys, innovations=(A, B, C, D, K), std=std, covariance=cov, theta_names=names,
                            x0=x0, noise_variance=float(fit.noise_variance[0]), cost_initial=fit.cost_initial,
                            cost_final=fit.cost_final, message=fit.message, fit=fit)


def _start_vector(start, names, what):
    th = np.asarray(start, float).ravel()
    if th.size != len(names):
        raise ValueError(f"start for {what} must have {len(names)} values ({', '.join(names)}); got {th.size}.")
    return th


def oe(data, nb: int, nf: int, nk: int = 1, *, start=None, stable: bool = True, max_nfev: int = 100,
       x0: str = "estimate") -> PolynomialResult:
    """Output-error model y = B/F u(t − nk) + e by the prediction-error method.

    Parameters
    ----------
    data : IOData or list of IOData
        One input, one output, uniformly sampled.
    nb, nf, nk : int
        Number of B coefficients (>= 1), order of F (>= 0), input delay (>= 0).
    start : array_like, shape (nb + nf,), optional
        Start values [b0 … b_{nb−1}, f1 … f_nf] (default: Steiglitz–McBride).
    stable : bool
        Keep F stable (the OE predictor is the model).
    max_nfev : int
        Budget of criterion evaluations.
    x0 : {"estimate", "zero"}
        Estimate the initial state (default) or start at rest.

    Returns
    -------
    PolynomialResult

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from sysid import IOData
    >>> from sysid.linear import oe
    >>> u = np.random.default_rng(0).normal(size=500)
    >>> y = signal.lfilter([0, 0.5], [1, -0.8], u)
    >>> res = oe(IOData(u, y, dt=1.0), nb=1, nf=1, nk=1)
    >>> np.round(res.F, 6).tolist(), np.round(res.B, 6).tolist()
    ([1.0, -0.8], [0.5])
    """
    _check("nb", nb, 1), _check("nf", nf, 0), _check("nk", nk, 0)
    exps = _siso(data, "OE")
    n = max(nf, nk + nb - 1)
    ib, i_f = list(range(nb)), list(range(nb, nb + nf))
    structure = PolynomialStructure([_Block(n, i_f, ib, nk=nk)], nb + nf)
    if start is None:
        b, f = _oe_start(exps, nb, nf, nk)
        theta0 = np.concatenate([b, f])
    else:
        theta0 = _start_vector(start, [f"b{j}" for j in ib] + [f"f{i + 1}" for i in range(nf)], "OE")
    fit = minimize_prediction_error(structure, theta0, exps, x0=x0, stable=stable, max_nfev=max_nfev)
    return _finish("oe", structure, fit, {"B": ib, "F": i_f}, nk, exps[0].dt, n, exps)


def armax(data, na: int, nb: int, nc: int, nk: int = 1, *, start=None, stable: bool = True,
          max_nfev: int = 100, x0: str = "estimate") -> PolynomialResult:
    """ARMAX model A y = B u(t − nk) + C e by the prediction-error method.

    Parameters
    ----------
    data : IOData or list of IOData
        One input, one output.
    na, nb, nc, nk : int
        Orders of A (>= 0), number of B coefficients (>= 1), order of C (>= 0), delay (>= 0).
    start : array_like, shape (na + nb + nc,), optional
        [a1 … a_na, b0 … b_{nb−1}, c1 … c_nc] (default: Hannan–Rissanen).
    stable : bool
        Keep the predictor stable (C with its roots inside the unit circle).

    Returns
    -------
    PolynomialResult
    """
    _check("na", na, 0), _check("nb", nb, 1), _check("nc", nc, 0), _check("nk", nk, 0)
    exps = _siso(data, "ARMAX")
    n = max(na, nk + nb - 1, nc)
    ia, ib, ic = list(range(na)), list(range(na, na + nb)), list(range(na + nb, na + nb + nc))
    structure = PolynomialStructure([_Block(n, ia, ib, nk=nk, noise=True, gamma_idx=ic)], na + nb + nc)
    if start is None:
        exog = [_lagged(d.u[:, 0], range(nb), nk) for d in exps]
        th = _arma_hr([d.y[:, 0] for d in exps], na, nc, exog=exog)
        a, b, c = th[:na], th[na:na + nb], th[na + nb:]
        theta0 = np.concatenate([a, b, _stable_poly(c)])
    else:
        theta0 = _start_vector(start, [f"a{i + 1}" for i in ia] + [f"b{j}" for j in range(nb)] +
                               [f"c{i + 1}" for i in range(nc)], "ARMAX")
    fit = minimize_prediction_error(structure, theta0, exps, x0=x0, stable=stable, max_nfev=max_nfev)
    return _finish("armax", structure, fit, {"A": ia, "B": ib, "C": ic}, nk, exps[0].dt, n, exps)


def bj(data, nb: int, nc: int, nd: int, nf: int, nk: int = 1, *, start=None, stable: bool = True,
       max_nfev: int = 100, x0: str = "estimate") -> PolynomialResult:
    """Box–Jenkins model y = B/F u(t − nk) + C/D e by the prediction-error method.

    Parameters
    ----------
    data : IOData or list of IOData
        One input, one output.
    nb, nc, nd, nf, nk : int
        Number of B coefficients (>= 1), orders of C, D, F (>= 0), delay (>= 0).
    start : array_like, shape (nb + nc + nd + nf,), optional
        [b…, c…, d…, f…] (default: Steiglitz–McBride for B/F, Hannan–Rissanen on its residual
        for C/D).
    stable : bool
        Keep the predictor stable (F and C with their roots inside the unit circle).

    Returns
    -------
    PolynomialResult
    """
    _check("nb", nb, 1), _check("nc", nc, 0), _check("nd", nd, 0), _check("nf", nf, 0), _check("nk", nk, 0)
    exps = _siso(data, "BJ")
    n_g, n_h = max(nf, nk + nb - 1), max(nc, nd)
    ib = list(range(nb))
    ic = list(range(nb, nb + nc))
    i_d = list(range(nb + nc, nb + nc + nd))
    i_f = list(range(nb + nc + nd, nb + nc + nd + nf))
    blocks = [_Block(n_g, i_f, ib, nk=nk)]
    if n_h:
        blocks.append(_Block(n_h, i_d, noise=True, gamma_idx=ic))
    structure = PolynomialStructure(blocks, nb + nc + nd + nf)
    if start is None:
        b, f = _oe_start(exps, nb, nf, nk)
        v = [d.y[:, 0] - signal.lfilter(np.concatenate([np.zeros(nk), b]), np.concatenate([[1.0], f]), d.u[:, 0])
             for d in exps]
        th = _arma_hr(v, nd, nc) if n_h else np.zeros(0)
        dd, cc = th[:nd], th[nd:]
        theta0 = np.concatenate([b, _stable_poly(cc), _stable_poly(dd), f])
    else:
        theta0 = _start_vector(start, [f"b{j}" for j in ib] + [f"c{i + 1}" for i in range(nc)] +
                               [f"d{i + 1}" for i in range(nd)] + [f"f{i + 1}" for i in range(nf)], "BJ")
    fit = minimize_prediction_error(structure, theta0, exps, x0=x0, stable=stable, max_nfev=max_nfev)
    return _finish("bj", structure, fit, {"B": ib, "C": ic, "D": i_d, "F": i_f}, nk, exps[0].dt, n_g, exps)
