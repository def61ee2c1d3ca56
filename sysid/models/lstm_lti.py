"""LSTM ↔ LTI: exact weights that make an LSTM reproduce a discrete LTI system, the read-back
from saturated gates, and the Jacobian linearization of any LSTM at an equilibrium.

With the input and output gates saturated open and the forget gate closed, an LSTM unit
computes h_t = tanh(tanh(R_g h_{t−1} + W_g u_t)) ≈ R_g h_{t−1} + W_g u_t for small arguments.
Choosing R_g = blkdiag(A, 0), W_g = s·[B; I] and F = [C A⁻¹, D − C A⁻¹ B] / s gives
h_t = s·[x_{t+1}; u_t] and y_t = F h_t = C x_t + D u_t, up to O((s·max|x|)²) per step —
hence a well-scaled (balanced) realization first (docs/math.md §5).

References
----------
G. Campa, "LSTM layer as a nonlinear dynamical system", MATLAB example, 2023
(``giampy1969/lstm-as-a-dynamical-system``).
"""

from __future__ import annotations

import copy

import control
import numpy as np
import torch

from ..core.lti import balanced_realization
from ..exceptions import ConvergenceError
from .lstm import LSTMModule

__all__ = ["lstm_from_lti", "lti_from_lstm", "lstm_equilibrium", "linearize_lstm"]

_SATURATION = 100.0


