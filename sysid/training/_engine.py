"""One training loop for every torch sequence model.

A model follows :class:`sysid.models.SequenceModule`: ``nx, nu, ny`` and
``forward(u (B, T, nu), x0 (B, nx)) -> y (B, T, ny)`` (free-run simulation from x0, normalized
units). The loop sees data as :class:`Windows` — batches of sub-sequences cut by
:func:`cut_windows` for a :class:`~sysid.training.Loss` (where the windows lie, how they are
scored) and an :class:`~sysid.training.InitialState` (how each starts, and the past samples it
reads). Losses and strategies are objects: new ones are added without editing this loop.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..exceptions import DivergenceError
from ..models._protocol import check_sequence_module
from ._config import TrainConfig, TrainResult
from ._initial import InitialState, as_initial_state
from ._losses import Loss, as_loss

__all__ = ["Windows", "cut_windows", "make_windows", "train"]


@dataclass(eq=False)
class Windows:
    """Equally long windows of normalized records, with how they start and are scored.

    Attributes
    ----------
    u : Tensor, shape (B, P + T, nu)
        ``P = x0.past`` samples read by the initial-state strategy, then the ``T`` scored samples.
    y : Tensor, shape (B, P + T, ny)
    x0 : InitialState
    loss : Loss
    dt : Tensor, shape (B, P + T − 1), optional
        Sample intervals of irregularly sampled records (passed as ``module(u, x0, dt=...)``).
    record, start : Tensor, shape (B,)
        Record index and first scored sample of each window.
    records : list of Tensor, each (N, nu)
        The whole input records (for ``Simulated``).
    """

    u: torch.Tensor
    y: torch.Tensor
    x0: InitialState
    loss: Loss
    dt: torch.Tensor | None = None
    record: torch.Tensor | None = None
    start: torch.Tensor | None = None
    records: list | None = None

    def __len__(self) -> int:
        return self.u.shape[0]

    @property
    def past(self) -> int:
        return self.x0.past

    @property
    def scored_y(self) -> torch.Tensor:
        return self.y[:, self.past:]


def cut_windows(records, *, loss: Loss | str = "simulation", x0: InitialState | str = "zero", horizon=None,
                spans=None, dtype=torch.float64, device="cpu") -> list[Windows]:
    """Cut normalized records into :class:`Windows` for a loss and an initial-state strategy.

    Parameters
    ----------
    records : list of (u (N, nu), y (N, ny)) or (u, y, dt (N − 1,)) for irregular sampling
    loss : Loss or str
        Where the windows lie (``Simulation``, ``Truncated(horizon)``, ``KStep(horizon)``).
    x0 : InitialState or str
        How they start; its ``past`` samples before each window are included (windows start
        no earlier than ``past``).
    horizon : int, optional
        For a loss given by name.
    spans : list, optional
        Per record, the samples that may be scored: one interval (a, b) or a list of intervals
        [(a1, b1), (a2, b2), ...] (default: all). Samples outside still serve as past (burn-in,
        encoder) and as the simulated history: validation blocks carved out of a record are
        scored from the state the model reaches there.

    Returns
    -------
    list of Windows
        One per window length.
    """
    loss = as_loss(loss, horizon)
    x0 = as_initial_state(x0)
    recs = [(np.asarray(r[0]), np.asarray(r[1]), (np.asarray(r[2]) if len(r) == 3 and r[2] is not None else None))
            for r in records]
    irregular = any(r[2] is not None for r in recs)
    if x0.name == "simulated" and irregular:
        raise ValueError("x0='simulated' needs regularly sampled records; use x0='fit' or 'burn_in' for "
                         "irregular samples.")
    if spans is not None and len(spans) != len(recs):
        raise ValueError(f"spans must give one entry per record ({len(recs)}); got {len(spans)}.")
    P = x0.past
    groups: dict[int, tuple[list, list, list, list]] = {}
    for i, (u, y, dt) in enumerate(recs):
        intervals = [(0, len(y))] if spans is None else spans[i]
        if intervals and not isinstance(intervals[0], (tuple, list)):
            intervals = [intervals]
        for s, T in [w for a, b in intervals for w in loss.layout(max(a, P), b)]:
            us, ys, ds, where = groups.setdefault(T, ([], [], [], []))
            us.append(u[s - P:s + T])
            ys.append(y[s - P:s + T])
            where.append((i, s))
            if irregular:
                ds.append(dt[s - P:s + T - 1])

    def tensor(arrs):
        return torch.tensor(np.stack(arrs), dtype=dtype, device=device)

    whole = [torch.tensor(r[0], dtype=dtype, device=device) for r in recs] if x0.name == "simulated" else None
    out = []
    for us, ys, ds, where in groups.values():
        out.append(Windows(tensor(us), tensor(ys), x0, loss, tensor(ds) if irregular else None,
                           torch.tensor([r for r, _ in where], dtype=torch.long, device=device),
                           torch.tensor([s for _, s in where], dtype=torch.long, device=device), whole))
    if not out:
        lengths = sorted({len(r[1]) for r in recs})
        raise ValueError(f"no window fits in the records (lengths {lengths[:5]}): the initial-state strategy "
                         f"{x0!r} reads {P} past samples before each window; use a shorter past (burn_in) or "
                         "longer records.")
    return out


def make_windows(records, *, loss: str = "simulation", horizon: int | None = None, x0: str = "zero",
                 dtype=torch.float64, device="cpu") -> list[Windows]:
    """Windows from names, as :func:`cut_windows` (kept for scripts written against it)."""
    return cut_windows(records, loss=loss, x0=x0, horizon=horizon, dtype=dtype, device=device)


def _strategies(windows) -> list[InitialState]:
    seen: dict[int, InitialState] = {}
    for w in windows or []:
        seen.setdefault(id(w.x0), w.x0)
    return list(seen.values())


def _refresh(module, windows) -> None:
    with torch.no_grad():
        for s in _strategies(windows):
            s.refresh(module, [w for w in windows if w.x0 is s])


def _loss(module, windows: list[Windows], batches=None) -> torch.Tensor:
    total, count = 0.0, 0
    reg = 0.0
    for k, w in enumerate(windows):
        idx = torch.arange(len(w), device=w.u.device) if batches is None else batches[k]
        if len(idx) == 0:
            continue
        y_hat = w.x0.simulate(module, w, idx)
        s, n = w.loss.data_term(y_hat, w.scored_y[idx])
        total, count = total + s, count + n
    if windows:
        reg = windows[0].loss.regularization(module)
    return total / max(count, 1) + reg


def _check(module, windows, name):
    if not windows:
        raise ValueError(f"train needs at least one Windows in {name}; got none.")
    for w in windows:
        if not isinstance(w, Windows):
            raise TypeError(f"train expects {name} as a list of sysid.training.Windows (cut_windows); got "
                            f"{type(w).__name__}.")
        if w.u.shape[-1] != module.nu or w.y.shape[-1] != module.ny:
            raise ValueError(f"the windows have nu = {w.u.shape[-1]}, ny = {w.y.shape[-1]}; the module "
                             f"{type(module).__name__} has nu = {module.nu}, ny = {module.ny}.")
        w.x0.check(module)


def _optimizer(params, config: TrainConfig):
    """The optimizer named by ``config`` (RMSprop with the seed's α = 0.99, ε = 1e-8)."""
    return {
        "adam": lambda: torch.optim.Adam(params, lr=config.lr),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=config.lr, alpha=0.99, eps=1e-8),
        "sgd": lambda: torch.optim.SGD(params, lr=config.lr),
        "lbfgs": lambda: torch.optim.LBFGS(params, lr=config.lr, max_iter=20, history_size=50,
                                           line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                           tolerance_change=1e-14),
    }[config.optimizer]()


