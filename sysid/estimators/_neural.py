"""The one-step estimators of the seed study: :class:`NeuralNetStep` and :class:`MatrixStep`."""

from __future__ import annotations

import numpy as np
from scipy.linalg import logm

from ..core.lure import LureSystem
from ._base import check_int
from ._neural_base import NeuralEstimator

__all__ = ["NeuralNetStep", "MatrixStep"]


class _StepEstimator(NeuralEstimator):
    @property
    def _full_state(self) -> bool:
        ny = getattr(self, "ny_", None)
        return self.nx is None or (ny is not None and self.nx == ny and not self.feedthrough)

    def _nx(self, ny: int) -> int:
        return ny if self.nx is None else self.nx

    def _module_lure(self) -> LureSystem:
        return self.module_.to_lure(self.dt_)


class NeuralNetStep(_StepEstimator):
    """The seed's one-step network x(k+1) = W2 tanh(W1 x(k) + U u(k) + b1) + b2.

    With ``nx=None`` (default) the state is the output (y = x, the seed's full-state case) and
    each training window starts from the measured output. With ``nx > ny`` the output is
    y = C x (+ D u) and each window's initial state is fitted with the weights.

    Parameters
    ----------
    nx : int, optional
        State dimension (default ny).
    hidden : int
        Neurons of the hidden layer.
    init_std : float
        Standard deviation of the initial weights (the seed: 0.01); biases start at 0.
    feedthrough : bool
        A direct term D (only with nx > ny).
    residual : bool
        x(k+1) = x(k) + W2 tanh(...) + b2 (A = I in the Lur'e form): suits finely sampled plants.
    epochs, lr, optimizer, loss, horizon, batch_size, loss_threshold, patience, clip_grad
        Training (see :class:`sysid.training.TrainConfig`); ``loss`` is "simulation",
        "truncated" (windows of ``horizon`` samples) or "kstep".
    x0 : {"auto", "zero", "fit", "measured", "simulated"}
        Initial state of each training window ("auto": measured for full-state models, else fit;
        "simulated": the state the current model reaches there from rest, truncated
        back-propagation through time — see :class:`sysid.training.Windows`).
    normalize : {"standard", "scale", None}
    seed, dtype, device, progress
    """

    _owner = "NeuralNetStep"

    def __init__(self, nx: int | None = None, *, hidden: int = 16, init_std: float = 0.01, feedthrough: bool = False,
                 residual: bool = False,
                 epochs: int = 300, lr: float = 1e-2, optimizer: str = "adam", loss: str = "truncated",
                 horizon: int | None = 20, batch_size: int | None = None, loss_threshold: float | None = None,
                 patience: int | None = None, clip_grad: float | None = 10.0, x0: str = "auto",
                 normalize: str | None = "standard", seed: int | None = 0, dtype: str = "float64",
                 device: str | None = None, progress: bool = False):
        self.nx, self.hidden, self.init_std, self.feedthrough = nx, hidden, init_std, feedthrough
        self.residual = residual
        self.epochs, self.lr, self.optimizer, self.loss, self.horizon = epochs, lr, optimizer, loss, horizon
        self.batch_size, self.loss_threshold, self.patience, self.clip_grad = batch_size, loss_threshold, patience, clip_grad
        self.x0, self.normalize, self.seed, self.dtype, self.device, self.progress = x0, normalize, seed, dtype, device, progress

    def _build_module(self, nu: int, ny: int):
        from ..models.step import StepModule

        check_int(self.hidden, "hidden", self._owner)
        check_int(self.nx, "nx", self._owner, allow_none=True)
        nx = self._nx(ny)
        full = self.nx is None or (nx == ny and not self.feedthrough)
        if not full and nx < ny:
            raise ValueError(f"The 'nx' parameter of NeuralNetStep must be >= ny = {ny}. Got {nx} instead.")
        return StepModule(nx, nu, ny, hidden=self.hidden, full_state=full, feedthrough=self.feedthrough,
                          init_std=self.init_std, residual=self.residual)


