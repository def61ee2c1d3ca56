"""Base class of the torch-trained estimators: normalization, training through
:mod:`sysid.training`, simulation, export in physical units, save/load."""

from __future__ import annotations

import numpy as np

from ..core.lure import LureSystem
from ._base import BaseEstimator, check_int, check_positive

__all__ = ["NeuralEstimator", "fold_normalization"]

_NORMALIZE = ("standard", "scale", None)


def fold_normalization(lure: LureSystem, *, u_mean, u_std, y_mean, y_std, x_scale=None, x_shift=None) -> LureSystem:
    """Express a LureSystem trained on normalized signals in physical units.

    The model maps u_n = (u − μu)/σu to y_n, with y = σy y_n + μy; its state may be mapped
    to physical coordinates x_p = T x_n + t (T = diag(x_scale)). Exact (an affine change of
    variables), discrete and continuous.
    """
    su, mu = np.asarray(u_std, float), np.asarray(u_mean, float)
    sy, my = np.asarray(y_std, float), np.asarray(y_mean, float)
    T = np.ones(lure.nx) if x_scale is None else np.asarray(x_scale, float)
    t = np.zeros(lure.nx) if x_shift is None else np.asarray(x_shift, float)
    Ti = 1.0 / T
    A = T[:, None] * lure.A * Ti[None, :]
    B2 = T[:, None] * lure.B2 / su[None, :]
    C1 = lure.C1 * Ti[None, :]
    D12 = lure.D12 / su[None, :]
    C2 = sy[:, None] * lure.C2 * Ti[None, :]
    D22 = sy[:, None] * lure.D22 / su[None, :]
    bx = T * (lure.bx - lure.B2 @ (mu / su)) - A @ t + (0.0 if lure.is_continuous else t)
    bv = lure.bv - lure.D12 @ (mu / su) - C1 @ t
    by = sy * (lure.by - lure.D22 @ (mu / su)) + my - C2 @ t
    return LureSystem(A=A, B1=T[:, None] * lure.B1, B2=B2, C1=C1, D11=lure.D11, D12=D12, C2=C2,
                      D21=sy[:, None] * lure.D21, D22=D22, bx=bx, bv=bv, by=by, delta=lure.delta, dt=lure.dt,
                      nx=lure.nx, nu=lure.nu, nv=lure.nv, ny=lure.ny)


