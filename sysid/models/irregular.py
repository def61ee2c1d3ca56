"""Recurrent models of irregularly sampled series: Δt-RNN, decay-RNN, ODE-RNN and the latent ODE.

Every module follows :class:`sysid.models.SequenceModule` and takes the sample intervals as
``forward(u, x0, dt=...)`` (B, T − 1), in the module's time unit (one nominal sample interval
= 1 inside an estimator). The three recurrent modules share one layout: the state ``x[:, k]``
entering sample k predicts it, ``ŷ_k = C x_k``, and the transition to sample k + 1 reads the
observation at k (``y``, with a 0/1 ``mask`` of the observed channels; none in a free run) and
the interval Δt_k = t_{k+1} − t_k:

============  ==============================================================================
RNNDelta      x_{k+1} = GRU(x_k, [u_k, m_k ⊙ y_k, m_k, Δt_k])                (Δt as an input)
RNNDecay      x_{k+1} = GRU(x_k, [u_k, m_k ⊙ y_k, m_k]) ⊙ exp(−τ Δt_k), τ ≥ 0 per unit
ODERNN        x⁺_k = GRU(x_k, [u_k, m_k ⊙ y_k, m_k]) where any channel of y_k is observed,
              x_k elsewhere; x_{k+1} = x⁺_k evolved by ẋ = W2 tanh(W1 x + U u_k + b1) + b2
              over Δt_k (RK4, ``substeps`` steps per nominal interval; the input held)
============  ==============================================================================

The latent ODE (:class:`LatentODEModule`) is a NeuralODE decoder ż = f(z, u), ŷ = C z, whose
initial state is drawn from q(z₀ | observations) given by an ODE-RNN encoder run backwards in
time (``module.posterior``); the training strategy and the ELBO are in
:mod:`sysid.training._irregular`. Equations: docs/math.md §8.3.

References
----------
Rubanova, Chen, Duvenaud, "Latent ODEs for irregularly-sampled time series", NeurIPS 2019.
Che et al., "Recurrent neural networks for multivariate time series with missing values"
(GRU-D, the decay of the hidden state), Scientific Reports 2018.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..core.delta import Tanh
from ..core.lure import LureSystem
from .node import NeuralODEModule

__all__ = ["RNNDeltaModule", "RNNDecayModule", "ODERNNModule", "LatentODEModule", "kl_normal"]


def kl_normal(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), per row: (B, n) → (B,)."""
    return 0.5 * (mu ** 2 + sigma ** 2 - 1.0 - 2.0 * torch.log(sigma)).sum(-1)


def _check_inputs(module, u, x0, dt, y, mask):
    B, T = u.shape[0], u.shape[1]
    if u.dim() != 3 or u.shape[2] != module.nu:
        raise ValueError(f"u must have shape (B, T, nu) = (B, T, {module.nu}); got {tuple(u.shape)}.")
    if x0.shape != (B, module.nx):
        raise ValueError(f"x0 must have shape (B, nx) = ({B}, {module.nx}); got {tuple(x0.shape)}.")
    if dt is None:
        dt = torch.full((B, max(T - 1, 0)), float(module.dt), dtype=u.dtype, device=u.device)
    elif dt.shape != (B, max(T - 1, 0)):
        raise ValueError(f"dt (the sample intervals) must have shape (B, T - 1) = ({B}, {max(T - 1, 0)}); "
                         f"got {tuple(dt.shape)}.")
    elif bool((dt < 0).any()):
        raise ValueError("dt (the sample intervals) must be >= 0: the sample times must not decrease.")
    if y is None:
        y = u.new_zeros(B, T, module.ny)
        mask = u.new_zeros(B, T, module.ny)
    else:
        if y.shape != (B, T, module.ny):
            raise ValueError(f"y must have shape (B, T, ny) = ({B}, {T}, {module.ny}); got {tuple(y.shape)}.")
        mask = torch.ones_like(y) if mask is None else mask.to(y.dtype)
        if mask.shape != y.shape:
            raise ValueError(f"mask must have the shape of y, {tuple(y.shape)}; got {tuple(mask.shape)}.")
        y = torch.where(mask > 0, y, torch.zeros_like(y))
    return dt, y, mask