class MatrixStep(_StepEstimator):
    """The seed's matrix model x(k+1) = B̂ x(k) (+ B̂u u(k)), y = x (or y = C x with ``nx > ny``).

    Trained in float64 with L-BFGS by default. ``B_hat_`` is B̂ in the exported (physical)
    coordinates; ``linearize().A`` equals it exactly and ``continuous_A_`` = logm(B̂)/Δt.
    """

    _owner = "MatrixStep"

    def __init__(self, nx: int | None = None, *, feedthrough: bool = False, epochs: int = 50, lr: float = 1.0,
                 optimizer: str = "lbfgs", loss: str = "simulation", horizon: int | None = None,
                 batch_size: int | None = None, loss_threshold: float | None = None, patience: int | None = None,
                 clip_grad: float | None = None, x0: str = "auto", normalize: str | None = "scale",
                 seed: int | None = 0, dtype: str = "float64", device: str | None = None, progress: bool = False):
        self.nx, self.feedthrough = nx, feedthrough
        self.epochs, self.lr, self.optimizer, self.loss, self.horizon = epochs, lr, optimizer, loss, horizon
        self.batch_size, self.loss_threshold, self.patience, self.clip_grad = batch_size, loss_threshold, patience, clip_grad
        self.x0, self.normalize, self.seed, self.dtype, self.device, self.progress = x0, normalize, seed, dtype, device, progress

    def _build_module(self, nu: int, ny: int):
        from ..models.step import MatrixStepModule

        check_int(self.nx, "nx", self._owner, allow_none=True)
        nx = self._nx(ny)
        full = self.nx is None or (nx == ny and not self.feedthrough)
        return MatrixStepModule(nx, nu, ny, full_state=full, feedthrough=self.feedthrough)

    @property
    def B_hat_(self) -> np.ndarray:
        """B̂ in the exported coordinates, shape (nx, nx)."""
        return self.to_lure().A

    @property
    def continuous_A_(self) -> np.ndarray:
        """The continuous-time matrix logm(B̂)/Δt (principal logarithm)."""
        L = logm(self.B_hat_)
        return np.real_if_close(L, tol=1e6) / self.dt_


class _ODEEstimator(_StepEstimator):
    _irregular_ok = True

    def _module_lure(self) -> LureSystem:
        return self.module_.to_lure()


class NeuralODE(_ODEEstimator):
    """Continuous-time neural state-space model ẋ = W2 tanh(W1 x + U u + b1) + b2, y = x or C x.

    Trained on uniformly sampled data by integrating each sample interval (input held:
    ``hold="zoh"``, or linearly interpolated: ``"foh"``) with torchdiffeq — fixed-step RK4 with
    ``substeps`` steps per interval by default, or adaptive ``dopri5`` (``adjoint=True`` for the
    adjoint gradients). Irregularly sampled records (IOData with ``t``) are accepted: each
    interval is integrated over its own length, and ``simulate(u, t=...)`` takes sample times.
    ``to_lure()`` is a continuous LureSystem (dt = 0) and ``linearize()`` a continuous
    StateSpace. Other parameters as :class:`NeuralNetStep`.
    """

    _owner = "NeuralODE"

    def __init__(self, nx: int | None = None, *, hidden: int = 16, init_std: float = 0.1, feedthrough: bool = False,
                 method: str = "rk4", substeps: int = 4, hold: str = "zoh", adjoint: bool = False,
                 epochs: int = 300, lr: float = 5e-2, optimizer: str = "adam", loss: str = "simulation",
                 horizon: int | None = None, batch_size: int | None = None, loss_threshold: float | None = None,
                 patience: int | None = None, clip_grad: float | None = 10.0, x0: str = "auto",
                 normalize: str | None = "scale", seed: int | None = 0, dtype: str = "float64",
                 device: str | None = None, progress: bool = False):
        self.nx, self.hidden, self.init_std, self.feedthrough = nx, hidden, init_std, feedthrough
        self.method, self.substeps, self.hold, self.adjoint = method, substeps, hold, adjoint
        self.epochs, self.lr, self.optimizer, self.loss, self.horizon = epochs, lr, optimizer, loss, horizon
        self.batch_size, self.loss_threshold, self.patience, self.clip_grad = batch_size, loss_threshold, patience, clip_grad
        self.x0, self.normalize, self.seed, self.dtype, self.device, self.progress = x0, normalize, seed, dtype, device, progress

    def _build_module(self, nu: int, ny: int):
        from ..models.node import NeuralODEModule

        check_int(self.hidden, "hidden", self._owner)
        check_int(self.substeps, "substeps", self._owner)
        nx = self._nx(ny)
        full = self.nx is None or (nx == ny and not self.feedthrough)
        # time is measured in sample periods inside the module; the export rescales it
        return NeuralODEModule(nx, nu, ny, dt=1.0, hidden=self.hidden, full_state=full, feedthrough=self.feedthrough,
                               method=self.method, substeps=self.substeps, hold=self.hold, adjoint=self.adjoint,
                               init_std=self.init_std)

    def _module_lure(self) -> LureSystem:
        # the module's clock counts samples (dt = 1): in seconds the vector field is f / dt
        lure = self.module_.to_lure()
        s = 1.0 / self.dt_
        return LureSystem(A=s * lure.A, B1=s * lure.B1, B2=s * lure.B2, C1=lure.C1, D12=lure.D12, C2=lure.C2,
                          D22=lure.D22, bx=s * lure.bx, bv=lure.bv, delta=lure.delta, dt=0.0)


