"""LipSDP-Neuron: an ℓ2 Lipschitz bound of a feed-forward network (docs/math.md §4.6).

References
----------
M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate estimation
of Lipschitz constants for deep neural networks", NeurIPS 2019 (diagonal multipliers,
"LipSDP-Neuron"; the coupled "LipSDP-Network" variant is deliberately not offered).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from ._certificate import Certificate
from ._inputs import check_slopes, check_solver
from ._lmi import finish, slope_multiplier, solve, sym
from ._verify import Strict, norm, rounding

__all__ = ["lipschitz"]


def lipschitz(weights, *, slope: tuple[float, float] = (0.0, 1.0), solver: str | None = None) -> Certificate:
    """LipSDP-Neuron bound on the ℓ2 Lipschitz constant of a feed-forward network.

    Network z₁ = σ(W₀x + b₀), …, z_ℓ = σ(W_{ℓ−1}z_{ℓ−1} + b_{ℓ−1}), f(x) = W_ℓ z_ℓ + b_ℓ with σ
    slope-restricted in [α, β]. Solves: minimize ρ over T = diag(λ) ⪰ 0 subject to
    [Am; Bm]ᵀ Q_T [Am; Bm] − blkdiag(ρI, 0, …, −W_ℓᵀW_ℓ) ⪯ 0; the bound is √ρ.

    Parameters
    ----------
    weights : list of array_like
        [W0 (n1, n0), W1 (n2, n1), ..., Wl (n_out, n_l)]; biases do not matter.
    slope : (float, float)
        Slope bounds (α, β) of σ (ReLU, tanh: (0, 1)).
    solver : str, optional

    Returns
    -------
    Certificate
        ``bound`` is the Lipschitz bound L with ‖f(x) − f(x')‖ ≤ L‖x − x'‖.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid.certify import lipschitz
    >>> round(lipschitz([np.array([[3.0]]), np.array([[-2.0]])]).bound, 4)
    6.0
    """
    solver = check_solver(solver)
    for k, W in enumerate(weights):
        if np.iscomplexobj(W):
            raise ValueError(f"weights[{k}] must be real; got complex entries. Pass real weight matrices.")
    Ws = [np.asarray(W, dtype=float) for W in weights]
    if len(Ws) < 2:
        raise ValueError(f"lipschitz needs at least two weight matrices (one hidden layer); got {len(Ws)}. "
                         "For a linear map the Lipschitz constant is its spectral norm np.linalg.norm(W, 2).")
    for k, W in enumerate(Ws):
        if W.ndim != 2 or not np.all(np.isfinite(W)):
            raise ValueError(f"weights[{k}] must be a finite 2-D array; got shape {W.shape}.")
    for k in range(1, len(Ws)):
        if Ws[k].shape[1] != Ws[k - 1].shape[0]:
            raise ValueError(f"weights[{k}] has {Ws[k].shape[1]} columns but weights[{k - 1}] has "
                             f"{Ws[k - 1].shape[0]} rows; consecutive layers must match (W_k: (n_k+1, n_k)).")
    if np.ndim(slope) != 1 or len(slope) != 2:
        raise ValueError(f"slope must be a pair (alpha, beta), e.g. (0.0, 1.0) for ReLU or tanh; got {slope!r}.")
    alpha, beta = check_slopes(*slope, what="the activation (slope=)")
    n0, nl = Ws[0].shape[1], Ws[-1].shape[1]
    N = sum(W.shape[0] for W in Ws[:-1])
    blk = np.zeros((N, n0 + N - nl))
    r = c = 0
    for W in Ws[:-1]:
        blk[r: r + W.shape[0], c: c + W.shape[1]] = W
        r, c = r + W.shape[0], c + W.shape[1]
    AB = np.vstack([np.hstack([blk, np.zeros((N, nl))]), np.hstack([np.zeros((N, n0)), np.eye(N)])])
    last = np.zeros((n0 + N, n0 + N))
    last[-nl:, -nl:] = Ws[-1].T @ Ws[-1]
    first = np.zeros((n0 + N, n0 + N))
    first[:n0, :n0] = np.eye(n0)

    def lmi(lam, rho):
        return AB.T @ slope_multiplier(lam, alpha, beta) @ AB - rho * first + last

    lam = cp.Variable(N, nonneg=True)
    rho = cp.Variable(nonneg=True)
    name, status, note = solve(cp.Problem(cp.Minimize(rho), [sym(lmi(lam, rho)) << 0]), solver)
    if status != cp.OPTIMAL or lam.value is None or rho.value is None:
        return finish("lipschitz", status if status != cp.OPTIMAL else "no_solution", name, [], note=note)
    lamn = np.maximum(np.asarray(lam.value, dtype=float), 0.0)
    # exact smallest ρ for the returned multipliers (Schur complement on the first block), then
    # the smallest slack that puts the LMI below minus its rounding bound
    M0 = sym(lmi(lamn, 0.0))
    M22 = M0[n0:, n0:]
    ev = np.linalg.eigvalsh(M22)
    if ev.max() < -1e-12 * max(1.0, np.abs(ev).max()):
        r_exact = float(np.linalg.eigvalsh(sym(M0[:n0, :n0] - M0[:n0, n0:] @ np.linalg.solve(M22, M0[n0:, :n0]))).max())
    else:
        r_exact = float(rho.value)
    r_exact = max(r_exact, 0.0)
    n = n0 + N

    def scale(r):
        return norm(AB) ** 2 * (2 * abs(alpha * beta) + 2 * abs(alpha + beta) + 2) * float(lamn.max(initial=0.0)) \
            + r * np.sqrt(n0) + norm(Ws[-1]) ** 2

    for k in range(5):
        r_rep = r_exact * (1 + 1e-10 * 10**k) + rounding(n, scale(r_exact)) * 10**k
        Mn = lmi(lamn, r_rep)
        if float(np.linalg.eigvalsh(sym(Mn)).max()) <= -rounding(n, scale(r_rep)):
            break
    return finish("lipschitz", status, name, [Strict(Mn, scale(r_rep), 0.0)], bound=float(np.sqrt(r_rep)), lam=lamn,
                  message="‖f(x) − f(x')‖ ≤ L ‖x − x'‖", note=note)
