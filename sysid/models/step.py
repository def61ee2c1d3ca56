"""Discrete one-step models of the seed study: the neural step and the matrix step."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.delta import Tanh
from ..core.lure import LureSystem

__all__ = ["StepModule", "MatrixStepModule"]


class _Recurrent(nn.Module):
    """Shared simulation loop: ``forward(u (B, T, nu), x0 (B, nx)) -> y (B, T, ny)``."""

    def step(self, x, u):  # pragma: no cover - abstract
        raise NotImplementedError

    def output(self, x, u):
        return x @ self.C.T + (u @ self.D.T if self.D is not None else 0)

    def forward_states(self, u, x0):
        xs, ys = [], []
        x = x0
        for k in range(u.shape[1]):
            xs.append(x)
            ys.append(self.output(x, u[:, k]))
            x = self.step(x, u[:, k])
        return torch.stack(ys, 1), torch.stack(xs, 1)

    def forward(self, u, x0):
        return self.forward_states(u, x0)[0]


def _tanh_layer(module, nx, nu, hidden, init_std):
    """W2 tanh(W1 x + U u + b1) + b2: weights N(0, init_std²), biases 0 (the seed's initialization)."""
    module.W1 = nn.Parameter(init_std * torch.randn(hidden, nx))
    module.U = nn.Parameter(init_std * torch.randn(hidden, nu))
    module.b1 = nn.Parameter(torch.zeros(hidden))
    module.W2 = nn.Parameter(init_std * torch.randn(nx, hidden))
    module.b2 = nn.Parameter(torch.zeros(nx))


def _output_layer(module, nx, nu, ny, full_state: bool, feedthrough: bool):
    if full_state:
        if nx != ny:
            raise ValueError(f"a full-state model (y = x) needs nx = ny; got nx = {nx}, ny = {ny}.")
        module.register_buffer("C", torch.eye(nx))
        module.D = None
    else:
        module.C = nn.Parameter(torch.randn(ny, nx) / np.sqrt(nx))
        module.D = nn.Parameter(torch.zeros(ny, nu)) if feedthrough and nu else None


class StepModule(_Recurrent):
    """x⁺ = [x] + [A x + B u] + W2 tanh(W1 x + U u + b1) + b2, y = C x (+ D u); the seed's one-step
    network, with an optional identity (``residual``) and an optional linear part (``linear``).

    Weights N(0, init_std²), biases 0 (the seed's initialization); the linear part starts at zero
    (see :meth:`init_linear`), and with it the network's output is scaled by k = 0.1. With
    ``full_state`` y = x. Lur'e form: A = (I if residual) + (A if linear), B1 = k W2, B2 = B,
    C1 = W1, D12 = U, bx = k b2, bv = b1, Δ = tanh.
    """

    def __init__(self, nx: int, nu: int, ny: int, *, hidden: int = 16, full_state: bool = True,
                 feedthrough: bool = False, init_std: float = 0.01, residual: bool = False, linear: bool = False):
        super().__init__()
        self.nx, self.nu, self.ny, self.residual, self.linear = nx, nu, ny, residual, linear
        _tanh_layer(self, nx, nu, hidden, init_std)
        _output_layer(self, nx, nu, ny, full_state, feedthrough)
        # with the linear part the network's output is scaled by 0.1: Adam's first steps (±lr on every
        # weight) then move the model by a tenth as much, and do not throw the linear start off
        self.out_scale = 0.1 if linear else 1.0
        if linear:
            self.A = nn.Parameter(torch.zeros(nx, nx))
            self.B = nn.Parameter(torch.zeros(nx, nu))

    def step(self, x, u):
        z = self.out_scale * (torch.tanh(x @ self.W1.T + u @ self.U.T + self.b1) @ self.W2.T + self.b2)
        if self.linear:
            z = z + x @ self.A.T + u @ self.B.T
        return x + z if self.residual else z

    def init_linear(self, A, B, C=None, D=None, *, generator: torch.Generator | None = None) -> None:
        """Start as the linear model x⁺ = A x + B u, y = C x (+ D u): the network's output layer is
        zero and its input layer spreads the (normalized) signals over tanh's range.

        Parameters
        ----------
        A : array_like, shape (nx, nx)
        B : array_like, shape (nx, nu)
        C : array_like, shape (ny, nx), optional
            Ignored for a full-state module (y = x).
        D : array_like, shape (ny, nu), optional
            Used when the module has a direct term.
        """
        if not self.linear:
            raise ValueError("init_linear needs a StepModule built with linear=True.")
        g = torch.Generator().manual_seed(0) if generator is None else generator
        dt, dev = self.W1.dtype, self.W1.device
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=float), dtype=dt, device=dev)  # noqa: E731
        fan = self.nx + self.nu
        with torch.no_grad():
            self.A.copy_(t(A) - (torch.eye(self.nx, dtype=dt, device=dev) if self.residual else 0))
            self.B.copy_(t(B).reshape(self.nx, self.nu))
            if isinstance(self.C, nn.Parameter) and C is not None:
                self.C.copy_(t(C))
            if self.D is not None and D is not None:
                self.D.copy_(t(D))
            self.W1.copy_(torch.randn(self.W1.shape, generator=g, dtype=torch.float64).to(dt) / np.sqrt(fan))
            self.U.copy_(torch.randn(self.U.shape, generator=g, dtype=torch.float64).to(dt) / np.sqrt(fan))
            self.b1.copy_(0.1 * torch.randn(self.b1.shape, generator=g, dtype=torch.float64).to(dt))
            self.W2.zero_()
            self.b2.zero_()

    def to_lure(self, dt: float) -> LureSystem:
        """The exact Lur'e form (module units), sampling period ``dt``."""
        g = lambda p: p.detach().cpu().numpy().astype(float)  # noqa: E731
        A = np.eye(self.nx) if self.residual else np.zeros((self.nx, self.nx))
        B2 = np.zeros((self.nx, self.nu))
        if self.linear:
            A, B2 = A + g(self.A), g(self.B)
        k = self.out_scale
        return LureSystem(A=A, B1=k * g(self.W2), B2=B2, C1=g(self.W1), D12=g(self.U),
                          C2=g(self.C), D22=g(self.D) if self.D is not None else np.zeros((self.ny, self.nu)),
                          bx=k * g(self.b2), bv=g(self.b1), delta=Tanh(), dt=dt)


class MatrixStepModule(_Recurrent):
    """x⁺ = B̂ x (+ B̂u u), y = C x (+ D u); ``B̂`` starts at the identity."""

    def __init__(self, nx: int, nu: int, ny: int, *, full_state: bool = True, feedthrough: bool = False):
        super().__init__()
        self.nx, self.nu, self.ny = nx, nu, ny
        self.B_hat = nn.Parameter(torch.eye(nx))
        self.B_u = nn.Parameter(torch.zeros(nx, nu))
        _output_layer(self, nx, nu, ny, full_state, feedthrough)

    def step(self, x, u):
        return x @ self.B_hat.T + u @ self.B_u.T

    def to_lure(self, dt: float) -> LureSystem:
        """The linear model as a LureSystem without Δ (module units), sampling period ``dt``."""
        g = lambda p: p.detach().cpu().numpy().astype(float)  # noqa: E731
        return LureSystem(A=g(self.B_hat), B2=g(self.B_u), C2=g(self.C),
                          D22=g(self.D) if self.D is not None else np.zeros((self.ny, self.nu)), dt=dt,
                          nx=self.nx, nu=self.nu, ny=self.ny)
