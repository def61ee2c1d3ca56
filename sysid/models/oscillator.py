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
        self.register_buffer("C", torch.tensor([[1.0, 0.0]], dtype=torch.float64))

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
    """g(t) = x0 + v0 t + t² N(t/T), N(s) = aᵀ [φ(s); 1] with φ a tanh network: the initial
    conditions hold for any weights (h₁(t) = x0 + v0 t, h₂(t, N) = t² N).

    Training minimizes the mean squared ODE residual m g'' + γ g' + g − F on collocation points.
    The residual of this linear ODE is affine in the output weights a, so :meth:`fit` solves them
    by linear least squares inside every evaluation and trains the hidden layers with L-BFGS
    through that solution (variable projection). Derivatives in t are exact (the
    chain rule through the layers).

    Parameters
    ----------
    x0, v0 : float
        Initial position and velocity.
    T : float
        Length of the time interval (the network reads t/T).
    hidden, layers : int
        Width and number of hidden tanh layers of φ.
    seed : int
        Seed of the initial weights (a local generator).
    """

    def __init__(self, x0: float, v0: float, *, T: float, hidden: int = 16, layers: int = 2, seed: int = 0):
        super().__init__()
        if not (np.isfinite(T) and T > 0):
            raise ValueError(f"T (the length of the time interval) must be > 0; got {T!r}.")
        for name, v in (("x0", x0), ("v0", v0)):
            if not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number; got {v!r}.")
        self.x0, self.v0, self.T = float(x0), float(v0), float(T)
        gen = torch.Generator().manual_seed(seed)
        dims = [1] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            lin = nn.Linear(a, b, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.randn(b, a, generator=gen, dtype=torch.float64) * np.sqrt(2.0 / a))
                lin.bias.copy_(0.5 * torch.randn(b, generator=gen, dtype=torch.float64))
            mods += [lin, nn.Tanh()]
        self.phi = nn.Sequential(*mods)
        self.a = nn.Parameter(torch.zeros(hidden + 1, dtype=torch.float64))

    def _features(self, t):
        """The columns t² [φ(t/T), 1] and their first and second derivatives in t, each (M, hidden + 1):
        the derivatives are propagated through the layers by the chain rule (exact, no finite
        differences): z = W a + b → z' = W a', z'' = W a''; h = tanh z → h' = (1 − h²) z',
        h'' = (1 − h²)(z'' − 2 h z'²)."""
        a = (t / self.T)[:, None]
        a1 = torch.full_like(a, 1.0 / self.T)
        a2 = torch.zeros_like(a)
        for layer in self.phi:
            if isinstance(layer, nn.Linear):
                a, a1, a2 = layer(a), a1 @ layer.weight.T, a2 @ layer.weight.T
            else:
                a = torch.tanh(a)
                s = 1 - a ** 2
                a1, a2 = s * a1, s * (a2 - 2 * a * a1 ** 2)
        ones = torch.ones(len(t), 1, dtype=t.dtype)
        h0, h1, h2 = torch.cat([a, ones], 1), torch.cat([a1, 0 * ones], 1), torch.cat([a2, 0 * ones], 1)
        tt = t[:, None]
        return tt ** 2 * h0, 2 * tt * h0 + tt ** 2 * h1, 2 * h0 + 4 * tt * h1 + tt ** 2 * h2

    def derivatives(self, t: torch.Tensor):
        """(g, g', g'') at t (M,)."""
        P0, P1, P2 = self._features(t)
        return (self.x0 + self.v0 * t + P0 @ self.a, self.v0 + P1 @ self.a, P2 @ self.a)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """g(t) for t (M,) → (M,)."""
        P0 = self._features(t)[0]
        return self.x0 + self.v0 * t + P0 @ self.a

    def residual(self, t: torch.Tensor, m: float, gamma: float, F) -> torch.Tensor:
        """m g'' + γ g' + g − F(t) at t (M,); F maps a tensor of times to forces."""
        g, g1, g2 = self.derivatives(t)
        return m * g2 + gamma * g1 + g - F(t)

    def _system(self, t, m, gamma, F):
        P0, P1, P2 = self._features(t)
        return m * P2 + gamma * P1 + P0, F(t) - (gamma * self.v0 + self.x0 + self.v0 * t)

    def fit(self, m: float, gamma: float, F, *, n_points: int = 200, max_iter: int = 300) -> float:
        """Minimize the mean squared residual on ``n_points`` Chebyshev points of [0, T] (variable
        projection, L-BFGS); returns it."""
        _check_oscillator(m, gamma)
        k = np.arange(n_points)
        tc = torch.tensor(0.5 * self.T * (1 - np.cos(np.pi * (k + 0.5) / n_points)), dtype=torch.float64)
        opt = torch.optim.LBFGS(self.phi.parameters(), lr=1.0, max_iter=max_iter, history_size=50,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-15, tolerance_change=1e-16)

        def closure():
            opt.zero_grad()
            M, rhs = self._system(tc, m, gamma, F)
            a = torch.linalg.lstsq(M, rhs[:, None]).solution[:, 0]
            loss = (M @ a - rhs).pow(2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            M, rhs = self._system(tc, m, gamma, F)
            self.a.copy_(torch.linalg.lstsq(M, rhs[:, None]).solution[:, 0])
            return float((M @ self.a - rhs).pow(2).mean())