class _ObservedGRU(nn.Module):
    """Shared loop of the three recurrent modules (see the module docstring)."""

    _extra_inputs = 0

    def __init__(self, nx: int, nu: int, ny: int, *, dt: float = 1.0):
        super().__init__()
        self.nx, self.nu, self.ny, self.dt = int(nx), int(nu), int(ny), float(dt)
        self.cell = nn.GRUCell(nu + 2 * ny + self._extra_inputs, nx)
        self.C = nn.Parameter(torch.randn(ny, nx) / np.sqrt(nx))

    def output(self, x):
        return x @ self.C.T

    def cell_input(self, u, y, m):
        return torch.cat([u, y * m, m], dim=-1)

    def transition(self, x, u, y, m, h):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_states(self, u, x0, dt=None, *, y=None, mask=None):
        """u (B, T, nu), x0 (B, nx), dt (B, T − 1), y and mask (B, T, ny) → ŷ (B, T, ny), x (B, T, nx).

        Without ``y`` the model runs free (nothing observed)."""
        dt, y, mask = _check_inputs(self, u, x0, dt, y, mask)
        xs, ys, x = [], [], x0
        T = u.shape[1]
        for k in range(T):
            xs.append(x)
            ys.append(self.output(x))
            if k + 1 < T:
                x = self.transition(x, u[:, k], y[:, k], mask[:, k], dt[:, k])
        if not ys:
            return u.new_zeros(u.shape[0], 0, self.ny), u.new_zeros(u.shape[0], 0, self.nx)
        return torch.stack(ys, 1), torch.stack(xs, 1)

    def forward(self, u, x0, dt=None, *, y=None, mask=None):
        """ŷ (B, T, ny) (see :meth:`forward_states`)."""
        return self.forward_states(u, x0, dt, y=y, mask=mask)[0]

    def step(self, x, u, h=None):
        """The free-run transition over an interval h (default: one sample interval): x (B, nx),
        u (B, nu) → (B, nx). Used to linearize the model."""
        h = torch.full((x.shape[0],), self.dt, dtype=x.dtype, device=x.device) if h is None else h
        z = x.new_zeros(x.shape[0], self.ny)
        return self.transition(x, u, z, z, h)

    def to_lure(self, dt: float | None = None) -> LureSystem:
        raise NotImplementedError(f"{type(self).__name__} is not a Lur'e system (its GRU gates multiply); use the "
                                  "estimator's linearize() (Jacobian of the free-run step at an equilibrium).")


class RNNDeltaModule(_ObservedGRU):
    """A GRU that reads the interval to the next sample as an input: x_{k+1} = GRU(x_k, [u_k, m_k ⊙ y_k,
    m_k, Δt_k]), ŷ_k = C x_k.

    Parameters
    ----------
    nx, nu, ny : int
        Hidden units, inputs, outputs.
    dt : float
        The interval used when ``forward`` gets no ``dt``.
    """

    _extra_inputs = 1

    def transition(self, x, u, y, m, h):
        return self.cell(torch.cat([self.cell_input(u, y, m), h[:, None]], dim=-1), x)


class RNNDecayModule(_ObservedGRU):
    """A GRU whose state decays between samples: x_{k+1} = GRU(x_k, [u_k, m_k ⊙ y_k, m_k]) ⊙
    exp(−τ Δt_k), τ = |tau| per hidden unit (started at ``tau0``).

    Parameters
    ----------
    nx, nu, ny : int
    dt : float
    tau0 : float
        Initial decay rate (per unit of time).
    """

    def __init__(self, nx: int, nu: int, ny: int, *, dt: float = 1.0, tau0: float = 0.1):
        super().__init__(nx, nu, ny, dt=dt)
        self.tau = nn.Parameter(torch.full((int(nx),), float(tau0)))

    def transition(self, x, u, y, m, h):
        return self.cell(self.cell_input(u, y, m), x) * torch.exp(-self.tau.abs() * h[:, None])


