"""Exact weights that make an LSTM reproduce a discrete LTI system, and the read-back.

With the input and output gates saturated open and the forget gate closed, an LSTM unit
computes h_t = tanh(tanh(R_g h_{t−1} + W_g u_t)) ≈ R_g h_{t−1} + W_g u_t for small arguments.
Choosing R_g = blkdiag(A, 0), W_g = s·[B; I] and F = [C A⁻¹, D − C A⁻¹ B] / s gives
h_t = s·[x_{t+1}; u_t] and y_t = F h_t = C x_t + D u_t, up to O((s·max|x|)²) per step —
hence the balanced realization first (MATH §5).

References
----------
G. Campa, "LSTM layer as a nonlinear dynamical system", MATLAB example, 2023.
"""

from __future__ import annotations

import control
import numpy as np
import torch

from ..core.lti import balanced_realization
from .lstm import LSTMModule

__all__ = ["lstm_from_lti", "lti_from_lstm"]

_SATURATION = 100.0


def lstm_from_lti(system, scale: float = 1e-3, *, balance: bool = True, dtype=torch.float64) -> LSTMModule:
    """An LSTMModule (n_units = nx + nu, one layer) whose output reproduces ``system``.

    Parameters
    ----------
    system : control.StateSpace
        Discrete time, with invertible A.
    scale : float
        Input scaling s: the units work at amplitude s·|x|; smaller is more linear.
    balance : bool
        Use the balanced realization with every state scaled to unit variance for a unit white
        input (states of comparable, small size; the error grows like (s·max|x|)²).

    Raises
    ------
    ValueError
        For a continuous-time system (discretize first) or a singular A.
    """
    if not isinstance(system, control.StateSpace):
        raise TypeError(f"system must be a control.StateSpace; got {type(system).__name__}.")
    if not control.isdtime(system, strict=True):
        raise ValueError("lstm_from_lti needs a discrete-time system; discretize first, e.g. control.c2d(sys, Ts).")
    if not scale > 0:
        raise ValueError(f"scale must be > 0; got {scale}.")
    if balance:
        # balanced, then each state scaled to unit variance for unit white input (x_i / √σ_i):
        # the units then work at amplitude ≈ s for states and inputs alike
        system, hsv = balanced_realization(system)
        w = np.sqrt(hsv)
        system = control.ss(np.asarray(system.A) / w[:, None] * w[None, :], np.asarray(system.B) / w[:, None],
                            np.asarray(system.C) * w[None, :], system.D, system.dt)
    A, B, C, D = (np.asarray(M, dtype=float) for M in (system.A, system.B, system.C, system.D))
    nx, nu, ny = A.shape[0], B.shape[1], C.shape[0]
    if nx == 0 or np.linalg.cond(A) > 1e12:
        raise ValueError("A must be invertible (the read-out uses C A⁻¹); a pole at z = 0 cannot be represented. "
                         "Remove it (e.g. a pure delay) or shift it slightly.")
    n = nx + nu
    Wg = scale * np.vstack([B, np.eye(nu)])
    Rg = np.zeros((n, n))
    Rg[:nx, :nx] = A
    CAi = np.linalg.solve(A.T, C.T).T
    F = np.hstack([CAi, D - CAi @ B]) / scale
    W_ih = np.zeros((4 * n, nu))
    W_ih[2 * n:3 * n] = Wg
    W_hh = np.zeros((4 * n, n))
    W_hh[2 * n:3 * n] = Rg
    b = np.concatenate([np.full(n, _SATURATION), np.full(n, -_SATURATION), np.zeros(n), np.full(n, _SATURATION)])
    module = LSTMModule(nu, ny, n_units=n).to(dtype)
    with torch.no_grad():
        module.lstm.weight_ih_l0.copy_(torch.as_tensor(W_ih))
        module.lstm.weight_hh_l0.copy_(torch.as_tensor(W_hh))
        module.lstm.bias_ih_l0.copy_(torch.as_tensor(b))
        module.lstm.bias_hh_l0.zero_()
        module.readout.weight.copy_(torch.as_tensor(F))
    return module


def lti_from_lstm(module: LSTMModule, *, dt: float = 1.0, force: bool = False, min_saturation: float = 10.0):
    """Read the LTI system back from saturated gates: A = R_g, B = W_g, C = F R_g, D = F W_g.

    The state is h_{t−1}; the realization has ``nu`` extra poles at z = 0 when the weights come
    from :func:`lstm_from_lti` (the input-carrying units).

    Raises
    ------
    ValueError
        If the gates are not saturated (input/output bias ≥ ``min_saturation``, forget bias
        ≤ −``min_saturation``), unless ``force=True``; or for a multi-layer LSTM.
    """
    if module.layers != 1:
        raise ValueError("lti_from_lstm reads a one-layer LSTM; linearize deeper ones at an equilibrium instead.")
    n = module.n_units
    g = lambda t: t.detach().cpu().numpy().astype(float)  # noqa: E731
    W_ih, W_hh = g(module.lstm.weight_ih_l0), g(module.lstm.weight_hh_l0)
    b = g(module.lstm.bias_ih_l0) + g(module.lstm.bias_hh_l0)
    bi, bf, bo = b[:n], b[n:2 * n], b[3 * n:]
    saturated = bi.min() >= min_saturation and bo.min() >= min_saturation and bf.max() <= -min_saturation
    if not saturated and not force:
        raise ValueError(
            f"the gates are not saturated (input-gate bias min {bi.min():.3g}, output {bo.min():.3g}, forget max "
            f"{bf.max():.3g}; need ±{min_saturation:g}): the read-back would be wrong. Linearize the LSTM at an "
            "equilibrium instead, or pass force=True."
        )
    Rg, Wg = W_hh[2 * n:3 * n], W_ih[2 * n:3 * n]
    F = g(module.readout.weight)
    return control.ss(Rg, Wg, F @ Rg, F @ Wg, dt)