def _burn_in_view(module, k: int):
    """A view of a sequence module (shared parameters) that runs over k burn-in samples first
    and returns the outputs after them."""
    from torch import nn

    class BurnIn(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = module
            self.nx, self.nu, self.ny = module.nx, module.nu, module.ny

        def forward(self, u, x0):
            return self.inner(u, x0)[:, k:]

    return BurnIn()


class NeuralEstimator(BaseEstimator):
    """Shared fit/simulate/export for torch models trained by :func:`sysid.training.train`.

    Subclasses store their hyper-parameters (including the common ones read here: ``epochs,
    lr, optimizer, loss, horizon, x0, normalize, seed, dtype, device, progress, batch_size,
    loss_threshold, patience, clip_grad``) and implement

    * ``_build_module(nu, ny)`` → an ``nn.Module`` with ``forward(u (B, T, nu), x0 (B, nx))``,
    * ``_module_lure()`` → the exact LureSystem of the module in normalized units,
    * ``_full_state`` (property) → True when the state is the (normalized) output.

    Fitted attributes: ``module_``, ``history_`` (:class:`sysid.training.TrainResult`),
    ``u_mean_, u_std_, y_mean_, y_std_``, ``nu_, ny_, dt_``.
    """

    _owner = "NeuralEstimator"

    # ------------------------------------------------------------------ hooks
    def _build_module(self, nu: int, ny: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _module_lure(self) -> LureSystem:  # pragma: no cover - abstract
        raise NotImplementedError

    _irregular_ok = False  # continuous-time models accept irregular sample times

    @property
    def _full_state(self) -> bool:
        return False

    def _init_module(self, module, records) -> None:
        """Data-driven initialization before training (default: none)."""

    def _make_windows(self, records, *, x0, dtype, device):
        """Training/validation windows from normalized records: ``make_windows``, or burn-in
        windows when the estimator's ``x0`` is ``"burn_in"`` (see :meth:`_burn_in_windows`)."""
        from ..training import make_windows

        if getattr(self, "x0", None) == "burn_in":
            return self._burn_in_windows(records, dtype=dtype, device=device)
        return make_windows(records, loss=self.loss, horizon=self.horizon, x0=x0, dtype=dtype, device=device)

    def _burn_in_windows(self, records, *, dtype, device):
        """Windows that carry ``burn_in`` samples of input *before* the scored part.

        The model starts from zero ``burn_in`` samples before each window and runs over that past
        input; those samples are left out of the loss (the module is wrapped by
        :meth:`_train_module`). This is how a model is then used: ``compare(est, data,
        skip=burn_in)``, or a state reached by running over past data.
        """
        import torch

        from ..training import Windows, make_windows

        k = self.burn_in
        check_int(k, "burn_in", self._owner, minimum=0)
        if self.loss not in ("simulation", "truncated", "kstep"):
            return make_windows(records, loss=self.loss, x0="zero")  # raises with the list of losses
        groups: dict[int, tuple[list, list]] = {}
        for rec in records:
            u, y = rec[0], rec[1]
            if self.loss == "simulation":
                starts, H = ([k] if len(y) > k else []), len(y) - k
            else:
                H = self.horizon
                if not isinstance(H, (int, np.integer)) or H < 2:
                    raise ValueError(f"The 'horizon' parameter of {self._owner} must be an int >= 2 for "
                                     f"loss={self.loss!r}. Got {H!r} instead.")
                starts = range(k, len(y) - H + 1, H if self.loss == "truncated" else 1)
            us, ys = groups.setdefault(H, ([], []))
            for a in starts:
                us.append(u[a - k:a + H])
                ys.append(y[a:a + H])
        windows = [Windows(torch.tensor(np.stack(us), dtype=dtype, device=device),
                           torch.tensor(np.stack(ys), dtype=dtype, device=device), "zero")
                   for us, ys in groups.values() if us]
        if not windows:
            n_min = min(len(r[1]) for r in records)
            raise ValueError(f"every record ({n_min} samples or fewer) is shorter than burn_in + horizon = "
                             f"{k} + {self.horizon if self.loss != 'simulation' else 1}; lower burn_in or horizon.")
        return windows

    def _train_module(self, module):
        """The module the engine trains, sharing its parameters with ``module``: itself, or with
        ``x0="burn_in"`` a view that drops the first ``burn_in`` outputs."""
        if getattr(self, "x0", None) == "burn_in":
            return _burn_in_view(module, self.burn_in)
        return module

    # ------------------------------------------------------------------ helpers
    def _torch_dtype(self):
        import torch

        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"The 'dtype' parameter of {self._owner} must be 'float64' or 'float32'. Got {self.dtype!r} instead.")
        return torch.float64 if self.dtype == "float64" else torch.float32

    def _device(self):
        import torch

        if self.device not in (None, "cpu") and str(self.device).startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was asked for but CUDA is not available here; use device='cpu'.")
        return torch.device(self.device or "cpu")

    def _validate_common(self) -> None:
        o = self._owner
        check_int(self.epochs, "epochs", o, minimum=0)
        check_positive(self.lr, "lr", o)
        check_int(self.horizon, "horizon", o, minimum=2, allow_none=True)
        if self.normalize not in _NORMALIZE:
            raise ValueError(f"The 'normalize' parameter of {o} must be one of {_NORMALIZE}. Got {self.normalize!r} instead.")

    def _norm(self, exps):
        """(μu, σu, μy, σy): mean/std ("standard"), RMS without centering ("scale"), or none."""
        U = np.concatenate([d.u for d in exps])
        Y = np.concatenate([d.y for d in exps])
        nu, ny = U.shape[1], Y.shape[1]
        if self.normalize is None:
            return np.zeros(nu), np.ones(nu), np.zeros(ny), np.ones(ny)
        if self.normalize == "scale":
            mu, my = np.zeros(nu), np.zeros(ny)
            su, sy = np.sqrt(np.mean(U**2, axis=0)), np.sqrt(np.mean(Y**2, axis=0))
        else:
            mu, my, su, sy = U.mean(axis=0), Y.mean(axis=0), U.std(axis=0), Y.std(axis=0)
        return mu, np.where(su > 0, su, 1.0), my, np.where(sy > 0, sy, 1.0)

    def _records(self, exps):
        recs = [((d.u - self.u_mean_) / self.u_std_, (d.y - self.y_mean_) / self.y_std_) for d in exps]
        if getattr(self, "_irregular_", False):
            recs = [(u, y, np.diff(d.t) / self.dt_) for (u, y), d in zip(recs, exps)]
        return recs

    # ------------------------------------------------------------------ contract
    def fit(self, data, *, val=None):
        """Train on one IOData or a list of experiments; returns ``self``."""
        import torch

        from ..training import TrainConfig, train

        self._validate_common()
        exps = self._experiments(data)
        vals = self._experiments(val, name="val") if val is not None else None
        dt = exps[0].dt
        irregular = any(d.dt is None or not np.isclose(d.dt, dt, rtol=1e-9) for d in exps + (vals or []))
        if irregular and not self._irregular_ok:
            raise ValueError(f"{self._owner} needs uniformly sampled records with one dt (IOData with dt); got "
                             f"irregular times or several sampling periods. NeuralODE accepts irregular samples.")
        if irregular:  # the model's time unit: the median sampling interval
            dt = float(np.median(np.concatenate([np.diff(d.t) for d in exps])))
        self._irregular_ = bool(irregular)
        nu, ny = exps[0].nu, exps[0].ny
        self.u_mean_, self.u_std_, self.y_mean_, self.y_std_ = self._norm(exps)
        self.nu_, self.ny_, self.dt_ = nu, ny, float(dt)
        dtype, device = self._torch_dtype(), self._device()
        torch.manual_seed(self.seed if self.seed is not None else 0)
        module = self._build_module(nu, ny).to(device=device, dtype=dtype)
        self._init_module(module, self._records(exps))
        x0 = self.x0 if self.x0 != "auto" else ("measured" if self._full_state else "fit")
        windows = self._make_windows(self._records(exps), x0=x0, dtype=dtype, device=device)
        val_w = None
        if vals:
            vx0 = x0 if x0 in ("measured", "simulated") else "zero"
            val_w = self._make_windows(self._records(vals), x0=vx0, dtype=dtype, device=device)
        config = TrainConfig(epochs=self.epochs, optimizer=self.optimizer, lr=self.lr, batch_size=self.batch_size,
                             loss_threshold=self.loss_threshold, patience=self.patience, clip_grad=self.clip_grad,
                             seed=self.seed, progress=self.progress)
        config.validate(self._owner)
        self.module_ = module
        self.history_ = train(self._train_module(module), windows, config, val=val_w)
        return self

    def _x_transform(self):
        # full-state models (y = x): the exported state is the physical output
        return (self.y_std_.copy(), self.y_mean_.copy()) if self._full_state else (None, None)

    def to_lure(self) -> LureSystem:
        """The exact Lur'e form of the trained model, in physical units."""
        self._check_fitted()
        T, t = self._x_transform()
        return fold_normalization(self._module_lure(), u_mean=self.u_mean_, u_std=self.u_std_, y_mean=self.y_mean_,
                                  y_std=self.y_std_, x_scale=T, x_shift=t)

    def simulate(self, u, *, x0=None, t=None) -> np.ndarray:
        """Free-run simulation (torch forward pass), u (N, nu) → y (N, ny); ``x0`` in the
        exported (physical) state coordinates, zeros by default. ``t`` (N,): sample times,
        for continuous-time models on irregular samples (default: the training dt)."""
        import torch

        u = self._check_input(u)
        dts = None
        if t is not None:
            if not self._irregular_ok:
                raise ValueError(f"{self._owner} is a discrete-time model; it simulates at its own dt, so t= is "
                                 "not accepted.")
            t = np.asarray(t, dtype=float)
            if t.shape != (len(u),) or np.any(np.diff(t) <= 0):
                raise ValueError(f"t must be strictly increasing with shape (N,) = ({len(u)},); got {t.shape}.")
            dts = np.diff(t) / self.dt_
        nx = self.module_.nx
        x0 = np.zeros(nx) if x0 is None else np.asarray(x0, dtype=float).reshape(-1)
        if x0.shape != (nx,):
            raise ValueError(f"x0 must have shape (nx,) = ({nx},); got {x0.shape}.")
        T, t = self._x_transform()
        xn = x0 if T is None else (x0 - t) / T
        p = next(self.module_.parameters())
        with torch.no_grad():
            un = torch.tensor((u - self.u_mean_) / self.u_std_, dtype=p.dtype, device=p.device)[None]
            x0t = torch.tensor(xn, dtype=p.dtype, device=p.device)[None]
            if dts is None:
                yn = self.module_(un, x0t)[0].cpu().numpy()
            else:
                yn = self.module_(un, x0t, dt=torch.tensor(dts, dtype=p.dtype, device=p.device)[None])[0].cpu().numpy()
        return yn * self.y_std_ + self.y_mean_

    def linearize(self, *, x0=None, u0=None):
        """Jacobian linearization of :meth:`to_lure` (at the equilibrium for ``u0`` by default)."""
        return self.to_lure().linearize(x0, u0)

    # ------------------------------------------------------------------ persistence
    def _state(self):
        arrays = {f"param:{k}": v.detach().cpu().numpy() for k, v in self.module_.state_dict().items()}
        arrays.update(u_mean=self.u_mean_, u_std=self.u_std_, y_mean=self.y_mean_, y_std=self.y_std_)
        meta = {"nu": self.nu_, "ny": self.ny_, "dt": self.dt_, "loss": self.history_.loss[-50:]}
        return meta, arrays

    def _set_state(self, meta, arrays):
        import torch

        from ..training import TrainResult

        self.nu_, self.ny_, self.dt_ = meta["nu"], meta["ny"], meta["dt"]
        self.u_mean_, self.u_std_ = arrays["u_mean"], arrays["u_std"]
        self.y_mean_, self.y_std_ = arrays["y_mean"], arrays["y_std"]
        module = self._build_module(self.nu_, self.ny_).to(dtype=self._torch_dtype())
        module.load_state_dict({k[6:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("param:")})
        self.module_ = module
        self.history_ = TrainResult(loss=list(meta.get("loss", [])))
