"""One training loop for every torch sequence model.

A model is an ``nn.Module`` with ``nx, nu, ny`` and ``forward(u (B, T, nu), x0 (B, nx)) -> y (B, T, ny)``
(free-run simulation from x0, normalized units). The loop sees data as :class:`Windows`:
batches of input/output sub-sequences with an initial-state strategy.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..exceptions import DivergenceError

__all__ = ["TrainConfig", "TrainResult", "Windows", "make_windows", "train"]

_OPTIMIZERS = ("adam", "rmsprop", "lbfgs", "sgd")
_LOSSES = ("simulation", "truncated", "kstep")
_X0 = ("zero", "fit", "measured", "simulated")


@dataclass
class TrainConfig:
    """Settings of :func:`train`.

    Attributes
    ----------
    epochs : int
        Maximum number of passes over the windows (``max_iter`` for L-BFGS: one pass = one step).
    optimizer : {"adam", "rmsprop", "lbfgs", "sgd"}
        RMSprop uses the seed's γ = 0.99, ε = 1e-8.
    lr : float
    lr_decay : float, optional
        Exponential schedule: the learning rate is multiplied by this factor after every epoch.
    batch_size : int, optional
        Windows per optimizer step (all by default).
    loss_threshold : float, optional
        Stop as soon as the training loss is below it (the seed's 1e-3 rule).
    patience : int, optional
        Early stopping: epochs without improvement of the validation loss.
    clip_grad : float, optional
        Gradient-norm clipping.
    divergence_factor : float
        A loss above this factor times the best loss (or NaN/inf) counts as divergence.
    seed : int, optional
        Seed of the shuffling (the estimator seeds the initialization).
    progress : bool
        Show a tqdm progress bar.
    """

    epochs: int = 500
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float | None = None
    batch_size: int | None = None
    loss_threshold: float | None = None
    patience: int | None = None
    clip_grad: float | None = None
    divergence_factor: float = 1e6
    seed: int | None = 0
    progress: bool = False

    def validate(self, owner: str = "train") -> None:
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"The 'optimizer' parameter of {owner} must be one of {_OPTIMIZERS}. "
                             f"Got {self.optimizer!r} instead.")
        if not isinstance(self.epochs, (int, np.integer)) or self.epochs < 0:
            raise ValueError(f"The 'epochs' parameter of {owner} must be an int >= 0. Got {self.epochs!r} instead.")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"The 'lr' parameter of {owner} must be > 0. Got {self.lr!r} instead.")
        for name in ("batch_size", "patience"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"The {name!r} parameter of {owner} must be an int >= 1 or None. Got {v!r} instead.")


@dataclass
class TrainResult:
    """History of a training run.

    Attributes
    ----------
    loss : list of float
        Training loss (MSE of normalized outputs) per epoch.
    val_loss : list of float
        Validation loss per epoch (empty without validation data).
    seconds : list of float
        Wall time at the end of each epoch.
    best_epoch : int
    best_loss : float
        The loss (validation if given, else training) of the restored weights.
    stopped : str
        "max_iter", "loss_threshold", "early_stopping" or "converged" (L-BFGS: the loss stopped changing).
    """

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf
    stopped: str = "max_iter"


@dataclass
class Windows:
    """Sub-sequences for training: u (B, T, nu), y (B, T, ny) and how each starts.

    ``x0`` is ``"zero"``, ``"measured"`` (the state is the output: x0 = y[:, 0]), ``"fit"``
    (one free initial state per window, trained with the model) or ``"simulated"`` (the state
    the current model reaches at the window start when it simulates the whole record from
    rest; recomputed every epoch without gradient: truncated back-propagation through time).
    ``dt`` (B, T − 1), for irregularly sampled records, is passed to the module as
    ``module(u, x0, dt=...)``. ``records`` (the whole input records, each (N, nu)), ``record``
    and ``start`` (B,) locate the windows for ``x0="simulated"``.
    """

    u: torch.Tensor
    y: torch.Tensor
    x0: str = "zero"
    dt: torch.Tensor | None = None
    records: list | None = None
    record: torch.Tensor | None = None
    start: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.u.shape[0]


def make_windows(records: list[tuple[np.ndarray, np.ndarray]], *, loss: str = "simulation",
                 horizon: int | None = None, x0: str = "zero", dtype=torch.float64, device="cpu") -> list[Windows]:
    """Cut normalized records into training windows.

    Parameters
    ----------
    records : list of (u (N, nu), y (N, ny)) or (u, y, dt (N − 1,)) for irregular sampling
    loss : {"simulation", "truncated", "kstep"}
        ``simulation``: each record whole (records of equal length share a batch);
        ``truncated``: consecutive windows of length ``horizon`` (multiple shooting);
        ``kstep``: windows of length ``horizon`` starting at every sample.
    x0 : {"zero", "fit", "measured", "simulated"}
        How each window starts (see :class:`Windows`). ``"simulated"`` needs a module with
        ``forward_states(u, x0) -> (y, x)`` and regularly sampled records.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}; got {loss!r}.")
    if x0 not in _X0:
        raise ValueError(f"x0 must be one of {_X0}; got {x0!r}.")
    out: list[Windows] = []
    irregular = any(len(r) == 3 for r in records)
    recs = [(r[0], r[1], r[2] if len(r) == 3 else None) for r in records]
    if x0 == "simulated" and irregular:
        raise ValueError("x0='simulated' needs regularly sampled records; use x0='fit' for irregular samples.")

    def tensor(arrs):
        return torch.tensor(np.stack(arrs), dtype=dtype, device=device)

    def located(w: Windows, where: list[tuple[int, int]]) -> Windows:
        if x0 == "simulated":
            w.records = [torch.tensor(r[0], dtype=dtype, device=device) for r in recs]
            w.record = torch.tensor([r for r, _ in where], dtype=torch.long, device=device)
            w.start = torch.tensor([a for _, a in where], dtype=torch.long, device=device)
        return w

    if loss == "simulation":
        by_len: dict[int, list] = {}
        for i, r in enumerate(recs):
            by_len.setdefault(len(r[1]), []).append(i)
        for group in by_len.values():
            dts = tensor([recs[i][2] for i in group]) if irregular else None
            out.append(located(Windows(tensor([recs[i][0] for i in group]), tensor([recs[i][1] for i in group]), x0,
                                       dts), [(i, 0) for i in group]))
        return out
    if horizon is None or not isinstance(horizon, (int, np.integer)) or horizon < 2:
        raise ValueError(f"loss={loss!r} needs horizon (the window length) as an int >= 2; got {horizon!r}.")
    stride = horizon if loss == "truncated" else 1
    us, ys, ds, where = [], [], [], []
    for i, (u, y, dt) in enumerate(recs):
        for a in range(0, len(y) - horizon + 1, stride):
            us.append(u[a:a + horizon])
            ys.append(y[a:a + horizon])
            where.append((i, a))
            if irregular:
                ds.append(dt[a:a + horizon - 1])
    if not us:
        raise ValueError(f"every record is shorter than the window length horizon = {horizon}.")
    out.append(located(Windows(tensor(us), tensor(ys), x0, tensor(ds) if irregular else None), where))
    return out


