"""LSTM estimator: trained by the shared engine, read back as an LTI model by linearization."""

from __future__ import annotations

import control
import numpy as np
from scipy import optimize

from ..exceptions import ConvergenceError
from ._base import check_int
from ._neural_base import NeuralEstimator

__all__ = ["LSTM", "linearize_lstm"]


def linearize_lstm(module, u0, *, tol: float = 1e-10, max_iter: int = 2000, dt: float = 1.0):
    """Equilibrium (h*, c*) for a constant input and the Jacobian linearization there.

    State z_t = (h_{t−1}, c_{t−1}) (all layers, flattened): z_{t+1} = Φ(z_t, u_t) and
    y_t = F h_t(Φ(z_t, u_t)) (the read-out of the updated state, as in the forward pass).
    Returns a control.StateSpace of order 2·n_units·layers (normalized units of the module).
    """
    import torch
    from torch.func import jacrev

    p = next(module.parameters())
    u0 = torch.as_tensor(np.asarray(u0, float), dtype=p.dtype)

    def phi(z, u):
        h, c = module.split_state(z[None])
        _, (hn, cn) = module.lstm(u[None, None], (h, c))
        return torch.cat([hn.transpose(0, 1).reshape(-1), cn.transpose(0, 1).reshape(-1)])

    def out(z, u):
        h, c = module.split_state(z[None])
        y, _ = module.lstm(u[None, None], (h, c))
        return module.readout(y)[0, 0]

    with torch.no_grad():
        z = torch.zeros(module.nx, dtype=p.dtype)
        for _ in range(max_iter):
            zn = phi(z, u0)
            if torch.max(torch.abs(zn - z)) < tol:
                z = zn
                break
            z = zn
    for _ in range(20):  # Newton polish (and the only hope when iteration does not converge)
        with torch.no_grad():
            r = phi(z, u0) - z
        if torch.max(torch.abs(r)) < tol:
            break
        J = jacrev(phi, argnums=0)(z, u0).detach()
        try:
            z = (z - torch.linalg.solve(J - torch.eye(module.nx, dtype=p.dtype), r)).detach()
        except torch.linalg.LinAlgError:
            break
    with torch.no_grad():
        res = float(torch.max(torch.abs(phi(z, u0) - z)))
    if not res < 1e3 * tol:
        raise ConvergenceError(f"no equilibrium of the LSTM found for u0 = {u0.tolist()} (residual {res:.2e}); "
                               "the trained network may oscillate or diverge at this input.")
    A, B = (M.detach().numpy() for M in jacrev(phi, argnums=(0, 1))(z, u0))
    C, D = (M.detach().numpy() for M in jacrev(out, argnums=(0, 1))(z, u0))
    return control.ss(A, B, C, D, dt), z.detach().numpy()


class LSTM(NeuralEstimator):
    """LSTM state-space model: torch.nn.LSTM + linear read-out y_t = F h_t, trained by
    :func:`sysid.training.train` (truncated simulation with a fitted initial state per window by
    default).

    An LSTM is not a Lur'e system (its gates multiply), so :meth:`to_lure` is not available;
    :meth:`linearize` finds the equilibrium (h*, c*) for a constant input and linearizes there
    (local model). For LSTMs built from an LTI system see :func:`sysid.models.lstm_from_lti`.

    Parameters
    ----------
    n_units : int
    layers : int
    Other parameters as :class:`NeuralNetStep`.
    """

    _owner = "LSTM"

    def __init__(self, n_units: int = 16, *, layers: int = 1, epochs: int = 300, lr: float = 1e-2,
                 optimizer: str = "adam", loss: str = "truncated", horizon: int | None = 50,
                 batch_size: int | None = None, loss_threshold: float | None = None, patience: int | None = None,
                 clip_grad: float | None = 10.0, x0: str = "fit", normalize: str | None = "standard",
                 seed: int | None = 0, dtype: str = "float64", device: str | None = None, progress: bool = False):
        self.n_units, self.layers = n_units, layers
        self.epochs, self.lr, self.optimizer, self.loss, self.horizon = epochs, lr, optimizer, loss, horizon
        self.batch_size, self.loss_threshold, self.patience, self.clip_grad = batch_size, loss_threshold, patience, clip_grad
        self.x0, self.normalize, self.seed, self.dtype, self.device, self.progress = x0, normalize, seed, dtype, device, progress

    def _build_module(self, nu: int, ny: int):
        from ..models.lstm import LSTMModule

        check_int(self.n_units, "n_units", self._owner)
        check_int(self.layers, "layers", self._owner)
        if self.x0 == "measured":
            raise ValueError("The 'x0' parameter of LSTM cannot be 'measured' (the state (h, c) is not the output); "
                             "use 'fit' or 'zero'.")
        return LSTMModule(nu, ny, n_units=self.n_units, layers=self.layers)

    def to_lure(self):
        raise NotImplementedError("an LSTM is not a Lur'e system (its gates multiply); use linearize() for a local "
                                  "LTI model.")

    def linearize(self, *, x0=None, u0=None) -> control.StateSpace:
        """Linearization at the equilibrium for the constant input ``u0`` (zeros by default), in
        physical units; order 2·n_units·layers. ``x0`` is not used (the equilibrium is found)."""
        self._check_fitted()
        u0 = np.zeros(self.nu_) if u0 is None else np.asarray(u0, dtype=float).reshape(-1)
        if u0.shape != (self.nu_,):
            raise ValueError(f"u0 must have shape (nu,) = ({self.nu_},); got {u0.shape}.")
        lin, _ = linearize_lstm(self.module_, (u0 - self.u_mean_) / self.u_std_, dt=self.dt_)
        su, sy = self.u_std_, self.y_std_
        return control.ss(lin.A, lin.B / su[None, :], sy[:, None] * lin.C, sy[:, None] * lin.D / su[None, :], self.dt_)

    def estimate_x0(self, data, *, n: int | None = None) -> np.ndarray:
        """Initial (h, c) that best explains the first ``n`` samples (nonlinear least squares)."""
        self._check_fitted()
        u = self._check_input(data.u)
        y = data.y
        if n is not None:
            u, y = u[:n], y[:n]

        def residual(z):
            return (self.simulate(u, x0=z) - y).ravel()

        return optimize.least_squares(residual, np.zeros(self.module_.nx), max_nfev=50 * self.module_.nx).x
