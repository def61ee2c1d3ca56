"""LSTM sequence model: torch.nn.LSTM (batch_first) and a linear read-out y_t = F h_t.

The read-out uses the *updated* hidden state h_t, which already depends on u_t, so read-back
LTI models have a direct term (MATH §4.9). The state x = (h, c) of every layer is flattened
into one vector of length 2 · n_units · layers, as the training engine expects.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LSTMModule"]


class LSTMModule(nn.Module):
    """``forward(u (B, T, nu), x0 (B, 2·n_units·layers)) -> y (B, T, ny)``, y_t = F h_t (+ bF)."""

    def __init__(self, nu: int, ny: int, *, n_units: int = 16, layers: int = 1, readout_bias: bool = False):
        super().__init__()
        if n_units < 1 or layers < 1:
            raise ValueError(f"n_units and layers must be >= 1; got {n_units} and {layers}.")
        self.nu, self.ny, self.n_units, self.layers = nu, ny, n_units, layers
        self.nx = 2 * n_units * layers
        self.lstm = nn.LSTM(nu, n_units, num_layers=layers, batch_first=True)
        self.readout = nn.Linear(n_units, ny, bias=readout_bias)

    def split_state(self, x0: torch.Tensor):
        """(B, 2·n·L) → (h0, c0), each (L, B, n) as torch.nn.LSTM wants."""
        B, n, L = x0.shape[0], self.n_units, self.layers
        h = x0[:, : n * L].reshape(B, L, n).transpose(0, 1).contiguous()
        c = x0[:, n * L:].reshape(B, L, n).transpose(0, 1).contiguous()
        return h, c

    def forward(self, u: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(u, self.split_state(x0))
        return self.readout(h)