def _initial_states(module, windows: list[Windows]) -> list[torch.nn.Parameter | None]:
    states = []
    for w in windows:
        if w.x0 == "fit":
            states.append(torch.nn.Parameter(torch.zeros(len(w), module.nx, dtype=w.u.dtype, device=w.u.device)))
        else:
            states.append(None)
    return states


def _simulated_states(module, windows: list[Windows] | None) -> list[torch.Tensor | None]:
    """x0 = the state the current module reaches at each window start from rest (no gradient)."""
    out: list[torch.Tensor | None] = []
    for w in windows or []:
        if w.x0 != "simulated":
            out.append(None)
            continue
        if not hasattr(module, "forward_states"):
            raise ValueError(f"x0='simulated' needs a module with forward_states(u, x0) -> (y, x); "
                             f"{type(module).__name__} has none. Use x0='fit' or 'zero'.")
        X: dict[int, torch.Tensor] = {}
        with torch.no_grad():
            by_len: dict[int, list[int]] = {}
            for i, r in enumerate(w.records):
                by_len.setdefault(len(r), []).append(i)
            for group in by_len.values():
                u = torch.stack([w.records[i] for i in group])
                x = module.forward_states(u, torch.zeros(len(group), module.nx, dtype=u.dtype, device=u.device))[1]
                X.update({i: x[k] for k, i in enumerate(group)})
            out.append(torch.stack([X[int(r)][int(a)] for r, a in zip(w.record, w.start)]))
    return out


def _x0_for(module, w: Windows, fitted, idx):
    if w.x0 in ("fit", "simulated"):
        return fitted[idx]
    if w.x0 == "measured":
        if module.nx != w.y.shape[-1]:
            raise ValueError(f"x0='measured' needs the state to be the output (nx = ny); got nx = {module.nx}, "
                             f"ny = {w.y.shape[-1]}. Use x0='fit'.")
        return w.y[idx, 0]
    return torch.zeros(len(idx) if idx is not None else len(w), module.nx, dtype=w.u.dtype, device=w.u.device)


