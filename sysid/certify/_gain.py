"""Incremental ℓ2 / L2 gain (a Lipschitz bound of the input–output map) and LipSDP.

References
----------
M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate estimation
of Lipschitz constants for deep neural networks", NeurIPS 2019 (LipSDP-Neuron).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._lmi import Certificate, as_lure, finish, slope_multiplier, solve

__all__ = ["incremental_l2_gain", "lipschitz"]


def _gain_lmi(lure, P, lam, s):
    nx, nv, nu = lure.nx, lure.nv, lure.nu
    K = np.hstack([lure.A, lure.B1, lure.B2])
    Ex = np.vstack([np.eye(nx), np.zeros((nv + nu, nx))])
    Cy = np.hstack([lure.C2, lure.D21, lure.D22])
    Eu = np.hstack([np.zeros((nu, nx + nv)), np.eye(nu)])
    if lure.is_continuous:
        storage = Ex @ P @ K + K.T @ P @ Ex.T
    else:
        storage = K.T @ P @ K - Ex @ P @ Ex.T
    M = storage + Cy.T @ Cy - s * (Eu.T @ Eu)
    if nv:
        alpha, beta = lure.delta.slope_bounds
        Mv = np.block([[lure.C1, lure.D11, lure.D12], [np.zeros((nv, nx)), np.eye(nv), np.zeros((nv, nu))]])
        M = M + Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
    return M


def incremental_l2_gain(system, *, solver: str | None = None, local: bool = False) -> Certificate:
    """Smallest γ with Σ‖Δy‖² ≤ γ² Σ‖Δu‖² for trajectories from equal initial states.

    Solves: minimize s = γ² subject to P ⪰ 0, Λ ⪰ 0 diagonal and

        KᵀPK − EₓᵀPEₓ + CyᵀCy + Mvᵀ Q_Λ Mv − s EᵤᵀEᵤ ⪯ 0     (discrete; ξ = (Δx, Δw, Δu))

    (continuous: sym(EₓᵀPK) in place of the storage difference). For an LTI system this is
    its H∞ norm. ``bound`` is γ.
    """
    lure = as_lure(system)
    nx, nv, nu = lure.nx, lure.nv, lure.nu
    if nu == 0:
        raise ValueError("incremental_l2_gain needs inputs (nu >= 1).")
    P = cp.Variable((nx, nx), symmetric=True) if nx else np.zeros((0, 0))
    lam = cp.Variable(nv, nonneg=True) if nv else None
    s = cp.Variable(nonneg=True)
    M = _gain_lmi(lure, P, lam, s)
    cons = [0.5 * (M + M.T) << 0]
    if nx:
        cons.append(P >> 0)
    prob = cp.Problem(cp.Minimize(s), cons)
    name, status = solve(prob, solver)
    if status != cp.OPTIMAL:
        return finish("incremental_l2_gain", status, name, [], tol=0.0, local=local)
    Pn = P.value if nx else np.zeros((0, 0))
    lamn = None if lam is None else np.maximum(lam.value, 0.0)
    # report a slightly larger γ² so that the numeric LMI holds with margin despite solver tolerance
    s_rep = float(s.value) * (1 + 1e-6) + 1e-9
    Mn = _gain_lmi(lure, Pn, lamn, s_rep)
    scale = max(1.0, float(np.abs(Mn).max()))
    return finish("incremental_l2_gain", status, name, [Mn], bound=float(np.sqrt(s_rep)), P=Pn, lam=lamn,
                  tol=1e-7 * scale, local=local, psd=[Pn] if nx else None,
                  message="Σ‖Δy‖² ≤ γ² Σ‖Δu‖² from equal initial states")


def lipschitz(weights, *, slope: tuple[float, float] = (0.0, 1.0), solver: str | None = None) -> Certificate:
    """LipSDP-Neuron bound on the ℓ2 Lipschitz constant of a feed-forward network.

    Parameters
    ----------
    weights : list of ndarray
        [W0, ..., Wl]: z1 = σ(W0 x + b0), ..., f(x) = Wl zl + bl (biases do not matter).
    slope : (α, β)
        Slope bounds of σ (ReLU, tanh: (0, 1)).

    Returns
    -------
    Certificate with ``bound`` the Lipschitz bound √ρ.
    """
    Ws = [np.asarray(W, dtype=float) for W in weights]
    if len(Ws) < 2:
        raise ValueError("lipschitz needs at least two weight matrices (one hidden layer); for a linear map "
                         "the Lipschitz constant is its spectral norm.")
    for k in range(1, len(Ws)):
        if Ws[k].shape[1] != Ws[k - 1].shape[0]:
            raise ValueError(f"weights[{k}] has {Ws[k].shape[1]} columns but weights[{k - 1}] has "
                             f"{Ws[k - 1].shape[0]} rows; consecutive layers must match.")
    alpha, beta = slope
    n0 = Ws[0].shape[1]
    hidden = [W.shape[0] for W in Ws[:-1]]
    N = sum(hidden)
    nl = Ws[-1].shape[1]
    blk = np.zeros((N, n0 + N - nl))
    r = c = 0
    for W in Ws[:-1]:
        blk[r: r + W.shape[0], c: c + W.shape[1]] = W
        r += W.shape[0]
        c += W.shape[1]
    Am = np.hstack([blk, np.zeros((N, nl))])
    Bm = np.hstack([np.zeros((N, n0)), np.eye(N)])
    AB = np.vstack([Am, Bm])
    lam = cp.Variable(N, nonneg=True)
    rho = cp.Variable(nonneg=True)
    last = np.zeros((n0 + N, n0 + N))
    last[-nl:, -nl:] = Ws[-1].T @ Ws[-1]
    first = np.zeros((n0 + N, n0 + N))
    first[:n0, :n0] = np.eye(n0)

    def lmi(l, r_):
        return AB.T @ slope_multiplier(l, alpha, beta) @ AB - r_ * first + last

    M = lmi(lam, rho)
    prob = cp.Problem(cp.Minimize(rho), [0.5 * (M + M.T) << 0])
    name, status = solve(prob, solver)
    if status != cp.OPTIMAL:
        return finish("lipschitz", status, name, [], tol=0.0)
    r_rep = float(rho.value) * (1 + 1e-6) + 1e-9
    lamn = np.maximum(lam.value, 0.0)
    Mn = lmi(lamn, r_rep)
    return finish("lipschitz", status, name, [Mn], bound=float(np.sqrt(r_rep)), lam=lamn,
                  tol=1e-7 * max(1.0, float(np.abs(Mn).max())), message="‖f(x) − f(x')‖ ≤ L ‖x − x'‖")
