"""Data-parallel training with ``torch.distributed``: every process computes its share of each batch,
DistributedDataParallel averages the gradients.

Start the processes with ``torchrun --nproc_per_node=K script.py`` (NCCL on GPUs, gloo on CPUs),
Ray Train or ``torch.multiprocessing.spawn``; in each, initialize the process group, cut the same
windows and call :func:`train_distributed` (docs/cluster.md).

Sampling follows ``DistributedSampler``: all processes draw the same permutation of the windows
(the seed's generator, drawn exactly as :func:`sysid.training.train` draws it), global batch k is
``perm[k·B:(k+1)·B]`` and process r takes every K-th window of it, ``[r::K]``. Each process scales
its squared-error sum by K / (the batch's global count), so the average of the gradients that DDP
forms is the gradient of the global batch's mean squared error: K processes follow the loss
trajectory of :func:`sysid.training.train` on one process with the same ``batch_size`` (up to the
order of floating-point sums). Training and validation losses are reduced over all processes, so
early stopping and the best weights agree everywhere.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist
from torch import nn

from ..models._protocol import check_sequence_module
from ._config import TrainConfig, TrainResult
from ._engine import (_Average, _check, _guard_score, _optimizer, _Progress, _refresh, _Schedule, _strategies,
                      _trainable)

__all__ = ["train_distributed"]


class _StepLoss(nn.Module):
    """One module whose forward is a whole step's loss, so DDP sees one forward per backward."""

    def __init__(self, module, extra: list):
        super().__init__()
        self.module = module
        self.extra = nn.ParameterList(extra)  # initial-state parameters (Fitted x0, Encoder)

    def forward(self, windows, batches, scale):
        total = 0.0
        for w, (idx, weight) in zip(windows, batches):
            y_hat = w.x0.simulate(self.module, w, idx)
            s, _ = w.loss.data_term(y_hat, w.scored_y[idx])
            total = total + weight * s
        return total * scale + windows[0].loss.regularization(self.module)


def _sums(module, windows, rank, world, device, dtype):
    """(sum, count) of the data term over the windows of this rank ([rank::world]) — no gradient."""
    s = torch.zeros(2, dtype=torch.float64, device=device)
    for w in windows:
        idx = torch.arange(rank, len(w), world, device=w.u.device)
        if len(idx) == 0:
            continue
        y_hat = w.x0.simulate(module, w, idx)
        a, n = w.loss.data_term(y_hat, w.scored_y[idx])
        s[0] += float(a)
        s[1] += float(n)
    return s