class _Schedule:
    """The learning rate of every optimizer step: a linear warm-up over the first ``warmup``
    steps (from lr / warmup to lr), then ×``lr_decay`` after every epoch."""

    def __init__(self, opt, config: TrainConfig):
        self.opt, self.config = opt, config
        self.base = [g["lr"] for g in opt.param_groups]
        self.steps, self.epochs = 0, 0
        self._set()

    def _set(self) -> None:
        c = self.config
        f = (c.lr_decay or 1.0) ** self.epochs
        if c.warmup and c.optimizer != "lbfgs":
            f *= min(1.0, (self.steps + 1) / c.warmup)
        for g, b in zip(self.opt.param_groups, self.base):
            g["lr"] = b * f

    def step(self) -> None:
        """After an optimizer step."""
        self.steps += 1
        self._set()

    def epoch(self) -> None:
        """After an epoch."""
        self.epochs += 1
        self._set()


class _Average:
    """An exponential moving average of the trained tensors (Polyak averaging, ``config.average``
    per optimizer step, with the usual warm start min(decay, (1 + n) / (10 + n))): the epochs are
    scored, kept as best and returned with the averaged weights, which do not jump with every
    step of Adam as the last iterate does."""

    def __init__(self, params: list, decay: float | None):
        self.params, self.decay, self.n = params, decay, 0
        self.shadow = [p.detach().clone() for p in params] if decay else None

    def update(self) -> None:
        if not self.decay:
            return
        self.n += 1
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        with torch.no_grad():
            for s, p in zip(self.shadow, self.params):
                s.mul_(d).add_(p.detach(), alpha=1 - d)

    def swap(self) -> None:
        """Exchange the averaged and the current weights (twice: back as they were)."""
        if not self.decay:
            return
        with torch.no_grad():
            for s, p in zip(self.shadow, self.params):
                tmp = p.detach().clone()
                p.copy_(s)
                s.copy_(tmp)


