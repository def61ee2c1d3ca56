"""Base class of the torch-trained estimators: normalization, training through
:mod:`sysid.training`, simulation, export in physical units, save/load."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..core.lure import LureSystem
from ..exceptions import FitWarning
from ..training._config import TrainConfig
from ._base import BaseEstimator

__all__ = ["NeuralEstimator", "fold_normalization", "linear_start", "discrete_to_continuous"]


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


class NoLinearStart(ValueError):
    """No linear model could be fitted to start from (the estimator falls back to its random start)."""


def linear_start(records, nx: int | None, *, full_state: bool, feedthrough: bool, dt: float):
    """A linear model (A, B, C, D) of the normalized records to start a network from.

    With a measured state (y = x) least squares of x(k+1) on (x(k), u(k)); otherwise N4SID of
    order ``nx`` (None: chosen from the singular values). A spectral radius above 1.01 is scaled back to 1 (a start must simulate a whole
    record without blowing up; marginal models such as integrators are kept).
    """
    from ..core.iodata import IOData

    if full_state:
        X0 = np.concatenate([y[:-1] for _, y, *_ in records])
        X1 = np.concatenate([y[1:] for _, y, *_ in records])
        U0 = np.concatenate([u[:-1] for u, _, *_ in records])
        if len(X0) < X0.shape[1] + U0.shape[1]:
            raise NoLinearStart(f"init='linear' fits x(k+1) = A x(k) + B u(k) by least squares first, which needs at "
                             f"least nx + nu = {X0.shape[1] + U0.shape[1]} transitions; got {len(X0)}. "
                             "Use init='random'.")
        theta = np.linalg.lstsq(np.hstack([X0, U0]), X1, rcond=None)[0].T
        A, B = theta[:, :nx], theta[:, nx:]
        C, D = np.eye(nx), np.zeros((nx, U0.shape[1]))
    else:
        import warnings

        from ..linear._n4sid import IdentificationWarning
        from ._linear import N4SID

        exps = [IOData(u, y, dt=dt) for u, y, *_ in records]
        if exps[0].nu == 0:
            raise NoLinearStart("N4SID identifies input-output models and these records have no input")
        errors = []
        for kw in ({}, {"horizon": (nx or 1) + 1}):
            try:
                with warnings.catch_warnings():
                    # a closed-loop bias only moves the start; training corrects it
                    warnings.simplefilter("ignore", IdentificationWarning)
                    lin = N4SID(nx=nx, feedthrough=feedthrough, **kw).fit(exps).system_
                break
            except ValueError as err:  # short records: the smallest block-Hankel horizon that fits the order
                errors.append(str(err))
        else:
            raise NoLinearStart(f"N4SID of order nx = {nx} failed on these records: {errors[-1]}")
        A, B, C, D = (np.asarray(M, dtype=float) for M in (lin.A, lin.B, lin.C, lin.D))
    rho = max(np.abs(np.linalg.eigvals(A))) if A.size else 0.0
    if rho > 1.01:  # marginal models (integrators, oscillators) are kept
        A = A * (1.0 / rho)
    return A, B, C, D


def discrete_to_continuous(A, B):
    """(A_c, B_c) with expm of [[A_c, B_c], [0, 0]] = [[A, B], [0, I]] (ZOH, unit sample time);
    the Euler approximation (A − I, B) where the principal logarithm is not real."""
    from scipy.linalg import logm

    n, m = B.shape
    M = np.block([[A, B], [np.zeros((m, n)), np.eye(m)]])
    with np.errstate(all="ignore"):
        L = logm(M)
    if np.all(np.isfinite(L)) and np.abs(np.imag(L)).max() < 1e-8 * max(1.0, np.abs(L).max()):
        L = np.real(L)
        return L[:n, :n], L[:n, n:]
    return A - np.eye(n), B


def _cut(record, interval):
    """The samples [a, b) of a normalized record (u, y[, dt])."""
    a, b = interval
    out = (record[0][a:b], record[1][a:b])
    return out + ((record[2][a:max(b - 1, a)],) if len(record) == 3 else ())


def _merge(intervals):
    """Adjacent intervals [(a, b), (b, c)] → [(a, c)]."""
    out = []
    for a, b in intervals:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


class NeuralEstimator(BaseEstimator):
    """Shared fit/simulate/export for torch models trained by :func:`sysid.training.train`.

    Every field of :class:`sysid.training.TrainConfig` is a keyword of every subclass (declared
    once there; a subclass changes defaults in ``_train_defaults``). A subclass's ``__init__``
    stores its model parameters and passes ``**settings`` on to ``NeuralEstimator.__init__``;
    it implements

    * ``_build_module(nu, ny)`` → a :class:`sysid.models.SequenceModule`,
    * ``_init_linear(module, records, generator)`` (optional) → start from a linear model
      (``init="linear"``); estimators whose structure has no linear part accept only ``"random"``,
    * ``_full_state`` (property) → True when the state is the (normalized) output.

    ``to_lure`` folds the normalization into ``module_.to_lure(dt_)``.

    Fitted attributes: ``module_``, ``history_`` (:class:`sysid.training.TrainResult`),
    ``x0_strategy_`` (the :class:`sysid.training.InitialState` used), ``u_mean_, u_std_,
    y_mean_, y_std_``, ``nu_, ny_, dt_``.
    """

    _owner = "NeuralEstimator"
    _train_defaults: dict = {}
    _inits: tuple = ("linear", "random")
    _irregular_ok = False  # continuous-time models accept irregular sample times

    def __init__(self, **settings):
        defaults = self._settings_defaults()
        unknown = sorted(set(settings) - set(defaults))
        if unknown:
            raise TypeError(f"{self._owner} got unknown parameter(s) {unknown}; its parameters are "
                            f"{self._param_names()}.")
        for k, v in defaults.items():
            setattr(self, k, settings.get(k, v))

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _settings_defaults(cls) -> dict:
        from dataclasses import fields

        d = {f.name: f.default for f in fields(TrainConfig)}
        d.update(cls._train_defaults)
        return d

    @classmethod
    def _param_names(cls) -> list[str]:
        own = [n for n in super()._param_names() if n not in TrainConfig.names()]
        return own + TrainConfig.names()

    @classmethod
    def _param_defaults(cls) -> dict:
        return {**super()._param_defaults(), **cls._settings_defaults()}

    def _config(self) -> TrainConfig:
        """The settings as a validated :class:`TrainConfig` (messages name this estimator)."""
        cfg = TrainConfig(**{k: getattr(self, k) for k in TrainConfig.names()})
        cfg.validate(self._owner, inits=self._inits)
        return cfg

    # ------------------------------------------------------------------ hooks
    def _build_module(self, nu: int, ny: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _module_lure(self) -> LureSystem:
        """The exact Lur'e form of the module in normalized units (the protocol's to_lure)."""
        return self.module_.to_lure(self.dt_)

    @property
    def _full_state(self) -> bool:
        return False

    def _init_linear(self, module, records, generator) -> None:
        """Start from a linear model of the (normalized) training records (``init="linear"``)."""
        raise ValueError(f"{self._owner} has no linear part to start from; use init='random'.")

    def _strategy(self, module, cfg: TrainConfig):
        """The initial-state strategy object for ``cfg.x0`` (``"auto"`` resolved for the module)."""
        from ..training import Encoder, as_initial_state

        x0 = cfg.x0
        if x0 == "auto":
            if self._full_state:
                x0 = "measured"
            elif callable(getattr(module, "forward_states", None)) and not self._irregular_:
                x0 = "simulated"
            else:
                x0 = "fit"
        if x0 == "encoder":
            return Encoder(past=max(cfg.burn_in, 1))
        return as_initial_state(x0, past=cfg.burn_in)

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

    def _check_scale(self, exps) -> None:
        """Refuse data whose squares would overflow float64 before anything is computed."""
        for d in exps:
            for name, x in (("u", d.u), ("y", d.y)):
                big = float(np.max(np.abs(x))) if x.size else 0.0
                if big > 1e150:
                    raise ValueError(f"{name} has values up to {big:.3g}; at that scale the normalization and the "
                                     "training loss overflow float64 (squares above 1e300). Rescale the data "
                                     f"(e.g. to SI units or by a power of ten) before fitting {self._owner}.")

    def _records(self, exps):
        recs = [((d.u - self.u_mean_) / self.u_std_, (d.y - self.y_mean_) / self.y_std_) for d in exps]
        if getattr(self, "_irregular_", False):
            recs = [(u, y, np.diff(d.t) / self.dt_) for (u, y), d in zip(recs, exps)]
        return recs

    @staticmethod
    def _carve(records, fraction: float, block: int, max_blocks: int = 8):
        """(train spans, val spans): every record is cut into blocks of ``block`` samples (longer
        on long records: at most ``max_blocks`` validation blocks per record) and every k-th block
        (k ≈ 1 / fraction, the first one excepted) validates, so validation samples every part of
        the records (every operating regime), not only their ends, and the training pieces
        between them stay long enough for the linear start (N4SID on hundreds of 4-horizon
        pieces of an F-16 record is three times worse than on its whole). Records shorter than
        two blocks are split at the end instead (the last ``fraction``).
        (None, None) when no record gives both parts at least two samples."""
        if fraction <= 0:
            return None, None
        k = max(2, int(round(1.0 / fraction)))
        train, val = [], []
        for r in records:
            N = len(r[1])
            size = max(block, N // (k * max_blocks))
            if N >= 2 * k * size:
                edges = list(range(0, N, size))
                tr, va = [], []
                for j, a in enumerate(edges):
                    b = min(a + size, N)
                    (va if j % k == k - 1 else tr).append((a, b))
                train.append(_merge(tr))
                val.append(_merge(va))
                continue
            n_val = int(round(fraction * N))
            if n_val >= 2 and N - n_val >= 2:
                train.append([(0, N - n_val)])
                val.append([(N - n_val, N)])
            else:
                train.append([(0, N)])
                val.append([])
        if not any(val):
            return None, None
        return train, val

    # ------------------------------------------------------------------ contract
    def fit(self, data, *, val=None, callback=None, trainer=None):
        """Train on one IOData or a list of experiments; returns ``self``.

        Parameters
        ----------
        data : IOData or list of IOData
            u (N, nu), y (N, ny).
        val : IOData or list of IOData, optional
            Validation records (early stopping, best weights). Without them the last
            ``val_fraction`` of every training record is held out for that.
        callback : callable, optional
            ``callback(epoch, train_loss, val_loss)`` after every epoch (normalized losses);
            returning True stops training — the hook for sweeps and schedulers (ASHA).
        trainer : callable, optional
            The training loop, ``trainer(module, windows, config, val=..., callback=...)``;
            :func:`sysid.training.train` by default, ``sysid.training.train_distributed`` for
            data-parallel training under torchrun.
        """
        import warnings

        cfg = self._config()
        exps = self._experiments(data)
        vals = self._experiments(val, name="val") if val is not None else None
        dt = exps[0].dt
        irregular = any(d.dt is None or not np.isclose(d.dt, dt, rtol=1e-9) for d in exps + (vals or []))
        if irregular and not self._irregular_ok:
            raise ValueError(f"{self._owner} needs uniformly sampled records with one dt (IOData with dt); got "
                             f"irregular times or several sampling periods. NeuralODE accepts irregular samples.")
        if irregular:  # the model's time unit: the median sampling interval
            steps = np.concatenate([np.diff(d.t) for d in exps])
            if steps.size == 0:
                raise ValueError(f"{self._owner} needs records of at least 2 samples; every record has one.")
            dt = float(np.median(steps))
        self._irregular_ = bool(irregular)
        nu, ny = exps[0].nu, exps[0].ny
        self._check_scale(exps + (vals or []))
        self.u_mean_, self.u_std_, self.y_mean_, self.y_std_ = self._norm(exps)
        self.nu_, self.ny_, self.dt_ = nu, ny, float(dt)
        dtype, device = self._torch_dtype(), self._device()
        seed = 0 if cfg.seed is None else int(cfg.seed)
        records = self._records(exps)
        block = cfg.horizon if (cfg.loss in ("truncated", "kstep") and cfg.horizon) else max(
            1, min(len(r[1]) for r in records) // 10)
        spans, val_spans = (None, None) if vals else self._carve(records, cfg.val_fraction, block)
        val_records = self._records(vals) if vals else None
        refit = bool(cfg.refit and spans is not None and cfg.epochs > 0)
        first = replace(cfg, max_time=cfg.max_time / 2) if (refit and cfg.max_time) else cfg
        t0 = time.perf_counter()
        module, strategy, result, validated = self._train_once(
            records, spans, val_spans, val_records, first, seed, dtype, device, callback, trainer)
        if first.epochs > 0 and validated and not result.improved:
            what = "the linear model it started from" if cfg.init == "linear" else "its initialization"
            how = "" if result.guard is None else (
                f" (the epoch chosen on the val_x0={cfg.val_x0!r} windows scored {result.guard[1]:.3g} against the "
                f"start's {result.guard[0]:.3g} on the held-out parts run free along the record)")
            warnings.warn(f"{self._owner}: no training epoch improved on {what} on the validation data{how}; that "
                          "starting model is returned. Try another lr, more epochs or a longer horizon.",
                          FitWarning, stacklevel=2)
        if refit and validated and result.improved and result.stopped != "callback":
            # the validation part chose the number of epochs; train again on every sample for that
            # many, from the same initialization (the linear start of every sample): a fifth of a
            # short record is too much data to leave out
            budget = None if cfg.max_time is None else max(cfg.max_time - (time.perf_counter() - t0), 1e-9)
            again = replace(cfg, epochs=result.best_epoch + 1, max_time=budget, patience=None, restore_best=False)
            module, strategy, final, _ = self._train_once(
                records, None, None, None, again, seed, dtype, device, None, trainer)
            final.selection = result
            result = final
        self.module_ = module
        self.x0_strategy_ = strategy
        self.history_ = result
        return self

    def _train_once(self, records, spans, val_spans, val_records, cfg, seed, dtype, device, callback, trainer):
        """Build, start and train a module on ``records`` (the ``spans`` of them, when carved);
        (module, strategy, TrainResult, whether validation windows were used)."""
        import warnings

        import torch

        from ..training import cut_windows, train

        head = records if spans is None else [_cut(r, iv) for r, ivs in zip(records, spans) for iv in ivs]
        with torch.random.fork_rng(devices=[]):  # the global generator is left as it was
            torch.manual_seed(seed)
            module = self._build_module(self.nu_, self.ny_).to(device=device, dtype=dtype)
        gen = torch.Generator().manual_seed(seed)
        if cfg.init == "linear":
            try:
                self._init_linear(module, head, gen)
            except NoLinearStart as err:
                warnings.warn(f"{self._owner}: no linear start ({err}); training starts from the random "
                              "initialization (init='random' says so explicitly).", FitWarning, stacklevel=3)
        strategy = self._strategy(module, cfg)
        strategy.check(module)
        windows = cut_windows(records, loss=cfg.loss, horizon=cfg.horizon, x0=strategy, spans=spans,
                              dtype=dtype, device=device)
        val_w, guard = self._validation(module, strategy, records, val_spans, val_records, cfg, dtype, device)
        self.module_ = module  # visible to a callback during training
        extra = {}
        if guard:
            import inspect

            if trainer is None or "guard" in inspect.signature(trainer).parameters:
                extra["guard"] = guard
        result = (trainer or train)(module, windows, cfg, val=val_w, callback=callback, **extra)
        return module, strategy, result, bool(val_w)

    def _validation(self, module, strategy, records, val_spans, val_records, cfg, dtype, device):
        """(validation windows, guard windows) — either may be None. The validation windows start
        as ``val_x0`` says; when it names a strategy of its own, the guard scores the same held-out
        parts free-run along the record (``Simulated``), so the returned model is never worse there
        than the start (see :func:`sysid.training.train`)."""
        import warnings

        from ..training import Simulated, as_initial_state, cut_windows

        val_w = None
        if cfg.val_x0 == "auto":
            vstrategy = strategy.validation(module)
            if self._irregular_ and vstrategy.name == "simulated":  # needs a regular grid: start from zero
                from ..training import Zero

                vstrategy = Zero()
        else:
            vstrategy = as_initial_state(cfg.val_x0, past=cfg.burn_in)
            try:
                vstrategy.check(module)
            except (ValueError, TypeError) as err:
                raise type(err)(f"{self._owner}: val_x0={cfg.val_x0!r} cannot start this model's validation "
                                f"windows: {err}") from None
            if self._irregular_ and vstrategy.name == "simulated":
                raise ValueError(f"val_x0='simulated' needs regularly sampled records; {self._owner} got irregular "
                                 "sample times. Use val_x0='zero', 'burn_in' or 'auto'.")

        def cut(x0):
            if val_records:
                return cut_windows(val_records, loss=cfg.loss, horizon=cfg.horizon, x0=x0, dtype=dtype, device=device)
            if val_spans is not None:
                return cut_windows(records, loss=cfg.loss, horizon=cfg.horizon, x0=x0, spans=val_spans, dtype=dtype,
                                   device=device)
            return None

        try:
            val_w = cut(vstrategy)
        except ValueError as err:  # the held-out parts are too short for the strategy's past
            if val_records:
                raise
            warnings.warn(f"{self._owner}: no validation windows could be cut from the held-out parts ({err}); "
                          "training without validation. Pass val= or lower burn_in.", FitWarning, stacklevel=4)
            return None, None
        guard = None
        if (val_w and cfg.val_x0 != "auto" and vstrategy.name != "simulated" and not self._irregular_
                and callable(getattr(module, "forward_states", None))):
            guard = cut(Simulated())
        return val_w, guard

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
