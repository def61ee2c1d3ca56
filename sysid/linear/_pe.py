"""The prediction-error engine shared by every linear structure (state space, OE, ARMAX, BJ, ARX).

Every structure is written as an innovations-form model

    x⁺ = A x + B u + K e,   y = C x + D u + e

whose matrices are functions of the parameters θ, with their derivatives. The one-step
predictor is x̂⁺ = Ā x̂ + B̄ u + K y, ŷ = C x̂ + D u with Ā = A − K C, B̄ = B − K D (K = 0:
output error, ŷ is the free-run simulation). The residuals ε = (y − ŷ)/scale are minimized by
``scipy.optimize.least_squares`` (Levenberg–Marquardt) with the analytic Jacobian from the sensitivity equations

    S_i⁺ = Ā S_i + ∂Ā/∂θ_i x̂ + ∂B̄/∂θ_i u + ∂K/∂θ_i y,   ∂ŷ/∂θ_i = C S_i + ∂C/∂θ_i x̂ + ∂D/∂θ_i u,

all columns at once by :func:`~sysid.linear._sim.batched_response`. The initial states (one
per experiment) are parameters too. Guarantees: the returned parameters never have a larger
criterion than the start (the start is returned otherwise); with ``stable=True`` every trial
point whose predictor (or free part, for structures with integrators) has spectral radius
≥ ``rho_max`` is given a criterion larger than the start's, so the trust-region search rejects
it and the result keeps a stable predictor.

References
----------
L. Ljung, *System Identification: Theory for the User*, 2nd ed., 1999, §4.3, §7.2, §10.2–10.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ._sim import batched_response, state_response

__all__ = ["Structure", "PEFit", "minimize_prediction_error", "predictor_residuals", "predictor_x0",
           "predictor_errors", "jacobian"]

_MAX_ELEMENTS = 4_000_000  # complex elements per batched sensitivity call (memory bound)
_METHOD = "lm"  # MINPACK Levenberg–Marquardt (QR per step; faster than "trf" with its SVD)


class Structure:
    """A model structure θ → (A, B, C, D, K) with derivatives (subclasses implement ``build``).

    Attributes
    ----------
    nx, nu, ny, n_theta : int
    """

    nx: int
    nu: int
    ny: int
    n_theta: int

    def build(self, theta: np.ndarray):
        """Return ``(A, B, C, D, K), (dA, dB, dC, dD, dK)``; each derivative has a leading axis of
        length ``n_theta``: dA (n_theta, nx, nx), dB (n_theta, nx, nu), dC (n_theta, ny, nx),
        dD (n_theta, ny, nu), dK (n_theta, nx, ny)."""
        raise NotImplementedError

    def stability_matrix(self, theta: np.ndarray, Abar: np.ndarray) -> np.ndarray:
        """The matrix whose spectral radius must stay below ``rho_max`` (default: the predictor's Ā)."""
        return Abar


@dataclass
class PEFit:
    """Result of :func:`minimize_prediction_error`.

    Attributes
    ----------
    theta : ndarray, shape (n_theta,)
    x0 : list of ndarray, shape (nx,)
        One initial state per experiment.
    cost_initial, cost_final : float
        Mean squared scaled prediction error (the criterion) at the start and at the result,
        each with its least-squares (or fitted) initial states.
    nfev, njev : int
    message : str
    covariance : ndarray, shape (n_theta, n_theta) or None
        σ² (JᵀJ)⁺ of the structure parameters at the result (initial states marginalized).
    noise_variance : ndarray, shape (ny,)
        Variance of the prediction errors, per output, in the data's units.
    improved : bool
        False when the start was returned.
    """

    theta: np.ndarray
    x0: list
    cost_initial: float
    cost_final: float
    nfev: int
    njev: int
    message: str
    covariance: np.ndarray | None
    noise_variance: np.ndarray
    improved: bool


def _apply(dM: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """(M, p, q) derivative matrices times a signal (N, q) -> (p, M, N), by one BLAS product."""
    M, p, q = dM.shape
    if M == 0 or q == 0:
        return np.zeros((p, M, sig.shape[0]))
    return (dM.transpose(1, 0, 2).reshape(p * M, q) @ sig.T).reshape(p, M, sig.shape[0])


def _predictor(mats):
    A, B, C, D, K = mats
    return A - K @ C, B - K @ D, K, C, D


def _predictor_derivs(mats, dmats):
    A, B, C, D, K = mats
    dA, dB, dC, dD, dK = dmats
    dAbar = dA - np.einsum("mij,jk->mik", dK, C) - np.einsum("ij,mjk->mik", K, dC)
    dBbar = dB - np.einsum("mij,jk->mik", dK, D) - np.einsum("ij,mjk->mik", K, dD)
    return dAbar, dBbar, dK, dC, dD


def predictor_residuals(mats, u: np.ndarray, y: np.ndarray, x0) -> tuple[np.ndarray, np.ndarray]:
    """One-step prediction errors e = y − ŷ (N, ny) and predictor states (N, nx) of an
    innovations-form model ``mats = (A, B, C, D, K)`` from ``x0``."""
    Abar, Bbar, Kbar, C, D = _predictor(mats)
    drive = u @ Bbar.T + y @ Kbar.T
    X = state_response(Abar, drive, x0)
    return y - X @ C.T - u @ D.T, X


def predictor_x0(mats, u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Initial state minimizing the one-step prediction errors (they are affine in it), shape (nx,)."""
    Abar, _, _, C, _ = _predictor(mats)
    nx = Abar.shape[0]
    if nx == 0:
        return np.zeros(0)
    e0, _ = predictor_residuals(mats, u, y, None)
    free = batched_response(Abar, np.zeros((nx, nx, len(y))), np.eye(nx), C=C)  # (ny, nx, N)
    O = free.transpose(2, 0, 1).reshape(-1, nx)
    with np.errstate(all="ignore"):
        ok = np.all(np.isfinite(O))
    if not ok:
        return np.zeros(nx)
    return np.linalg.lstsq(O, e0.ravel(), rcond=None)[0]


def predictor_errors(mats, u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One-step prediction errors (N, ny) from the least-squares initial state."""
    e, _ = predictor_residuals(mats, u, y, predictor_x0(mats, u, y))
    return e


def _spectral_radius(M: np.ndarray) -> float:
    if M.size == 0:
        return 0.0
    if not np.all(np.isfinite(M)):
        return np.inf
    return float(np.max(np.abs(np.linalg.eigvals(M))))


def jacobian(structure: Structure, theta: np.ndarray, experiments, x0s, scale: np.ndarray, *,
             with_theta: bool = True, with_x0: bool = True) -> np.ndarray:
    """Jacobian of the scaled residuals ε = (y − ŷ)/scale (rows: experiments, then time, then
    output) with respect to θ and the initial states, by the sensitivity equations.

    Returns
    -------
    ndarray, shape (Σ N·ny, n_theta + nx·n_exp)  (columns as selected by ``with_theta``/``with_x0``)
    """
    exps = list(experiments)
    nx, ny, n_theta = structure.nx, structure.ny, structure.n_theta
    n_x0 = nx * len(exps) if with_x0 else 0
    n_res = sum(d.N for d in exps) * ny
    mats, dmats = structure.build(theta)
    Abar, Bbar, Kbar, C, D = _predictor(mats)
    dAbar, dBbar, dKbar, dC, dD = _predictor_derivs(mats, dmats)
    J = np.zeros((n_res, (n_theta if with_theta else 0) + n_x0))
    row = 0
    for e, (d, x) in enumerate(zip(exps, x0s)):
        N = d.N
        rows = slice(row, row + N * ny)
        X = state_response(Abar, d.u @ Bbar.T + d.y @ Kbar.T, x)
        if with_theta and n_theta:
            chunk = max(1, _MAX_ELEMENTS // max(1, N * max(nx, 1)))
            for a in range(0, n_theta, chunk):
                b = min(n_theta, a + chunk)
                G = _apply(dAbar[a:b], X) + _apply(dBbar[a:b], d.u) + _apply(dKbar[a:b], d.y)
                dy = batched_response(Abar, G, C=C) + _apply(dC[a:b], X) + _apply(dD[a:b], d.u)
                J[rows, a:b] = -(dy / scale[:, None, None]).transpose(2, 0, 1).reshape(N * ny, b - a)
        if n_x0 and nx:
            dy = batched_response(Abar, np.zeros((nx, nx, N)), np.eye(nx), C=C)
            c0 = (n_theta if with_theta else 0) + e * nx
            J[rows, c0:c0 + nx] = -(dy / scale[:, None, None]).transpose(2, 0, 1).reshape(N * ny, nx)
        row += N * ny
    return J


def minimize_prediction_error(structure: Structure, theta0: np.ndarray, experiments, *, x0: str = "estimate",
                              stable: bool = True, rho_max: float = 0.9999, max_nfev: int = 100,
                              tol: float = 1e-10, scale: np.ndarray | None = None) -> PEFit:
    """Minimize Σ‖(y − ŷ(θ, x0))/scale‖² over θ (and the initial states) from ``theta0``.

    Parameters
    ----------
    structure : Structure
    theta0 : ndarray, shape (n_theta,)
    experiments : list of IOData
    x0 : {"estimate", "zero"}
        Estimate one initial state per experiment, or start every experiment at rest.
    stable : bool
        Keep the predictor stable (spectral radius of ``structure.stability_matrix`` < ``rho_max``).
    max_nfev : int
        Budget of criterion evaluations of ``least_squares``.
    tol : float
        ``ftol``, ``xtol`` and ``gtol`` of ``least_squares``.
    scale : ndarray, shape (ny,), optional
        Output scaling of the criterion (default: the outputs' standard deviation).

    Returns
    -------
    PEFit
    """
    if x0 not in ("estimate", "zero"):
        raise ValueError(f"x0 must be 'estimate' or 'zero'; got {x0!r}.")
    nx, ny = structure.nx, structure.ny
    n_theta = structure.n_theta
    exps = list(experiments)
    n_exp = len(exps)
    if scale is None:
        scale = np.concatenate([d.y for d in exps]).std(axis=0)
    scale = np.where(np.asarray(scale, float) > 0, scale, 1.0)
    n_x0 = nx * n_exp if x0 == "estimate" else 0
    n_res = sum(d.N for d in exps) * ny
    theta0 = np.asarray(theta0, float)

    def split(p):
        th = p[:n_theta]
        X0 = p[n_theta:].reshape(n_exp, nx) if n_x0 else np.zeros((n_exp, nx))
        return th, X0

    def admissible(th):
        mats, _ = structure.build(th)
        pred = _predictor(mats)
        if not all(np.all(np.isfinite(m)) for m in mats):
            return None
        if stable and _spectral_radius(structure.stability_matrix(th, pred[0])) >= rho_max:
            return None
        return mats

    def raw_residuals(p):
        th, X0 = split(p)
        mats = admissible(th)
        if mats is None:
            return None
        out = []
        with np.errstate(all="ignore"):
            for d, x in zip(exps, X0):
                e, _ = predictor_residuals(mats, d.u, d.y, x)
                out.append((e / scale).ravel())
        r = np.concatenate(out)
        return r if np.all(np.isfinite(r)) and np.max(np.abs(r)) < 1e150 else None

    def jacobian_blocks(th, X0, with_theta=True):
        return jacobian(structure, th, exps, X0, scale, with_theta=with_theta, with_x0=bool(n_x0))

    # the start: least-squares initial states for theta0 (the criterion is linear in them)
    if admissible(theta0) is None:
        raise ValueError("the start model has an unstable predictor (or non-finite matrices); "
                         "stabilize it first or pass stable=False.")
    X0_start = np.zeros((n_exp, nx))
    p0 = np.concatenate([theta0, X0_start.ravel()]) if n_x0 else theta0.copy()
    if n_x0 and nx:
        r0 = raw_residuals(p0)
        Jx = jacobian_blocks(theta0, X0_start, with_theta=False)
        dx = np.linalg.lstsq(Jx, -r0, rcond=None)[0]
        p0[n_theta:] += dx
    r_start = raw_residuals(p0)
    if r_start is None:
        raise ValueError("the start model's predictions are not finite; give a better start model.")
    cost0 = float(np.mean(r_start**2))
    wall = np.full(n_res, np.sqrt(max(cost0, 1e-300) * 1e6) + 1.0)

    def fun(p):
        r = raw_residuals(p)
        return wall if r is None else r

    def jac(p):
        th, X0 = split(p)
        if admissible(th) is None:  # only reached if the optimizer asks at a rejected point
            return np.zeros((n_res, p.size))
        return jacobian_blocks(th, X0)

    nfev = njev = 0
    message = "no free parameters"
    p = p0
    if p0.size and n_res >= p0.size:
        sol = optimize.least_squares(fun, p0, jac=jac, method=_METHOD, x_scale="jac", max_nfev=max_nfev,
                                     ftol=tol, xtol=tol, gtol=tol)
        nfev, njev, message = int(sol.nfev), int(sol.njev or 0), str(sol.message)
        r = raw_residuals(sol.x)
        if r is not None and float(np.mean(r**2)) <= cost0:
            p = sol.x
    improved = p is not p0
    r = raw_residuals(p)
    cost = float(np.mean(r**2))
    if not improved:
        message = f"kept the start model (the search did not lower the criterion: {message})"
    th, X0 = split(p)
    # covariance of θ: σ² (JᵀJ)⁻¹ over all parameters, then the θ block
    covariance = None
    n_par = p.size
    if n_theta and n_res > n_par:
        J = jacobian_blocks(th, X0)
        sigma2 = float(np.sum(r**2) / (n_res - n_par))
        covariance = sigma2 * np.linalg.pinv(J.T @ J)[:n_theta, :n_theta]
    e_all = r.reshape(-1, ny) * scale
    return PEFit(theta=th, x0=[x.copy() for x in X0], cost_initial=cost0, cost_final=cost, nfev=nfev, njev=njev,
                 message=message, covariance=covariance, noise_variance=np.mean(e_all**2, axis=0),
                 improved=improved)
