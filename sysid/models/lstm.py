"""LSTM sequence model: torch.nn.LSTM (batch_first) and a linear read-out y_t = F h_t.

The cell (gate order i, f, g, o, as in torch and MATLAB's ``lstmLayer``; docs/math.md §5.1)::

    a_t = W u_t + R h_{t−1} + b
    i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
    c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   y_t = F h_t (+ b_F)

The read-out uses the *updated* hidden state h_t, which already depends on u_t, so every LTI
model read back or linearized from it has a direct term D (docs/math.md §4.9). The state at step t is
x_t = (h_{t−1}, c_{t−1}) of every layer, flattened into one vector of length
``nx = 2 · n_units · layers`` — the h of all layers first, then the c of all layers — as the
training engine's sequence protocol expects.
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

__all__ = ["LSTMModule"]


class LSTMModule(nn.Module):
    """LSTM with a linear read-out, following the sequence-module protocol of :mod:`sysid.training`.

    Parameters
    ----------
    nu, ny : int
        Numbers of inputs and outputs.
    n_units : int
        Hidden units per layer.
    layers : int
        Stacked LSTM layers; the read-out sees the last layer's h.
    readout_bias : bool
        Add a bias b_F to the read-out (off by default, as in the seed).

    Attributes
    ----------
    lstm : torch.nn.LSTM
        ``batch_first=True``; weights ``weight_ih_l{k}`` (W, 4·n_units × inputs),
        ``weight_hh_l{k}`` (R), biases ``bias_ih_l{k} + bias_hh_l{k}`` (b).
    readout : torch.nn.Linear
        F (ny × n_units).
    nx : int
        2 · n_units · layers.

    Examples
    --------
    >>> import torch
    >>> m = LSTMModule(1, 1, n_units=4).double()
    >>> m(torch.zeros(2, 10, 1, dtype=torch.float64), torch.zeros(2, m.nx, dtype=torch.float64)).shape
    torch.Size([2, 10, 1])
    """

    def __init__(self, nu: int, ny: int, *, n_units: int = 16, layers: int = 1, readout_bias: bool = False):
        super().__init__()
        for name, value, low in (("nu", nu, 1), ("ny", ny, 1), ("n_units", n_units, 1), ("layers", layers, 1)):
            if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
        self.nu, self.ny, self.n_units, self.layers = int(nu), int(ny), int(n_units), int(layers)
        self.nx = 2 * self.n_units * self.layers
        self.lstm = nn.LSTM(self.nu, self.n_units, num_layers=self.layers, batch_first=True)
        self.readout = nn.Linear(self.n_units, self.ny, bias=readout_bias)

    # ------------------------------------------------------------------ state layout
    def split_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flattened state (B, nx) → (h, c), each (layers, B, n_units) as torch.nn.LSTM wants."""
        if x.dim() != 2 or x.shape[1] != self.nx:
            raise ValueError(f"the LSTM state must have shape (B, nx) = (B, {self.nx}) (h then c of every layer); "
                             f"got {tuple(x.shape)}.")
        B, n, L = x.shape[0], self.n_units, self.layers
        h = x[:, : n * L].reshape(B, L, n).transpose(0, 1).contiguous()
        c = x[:, n * L:].reshape(B, L, n).transpose(0, 1).contiguous()
        return h, c

    def join_state(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(h, c), each (layers, B, n_units) → flattened state (B, nx); inverse of :meth:`split_state`."""
        B = h.shape[1]
        return torch.cat([h.transpose(0, 1).reshape(B, -1), c.transpose(0, 1).reshape(B, -1)], dim=1)

    def _check_u(self, u: torch.Tensor, x0: torch.Tensor) -> None:
        if u.dim() != 3 or u.shape[2] != self.nu:
            raise ValueError(f"u must have shape (B, T, nu) = (B, T, {self.nu}); got {tuple(u.shape)}.")
        if x0.dim() != 2 or x0.shape[0] != u.shape[0]:
            raise ValueError(f"x0 must have shape (B, nx) = ({u.shape[0]}, {self.nx}); got {tuple(x0.shape)}.")

    # ------------------------------------------------------------------ protocol
    def forward(self, u: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Free-run simulation.

        Parameters
        ----------
        u : Tensor, shape (B, T, nu)
        x0 : Tensor, shape (B, nx)
            (h_{−1}, c_{−1}) of every layer, flattened (see :meth:`split_state`).

        Returns
        -------
        y : Tensor, shape (B, T, ny)
            y_t = F h_t, read from the updated hidden state.
        """
        self._check_u(u, x0)
        h, _ = self.lstm(u, self.split_state(x0))
        return self.readout(h)

    def forward_states(self, u: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Free-run simulation returning y (B, T, ny) and the state x (B, T, nx) at each step.

        x[:, t] = (h_{t−1}, c_{t−1}) — the state *entering* step t, so x[:, 0] = x0 (the same
        convention as the other modules: y_t = output(x_t, u_t)).
        """
        self._check_u(u, x0)
        ys, xs, x = [], [], x0
        for t in range(u.shape[1]):
            xs.append(x)
            x, y = self.step(x, u[:, t])
            ys.append(y)
        if not ys:
            return u.new_zeros(u.shape[0], 0, self.ny), u.new_zeros(u.shape[0], 0, self.nx)
        return torch.stack(ys, 1), torch.stack(xs, 1)

    def to_lure(self, dt: float):
        """Not available: an LSTM is not a Lur'e system (its gates multiply).

        Raises
        ------
        NotImplementedError
            Always; use :func:`sysid.models.linearize_lstm` for a local LTI model, or
            :func:`sysid.models.lti_from_lstm` for an LSTM whose gates are saturated.
        """
        raise NotImplementedError("an LSTM is not a Lur'e system (its gates multiply); use linearize_lstm() for a "
                                  "local LTI model or lti_from_lstm() when its gates are saturated.")

    def step(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the state map: x (B, nx), u (B, nu) → (x⁺ (B, nx), y (B, ny)).

        x⁺ = (h_t, c_t) and y = F h_t, so y depends on u_t directly (docs/math.md §4.9).
        """
        out, (h, c) = self.lstm(u[:, None, :], self.split_state(x))
        return self.join_state(h, c), self.readout(out[:, 0])
