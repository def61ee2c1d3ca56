"""Neural and matrix state-space estimators: :class:`NeuralNetStep`, :class:`MatrixStep`,
:class:`NeuralODE`, :class:`NeuralODEMatrix`."""

from __future__ import annotations

import numpy as np
from scipy.linalg import logm

from ._base import check_int
from ._neural_base import NeuralEstimator, discrete_to_continuous, linear_start

__all__ = ["NeuralNetStep", "MatrixStep", "NeuralODE", "NeuralODEMatrix"]


class _StepEstimator(NeuralEstimator):
    @property
    def _full_state(self) -> bool:
        ny = getattr(self, "ny_", None)
        return self.nx is None or (ny is not None and self.nx == ny and not self.feedthrough)

    def _nx(self, ny: int) -> int:
        return ny if self.nx is None else self.nx

    def _is_full(self, nx: int, ny: int) -> bool:
        return self.nx is None or (nx == ny and not self.feedthrough)

    def _linear_model(self, module, records):
        full = self._is_full(module.nx, module.ny)
        return linear_start(records, module.nx, full_state=full, feedthrough=bool(self.feedthrough), dt=self.dt_)

    def _init_linear(self, module, records, generator) -> None:
        A, B, C, D = self._linear_model(module, records)
        module.init_linear(A, B, C, D, generator=generator)


class NeuralNetStep(_StepEstimator):
    """One-step neural state-space model x(k+1) = [x(k)] + [A x(k) + B u(k)] + W2 tanh(W1 x(k) + U u(k) + b1) + b2.

    With ``nx=None`` (default) the state is the output (y = x, the seed's full-state case) and
    each training window starts from the measured output. With ``nx > ny`` the output is
    y = C x (+ D u), and each window starts from the state the model reaches there (``x0="auto"``).

    With ``init="linear"`` (default) the model has the linear part A x + B u and starts as the
    linear model fitted to the data (N4SID of order nx, or least squares when y = x), the
    network adding nothing at first; ``init="random"`` is the seed's network alone, weights
    N(0, init_std²), biases 0.

    Parameters
    ----------
    nx : int, optional
        State dimension (default ny).
    hidden : int
        Neurons of the hidden layer.
    init_std : float
        Standard deviation of the initial weights with ``init="random"`` (the seed: 0.01).
    feedthrough : bool
        A direct term D (only with nx > ny).
    residual : bool
        x(k+1) = x(k) + ... (an identity in A): suits finely sampled plants.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings, declared once in :class:`sysid.training.TrainConfig`
        (see there and docs/training.md).

    Examples
    --------
    >>> from sysid import datasets
    >>> from sysid.estimators import NeuralNetStep
    >>> d = datasets.fourth_order_plant(N=300, n_test=50)
    >>> est = NeuralNetStep(nx=4, epochs=3).fit(d.train)
    >>> est.simulate(d.test.u).shape
    (50, 1)
    """

    _owner = "NeuralNetStep"

    def __init__(self, nx: int | None = None, *, hidden: int = 32, init_std: float = 0.01, feedthrough: bool = False,
                 residual: bool = False, **settings):
        self.nx, self.hidden, self.init_std, self.feedthrough = nx, hidden, init_std, feedthrough
        self.residual = residual
        super().__init__(**settings)

    def _build_module(self, nu: int, ny: int):
        from ..models.step import StepModule

        check_int(self.hidden, "hidden", self._owner)
        check_int(self.nx, "nx", self._owner, allow_none=True)
        nx = self._nx(ny)
        full = self._is_full(nx, ny)
        if not full and nx < ny:
            raise ValueError(f"The 'nx' parameter of NeuralNetStep must be >= ny = {ny}. Got {nx} instead.")
        return StepModule(nx, nu, ny, hidden=self.hidden, full_state=full, feedthrough=self.feedthrough,
                          init_std=self.init_std, residual=self.residual, linear=self.init == "linear")


_LINEAR_SEED = dict(optimizer="lbfgs", lr=1.0, loss="simulation", epochs=50, normalize="scale", batch_size=None,
                    val_fraction=0.0, patience=None, clip_grad=None, horizon=None)


class MatrixStep(_StepEstimator):
    """The seed's matrix model x(k+1) = B̂ x(k) (+ B̂u u(k)), y = x (or y = C x with ``nx > ny``).

    Trained in float64 with L-BFGS on whole records by default (its ``_train_defaults``);
    ``init="linear"`` starts from least squares (y = x) or N4SID, ``"random"`` from B̂ = I.
    ``B_hat_`` is B̂ in the exported (physical) coordinates; ``linearize().A`` equals it exactly
    and ``continuous_A_`` = logm(B̂)/Δt.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings, declared once in :class:`sysid.training.TrainConfig`
        (see there and docs/training.md).
    """

    _owner = "MatrixStep"
    _train_defaults = _LINEAR_SEED

    def __init__(self, nx: int | None = None, *, feedthrough: bool = False, **settings):
        self.nx, self.feedthrough = nx, feedthrough
        super().__init__(**settings)

    def _build_module(self, nu: int, ny: int):
        from ..models.step import MatrixStepModule

        check_int(self.nx, "nx", self._owner, allow_none=True)
        nx = self._nx(ny)
        return MatrixStepModule(nx, nu, ny, full_state=self._is_full(nx, ny), feedthrough=self.feedthrough)

    def _init_linear(self, module, records, generator) -> None:
        import torch

        A, B, C, D = self._linear_model(module, records)
        with torch.no_grad():
            t = lambda a: torch.as_tensor(a, dtype=module.B_hat.dtype)  # noqa: E731
            module.B_hat.copy_(t(A))
            module.B_u.copy_(t(B))
            if isinstance(module.C, torch.nn.Parameter):
                module.C.copy_(t(C))
            if module.D is not None:
                module.D.copy_(t(D))

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