def _trainable(module, windows, val) -> tuple[list, list]:
    """(the module's parameters, the strategies' own trainable tensors), without repeats."""
    own = list(module.parameters())
    extra, ids = [], {id(p) for p in own}
    for s in _strategies(windows) + _strategies(val):
        for p in s.parameters():
            if id(p) not in ids:
                extra.append(p)
                ids.add(id(p))
    return own, extra


class _Progress:
    """Per-epoch bookkeeping of a training run, shared by :func:`train` and
    ``train_distributed``: the history, the best weights (the starting model counts), the
    divergence guard and the stopping rules."""

    def __init__(self, module, extra: list, config: TrainConfig, has_val: bool):
        self.module, self.extra, self.config, self.has_val = module, extra, config, bool(has_val)
        self.result = TrainResult()
        self.t0 = time.perf_counter()
        self.since_best = 0

    def snapshot(self):
        return copy.deepcopy(self.module.state_dict()), [p.detach().clone() for p in self.extra]

    def restore(self, state) -> None:
        self.module.load_state_dict(state[0])
        with torch.no_grad():
            for p, b in zip(self.extra, state[1]):
                p.copy_(b)

    def start(self, train0: float, val0: float | None) -> None:
        """Score the starting model and keep it as the best so far."""
        r = self.result
        r.initial_loss = val0 if val0 is not None else train0
        if not math.isfinite(r.initial_loss):
            raise DivergenceError(f"the starting model's loss is {r.initial_loss} before any training step; check the "
                                  "data scale and the initialization (init='random', a smaller init_std).")
        r.best_loss = r.initial_loss
        self.best = self.initial = self.snapshot()
        self.best_train = train0

    def end_epoch(self, epoch: int, train_loss: float, val_loss: float | None, seconds: float | None = None):
        """Record an epoch; raise on divergence (best weights restored first); return the reason to stop
        before the callback ("converged", "loss_threshold", "early_stopping") or None."""
        r, c = self.result, self.config
        r.loss.append(train_loss)
        r.seconds.append(time.perf_counter() - self.t0 if seconds is None else seconds)
        if val_loss is not None:
            r.val_loss.append(val_loss)
        if not math.isfinite(train_loss) or train_loss > c.divergence_factor * max(self.best_train, 1e-300):
            self.restore(self.best)
            raise DivergenceError(
                f"training diverged at epoch {epoch} (loss {train_loss:.3e}, best {self.best_train:.3e}); the best "
                "weights were restored. Lower the learning rate (lr), clip gradients (clip_grad=1.0), shorten the "
                "training windows (horizon), or use float64."
            )
        self.best_train = min(self.best_train, train_loss)
        score = val_loss if val_loss is not None else train_loss
        if math.isfinite(score) and score < r.best_loss:
            r.best_loss, r.best_epoch, self.since_best = score, epoch, 0
            self.best = self.snapshot()
        else:
            self.since_best += 1
        if (c.optimizer == "lbfgs" and len(r.loss) > 1
                and abs(r.loss[-2] - train_loss) <= 1e-12 * max(r.loss[-2], 1e-300)):
            return "converged"
        if c.loss_threshold is not None and train_loss < c.loss_threshold:
            return "loss_threshold"
        if c.patience is not None and self.has_val and self.since_best >= c.patience:
            return "early_stopping"
        return None

    def out_of_time(self) -> bool:
        return self.config.max_time is not None and self.result.seconds[-1] >= self.config.max_time

    def finish(self, windows, guard=None) -> TrainResult:
        """Restore the best weights (or, with ``restore_best=False``, keep the last epoch's) and
        return the history. ``guard(module) -> float``: when it scores those weights worse than the
        starting model, the starting model is restored (``result.guard``)."""
        r = self.result
        if self.config.restore_best or not r.loss:
            self.restore(self.best)
        else:
            r.best_epoch = len(r.loss) - 1
            r.best_loss = r.val_loss[-1] if r.val_loss else r.loss[-1]
        if guard is not None and r.best_epoch >= 0:
            chosen, state = guard(self.module), self.snapshot()
            self.restore(self.initial)
            start = guard(self.module)
            r.guard = (start, chosen)
            if not chosen <= start:  # NaN counts as worse
                r.best_epoch, r.best_loss = -1, r.initial_loss
            else:
                self.restore(state)
        _refresh(self.module, windows)
        self.result.fitted_x0 = [w.fitted.detach().cpu().numpy() if hasattr(w, "fitted") else None for w in windows]
        return self.result