def lstm_from_lti(system: control.StateSpace, scale: float = 1e-3, *, balance: bool = True,
                  dtype: torch.dtype = torch.float64) -> LSTMModule:
    """An LSTMModule (one layer, n_units = nx + nu) whose output reproduces ``system``.

    Input and output gates are saturated open (bias +100), the forget gate closed (bias −100);
    R_g = blkdiag(A, 0), W_g = s·[B; I], F = [C A⁻¹, D − C A⁻¹ B] / s (docs/math.md §5.2). The output
    matches the LTI response from x0 = 0 with a relative error that grows like (s·max|x|)²:
    about 1e-5 … 1e-4 for unit-variance inputs at s = 1e-3 after balancing.

    Parameters
    ----------
    system : control.StateSpace
        Discrete time (dt > 0), A invertible. nx states, nu inputs, ny outputs.
    scale : float
        Input scaling s > 0: the units work at amplitude s·|x|; smaller is more linear (the
        read-out F grows like 1/s, so do not go below ~1e-6 in float64, ~1e-3 in float32).
    balance : bool
        Realize ``system`` first in balanced coordinates (square-root method,
        :func:`sysid.core.lti.balanced_realization`) with each state scaled to unit variance for
        a unit white input, so states and inputs work at the same amplitude s. Needs a stable,
        minimal system; pass ``False`` to keep the given realization.
    dtype : torch.dtype
        Of the weights; check accuracy in float64 (float32 floors at ~1e-5 … 1e-4).

    Returns
    -------
    LSTMModule
        With the plain attributes ``dt`` (the system's) and ``scale`` (s) recorded for
        :func:`lti_from_lstm` (they are not part of the ``state_dict``).

    Raises
    ------
    TypeError
        If ``system`` is not a control.StateSpace.
    ValueError
        For a continuous-time system (discretize first), a singular A, an unstable or
        non-minimal system with ``balance=True``, or ``scale <= 0``.

    Examples
    --------
    >>> import control, torch
    >>> G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 0.1)
    >>> m = lstm_from_lti(G)
    >>> m.n_units, m.nx
    (2, 4)
    """
    if not isinstance(system, control.StateSpace):
        raise TypeError(f"system must be a control.StateSpace; got {type(system).__name__}. "
                        "Convert a transfer function with control.ss(G).")
    if not control.isdtime(system, strict=True):
        raise ValueError("lstm_from_lti needs a discrete-time system (an LSTM steps in discrete time); got a "
                         "continuous-time one; discretize first, e.g. control.c2d(sys, Ts).")
    if not (isinstance(scale, (int, float, np.floating)) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0; got {scale!r}.")
    dt = float(system.dt) if system.dt is not True else 1.0
    if balance:
        try:
            system, hsv = balanced_realization(system)
        except ValueError as exc:
            raise ValueError(f"balance=True failed: {exc} For an unstable or non-minimal system pass "
                             "balance=False and choose scale ≈ 0.03 / max|x| for your realization.") from None
        # each balanced state scaled to unit variance for a unit white input (x_i / √σ_i): the units
        # then work at amplitude ≈ s for states and inputs alike
        w = np.sqrt(hsv)
        system = control.ss(np.asarray(system.A) / w[:, None] * w[None, :], np.asarray(system.B) / w[:, None],
                            np.asarray(system.C) * w[None, :], system.D, system.dt)
    A, B, C, D = (np.asarray(M, dtype=float) for M in (system.A, system.B, system.C, system.D))
    nx, nu, ny = A.shape[0], B.shape[1], C.shape[0]
    if nx == 0 or np.linalg.cond(A) > 1e12:
        raise ValueError("A must be invertible (the read-out uses C A⁻¹); got a singular A (a pole at z = 0, "
                         "e.g. a pure delay). Remove that pole (control.minreal) or move it slightly off zero.")
    n = nx + nu
    CAi = np.linalg.solve(A.T, C.T).T
    W_ih = np.zeros((4 * n, nu))
    W_ih[2 * n:3 * n] = scale * np.vstack([B, np.eye(nu)])
    W_hh = np.zeros((4 * n, n))
    W_hh[2 * n:2 * n + nx, :nx] = A
    b = np.concatenate([np.full(n, _SATURATION), np.full(n, -_SATURATION), np.zeros(n), np.full(n, _SATURATION)])
    module = LSTMModule(nu, ny, n_units=n).to(dtype)
    with torch.no_grad():
        module.lstm.weight_ih_l0.copy_(torch.as_tensor(W_ih))
        module.lstm.weight_hh_l0.copy_(torch.as_tensor(W_hh))
        module.lstm.bias_ih_l0.copy_(torch.as_tensor(b))
        module.lstm.bias_hh_l0.zero_()
        module.readout.weight.copy_(torch.as_tensor(np.hstack([CAi, D - CAi @ B]) / scale))
    module.dt, module.scale = dt, float(scale)
    return module


def lti_from_lstm(module: LSTMModule, *, force: bool = False, dt: float | None = None,
                  min_saturation: float = 10.0) -> control.StateSpace:
    """Read the LTI system from an LSTM whose gates are saturated (docs/math.md §5.3).

    A = R_g, B = W_g / s, C = s·F R_g, D = F W_g, with s = ``module.scale`` when the module came
    from :func:`lstm_from_lti` (the state is then [x; u] of the realization used, in physical
    units) and s = 1 otherwise (the state is h). Valid in the small-signal regime; the g-gate
    and read-out biases (affine offsets) are not part of the linear model.

    Parameters
    ----------
    module : LSTMModule
        One layer.
    force : bool
        Read back even if the gates are not saturated (the result is then not the model's
        linearization; use :func:`linearize_lstm` for that).
    dt : float, optional
        Sampling time; default ``module.dt`` if recorded, else 1.0.
    min_saturation : float
        Saturated means input/output-gate biases ≥ this and forget-gate biases ≤ −this.

    Returns
    -------
    control.StateSpace
        Order n_units. For weights from :func:`lstm_from_lti`, (blkdiag(A, 0), [B; I], [C, 0], D):
        a non-minimal realization with ``nu`` extra poles at z = 0.

    Raises
    ------
    ValueError
        If the gates are not saturated (unless ``force=True``) or the LSTM has several layers.
    """
    if not isinstance(module, LSTMModule):
        raise TypeError(f"module must be an LSTMModule; got {type(module).__name__}.")
    if module.layers != 1:
        raise ValueError(f"lti_from_lstm reads a one-layer LSTM; got layers = {module.layers}. Linearize deeper "
                         "ones at an equilibrium instead (linearize_lstm).")
    n = module.n_units
    g = lambda t: t.detach().cpu().double().numpy()  # noqa: E731
    W_ih, W_hh = g(module.lstm.weight_ih_l0), g(module.lstm.weight_hh_l0)
    b = g(module.lstm.bias_ih_l0) + g(module.lstm.bias_hh_l0)
    bi, bf, bo = b[:n], b[n:2 * n], b[3 * n:]
    saturated = bi.min() >= min_saturation and bo.min() >= min_saturation and bf.max() <= -min_saturation
    if not saturated and not force:
        raise ValueError(
            f"the gates are not saturated (input-gate bias min {bi.min():.3g}, output {bo.min():.3g}, forget max "
            f"{bf.max():.3g}; need ±{min_saturation:g}): the read-back would be wrong. Linearize the LSTM at an "
            "equilibrium instead (linearize_lstm / LSTM.linearize), or pass force=True."
        )
    s = float(getattr(module, "scale", 1.0))
    Rg, Wg = W_hh[2 * n:3 * n], W_ih[2 * n:3 * n]
    F = g(module.readout.weight)
    dt = float(getattr(module, "dt", 1.0)) if dt is None else dt
    return control.ss(Rg, Wg / s, s * F @ Rg, F @ Wg, dt)


def _as_u0(module: LSTMModule, u0) -> np.ndarray:
    u0 = np.zeros(module.nu) if u0 is None else np.asarray(u0, dtype=float).reshape(-1)
    if u0.shape != (module.nu,):
        raise ValueError(f"u0 must have shape (nu,) = ({module.nu},); got {u0.shape}.")
    if not np.all(np.isfinite(u0)):
        raise ValueError(f"u0 must be finite; got {u0.tolist()}.")
    return u0


def lstm_equilibrium(module: LSTMModule, u0=None, *, x_guess=None, tol: float = 1e-10,
                     max_iter: int = 2000) -> np.ndarray:
    """The equilibrium state x* = (h*, c*) of an LSTM for a constant input, x* = Φ(x*, u0).

    Plain iteration from ``x_guess`` (zeros by default), then Newton on x − Φ(x, u0) with the
    Jacobian from ``torch.func.jacrev`` (docs/math.md §6.1). Computed in float64.

    Parameters
    ----------
    module : LSTMModule
    u0 : array_like, shape (nu,), optional
        Constant input, in the module's (normalized) units; zeros by default.
    x_guess : array_like, shape (nx,), optional
    tol : float
        On max |Φ(x, u0) − x|.
    max_iter : int
        Plain iterations before Newton.

    Returns
    -------
    ndarray, shape (nx,)
        (h*, c*) flattened as in :meth:`LSTMModule.split_state`.

    Raises
    ------
    ConvergenceError
        If no equilibrium is found (e.g. a forget gate open and c integrating the input).
    """
    m = _float64(module)
    u = torch.as_tensor(_as_u0(module, u0), dtype=torch.float64)
    z = torch.zeros(m.nx, dtype=torch.float64) if x_guess is None else torch.as_tensor(
        np.asarray(x_guess, dtype=float).reshape(-1), dtype=torch.float64)
    if z.shape != (m.nx,):
        raise ValueError(f"x_guess must have shape (nx,) = ({m.nx},); got {tuple(z.shape)}.")

    def phi(zz):
        return m.step(zz[None], u[None])[0][0]

    with torch.no_grad():
        for _ in range(max_iter):
            zn = phi(z)
            done = torch.max(torch.abs(zn - z)) < tol
            z = zn
            if done:
                break
    eye = torch.eye(m.nx, dtype=torch.float64)
    for _ in range(20):  # Newton polish (and the only hope when plain iteration does not converge)
        with torch.no_grad():
            r = phi(z) - z
        if torch.max(torch.abs(r)) < tol:
            break
        J = torch.func.jacrev(phi)(z).detach()
        try:
            z = (z - torch.linalg.solve(J - eye, r)).detach()
        except torch.linalg.LinAlgError:
            break
    with torch.no_grad():
        res = float(torch.max(torch.abs(phi(z) - z)))
    if not res < 1e3 * tol:
        raise ConvergenceError(f"no equilibrium of the LSTM found for u0 = {u.tolist()} (residual {res:.2e} > "
                               f"{1e3 * tol:.0e}); the network may oscillate or drift at this input (e.g. an "
                               "open forget gate integrating it). Try another u0 or x_guess.")
    return z.numpy()


def linearize_lstm(module: LSTMModule, u0=None, *, x0=None, dt: float | None = None,
                   tol: float = 1e-10, max_iter: int = 2000) -> control.StateSpace:
    """Jacobian linearization of an LSTM at its equilibrium for a constant input (docs/math.md §6.3).

    State z_t = (h_{t−1}, c_{t−1}) of every layer: z_{t+1} = Φ(z_t, u_t), y_t = F h_t(Φ(z_t, u_t))
    (the read-out of the updated state, as in the forward pass, hence D ≠ 0 in general).
    A, B, C, D are ``torch.func.jacrev`` Jacobians at (z*, u0), in float64.

    Parameters
    ----------
    module : LSTMModule
        Any weights (trained, random or calculated).
    u0 : array_like, shape (nu,), optional
        Constant input in the module's units; zeros by default.
    x0 : array_like, shape (nx,), optional
        Linearize at this state instead of the equilibrium (no equilibrium search).
    dt : float, optional
        Sampling time of the result; default ``module.dt`` if recorded, else 1.0.
    tol, max_iter
        Of the equilibrium search (:func:`lstm_equilibrium`).

    Returns
    -------
    control.StateSpace
        Order 2 · n_units · layers; inputs nu, outputs ny. Poles, zeros and DC gain then come
        from python-control (``sys.poles()``, ``control.dcgain(sys)``).

    Raises
    ------
    ConvergenceError
        If no equilibrium is found.
    """
    m = _float64(module)
    u = torch.as_tensor(_as_u0(module, u0), dtype=torch.float64)
    if x0 is None:
        z = torch.as_tensor(lstm_equilibrium(m, u.numpy(), tol=tol, max_iter=max_iter))
    else:
        z = torch.as_tensor(np.asarray(x0, dtype=float).reshape(-1), dtype=torch.float64)
        if z.shape != (m.nx,):
            raise ValueError(f"x0 must have shape (nx,) = ({m.nx},); got {tuple(z.shape)}.")

    def phi(zz, uu):
        zn, y = m.step(zz[None], uu[None])
        return zn[0], y[0]

    (A, B), (C, D) = torch.func.jacrev(phi, argnums=(0, 1))(z, u)
    dt = float(getattr(module, "dt", 1.0)) if dt is None else dt
    return control.ss(*(M.detach().numpy() for M in (A, B, C, D)), dt)


def _float64(module: LSTMModule) -> LSTMModule:
    if not isinstance(module, LSTMModule):
        raise TypeError(f"module must be an LSTMModule; got {type(module).__name__}.")
    p = next(module.parameters())
    if p.dtype == torch.float64 and p.device.type == "cpu":
        return module
    return copy.deepcopy(module).to(device="cpu", dtype=torch.float64)