def _loss(module, windows: list[Windows], fitted, batches=None) -> torch.Tensor:
    total, count = 0.0, 0
    for k, w in enumerate(windows):
        idx = torch.arange(len(w), device=w.u.device) if batches is None else batches[k]
        if len(idx) == 0:
            continue
        x0 = _x0_for(module, w, fitted[k] if fitted[k] is not None else None, idx)
        y_hat = module(w.u[idx], x0) if w.dt is None else module(w.u[idx], x0, dt=w.dt[idx])
        err = (y_hat - w.y[idx]) ** 2
        total = total + err.sum()
        count += err.numel()
    return total / max(count, 1)


def train(module: torch.nn.Module, windows: list[Windows], config: TrainConfig, *,
          val: list[Windows] | None = None) -> TrainResult:
    """Fit ``module`` to the windows; returns the history. The best weights are restored.

    Raises
    ------
    DivergenceError
        On NaN/inf or a loss above ``divergence_factor`` × best; the best weights are restored first.
    """
    config.validate()
    fitted = _initial_states(module, windows)
    params = list(module.parameters()) + [p for p in fitted if p is not None]
    opt = {
        "adam": lambda: torch.optim.Adam(params, lr=config.lr),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=config.lr, alpha=0.99, eps=1e-8),
        "sgd": lambda: torch.optim.SGD(params, lr=config.lr),
        "lbfgs": lambda: torch.optim.LBFGS(params, lr=config.lr, max_iter=20, history_size=50,
                                           line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                           tolerance_change=1e-14),
    }[config.optimizer]()
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, config.lr_decay) if config.lr_decay else None
    gen = torch.Generator().manual_seed(config.seed if config.seed is not None else 0)
    result = TrainResult()
    best_state = copy.deepcopy(module.state_dict())
    best_fitted = [None if p is None else p.detach().clone() for p in fitted]
    best_train = math.inf
    since_best = 0
    t0 = time.perf_counter()

    def restore():
        module.load_state_dict(best_state)
        with torch.no_grad():
            for p, b in zip(fitted, best_fitted):
                if p is not None:
                    p.copy_(b)

    sim = _simulated_states(module, windows)

    def starts():  # per window set: the trainable x0, the simulated x0, or None
        return [f if f is not None else x for f, x in zip(fitted, sim)]

    for epoch in tqdm(range(config.epochs), disable=not config.progress, desc="training"):
        if config.optimizer == "lbfgs":
            def closure():
                opt.zero_grad()
                loss = _loss(module, windows, starts())
                if not torch.isfinite(loss):
                    # keep the line search inside its bracket: a huge, finite loss with zero slope
                    return torch.tensor(1e30, dtype=loss.dtype)
                loss.backward()
                return loss
            opt.step(closure)
        else:
            n = max(len(w) for w in windows)
            bs = config.batch_size or n
            perms = [torch.randperm(len(w), generator=gen) for w in windows]
            for start in range(0, n, bs):
                batches = [p[start:start + bs].to(w.u.device) for p, w in zip(perms, windows)]
                opt.zero_grad()
                loss = _loss(module, windows, starts(), batches)
                if not torch.isfinite(loss):
                    break
                loss.backward()
                if config.clip_grad:
                    torch.nn.utils.clip_grad_norm_(params, config.clip_grad)
                opt.step()
        if sched is not None:
            sched.step()
        with torch.no_grad():
            sim = _simulated_states(module, windows)  # for this evaluation and the next epoch
            train_loss = float(_loss(module, windows, starts()))
            val_loss = float(_loss(module, val, _simulated_states(module, val))) if val else None
        result.loss.append(train_loss)
        result.seconds.append(time.perf_counter() - t0)
        if val_loss is not None:
            result.val_loss.append(val_loss)
        if not math.isfinite(train_loss) or train_loss > config.divergence_factor * max(best_train, 1e-300):
            restore()
            raise DivergenceError(
                f"training diverged at epoch {epoch} (loss {train_loss:.3e}, best {best_train:.3e}); the best "
                "weights were restored. Lower the learning rate, clip gradients (clip_grad=1.0), shorten the "
                "training windows (loss='truncated'), or use float64."
            )
        best_train = min(best_train, train_loss)
        score = val_loss if val_loss is not None else train_loss
        if score < result.best_loss:
            result.best_loss, result.best_epoch, since_best = score, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
            best_fitted = [None if p is None else p.detach().clone() for p in fitted]
        else:
            since_best += 1
        if (config.optimizer == "lbfgs" and len(result.loss) > 1
                and abs(result.loss[-2] - train_loss) <= 1e-12 * max(result.loss[-2], 1e-300)):
            result.stopped = "converged"
            break
        if config.loss_threshold is not None and train_loss < config.loss_threshold:
            result.stopped = "loss_threshold"
            break
        if config.patience is not None and val and since_best >= config.patience:
            result.stopped = "early_stopping"
            break
    restore()
    result.fitted_x0 = [None if p is None else p.detach().cpu().numpy() for p in fitted]
    return result
