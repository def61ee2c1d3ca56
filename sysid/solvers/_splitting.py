"""Operator-splitting solvers for monotone equilibrium layers z = σ(W z + h) (monDEQ).

When sym(I − W) ⪰ m I with m > 0 and σ = prox_f of a convex f (ReLU, tanh, …), the
equilibrium is the unique zero of the strongly monotone inclusion 0 ∈ (I − W) z − h + ∂f(z),
and two splittings converge for *every* such W (docs/math.md §2.3):

* forward–backward: z ← prox_{αf}((1 − α) z + α (W z + h)), linear for 0 < α < 2m/L²,
  L = ‖I − W‖₂;
* Peaceman–Rachford on u, z = prox_{αf}(u):
  u_½ = 2z − u, z_½ = V(u_½ + α h), u ← 2 z_½ − u_½, V = (I + α(I − W))⁻¹, any α > 0.

Each splitting is written as a fixed-point map, so Picard (plain splitting) or Anderson /
Broyden (accelerated splitting) of :mod:`._fixed_point` solve it. Batched rows: z, h have
shape (B, n) (or (n,)); numpy or torch.

References
----------
E. Winston, J. Z. Kolter, "Monotone operator equilibrium networks", NeurIPS 2020.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._backend import _is_torch
from ._fixed_point import FixedPointResult, Picard, convergence_error

__all__ = ["prox", "forward_backward_map", "peaceman_rachford_map", "monotone_solve", "fb_step_bound",
           "monotone_margin"]


def _lib(x):
    if _is_torch(x):
        import torch

        return torch
    return np


def prox(name: str, x, alpha: float = 1.0):
    """prox_{αf}(x) for the f with prox_f = σ, elementwise.

    ``"relu"``: the projection onto R₊ (independent of α). ``"tanh"``: σ = tanh is prox_f of
    f(z) = ∫ (atanh z − z); prox_{αf}(x) = tanh(s) with (1 − α) tanh(s) + α s = x, solved by
    Newton in s (derivative between min(1, α) and max(1, α), so it converges from s = x).
    """
    lib = _lib(x)
    if name == "relu":
        return lib.maximum(x, lib.zeros_like(x)) if lib is np else x.clamp_min(0)
    if name == "tanh":
        if alpha == 1.0:
            return lib.tanh(x)
        s = x / max(alpha, 1.0)
        for _ in range(60):
            t = lib.tanh(s)
            h = (1 - alpha) * t + alpha * s - x
            s = s - h / ((1 - alpha) * (1 - t * t) + alpha)
            if float(abs(h).max()) < 1e-14 * (1 + float(abs(x).max())):
                break
        return lib.tanh(s)
    raise ValueError(f"the monotone splittings support sigma 'relu' or 'tanh' (proximal maps); got {name!r}.")


def _matT(z, W):
    return z @ W.T


def fb_step_bound(W, m: float) -> float:
    """The forward–backward step bound 2m / ‖I − W‖₂² (numpy or torch W)."""
    Wn = W.detach().cpu().double().numpy() if _is_torch(W) else np.asarray(W, dtype=float)
    L = np.linalg.norm(np.eye(Wn.shape[0]) - Wn, 2)
    return float(2 * m / L**2)


def monotone_margin(W) -> float:
    """m*(W) = λ_min(sym(I − W)), the monotonicity margin of a DEQ weight (docs/math.md §4.5)."""
    Wn = W.detach().cpu().double().numpy() if _is_torch(W) else np.asarray(W, dtype=float)
    S = np.eye(Wn.shape[0]) - Wn
    return float(np.linalg.eigvalsh((S + S.T) / 2)[0])


def forward_backward_map(W, h, sigma: str, alpha: float) -> Callable:
    """z ↦ prox_{αf}((1 − α) z + α (W z + h)); its fixed points are those of z = σ(Wz + h)."""
    def f(z):
        return prox(sigma, (1 - alpha) * z + alpha * (_matT(z, W) + h), alpha)
    return f


def peaceman_rachford_map(W, h, sigma: str, alpha: float) -> tuple[Callable, Callable]:
    """The Peaceman–Rachford map on u and the read-out z = prox_{αf}(u)."""
    lib = _lib(W)
    n = W.shape[0]
    eye = lib.eye(n, dtype=W.dtype) if lib is np else lib.eye(n, dtype=W.dtype, device=W.device)
    V = lib.linalg.inv(eye + alpha * (eye - W))
    ah = alpha * h

    def T(u):
        z = prox(sigma, u, alpha)
        u_half = 2 * z - u
        z_half = _matT(u_half + ah, V)
        return 2 * z_half - u_half

    return T, (lambda u: prox(sigma, u, alpha))


def monotone_solve(W, h, *, sigma: str = "relu", method: str = "pr", alpha: float | None = None,
                   solver: Callable | None = None, z0=None, raise_on_failure: bool = True) -> FixedPointResult:
    """Solve z = σ(W z + h) by a monotone splitting, plain or accelerated.

    Parameters
    ----------
    W : ndarray or Tensor, shape (n, n)
        A weight with sym(I − W) ≻ 0 (e.g. the monDEQ parameterization).
    h : ndarray or Tensor, shape (n,) or (B, n)
        The injected input U x + b.
    sigma : {"relu", "tanh"}
    method : {"pr", "fb"}
        Peaceman–Rachford (any α > 0, default α = 1) or forward–backward (default
        α = 0.9 · 2m/L² with m = λ_min(sym(I − W))).
    solver : callable, optional
        A solver object of :mod:`sysid.solvers` (``Picard()`` = the plain splitting, default;
        ``Anderson()`` accelerates it).
    z0 : optional
        Starting point (zeros by default).

    Returns
    -------
    FixedPointResult
        ``x`` is the equilibrium z (for PR, read out from the splitting variable u).
    """
    solver = solver or Picard(max_iter=5000)
    if method == "pr":
        a = 1.0 if alpha is None else float(alpha)
        if not a > 0:
            raise ValueError(f"alpha must be > 0 for Peaceman-Rachford; got {alpha!r}.")
        T, readout = peaceman_rachford_map(W, h, sigma, a)
        start = h * 0 if z0 is None else z0  # u0 = z0 is a fine start (prox(u0) ≈ z0 for ReLU with z0 ≥ 0)
        res = solver(T, start, raise_on_failure=False)
        res.x = readout(res.x)
        res.method = f"peaceman-rachford/{res.method}"
    elif method == "fb":
        m = monotone_margin(W)
        if not m > 0:
            raise ValueError(f"forward-backward needs sym(I - W) > 0; its smallest eigenvalue is {m:.3g}. Use a "
                             "monotone parameterization (MonDEQModule) or method='pr' with a monotone W.")
        bound = fb_step_bound(W, m)
        a = 0.9 * bound if alpha is None else float(alpha)
        if not 0 < a:
            raise ValueError(f"alpha must be > 0; got {alpha!r}.")
        f = forward_backward_map(W, h, sigma, a)
        res = solver(f, h * 0 if z0 is None else z0, raise_on_failure=False)
        res.method = f"forward-backward/{res.method}"
    else:
        raise ValueError(f"method must be 'pr' (Peaceman-Rachford) or 'fb' (forward-backward); got {method!r}.")
    if not res.converged and raise_on_failure:
        raise convergence_error(res.method, res.iterations, res.residual, res.tol,
                                hint="raise max_iter of the solver or use Anderson on the splitting.")
    return res