class NeuralODEMatrix(_ODEEstimator):
    """The linear vector field ẋ = M x (+ N u), fitted through its exact ZOH discretization
    (matrix exponential, no integration bias) with L-BFGS in float64; ``M_`` is M in the
    exported coordinates."""

    _owner = "NeuralODEMatrix"
    _irregular_ok = False  # the exact discretization assumes one sampling period

    def __init__(self, nx: int | None = None, *, feedthrough: bool = False, epochs: int = 50, lr: float = 1.0,
                 optimizer: str = "lbfgs", loss: str = "simulation", horizon: int | None = None,
                 batch_size: int | None = None, loss_threshold: float | None = None, patience: int | None = None,
                 clip_grad: float | None = None, x0: str = "auto", normalize: str | None = "scale",
                 seed: int | None = 0, dtype: str = "float64", device: str | None = None, progress: bool = False):
        self.nx, self.feedthrough = nx, feedthrough
        self.epochs, self.lr, self.optimizer, self.loss, self.horizon = epochs, lr, optimizer, loss, horizon
        self.batch_size, self.loss_threshold, self.patience, self.clip_grad = batch_size, loss_threshold, patience, clip_grad
        self.x0, self.normalize, self.seed, self.dtype, self.device, self.progress = x0, normalize, seed, dtype, device, progress

    def _build_module(self, nu: int, ny: int):
        from ..models.node import NeuralODEMatrixModule

        check_int(self.nx, "nx", self._owner, allow_none=True)
        nx = self._nx(ny)
        full = self.nx is None or (nx == ny and not self.feedthrough)
        return NeuralODEMatrixModule(nx, nu, ny, dt=self.dt_, full_state=full, feedthrough=self.feedthrough)

    def _init_module(self, module, records) -> None:
        """Start from logm of the least-squares one-step transition (full-state data): for
        noise-free data this is already the answer, and it avoids the local minima of the
        matrix-exponential fit for fast rotations."""
        import torch

        if not self._full_state:
            return
        X0 = np.concatenate([y[:-1] for _, y in records])
        X1 = np.concatenate([y[1:] for _, y in records])
        U0 = np.concatenate([u[:-1] for u, _ in records])
        theta = np.linalg.lstsq(np.hstack([X0, U0]), X1, rcond=None)[0].T
        Ad = theta[:, : X0.shape[1]]
        L = logm(Ad)
        if np.all(np.isfinite(L)) and np.abs(np.imag(L)).max() < 1e-8:
            with torch.no_grad():
                module.M.copy_(torch.as_tensor(np.real(L) / self.dt_, dtype=module.M.dtype))

    @property
    def M_(self) -> np.ndarray:
        """M in the exported coordinates, shape (nx, nx)."""
        return self.to_lure().A