def _guard_score(windows):
    """``guard`` of :meth:`_Progress.finish`: the loss of a module on ``windows``."""
    if not windows:
        return None

    def score(module):
        with torch.no_grad():
            _refresh(module, windows)
            return float(_loss(module, windows))
    return score


def train(module: torch.nn.Module, windows: list[Windows], config: TrainConfig | None = None, *,
          val: list[Windows] | None = None, callback=None, guard: list[Windows] | None = None) -> TrainResult:
    """Fit ``module`` to the windows; returns the history. The best weights are restored.

    The starting model is scored first: when no epoch beats it (on the validation windows if
    given, else on the training windows), it is returned unchanged (``result.best_epoch == -1``).

    Parameters
    ----------
    module : SequenceModule
    windows, val : list of Windows
        From :func:`cut_windows`; the windows carry their loss and initial-state strategy.
    config : TrainConfig
        The optimization settings (epochs, max_time, optimizer, lr, ...).
    callback : callable, optional
        ``callback(epoch, train_loss, val_loss)`` after every epoch; returning True stops training
        (``stopped="callback"``) — the hook for schedulers of hyper-parameter searches. During the
        call the module holds the weights those losses belong to (with ``average``, the averaged
        ones), so a callback may evaluate the model as it would be returned at that epoch.
    guard : list of Windows, optional
        A second score that the returned model must not lose to the starting model on (the
        estimators pass the held-out blocks scored free-run along the record when ``val``
        starts its windows another way): otherwise the starting model is returned
        (``best_epoch == -1``; ``result.guard`` holds both scores).

    Raises
    ------
    DivergenceError
        On NaN/inf or a loss above ``divergence_factor`` × best; the best weights are restored first.
    """
    config = TrainConfig() if config is None else config
    config.validate()
    check_sequence_module(module, owner="train")
    _check(module, windows, "windows")
    if val:
        _check(module, val, "val")
    if guard:
        _check(module, guard, "guard")
    gen = torch.Generator().manual_seed(config.seed if config.seed is not None else 0)
    for s in _strategies(windows):
        s.prepare(module, [w for w in windows if w.x0 is s], gen)
    for s in _strategies(val):
        s.prepare(module, [w for w in val if w.x0 is s], gen)
    for s in _strategies(guard):
        s.prepare(module, [w for w in guard if w.x0 is s], gen)
    own, extra = _trainable(module, windows, val)
    params = own + extra
    opt = _optimizer(params, config)
    sched = _Schedule(opt, config)
    avg = _Average(params, None if config.optimizer == "lbfgs" else config.average)
    progress = _Progress(module, extra, config, bool(val))

    def evaluate():
        with torch.no_grad():
            _refresh(module, windows)
            train_loss = float(_loss(module, windows))
            val_loss = None
            if val:
                _refresh(module, val)
                val_loss = float(_loss(module, val))
        return train_loss, val_loss

    progress.start(*evaluate())
    for epoch in tqdm(range(config.epochs), disable=not config.progress, desc="training"):
        if epoch:
            avg.swap()  # back to the trained iterate (the averaged weights were scored in place)
        if config.optimizer == "lbfgs":
            def closure():
                opt.zero_grad()
                loss = _loss(module, windows)
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
                loss = _loss(module, windows, batches)
                if not torch.isfinite(loss):
                    break
                loss.backward()
                if config.clip_grad:
                    torch.nn.utils.clip_grad_norm_(params, config.clip_grad)
                opt.step()
                sched.step()
                avg.update()
        sched.epoch()
        avg.swap()  # score, keep as best, show the callback and return the averaged weights
        train_loss, val_loss = evaluate()
        stop = progress.end_epoch(epoch, train_loss, val_loss)
        if stop is None and callback is not None and callback(epoch, train_loss, val_loss):
            stop = "callback"
        if stop is None and progress.out_of_time():
            stop = "max_time"
        if stop is not None:
            progress.result.stopped = stop
            break
    return progress.finish(windows, _guard_score(guard))
