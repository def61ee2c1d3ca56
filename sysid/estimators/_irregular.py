"""Estimators for irregularly sampled records: :class:`RNNDelta`, :class:`RNNDecay`, :class:`ODERNN`,
:class:`LatentODE` (on the shared training engine; models in :mod:`sysid.models.irregular`).

Each takes ``IOData`` with a time vector ``t`` (or regular records) and offers, besides the
estimator contract, ``predict_at(observed, t)``: the outputs at the times ``t`` given the
observed samples (interpolation inside them, extrapolation after them).

Exports to the core: the ODE-RNN's model between observations and the latent ODE's decoder are
continuous Lur'e systems (``to_lure``, ``linearize``: poles, DC gain); the Δt-RNN and the
decay-RNN are GRUs (gates multiply, no Lur'e form): ``to_lure`` raises ``NotImplementedError``
and ``linearize`` is the Jacobian of the free-run step over one nominal interval at an
equilibrium (a discrete StateSpace).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ConvergenceError
from ._base import check_int, check_positive
from ._neural_base import NeuralEstimator

__all__ = ["RNNDelta", "RNNDecay", "ODERNN", "LatentODE"]


class _IrregularEstimator(NeuralEstimator):
    _irregular_ok = True
    _inits = ("random",)
    # random starts (no linear model to protect: no warm-up, no averaging) on short irregular
    # records, with the settings the irregular-series study was measured with
    _train_defaults = {"init": "random", "lr": 1e-2, "warmup": None, "average": None, "loss": "truncated",
                       "horizon": 100, "batch_size": 16, "patience": 40, "refit": False}
    _x0_choices = ("auto", "burn_in", "zero")

    def _strategy(self, module, cfg):
        from ..training import Zero
        from ..training._irregular import Observed

        if cfg.x0 == "auto":
            return Observed(0)
        if cfg.x0 == "burn_in":
            return Observed(cfg.burn_in)
        if cfg.x0 == "zero":
            return Zero()
        raise ValueError(f"The 'x0' parameter of {self._owner} must be one of {list(self._x0_choices)}. "
                         f"Got {cfg.x0!r} instead. ('auto' reads the observations from a zero state; 'zero' "
                         "trains a free-run simulation.)")

    def fit(self, data, *, val=None, callback=None):
        """Train on one IOData or a list of experiments (regular or with time vectors ``t``); returns
        ``self``. See :meth:`NeuralEstimator.fit`."""
        for name, d in (("data", data), ("val", val)):
            if d is None:
                continue
            for k, e in enumerate(self._experiments(d, name=name)):
                if e.N < 2:
                    raise ValueError(f"{name} record {k} has {e.N} sample; {self._owner} needs records of at least 2 "
                                     "samples (one interval). Drop it or merge it with a neighbouring record.")
        return super().fit(data, val=val, callback=callback)

    # ------------------------------------------------------------------ conditioning on observations
    def _grid(self, data, t, u):
        """The observed record and the query times on one grid (normalized): (t grid, u, y, mask,
        positions of the queries)."""
        self._check_fitted()
        exps = self._experiments(data)
        if len(exps) != 1:
            raise ValueError(f"predict_at conditions on one record; got {len(exps)}. Call it once per record.")
        d = exps[0]
        t = np.asarray(t, dtype=float).reshape(-1)
        if t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise ValueError(f"t (the query times) must be a non-empty, finite, strictly increasing vector; got "
                             f"{t.size} values{' that do not increase' if t.size > 1 else ''}.")
        if t[0] < d.t[0]:
            raise ValueError(f"the query times must start at or after the first observation (t = {d.t[0]:g}); got "
                             f"{t[0]:g}.")
        if self.nu_:
            if u is None:
                raise ValueError(f"this model has {self.nu_} input(s): pass u at the query times, shape "
                                 f"({t.size}, {self.nu_}).")
            u = self._check_input(u)
            if len(u) != t.size:
                raise ValueError(f"u must have one row per query time, shape ({t.size}, {self.nu_}); got {u.shape}.")
        else:
            u = np.zeros((t.size, 0))
        tt = np.union1d(d.t, t)
        U, Y, M = np.zeros((tt.size, self.nu_)), np.zeros((tt.size, self.ny_)), np.zeros((tt.size, self.ny_))
        iq, io = np.searchsorted(tt, t), np.searchsorted(tt, d.t)
        U[iq] = (u - self.u_mean_) / self.u_std_
        U[io] = (d.u - self.u_mean_) / self.u_std_
        Y[io], M[io] = (d.y - self.y_mean_) / self.y_std_, 1.0
        return tt, U, Y, M, iq

    def _tensors(self, *arrays):
        import torch

        p = next(self.module_.parameters())
        return [torch.tensor(a, dtype=p.dtype, device=p.device)[None] for a in arrays]

    def predict_at(self, data, t, *, u=None) -> np.ndarray:
        """Outputs at the times ``t`` given the observed record ``data``.

        Each output is predicted from the state built from the observations strictly before its
        time (one-step-ahead inside the record, free run after its end).

        Parameters
        ----------
        data : IOData
            The observed samples (irregular or regular).
        t : array_like, shape (M,)
            Query times, strictly increasing, not before the first observation.
        u : array_like, shape (M, nu), optional
            Inputs at the query times (models with inputs).

        Returns
        -------
        ndarray, shape (M, ny)
        """
        import torch

        tt, U, Y, M, iq = self._grid(data, t, u)
        un, yn, mn, dtn = self._tensors(U, Y, M, np.diff(tt) / self.dt_)
        with torch.no_grad():
            x0 = un.new_zeros(1, self.module_.nx)
            yh = self.module_(un, x0, dt=dtn, y=yn, mask=mn)[0].cpu().numpy()
        return yh[iq] * self.y_std_ + self.y_mean_

    # ------------------------------------------------------------------ export
    def linearize(self, *, x0=None, u0=None):
        """The free-run step over one nominal interval (``dt_``), linearized at an equilibrium for
        the input ``u0`` (default 0; found by iteration, then Newton) or at the state ``x0``:
        a discrete ``control.StateSpace`` in physical units (dt = ``dt_``)."""
        import control
        import torch
        from torch.autograd.functional import jacobian

        self._check_fitted()
        m = self.module_
        u0 = np.zeros(self.nu_) if u0 is None else np.asarray(u0, float).reshape(-1)
        if u0.shape != (self.nu_,):
            raise ValueError(f"u0 must have shape (nu,) = ({self.nu_},); got {u0.shape}.")
        p = next(m.parameters())
        ut = torch.tensor((u0 - self.u_mean_) / self.u_std_, dtype=p.dtype)[None]

        def f(x, u):
            return m.step(x[None], u[None] if u.dim() == 1 else u)[0]

        with torch.no_grad():
            if x0 is None:
                x = torch.zeros(m.nx, dtype=p.dtype)
                for _ in range(200):
                    x = f(x, ut[0])
                for _ in range(20):
                    J = jacobian(lambda z: f(z, ut[0]), x)
                    r = f(x, ut[0]) - x
                    x = x - torch.linalg.solve(J - torch.eye(m.nx, dtype=p.dtype), r)
                res = float((f(x, ut[0]) - x).abs().max())
                if not np.isfinite(res) or res > 1e-8:
                    raise ConvergenceError(f"no equilibrium of the free-run step found for u0 = {u0.tolist()} "
                                           f"(residual {res:.2e}); pass x0= (a state) to linearize there.")
            else:
                x = torch.tensor(np.asarray(x0, float).reshape(-1), dtype=p.dtype)
                if x.shape != (m.nx,):
                    raise ValueError(f"x0 must have shape (nx,) = ({m.nx},); got {tuple(x.shape)}.")
        A = jacobian(lambda z: f(z, ut[0]), x).numpy()
        B = jacobian(lambda v: f(x, v), ut[0]).numpy().reshape(m.nx, self.nu_) / self.u_std_[None, :]
        C = self.y_std_[:, None] * m.C.detach().cpu().numpy()
        return control.ss(A, B, C, np.zeros((self.ny_, self.nu_)), self.dt_)

    def _module_lure(self):
        return self.module_.to_lure(self.dt_)


class RNNDelta(_IrregularEstimator):
    """A GRU with the sample interval as an input (the "RNN-Δt" baseline of the latent-ODE paper).

    x_{k+1} = GRU(x_k, [u_k, y_k, 1, Δt_k]), ŷ_k = C x_k: trained to predict each sample from the
    ones before it (``x0="auto"``), or as a free-run simulator of u (``x0="zero"``). Accepts
    irregularly sampled IOData (``t``); intervals count in units of the median interval.

    Parameters
    ----------
    nx : int
        Hidden units.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings (:class:`sysid.training.TrainConfig`, docs/training.md);
        ``init`` is ``"random"`` only (no linear start on irregular samples).

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import IOData
    >>> from sysid.estimators import RNNDelta
    >>> t = np.sort(np.random.default_rng(0).uniform(0, 10, 60))
    >>> d = IOData(None, np.c_[np.sin(t), np.cos(t)], t=t)
    >>> est = RNNDelta(nx=8, epochs=2).fit(d)
    >>> est.predict_at(d, t[-5:]).shape
    (5, 2)
    """

    _owner = "RNNDelta"

    def __init__(self, nx: int = 16, **settings):
        self.nx = nx
        super().__init__(**settings)

    def _build_module(self, nu, ny):
        from ..models.irregular import RNNDeltaModule

        check_int(self.nx, "nx", self._owner)
        return RNNDeltaModule(self.nx, nu, ny)


class RNNDecay(_IrregularEstimator):
    """A GRU whose state decays between samples, x ← x ⊙ exp(−τ Δt) (the "RNN-Decay" baseline).

    Parameters
    ----------
    nx : int
        Hidden units.
    tau0 : float
        Initial decay rate per unit of time (of the data's time unit).
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings (:class:`sysid.training.TrainConfig`, docs/training.md);
        ``init`` is ``"random"`` only (no linear start on irregular samples).
    """

    _owner = "RNNDecay"

    def __init__(self, nx: int = 16, *, tau0: float = 0.1, **settings):
        self.nx, self.tau0 = nx, tau0
        super().__init__(**settings)

    def _build_module(self, nu, ny):
        from ..models.irregular import RNNDecayModule

        check_int(self.nx, "nx", self._owner)
        check_positive(self.tau0, "tau0", self._owner, strict=False)
        # τ is per module time unit (one median interval)
        return RNNDecayModule(self.nx, nu, ny, tau0=self.tau0 * getattr(self, "dt_", 1.0))


class ODERNN(_IrregularEstimator):
    """ODE-RNN: a neural ODE for the state between samples, a GRU update at each observation
    (docs/math.md §8.3). ``to_lure`` is the exact continuous Lur'e form of the model between
    observations (ẋ = W2 tanh(W1 x + U u + b1) + b2, y = C x); ``linearize`` its Jacobian
    linearization (continuous StateSpace: poles, DC gain).

    Parameters
    ----------
    nx : int
        Hidden units.
    hidden : int
        Width of the vector field.
    substeps : int
        RK4 steps per sample interval.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings (:class:`sysid.training.TrainConfig`, docs/training.md);
        ``init`` is ``"random"`` only (no linear start on irregular samples).
    """

    _owner = "ODERNN"

    def __init__(self, nx: int = 16, *, hidden: int = 32, substeps: int = 2, **settings):
        self.nx, self.hidden, self.substeps = nx, hidden, substeps
        super().__init__(**settings)

    def _build_module(self, nu, ny):
        from ..models.irregular import ODERNNModule

        for n in ("nx", "hidden", "substeps"):
            check_int(getattr(self, n), n, self._owner)
        return ODERNNModule(self.nx, nu, ny, hidden=self.hidden, substeps=self.substeps)

    def linearize(self, *, x0=None, u0=None):
        """Jacobian linearization of :meth:`to_lure` (continuous time)."""
        return NeuralEstimator.linearize(self, x0=x0, u0=u0)


class LatentODE(_IrregularEstimator):
    """Latent ODE (a variational autoencoder of trajectories; docs/math.md §8.3).

    An ODE-RNN run backwards in time over a window's observations gives q(z₀) = N(μ, σ²); the
    decoder ż = f(z, u), ŷ = C z runs forward from a sample of it. Trained on the ELBO with a
    Gaussian likelihood (σ_obs = ``obs_std`` in normalized units) and the analytic KL to N(0, I),
    its weight κ annealed (0 for ``kl_warmup`` epochs, then 1 − 0.99^(epoch − kl_warmup)); one
    posterior sample per window and step (not the K-sample IWAE bound). Reported losses are the
    reconstruction MSE with z₀ = μ.

    ``predict_at`` decodes from μ; ``sample_posterior`` draws trajectories. ``to_lure`` is the
    decoder's exact continuous Lur'e form, ``linearize`` its linearization.

    Parameters
    ----------
    nx : int
        Latent states.
    hidden : int
        Width of the decoder's vector field.
    enc_units, enc_hidden : int
        Encoder GRU units and the width of its vector field.
    substeps : int
        RK4 steps per sample interval of the decoder.
    obs_std : float
    kl_warmup : int
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings (:class:`sysid.training.TrainConfig`, docs/training.md);
        ``init`` is ``"random"`` only (no linear start on irregular samples).
    """

    _owner = "LatentODE"

    def __init__(self, nx: int = 4, *, hidden: int = 32, enc_units: int = 16, enc_hidden: int = 32,
                 substeps: int = 2, obs_std: float = 0.01, kl_warmup: int = 10, **settings):
        self.nx, self.hidden, self.enc_units, self.enc_hidden = nx, hidden, enc_units, enc_hidden
        self.substeps, self.obs_std, self.kl_warmup = substeps, obs_std, kl_warmup
        super().__init__(**settings)

    def _build_module(self, nu, ny):
        from ..models.irregular import LatentODEModule

        for n in ("nx", "hidden", "enc_units", "enc_hidden", "substeps"):
            check_int(getattr(self, n), n, self._owner)
        return LatentODEModule(self.nx, nu, ny, hidden=self.hidden, enc_units=self.enc_units,
                               enc_hidden=self.enc_hidden, substeps=self.substeps)

    def _config(self):
        from ..training import Simulation, Truncated
        from ..training._irregular import ELBO, LatentEncoder

        cfg = super()._config()
        check_positive(self.obs_std, "obs_std", self._owner)
        check_int(self.kl_warmup, "kl_warmup", self._owner, minimum=0)
        if cfg.x0 != "auto":
            raise ValueError(f"The 'x0' parameter of LatentODE must be 'auto' (z0 comes from the encoder). "
                             f"Got {cfg.x0!r} instead.")
        if not isinstance(cfg.loss, str) or cfg.loss not in ("truncated", "simulation"):
            raise ValueError(f"The 'loss' parameter of LatentODE must be 'truncated' or 'simulation' (the ELBO is "
                             f"built on its windows). Got {cfg.loss!r} instead.")
        self._encoder = LatentEncoder()
        base = Simulation() if cfg.loss == "simulation" else Truncated(cfg.horizon)
        cfg.loss = ELBO(self._encoder, base, obs_std=self.obs_std,
                        kl_weight=0.0 if self.kl_warmup > 0 else 1.0)
        return cfg

    def _strategy(self, module, cfg):
        return self._encoder

    def _kl_weight(self, epoch: int) -> float:
        return 0.0 if epoch < self.kl_warmup else 1.0 - 0.99 ** (epoch - self.kl_warmup)

    def fit(self, data, *, val=None, callback=None):
        """Train on the ELBO (see the class docstring); returns ``self``."""
        def anneal(epoch, train_loss, val_loss):
            elbo = getattr(self, "_elbo", None)
            if elbo is not None:
                elbo.kl_weight = self._kl_weight(epoch + 1)
            return bool(callback(epoch, train_loss, val_loss)) if callback is not None else False

        self._elbo = None
        orig = self._config

        def config():
            cfg = orig()
            self._elbo = cfg.loss
            return cfg

        self._config = config
        try:
            return super().fit(data, val=val, callback=anneal)
        finally:
            del self._config

    def _latent(self, data, t, u, n_samples, seed):
        import torch

        tt, U, Y, M, iq = self._grid(data, t, u)
        exps = self._experiments(data)
        d = exps[0]
        k0 = np.searchsorted(tt, d.t[0])
        io = np.searchsorted(tt, d.t)
        un, yn, mn, dtn = self._tensors(U[io], Y[io], M[io], np.diff(d.t) / self.dt_)
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        with torch.no_grad():
            mu, sigma = self.module_.posterior(un, yn, mn, dtn if d.N > 1 else None)
            eps = torch.randn((n_samples, mu.shape[1]), generator=gen, dtype=mu.dtype).to(mu.device)
            z0 = mu if n_samples == 0 else mu + sigma * eps
            ug, dtg = self._tensors(U[k0:], np.diff(tt[k0:]) / self.dt_)
            B = z0.shape[0]
            yh = self.module_(ug.expand(B, -1, -1), z0, dt=dtg.expand(B, -1)).cpu().numpy()
        return yh[:, iq - k0] * self.y_std_ + self.y_mean_

    def predict_at(self, data, t, *, u=None) -> np.ndarray:
        """Outputs at the times ``t`` decoded from the posterior mean of z₀ given ``data`` (all its
        samples: interpolation inside the record, extrapolation after it). Shapes as
        :meth:`RNNDelta.predict_at`."""
        return self._latent(data, t, u, 0, None)[0]

    def sample_posterior(self, data, t, *, n_samples: int = 10, u=None, seed: int | None = 0) -> np.ndarray:
        """Trajectories decoded from ``n_samples`` draws of z₀ ~ q(z₀ | data): shape (n_samples, M, ny)."""
        check_int(n_samples, "n_samples", self._owner)
        return self._latent(data, t, u, int(n_samples), seed)

    def posterior(self, data):
        """(μ, σ) of q(z₀ | data) in the module's (normalized) latent coordinates, each (nx,)."""
        import torch

        self._check_fitted()
        d = self._experiments(data)[0]
        un, yn, dtn = self._tensors((d.u - self.u_mean_) / self.u_std_, (d.y - self.y_mean_) / self.y_std_,
                                    np.diff(d.t) / self.dt_)
        with torch.no_grad():
            mu, sigma = self.module_.posterior(un, yn, None, dtn)
        return mu[0].cpu().numpy(), sigma[0].cpu().numpy()

    def linearize(self, *, x0=None, u0=None):
        """Jacobian linearization of the decoder (:meth:`to_lure`, continuous time)."""
        return NeuralEstimator.linearize(self, x0=x0, u0=u0)
