"""Initial-state strategies: how each training window starts, and the windowing that needs.

A strategy says how many samples before a window it reads (``past``), which parameters of its
own it trains (``parameters``), what it recomputes before every epoch (``refresh``) and how a
batch of windows is simulated (``simulate``). The engine knows no strategy by name.

========================  =====================================================================
``Zero()``                x0 = 0.
``Measured()``            x0 = y at the window start (full-state models, y = x).
``Fitted()``              one trainable x0 per window, trained with the model (multiple shooting).
``Simulated()``           the state the current model reaches at the window start when it
                          simulates the whole record from rest, recomputed every epoch without
                          gradient (truncated back-propagation through time).
``BurnIn(past)``          the model starts from zero ``past`` samples before the window and runs
                          over that past input; those samples are not scored.
``Encoder(past)``         a small network maps the ``past`` inputs and outputs before the window
                          to x0, trained with the model (SUBNET's encoder).
========================  =====================================================================
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models._protocol import check_sequence_module

__all__ = ["InitialState", "Zero", "Measured", "Fitted", "Simulated", "BurnIn", "Encoder", "as_initial_state"]


class InitialState:
    """Base class of the initial-state strategies (see the module docstring)."""

    name = "initial_state"
    past = 0

    def check(self, module) -> None:
        """Raise a clear error when ``module`` cannot be started this way."""

    def prepare(self, module, windows: list, generator: torch.Generator) -> None:
        """Create what the strategy trains (called once, before the first epoch)."""

    def parameters(self) -> list:
        """Trainable tensors owned by the strategy (optimized with the module's)."""
        return []

    def refresh(self, module, windows: list) -> None:
        """Recompute what depends on the current weights (called without gradient before every
        epoch and every evaluation)."""

    def initial(self, module, w, idx) -> torch.Tensor:  # pragma: no cover - abstract
        """x0 (len(idx), nx) of the windows ``idx`` of ``w``."""
        raise NotImplementedError

    def simulate(self, module, w, idx) -> torch.Tensor:
        """Outputs (len(idx), T, ny) of the scored part of the windows ``idx``."""
        x0 = self.initial(module, w, idx)
        u = w.u[idx, self.past:]
        if w.dt is None:
            return module(u, x0)
        return module(u, x0, dt=w.dt[idx, self.past:])

    def validation(self, module) -> "InitialState":
        """The strategy that starts validation windows (default: the same)."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if not self.past else f"{type(self).__name__}(past={self.past})"


class Zero(InitialState):
    name = "zero"

    def initial(self, module, w, idx):
        return torch.zeros(len(idx), module.nx, dtype=w.u.dtype, device=w.u.device)


class Measured(InitialState):
    """x0 = y at the window start: the state is the (normalized) output."""

    name = "measured"

    def check(self, module):
        if module.nx != module.ny:
            raise ValueError(f"x0='measured' needs the state to be the output (nx = ny); got nx = {module.nx}, "
                             f"ny = {module.ny}. Use x0='simulated', 'fit' or 'burn_in'.")

    def initial(self, module, w, idx):
        return w.y[idx, self.past]


class Fitted(InitialState):
    """One trainable initial state per training window (multiple shooting)."""

    name = "fit"

    def prepare(self, module, windows, generator):
        for w in windows:
            w.fitted = nn.Parameter(torch.zeros(len(w), module.nx, dtype=w.u.dtype, device=w.u.device))
        self._windows = windows

    def parameters(self):
        return [w.fitted for w in getattr(self, "_windows", [])]

    def initial(self, module, w, idx):
        return w.fitted[idx]

    def validation(self, module):
        # validation windows have no trained x0: start them as the model is used, from the
        # state it reaches along the record (or from zero when it cannot report its state)
        return Simulated() if callable(getattr(module, "forward_states", None)) else Zero()


class Simulated(InitialState):
    """The state the current model reaches at the window start, simulating the record from rest."""

    name = "simulated"

    def check(self, module):
        check_sequence_module(module, owner="x0='simulated'", need_states=True)

    def refresh(self, module, windows):
        for w in windows:
            if w.records is None:
                raise ValueError("x0='simulated' needs windows that carry their whole records "
                                 "(cut them with sysid.training.cut_windows).")
            X: dict[int, torch.Tensor] = {}
            by_len: dict[int, list[int]] = {}
            for i, r in enumerate(w.records):
                by_len.setdefault(len(r), []).append(i)
            with torch.no_grad():
                for group in by_len.values():
                    u = torch.stack([w.records[i] for i in group])
                    x = module.forward_states(u, torch.zeros(len(group), module.nx, dtype=u.dtype, device=u.device))[1]
                    X.update({i: x[k] for k, i in enumerate(group)})
            w.simulated = torch.stack([X[int(r)][int(a)] for r, a in zip(w.record, w.start)])

    def initial(self, module, w, idx):
        return w.simulated[idx]


class BurnIn(InitialState):
    """Start from zero ``past`` samples before the window; score only the window."""

    name = "burn_in"

    def __init__(self, past: int = 20):
        if not isinstance(past, (int, np.integer)) or isinstance(past, bool) or past < 0:
            raise ValueError(f"BurnIn(past) needs an int >= 0; got {past!r}.")
        self.past = int(past)

    def simulate(self, module, w, idx):
        x0 = torch.zeros(len(idx), module.nx, dtype=w.u.dtype, device=w.u.device)
        y = module(w.u[idx], x0) if w.dt is None else module(w.u[idx], x0, dt=w.dt[idx])
        return y[:, self.past:]


class Encoder(InitialState):
    """x0 = E(u[a − past : a], y[a − past : a]): a tanh network from the past window to the state.

    Parameters
    ----------
    past : int
        Past samples of input and output it reads.
    hidden : int
        Width of its two hidden layers.
    """

    name = "encoder"

    def __init__(self, past: int = 20, hidden: int = 64):
        for n, v, low in (("past", past, 1), ("hidden", hidden, 1)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"Encoder({n}) needs an int >= {low}; got {v!r}.")
        self.past, self.hidden = int(past), int(hidden)
        self.net: nn.Module | None = None

    def prepare(self, module, windows, generator):
        if self.net is not None or not windows:
            return
        w = windows[0]
        n_in = self.past * (w.u.shape[-1] + w.y.shape[-1])
        net = nn.Sequential(nn.Linear(n_in, self.hidden), nn.Tanh(), nn.Linear(self.hidden, self.hidden), nn.Tanh(),
                            nn.Linear(self.hidden, module.nx))
        with torch.no_grad():
            for p in net.parameters():
                bound = 1.0 / np.sqrt(p.shape[-1]) if p.dim() == 2 else 0.0
                p.copy_((torch.rand(p.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)
        self.net = net.to(dtype=w.u.dtype, device=w.u.device)

    def parameters(self):
        return [] if self.net is None else list(self.net.parameters())

    def initial(self, module, w, idx):
        if self.net is None:
            raise ValueError("the encoder has not been trained yet; it is built on the training windows.")
        z = torch.cat([w.u[idx, :self.past], w.y[idx, :self.past]], dim=-1).reshape(len(idx), -1)
        return self.net(z)


_BY_NAME = {"zero": Zero, "measured": Measured, "fit": Fitted, "simulated": Simulated}


def as_initial_state(x0, *, past: int = 20) -> InitialState:
    """A strategy from a name (``"zero"``, ``"measured"``, ``"fit"``, ``"simulated"``,
    ``"burn_in"``, ``"encoder"``; ``past`` for the last two) or a strategy object."""
    if isinstance(x0, InitialState):
        return x0
    if x0 in _BY_NAME:
        return _BY_NAME[x0]()
    if x0 == "burn_in":
        return BurnIn(past)
    if x0 == "encoder":
        return Encoder(past)
    raise ValueError(f"x0 must be one of ['zero', 'measured', 'fit', 'simulated', 'burn_in', 'encoder'] or a "
                     f"sysid.training.InitialState; got {x0!r}.")