def train_distributed(module: nn.Module, windows: list, config: TrainConfig | None = None, *, val: list | None = None,
                      callback=None, group=None, guard: list | None = None) -> TrainResult:
    """:func:`sysid.training.train` over the processes of a ``torch.distributed`` group.

    Call it in every process with the same module (the same seed), windows and settings; the
    weights of process 0 are broadcast first and stay identical everywhere. Returns the same
    :class:`TrainResult` in every process; the best weights are restored.

    Parameters
    ----------
    module : SequenceModule
        On the process's device (``cuda:local_rank`` with NCCL).
    windows, val : list of Windows
        From :func:`cut_windows`, the same in every process.
    config : TrainConfig
        Adam, RMSprop or SGD (L-BFGS is a full-batch method: use :func:`train`).
        ``batch_size`` is the global batch: each process computes about ``batch_size / K``.
    callback : callable, optional
        As in :func:`train` (called in every process with the global losses; a True return from
        any process stops all).
    group : ProcessGroup, optional
        Default: the world group.
    guard : list of Windows, optional
        As in :func:`train` (scored whole in every process, so every process decides alike).

    Raises
    ------
    RuntimeError
        When no process group is initialized.
    DivergenceError
        As :func:`train`.
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("train_distributed needs an initialized torch.distributed process group: start the "
                           "processes with torchrun (or Ray Train) and call torch.distributed.init_process_group("
                           "'gloo' on CPU, 'nccl' on GPU) first; on one process use sysid.training.train.")
    config = TrainConfig() if config is None else config
    config.validate()
    if config.optimizer == "lbfgs":
        raise ValueError("train_distributed runs Adam, RMSprop or SGD; got optimizer='lbfgs', a full-batch method "
                         "whose line search needs the whole loss in one process: use sysid.training.train.")
    check_sequence_module(module, owner="train_distributed")
    _check(module, windows, "windows")
    if val:
        _check(module, val, "val")
    if guard:
        _check(module, guard, "guard")
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    p0 = next(module.parameters())
    device, dtype = p0.device, p0.dtype

    def allreduce(t, op=dist.ReduceOp.SUM):
        dist.all_reduce(t, op=op, group=group)
        return t

    # the generator is drawn exactly as train draws it (strategies first, then one permutation per group)
    gen = torch.Generator().manual_seed(config.seed if config.seed is not None else 0)
    for s in _strategies(windows):
        s.prepare(module, [w for w in windows if w.x0 is s], gen)
    for s in _strategies(val):
        s.prepare(module, [w for w in val if w.x0 is s], gen)
    for s in _strategies(guard):
        s.prepare(module, [w for w in guard if w.x0 is s], gen)
    own, extra = _trainable(module, windows, val)
    params = own + extra
    step_loss = _StepLoss(module, extra)
    ddp_kw = {"device_ids": [device.index if device.index is not None else 0]} if device.type == "cuda" else {}
    ddp = nn.parallel.DistributedDataParallel(step_loss, process_group=group, **ddp_kw)
    opt = _optimizer(params, config)
    sched = _Schedule(opt, config)
    avg = _Average(params, config.average)
    progress = _Progress(module, extra, config, bool(val))
    t0 = progress.t0

    def reduced(ws):
        _refresh(module, ws)
        s = allreduce(_sums(module, ws, rank, world, device, dtype))
        reg = ws[0].loss.regularization(module)
        return float(s[0] / max(float(s[1]), 1.0)) + float(reg)

    def evaluate():
        with torch.no_grad():
            train_loss = reduced(windows)
            val_loss = reduced(val) if val else None
        return train_loss, val_loss

    progress.start(*evaluate())
    for epoch in range(config.epochs):
        if epoch:
            avg.swap()  # back to the trained iterate (the averaged weights were scored in place)
        n = max(len(w) for w in windows)
        bs = config.batch_size or n
        perms = [torch.randperm(len(w), generator=gen) for w in windows]
        for start in range(0, n, bs):
            batches, count = [], torch.zeros(1, dtype=torch.float64, device=device)
            for p, w in zip(perms, windows):
                glob = p[start:start + bs].to(w.u.device)
                mine = glob[rank::world]
                # a rank with no window of this group still runs one (weight 0): every rank takes part in DDP
                if len(mine) == 0 and len(glob) > 0:
                    batches.append((glob[:1], 0.0))
                else:
                    batches.append((mine, 1.0))
                if len(glob):
                    _, c = w.loss.data_term(w.scored_y[glob[:1]], w.scored_y[glob[:1]])
                    count += c * len(glob)  # windows of a group are equally long
            opt.zero_grad()
            loss = ddp(windows, batches, world / max(float(count), 1.0))
            finite = allreduce(torch.tensor([float(torch.isfinite(loss))], dtype=torch.float64, device=device),
                               dist.ReduceOp.MIN)
            if finite.item() < 1:
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
        elapsed = allreduce(torch.tensor([time.perf_counter() - t0], dtype=torch.float64, device=device),
                            dist.ReduceOp.MAX).item()
        stop = progress.end_epoch(epoch, train_loss, val_loss, seconds=elapsed)
        if stop is None and callback is not None:
            flag = torch.tensor([1.0 if callback(epoch, train_loss, val_loss) else 0.0], dtype=torch.float64,
                                device=device)
            if allreduce(flag, dist.ReduceOp.MAX).item() > 0:
                stop = "callback"
        if stop is None and progress.out_of_time():
            stop = "max_time"
        if stop is not None:
            progress.result.stopped = stop
            break
    return progress.finish(windows, _guard_score(guard))