class NeuralODE(_ODEEstimator):
    """Continuous-time neural state-space model ẋ = [A x + B u] + W2 tanh(W1 x + U u + b1) + b2, y = x or C x.

    Each sample interval is integrated with the input held (``hold="zoh"``) or interpolated
    linearly (``"foh"``): fixed-step RK4 with ``substeps`` steps per interval by default (a
    plain loop), or adaptive ``dopri5`` from torchdiffeq (``adjoint=True`` for adjoint
    gradients). Irregularly sampled records (IOData with ``t``) are accepted, and
    ``simulate(u, t=...)`` takes sample times. With ``init="linear"`` (default) the model has
    the linear part A x + B u and starts as the continuous-time equivalent (ZOH) of the linear
    model fitted to the data. ``to_lure()`` is a continuous LureSystem (dt = 0) and
    ``linearize()`` a continuous StateSpace.

    Parameters
    ----------
    nx, hidden, init_std, feedthrough
        As :class:`NeuralNetStep`.
    method : {"rk4", "euler", "dopri5"}
    substeps : int
        Fixed steps per sample interval.
    hold : {"zoh", "foh"}
    adjoint : bool
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings, declared once in :class:`sysid.training.TrainConfig`
        (see there and docs/training.md).
    """

    _owner = "NeuralODE"

    def __init__(self, nx: int | None = None, *, hidden: int = 32, init_std: float = 0.1, feedthrough: bool = False,
                 method: str = "rk4", substeps: int = 1, hold: str = "zoh", adjoint: bool = False, **settings):
        self.nx, self.hidden, self.init_std, self.feedthrough = nx, hidden, init_std, feedthrough
        self.method, self.substeps, self.hold, self.adjoint = method, substeps, hold, adjoint
        super().__init__(**settings)

    def _build_module(self, nu: int, ny: int):
        from ..models.node import NeuralODEModule

        check_int(self.hidden, "hidden", self._owner)
        check_int(self.substeps, "substeps", self._owner)
        nx = self._nx(ny)
        # time is measured in sample periods inside the module; to_lure(dt_) rescales it
        return NeuralODEModule(nx, nu, ny, dt=1.0, hidden=self.hidden, full_state=self._is_full(nx, ny),
                               feedthrough=self.feedthrough, method=self.method, substeps=self.substeps,
                               hold=self.hold, adjoint=self.adjoint, init_std=self.init_std,
                               linear=self.init == "linear")

    def _init_linear(self, module, records, generator) -> None:
        A, B, C, D = self._linear_model(module, records)
        Ac, Bc = discrete_to_continuous(A, B)
        module.init_linear(Ac, Bc, C, D, generator=generator)


class NeuralODEMatrix(_ODEEstimator):
    """The linear vector field ẋ = M x (+ N u), fitted through its exact ZOH discretization
    (matrix exponential, no integration bias) with L-BFGS in float64; ``M_`` is M in the
    exported coordinates. ``init="linear"`` starts from the continuous-time equivalent of the
    least-squares (y = x) or N4SID model.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings, declared once in :class:`sysid.training.TrainConfig`
        (see there and docs/training.md).
    """

    _owner = "NeuralODEMatrix"
    _irregular_ok = False  # the exact discretization assumes one sampling period
    _train_defaults = _LINEAR_SEED

    def __init__(self, nx: int | None = None, *, feedthrough: bool = False, **settings):
        self.nx, self.feedthrough = nx, feedthrough
        super().__init__(**settings)

    def _build_module(self, nu: int, ny: int):
        from ..models.node import NeuralODEMatrixModule

        check_int(self.nx, "nx", self._owner, allow_none=True)
        nx = self._nx(ny)
        return NeuralODEMatrixModule(nx, nu, ny, dt=self.dt_, full_state=self._is_full(nx, ny),
                                     feedthrough=self.feedthrough)

    def _init_linear(self, module, records, generator) -> None:
        """Start from logm of the linear model's transition: for noise-free full-state data this is
        already the answer, and it avoids the local minima of the matrix-exponential fit for fast
        rotations."""
        import torch

        A, B, C, D = self._linear_model(module, records)
        Ac, Bc = discrete_to_continuous(A, B)
        with torch.no_grad():
            t = lambda a: torch.as_tensor(a, dtype=module.M.dtype)  # noqa: E731
            module.M.copy_(t(Ac) / self.dt_)
            module.N.copy_(t(Bc) / self.dt_)
            if isinstance(module.C, torch.nn.Parameter):
                module.C.copy_(t(C))
            if module.D is not None:
                module.D.copy_(t(D))

    @property
    def M_(self) -> np.ndarray:
        """M in the exported coordinates, shape (nx, nx)."""
        return self.to_lure().A
