"""Initial-state strategies and the loss of the irregular-sampling models (additions to the contract).

* :class:`Observed` — the recurrent models (Δt-RNN, decay-RNN, ODE-RNN) start from zero and read
  the window's observations as they go: each sample is predicted from the state built from the
  samples before it (one-step-ahead prediction at irregular times).
* :class:`LatentEncoder` — the latent ODE: z₀ ~ q(z₀ | window) from the module's ODE-RNN encoder
  (a sample while training, the mean when evaluating); it keeps the KL of the batch.
* :class:`ELBO` — the negative evidence lower bound per scored value, scaled by 2σ_obs² so that
  its data term is the engine's mean squared error:
  MSE + κ · 2σ_obs² · Σ_windows KL(q(z₀) ‖ N(0, I)) / (number of scored values).
  The KL weight κ is annealed by the estimator (docs/math.md §8.3).
"""

from __future__ import annotations

import numpy as np
import torch

from ._initial import InitialState
from ._losses import Loss, Truncated

__all__ = ["Observed", "LatentEncoder", "ELBO"]


def _past(past):
    if not isinstance(past, (int, np.integer)) or isinstance(past, bool) or past < 0:
        raise ValueError(f"past must be an int >= 0; got {past!r}.")
    return int(past)


class Observed(InitialState):
    """Start from zero ``past`` samples before the window and read every observation on the way;
    the outputs of the window are scored (each predicted before its own sample is read)."""

    name = "observed"

    def __init__(self, past: int = 0):
        self.past = _past(past)

    def initial(self, module, w, idx):
        return torch.zeros(len(idx), module.nx, dtype=w.u.dtype, device=w.u.device)

    def simulate(self, module, w, idx):
        x0 = self.initial(module, w, idx)
        dt = None if w.dt is None else w.dt[idx]
        return module(w.u[idx], x0, dt=dt, y=w.y[idx])[:, self.past:]


class LatentEncoder(InitialState):
    """z₀ of each window from the latent ODE's encoder, q(z₀ | u, y of the window) = N(μ, σ²):
    a reparameterized sample z₀ = μ + σ ε while gradients are on (training steps), μ otherwise.

    The KL divergences and the number of scored values of the batch accumulate for :class:`ELBO`,
    which reads and clears them once per step.
    """

    name = "latent_encoder"
    past = 0

    def __init__(self):
        self._generator = None
        self.clear()

    def clear(self):
        self.kl_sum, self.count = 0.0, 0

    def check(self, module):
        if not callable(getattr(module, "posterior", None)):
            raise TypeError(f"LatentEncoder needs a module with posterior(u, y, mask, dt) -> (mu, sigma) (a "
                            f"LatentODEModule); got {type(module).__name__}.")

    def prepare(self, module, windows, generator):
        self._generator = generator

    def refresh(self, module, windows):
        self.clear()

    def initial(self, module, w, idx):
        dt = None if w.dt is None else w.dt[idx]
        mu, sigma = module.posterior(w.u[idx], w.y[idx], None, dt)
        if not torch.is_grad_enabled():
            return mu
        from ..models.irregular import kl_normal

        eps = torch.randn(mu.shape, generator=self._generator, dtype=mu.dtype).to(mu.device)
        self.kl_sum = self.kl_sum + kl_normal(mu, sigma).sum()
        self.count += int(w.y[idx].numel())
        return mu + sigma * eps


class ELBO(Loss):
    """Negative ELBO of the latent ODE per scored value, times 2σ_obs² (see the module docstring).

    Parameters
    ----------
    encoder : LatentEncoder
        The strategy whose KL terms enter the loss.
    base : Loss
        Where the windows lie (default ``Truncated(100)``).
    obs_std : float
        σ_obs of the Gaussian likelihood, in normalized units.
    kl_weight : float
        κ (the estimator anneals it every epoch).
    """

    name = "elbo"

    def __init__(self, encoder: LatentEncoder, base: Loss | None = None, *, obs_std: float = 0.01,
                 kl_weight: float = 1.0):
        if not isinstance(encoder, LatentEncoder):
            raise TypeError(f"ELBO needs the LatentEncoder whose KL it adds; got {type(encoder).__name__}.")
        if not (isinstance(obs_std, (int, float)) and np.isfinite(obs_std) and obs_std > 0):
            raise ValueError(f"obs_std must be a number > 0; got {obs_std!r}.")
        self.base = Truncated(100) if base is None else base
        self.horizon = self.base.horizon
        self.encoder, self.obs_std, self.kl_weight = encoder, float(obs_std), float(kl_weight)

    def layout(self, a, b):
        return self.base.layout(a, b)

    def regularization(self, module):
        enc = self.encoder
        if enc.count == 0:
            return 0.0
        reg = self.kl_weight * 2.0 * self.obs_std ** 2 * enc.kl_sum / enc.count
        enc.clear()
        return reg

    def __repr__(self) -> str:
        return f"ELBO(base={self.base!r}, obs_std={self.obs_std}, kl_weight={self.kl_weight})"
