"""The damped, driven oscillator of the RNN lecture: Euler's method as a recurrent network, and a
trial-solution network that solves the initial-value problem.

m ẍ + γ ẋ + x = F(t), i.e. ẍ = −α ẋ − δ x + δ F with α = γ/m, δ = 1/m.

* :class:`EulerRNNModule` — explicit Euler with step h on the state s = (x, ẋ) is the linear
  recurrent cell s_{k+1} = W s_k + U F_k, y_k = x_k with the exact weights
  W = [[1, h], [−h δ, 1 − h α]], U = [0, h δ] (identity activation): a
  :class:`sysid.models.SequenceModule` whose ``to_lure`` is that discrete linear system.
* :class:`TrialSolution` — g(t) = x0 + v0 t + t² N(t) satisfies x(0) = x0, ẋ(0) = v0 by
  construction (h₁(t) = x0 + v0 t, h₂(t, N) = t² N(t)); N is a tanh network trained so that the
  ODE residual m g'' + γ g' + g − F vanishes on collocation points (derivatives by autograd).

References
----------
Lagaris, Likas, Fotiadis, "Artificial neural networks for solving ordinary and partial
differential equations", IEEE Trans. Neural Networks 9(5), 1998 (trial solutions).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.lure import LureSystem

__all__ = ["EulerRNNModule", "TrialSolution", "euler_weights"]


def _check_oscillator(m, gamma):
    if not (np.isfinite(m) and m > 0) or not (np.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"the oscillator needs a mass m > 0 and damping gamma >= 0; got m={m!r}, gamma={gamma!r}.")


def euler_weights(m: float, gamma: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(W (2, 2), U (2, 1)) of the Euler cell s⁺ = W s + U F for m ẍ + γ ẋ + x = F, step h."""
    _check_oscillator(m, gamma)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"the Euler step h must be a number > 0; got {h!r}.")
    alpha, delta = gamma / m, 1.0 / m
    return np.array([[1.0, h], [-h * delta, 1.0 - h * alpha]]), np.array([[0.0], [h * delta]])


class EulerRNNModule(nn.Module):
    """Explicit Euler for m ẍ + γ ẋ + x = F as a linear RNN with exact weights (see the module docstring).

    ``forward(u (B, T, 1), x0 (B, 2)) -> y (B, T, 1)`` (the position; ``forward_states`` also
    returns the state (x, ẋ) entering every step). The weights are trainable parameters, started
    at the exact values.

    Parameters
    ----------
    m, gamma : float
        Mass (> 0) and damping (>= 0); the spring constant is 1.
    h : float
        Euler step (the sampling period of F).
    """

    def __init__(self, m: float = 1.0, gamma: float = 0.3, h: float = 0.05):
        super().__init__()
        W, U = euler_weights(m, gamma, h)
        self.nx, self.nu, self.ny, self.h = 2, 1, 1, float(h)
        self.W = nn.Parameter(torch.tensor(W))
        self.U = nn.Parameter(torch.tensor(U))
        self.register_buffer("C", torch.tensor([[1.0, 0.0]]))

    def forward_states(self, u, x0):
        xs, s = [], x0
        for k in range(u.shape[1]):
            xs.append(s)
            s = s @ self.W.T + u[:, k] @ self.U.T
        x = torch.stack(xs, 1) if xs else u.new_zeros(u.shape[0], 0, 2)
        return x @ self.C.T, x

    def forward(self, u, x0):
        return self.forward_states(u, x0)[0]

    def to_lure(self, dt: float | None = None) -> LureSystem:
        """The discrete linear system s⁺ = W s + U F, y = x (dt = h)."""
        g = lambda p: p.detach().cpu().numpy().astype(float)  # noqa: E731
        return LureSystem(A=g(self.W), B2=g(self.U), C2=g(self.C), D22=np.zeros((1, 1)), dt=self.h, nx=2, nu=1, ny=1)


class TrialSolution(nn.Module):
    """g(t) = x0 + v0 t + t² N(t/T), N a tanh network: the initial conditions hold for any weights.

    Parameters
    ----------
    x0, v0 : float
        Initial position and velocity.
    T : float
        Length of the time interval (the network reads t/T).
    hidden, layers : int
        Width and number of hidden tanh layers of N.
    seed : int
        Seed of the initial weights (a local generator).
    """

    def __init__(self, x0: float, v0: float, *, T: float, hidden: int = 32, layers: int = 2, seed: int = 0):
        super().__init__()
        if not (np.isfinite(T) and T > 0):
            raise ValueError(f"T (the length of the time interval) must be > 0; got {T!r}.")
        self.x0, self.v0, self.T = float(x0), float(v0), float(T)
        gen = torch.Generator().manual_seed(seed)
        dims = [1] + [hidden] * layers + [1]
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            lin = nn.Linear(a, b, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.randn(b, a, generator=gen, dtype=torch.float64) * np.sqrt(1.0 / a))
                lin.bias.zero_()
            mods.append(lin)
            if i < len(dims) - 2:
                mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """g(t) for t (M,) → (M,)."""
        return self.x0 + self.v0 * t + t ** 2 * self.net((t / self.T)[:, None])[:, 0]

    def derivatives(self, t: torch.Tensor):
        """(g, g', g'') at t (M,), by automatic differentiation (graph kept for training)."""
        t = t.detach().requires_grad_(True)
        g = self(t)
        g1 = torch.autograd.grad(g.sum(), t, create_graph=True)[0]
        g2 = torch.autograd.grad(g1.sum(), t, create_graph=True)[0]
        return g, g1, g2

    def residual(self, t: torch.Tensor, m: float, gamma: float, F) -> torch.Tensor:
        """m g'' + γ g' + g − F(t) at t (M,); F maps a tensor of times to forces."""
        g, g1, g2 = self.derivatives(t)
        return m * g2 + gamma * g1 + g - F(t)

    def fit(self, m: float, gamma: float, F, *, n_points: int = 200, max_iter: int = 2000, tol: float = 1e-14):
        """Minimize the mean squared residual on ``n_points`` Chebyshev collocation points of [0, T]
        with L-BFGS; returns the final mean squared residual."""
        _check_oscillator(m, gamma)
        k = np.arange(n_points)
        tc = torch.tensor(0.5 * self.T * (1 - np.cos(np.pi * (k + 0.5) / n_points)), dtype=torch.float64)
        opt = torch.optim.LBFGS(self.parameters(), lr=1.0, max_iter=max_iter, history_size=100,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-14, tolerance_change=tol)

        def closure():
            opt.zero_grad()
            loss = (self.residual(tc, m, gamma, F) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        return float((self.residual(tc, m, gamma, F) ** 2).mean().detach())
