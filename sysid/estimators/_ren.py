"""REN estimator: identify a recurrent equilibrium network that is contracting (or γ-Lipschitz,
or (Q, S, R)-dissipative) by construction, export it exactly, and hand back its certificate.

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE Trans. Automatic Control, 2023.
"""

from __future__ import annotations

import numpy as np

from ..core.iodata import as_signal
from ._base import BaseEstimator, check_int, check_positive
from ._ren_export import fold_normalization, physical_certificate_data

__all__ = ["REN"]


class REN(BaseEstimator):
    """Recurrent equilibrium network (direct parameterization), trained on simulation error.

    The model works on normalized signals (training mean / std); everything exported
    (:meth:`to_lure`, :meth:`linearize`, :meth:`certificate`) is in physical units.

    Parameters
    ----------
    nx : int
        Number of states.
    nv : int
        Number of neurons of the equilibrium layer.
    kind : {"contracting", "lipschitz", "iqc"}
        Property built into the parameterization.
    gamma : float, optional
        Lipschitz bound of the *normalized* model (``kind="lipschitz"``). In physical units the
        incremental ℓ2 gain is at most ``gamma_phys_ = gamma · max(σy) / min(σu)`` (σ: training
        standard deviations); :meth:`certificate` certifies ``gamma_phys_``.
    Q, S, R : array_like, shapes (ny, ny), (nu, ny), (nu, nu), optional
        Incremental IQC of the normalized model (``kind="iqc"``), Q ≺ 0, R − SQ⁻¹Sᵀ ≻ 0.
        The exported system satisfies it with Sy⁻¹QSy⁻¹, Su⁻¹SSy⁻¹, Su⁻¹RSu⁻¹.
    rate : float
        Contraction-rate bound ᾱ ∈ (0, 1].
    activation : {"relu", "tanh"}
    polar : bool
        Polar parameterization of H.
    init : {"long_memory", "random", "linear"}
        Initialization: "long_memory" / "random" (see :class:`sysid.models.RENModule`), or
        "linear": start from an N4SID model of order ``nx`` fitted to the normalized training
        data (:meth:`sysid.models.RENModule.init_from_linear`; exact for contracting RENs).
    epochs : int
        Passes over the training windows.
    lr : float
        Adam learning rate.
    seq_len : int
        Truncation length of back-propagation through time (samples per optimizer step).
    washout : int
        Leading samples of each record not scored (the model starts from rest).
    batch_size : int
        Number of parallel streams: the records are cut into about ``batch_size`` segments of
        a common length, simulated side by side. Each epoch every segment starts from the
        state the current model reaches there from rest (a no-gradient pass over the whole
        record) and carries its state from one ``seq_len`` chunk to the next, so lightly
        damped plants train without long transients.
    seed : int, optional
        Initialization and shuffling seed.

    Attributes
    ----------
    module_ : sysid.models.RENModule
    u_mean_, u_std_ : ndarray, shape (nu,)
    y_mean_, y_std_ : ndarray, shape (ny,)
    loss_history_ : list of float
        Mean training loss (normalized MSE) per epoch.
    gamma_phys_ : float or None
        Certified physical Lipschitz bound (``kind="lipschitz"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import IOData
    >>> from sysid.estimators import REN
    >>> u = np.random.default_rng(0).normal(size=(200, 1))
    >>> y = np.convolve(u[:, 0], [0.0, 0.5, 0.25], mode="full")[:200, None]
    >>> est = REN(nx=2, nv=4, epochs=2, seed=0).fit(IOData(u, y, dt=0.1))
    >>> est.certificate().certified
    True
    """

    def __init__(self, *, nx: int = 4, nv: int = 16, kind: str = "contracting", gamma: float | None = None,
                 Q=None, S=None, R=None, rate: float = 1.0, activation: str = "relu", polar: bool = True,
                 init: str = "linear", epochs: int = 100, lr: float = 5e-3, seq_len: int = 100, washout: int = 20,
                 batch_size: int = 32, seed: int | None = None):
        self.nx, self.nv, self.kind, self.gamma = nx, nv, kind, gamma
        self.Q, self.S, self.R = Q, S, R
        self.rate, self.activation, self.polar, self.init = rate, activation, polar, init
        self.epochs, self.lr, self.seq_len, self.washout, self.batch_size = epochs, lr, seq_len, washout, batch_size
        self.seed = seed

    # ---------------------------------------------------------------- fitting
    def _module_kwargs(self) -> dict:
        return dict(nx=self.nx, nv=self.nv, kind=self.kind, gamma=self.gamma, Q=self.Q, S=self.S, R=self.R,
                    rate=self.rate, activation=self.activation, polar=self.polar,
                    init="random" if self.init == "random" else "long_memory")

    def _validate(self, nu: int, ny: int) -> None:
        from ..models.ren import check_ren_params

        check_ren_params(nu, ny, self.nx, self.nv, self.kind, self.gamma, self.Q, self.S, self.R, self.rate,
                         self.activation, owner="REN")
        if self.init not in ("long_memory", "random", "linear"):
            raise ValueError(f"The 'init' parameter of REN must be one of ['long_memory', 'random', 'linear']. "
                             f"Got {self.init!r} instead.")
        check_int(self.epochs, "epochs", "REN", minimum=0)
        check_positive(self.lr, "lr", "REN")
        check_int(self.seq_len, "seq_len", "REN", minimum=2)
        check_int(self.washout, "washout", "REN", minimum=0)
        check_int(self.batch_size, "batch_size", "REN")

    def fit(self, data, *, val=None) -> "REN":
        """Train on one IOData or a list of experiments; returns ``self``.

        Parameters
        ----------
        data : IOData or list of IOData
            Uniformly sampled records with the same dt; u (N, nu), y (N, ny).
        val : IOData or list of IOData, optional
            Validation records; the parameters with the lowest validation simulation error
            (normalized MSE after the washout) are kept.
        """
        import torch

        from ..models.ren import RENModule

        exps = self._experiments(data)
        vals = self._experiments(val, name="val") if val is not None else []
        dt = exps[0].dt
        for d in exps + vals:
            if d.dt is None or not np.isclose(d.dt, dt, rtol=1e-9):
                raise ValueError(f"every record must be uniformly sampled with the same dt; got dt = {d.dt} and "
                                 f"{dt}. Resample the records first.")
        nu, ny = exps[0].nu, exps[0].ny
        for d in vals:
            if (d.nu, d.ny) != (nu, ny):
                raise ValueError(f"val has (nu, ny) = ({d.nu}, {d.ny}); the training data has ({nu}, {ny}).")
        self._validate(nu, ny)
        shortest = min(d.N for d in exps)
        if self.washout >= shortest:
            raise ValueError(f"washout ({self.washout}) must be smaller than the shortest training record "
                             f"({shortest} samples); the first washout samples of each record are not scored.")
        U = np.concatenate([d.u for d in exps])
        Y = np.concatenate([d.y for d in exps])
        u_mean, y_mean = U.mean(0) if nu else np.zeros(0), Y.mean(0)
        u_std, y_std = (U.std(0) if nu else np.zeros(0)), Y.std(0)
        u_std = np.where(u_std > 1e-12 * (1 + np.abs(u_mean)), u_std, 1.0)
        y_std = np.where(y_std > 1e-12 * (1 + np.abs(y_mean)), y_std, 1.0)
        module = RENModule(nu, ny, seed=self.seed, **self._module_kwargs())
        if self.init == "linear":
            from ._linear import N4SID

            normed = [d.with_data(u=(d.u - u_mean) / u_std, y=(d.y - y_mean) / y_std) for d in exps]
            lin = N4SID(nx=self.nx).fit(normed).system_
            module.init_from_linear(lin.A, lin.B, lin.C, lin.D, seed=0 if self.seed is None else int(self.seed))

        U = [torch.tensor((d.u - u_mean) / u_std, dtype=torch.float64) for d in exps]
        Y = [torch.tensor((d.y - y_mean) / y_std, dtype=torch.float64) for d in exps]
        # parallel streams: each record cut into overlapping segments of one common length
        N_total = sum(d.N for d in exps)
        seg = min(int(np.ceil(d.N / max(1, round(self.batch_size * d.N / N_total)))) for d in exps)
        streams = [(r, int(s)) for r, d in enumerate(exps)
                   for s in np.unique(np.linspace(0, d.N - seg, int(np.ceil(d.N / seg))).round().astype(int))]
        Us = torch.stack([U[r][s:s + seg] for r, s in streams])
        Ys = torch.stack([Y[r][s:s + seg] for r, s in streams])
        scored = torch.stack([(torch.arange(s, s + seg) >= self.washout) for _, s in streams])  # (B, seg)
        opt = torch.optim.Adam(module.parameters(), lr=self.lr)
        history, val_history = [], []
        best, best_val = None, np.inf
        zeros = torch.zeros(1, module.nx, dtype=torch.float64)
        for epoch in range(self.epochs):
            # truncated back-propagation through time: the streams start from the state the
            # current model reaches there from rest, and carry their state from chunk to chunk
            with torch.no_grad():
                states = {}
                for n in {len(u) for u in U}:  # records of equal length in one batch
                    same = [r for r, u in enumerate(U) if len(u) == n]
                    X = module.forward_states(torch.stack([U[r] for r in same]), zeros.expand(len(same), -1))[1]
                    states.update({r: X[k] for k, r in enumerate(same)})
                x = torch.stack([states[r][s] for r, s in streams])
            total, count = 0.0, 0
            for c in range(0, seg, self.seq_len):
                ub, yb, mask = Us[:, c:c + self.seq_len], Ys[:, c:c + self.seq_len], scored[:, c:c + self.seq_len]
                if not mask.any():
                    with torch.no_grad():
                        x = module.run(ub, x)[2]
                    continue
                opt.zero_grad()
                pred, _, x_end = module.run(ub, x)
                err = (pred - yb)[mask]
                loss = torch.mean(err**2)
                if not torch.isfinite(loss):
                    from ..exceptions import DivergenceError

                    raise DivergenceError(f"the training loss became {loss.item()} at epoch {epoch}; lower lr "
                                          f"(now {self.lr}).")
                loss.backward()
                torch.nn.utils.clip_grad_norm_(module.parameters(), 10.0)
                opt.step()
                x = x_end.detach()
                total += loss.item() * err.numel()
                count += err.numel()
            history.append(total / max(count, 1))
            if vals:
                v = self._val_loss(module, vals, u_mean, u_std, y_mean, y_std)
                val_history.append(v)
                if v < best_val:
                    best_val, best = v, {k: t.detach().clone() for k, t in module.state_dict().items()}
        if best is not None:
            module.load_state_dict(best)
        self.module_ = module
        self.u_mean_, self.u_std_, self.y_mean_, self.y_std_ = u_mean, u_std, y_mean, y_std
        self.nu_, self.ny_, self.dt_ = nu, ny, float(dt)
        self.loss_history_ = history
        self.val_history_ = val_history
        self._finish()
        return self

    def _val_loss(self, module, vals, u_mean, u_std, y_mean, y_std) -> float:
        import torch

        errs = []
        with torch.no_grad():
            for d in vals:
                un = torch.tensor((d.u - u_mean) / u_std, dtype=torch.float64)[None]
                pred = module(un, torch.zeros(1, module.nx, dtype=torch.float64))[0].numpy()
                yn = (d.y - y_mean) / y_std
                errs.append(((pred - yn)[self.washout:] ** 2).ravel())
        return float(np.mean(np.concatenate(errs)))

    def _finish(self) -> None:
        self.explicit_ = self.module_.explicit_numpy()
        cd = physical_certificate_data(self.explicit_, kind=self.kind, rate=float(self.rate), u_std=self.u_std_,
                                       y_std=self.y_std_, gamma=self.gamma, qsr=self.module_.iqc())
        self.certificate_data_ = cd
        self.gamma_phys_ = cd["gamma"]

    # ---------------------------------------------------------------- use
    def simulate(self, u, *, x0=None) -> np.ndarray:
        """Free-run simulation in physical units.

        Parameters
        ----------
        u : array_like, shape (N, nu)
        x0 : array_like, shape (nx,), optional
            Initial state (zeros by default).

        Returns
        -------
        y : ndarray, shape (N, ny)
        """
        import torch

        u = self._check_input(u)
        x = np.zeros(self.nx) if x0 is None else np.asarray(x0, dtype=float).reshape(-1)
        if x.shape != (self.nx,):
            raise ValueError(f"x0 must have shape (nx,) = ({self.nx},); got {np.shape(x0)}.")
        un = torch.tensor((u - self.u_mean_) / self.u_std_, dtype=torch.float64)[None]
        with torch.no_grad():
            yn = self.module_(un, torch.tensor(x, dtype=torch.float64)[None])[0].numpy()
        return yn * self.y_std_ + self.y_mean_

    def to_lure(self):
        """The exact explicit REN in physical units (normalization folded in), Δ = the activation."""
        self._check_fitted()
        return fold_normalization(self.explicit_, u_mean=self.u_mean_, u_std=self.u_std_, y_mean=self.y_mean_,
                                  y_std=self.y_std_, activation=self.activation, dt=self.dt_)

    def linearize(self, *, x0=None, u0=None):
        """Jacobian linearization (``control.StateSpace``) at (x0, u0), physical units; without x0 the
        equilibrium for u0 (zeros by default), unique since the REN is contracting."""
        self._check_fitted()
        if u0 is not None:
            u0 = as_signal(np.atleast_2d(np.asarray(u0, dtype=float)), "u0", n_channels=self.nu_)[0]
        return self.to_lure().linearize(x0=x0, u0=u0)

    def certificate(self):
        """The certificate the REN carries by construction, checked in numpy on :meth:`to_lure`.

        Contraction (rate ᾱ, metric M = EᵀP⁻¹E, multipliers Λ) for ``kind="contracting"``; the
        physical (Q, S, R) dissipation inequality for ``"iqc"``; for ``"lipschitz"`` the
        incremental ℓ2 gain bound ``gamma_phys_`` (see the class docstring).

        Returns
        -------
        sysid.certify.Certificate
        """
        from ..certify import check_ren_certificate

        self._check_fitted()
        cd = self.certificate_data_
        kw = {} if cd["Q"] is None else dict(Q=cd["Q"], S=cd["S"], R=cd["R"])
        cert = check_ren_certificate(self.to_lure(), cd["M"], cd["Lambda"], rate=cd["rate"], **kw)
        if cd["gamma"] is not None:
            cert.extra["gamma"] = cd["gamma"]
            cert.message += f"; incremental l2 gain <= gamma_phys = {cd['gamma']:.6g} (physical units)"
        return cert

    # ---------------------------------------------------------------- persistence
    def _state(self):
        meta = dict(nu=self.nu_, ny=self.ny_, dt=self.dt_, loss_history=list(self.loss_history_),
                    val_history=list(self.val_history_))
        arrays = {f"module.{k}": v.detach().cpu().numpy() for k, v in self.module_.state_dict().items()}
        arrays.update(u_mean=self.u_mean_, u_std=self.u_std_, y_mean=self.y_mean_, y_std=self.y_std_)
        return meta, arrays

    def _set_state(self, meta, arrays) -> None:
        import torch

        from ..models.ren import RENModule

        self._validate(meta["nu"], meta["ny"])
        module = RENModule(meta["nu"], meta["ny"], seed=0, **self._module_kwargs())
        state = {k[len("module."):]: torch.tensor(v) for k, v in arrays.items() if k.startswith("module.")}
        module.load_state_dict(state)
        self.module_ = module
        self.u_mean_, self.u_std_ = arrays["u_mean"], arrays["u_std"]
        self.y_mean_, self.y_std_ = arrays["y_mean"], arrays["y_std"]
        self.nu_, self.ny_, self.dt_ = int(meta["nu"]), int(meta["ny"]), float(meta["dt"])
        self.loss_history_ = list(meta["loss_history"])
        self.val_history_ = list(meta["val_history"])
        self._finish()