class ODERNNModule(_ObservedGRU):
    """ODE-RNN: a GRU update where something is observed, the ODE ẋ = W2 tanh(W1 x + U u + b1) + b2
    between samples (docs/math.md §8.3).

    Parameters
    ----------
    nx, nu, ny : int
    dt : float
    hidden : int
        Width of the vector field's tanh layer.
    substeps : int
        RK4 steps per sample interval (of any length).
    init_std : float
        Standard deviation of the vector field's initial weights (biases 0).
    """

    def __init__(self, nx: int, nu: int, ny: int, *, dt: float = 1.0, hidden: int = 32, substeps: int = 2,
                 init_std: float = 0.1):
        super().__init__(nx, nu, ny, dt=dt)
        if not isinstance(substeps, (int, np.integer)) or isinstance(substeps, bool) or substeps < 1:
            raise ValueError(f"substeps must be an int >= 1; got {substeps!r}.")
        self.substeps = int(substeps)
        self.W1 = nn.Parameter(init_std * torch.randn(hidden, self.nx))
        self.U = nn.Parameter(init_std * torch.randn(hidden, self.nu))
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.W2 = nn.Parameter(init_std * torch.randn(self.nx, hidden))
        self.b2 = nn.Parameter(torch.zeros(self.nx))

    def field(self, x, u):
        """ẋ = f(x, u), batched: (B, nx), (B, nu) → (B, nx)."""
        return torch.tanh(x @ self.W1.T + u @ self.U.T + self.b1) @ self.W2.T + self.b2

    def evolve(self, x, u, h):
        """x after an interval h (B,) with u held: RK4, ``substeps`` steps per nominal interval
        ``dt`` (at least ``substeps``; h < 0 runs backwards)."""
        longest = float(h.detach().abs().max()) if h.numel() else 0.0
        n = self.substeps * max(1, math.ceil(longest / self.dt - 1e-9))
        hs = (h / n)[:, None]
        for _ in range(n):
            k1 = self.field(x, u)
            k2 = self.field(x + 0.5 * hs * k1, u)
            k3 = self.field(x + 0.5 * hs * k2, u)
            k4 = self.field(x + hs * k3, u)
            x = x + hs / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    def update(self, x, u, y, m):
        """The GRU update where any channel is observed (x unchanged elsewhere)."""
        seen = (m > 0).any(-1, keepdim=True)
        return torch.where(seen, self.cell(self.cell_input(u, y, m), x), x)

    def transition(self, x, u, y, m, h):
        return self.evolve(self.update(x, u, y, m), u, h)

    def to_lure(self, dt: float | None = None) -> LureSystem:
        """The model between observations (free run: ẋ = f(x, u), y = C x) as a continuous Lur'e
        system, in the time unit in which one sample interval lasts ``dt``. The measurement updates
        (GRU) are not part of it."""
        g = lambda p: p.detach().cpu().numpy().astype(float)  # noqa: E731
        s = 1.0 if dt is None else self.dt / float(dt)
        return LureSystem(A=np.zeros((self.nx, self.nx)), B1=s * g(self.W2), B2=np.zeros((self.nx, self.nu)),
                          C1=g(self.W1), D12=g(self.U), C2=g(self.C), D22=np.zeros((self.ny, self.nu)),
                          bx=s * g(self.b2), bv=g(self.b1), delta=Tanh(), dt=0.0)


class LatentODEModule(NeuralODEModule):
    """Latent ODE: the decoder ż = W2 tanh(W1 z + U u + b1) + b2, ŷ = C z (a :class:`NeuralODEModule`
    with a free output map), and an ODE-RNN encoder run backwards in time that gives q(z₀ | data) =
    N(μ, diag σ²) (:meth:`posterior`). ``forward(u, z0, dt)`` decodes from z₀; ``to_lure`` is the
    decoder's exact continuous Lur'e form.

    Parameters
    ----------
    nx, nu, ny : int
        Latent states, inputs, outputs.
    hidden : int
        Width of the decoder's vector field.
    enc_units, enc_hidden : int
        Hidden units of the encoder's GRU and width of its vector field.
    substeps, method : int, str
        Integration of the decoder (see :class:`NeuralODEModule`); the encoder uses RK4.
    """

    def __init__(self, nx: int, nu: int, ny: int, *, hidden: int = 32, enc_units: int = 16, enc_hidden: int = 32,
                 substeps: int = 2, method: str = "rk4", init_std: float = 0.1):
        super().__init__(nx, nu, ny, dt=1.0, hidden=hidden, full_state=False, feedthrough=False, method=method,
                         substeps=substeps, hold="zoh", init_std=init_std, linear=False)
        self.encoder = ODERNNModule(enc_units, nu, ny, hidden=enc_hidden, substeps=1, init_std=init_std)
        self.to_q = nn.Linear(enc_units, 2 * nx)

    def posterior(self, u, y, mask=None, dt=None):
        """(μ, σ) of q(z₀ | u, y), each (B, nx): the ODE-RNN runs from the last sample to the first
        (an ODE step back over each interval, a GRU update at each observation).

        u (B, T, nu), y and mask (B, T, ny), dt (B, T − 1)."""
        enc = self.encoder
        B = u.shape[0]
        dt, y, mask = _check_inputs(enc, u, u.new_zeros(B, enc.nx), dt, y, mask)
        x = u.new_zeros(B, enc.nx)
        T = u.shape[1]
        for k in range(T - 1, -1, -1):
            x = enc.update(x, u[:, k], y[:, k], mask[:, k])
            if k > 0:
                x = enc.evolve(x, u[:, k - 1], -dt[:, k - 1])
        q = self.to_q(x)
        mu, raw = q[:, :self.nx], q[:, self.nx:]
        return mu, nn.functional.softplus(raw) + 1e-4
