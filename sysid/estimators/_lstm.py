"""LSTM estimator: trained by the shared engine, read back as an LTI model by linearization."""

from __future__ import annotations

import control
import numpy as np
from scipy import optimize

from ._base import check_int
from ._neural_base import NeuralEstimator

__all__ = ["LSTM", "linearize_lstm"]



def linearize_lstm(module, u0=None, **kwargs) -> control.StateSpace:
    """See :func:`sysid.models.linearize_lstm` (re-exported here for convenience)."""
    from ..models.lstm_lti import linearize_lstm as _linearize

    return _linearize(module, u0, **kwargs)


class LSTM(NeuralEstimator):
    """LSTM state-space model: ``torch.nn.LSTM`` + linear read-out y_t = F h_t (docs/math.md §5.1),
    trained by :func:`sysid.training.train` on normalized data.

    The state is (h, c) of every layer, flattened (nx = 2 · n_units · layers). An LSTM is not a
    Lur'e system (its gates multiply), so :meth:`to_lure` is not available; :meth:`linearize`
    finds the equilibrium (h*, c*) for a constant input and linearizes there by autograd, in
    physical units. For LSTMs whose weights are calculated from an LTI model see
    :func:`sysid.models.lstm_from_lti` and :func:`sysid.models.lti_from_lstm`.

    Parameters
    ----------
    n_units : int
        Hidden units per layer.
    layers : int
        Stacked LSTM layers.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    init, normalize, seed, dtype, device, progress
        The shared training settings, declared once in :class:`sysid.training.TrainConfig`
        (docs/training.md). ``init="linear"`` (the default) starts from an N4SID model (order
        from its singular values): its nx + nu units get the calculated weights of
        :func:`sysid.models.lstm_from_lti` (gates saturated, amplitude 1e-3: linear to ~1e-4)
        and the other units read out nothing at first, so the LSTM starts as that linear model
        (the warm-up of the learning rate keeps Adam's first steps from throwing it off);
        ``init="random"`` is torch's initialization. ``x0="auto"`` starts every window from the state
        the LSTM reaches there (``"simulated"``); ``"burn_in"`` runs it over ``burn_in`` past
        samples first — the way it is then used: ``compare(est, data, skip=burn_in)`` or
        ``simulate(u, x0=est.burn_in_state(u_past))``. Its validation windows start from a burn-in
        (``val_x0="burn_in"``, the one default it changes): its 2 · n_units states, run from rest
        along the whole training record, can carry that record's trajectory, so the held-out
        blocks between trained pieces scored from that state stop training long before the
        error on a new record stops falling (docs/training.md).

    Examples
    --------
    >>> from sysid import datasets
    >>> d = datasets.fourth_order_plant(N=200, n_test=50)
    >>> est = LSTM(n_units=4, epochs=2).fit(d.train)
    >>> est.simulate(d.test.u).shape
    (50, 1)
    """

    _owner = "LSTM"
    _train_defaults = {"val_x0": "burn_in"}

    _inits = ("linear", "random")

    def __init__(self, n_units: int = 16, *, layers: int = 1, **settings):
        self.n_units, self.layers = n_units, layers
        super().__init__(**settings)

    # ------------------------------------------------------------------ hooks of NeuralEstimator
    def _build_module(self, nu: int, ny: int):
        from ..models.lstm import LSTMModule

        if nu == 0:
            raise ValueError("LSTM needs at least one input channel (torch.nn.LSTM reads u); got data with nu = 0. "
                             "For an autonomous series use NeuralNetStep or NeuralODE.")
        check_int(self.n_units, "n_units", self._owner)
        check_int(self.layers, "layers", self._owner)
        return LSTMModule(nu, ny, n_units=self.n_units, layers=self.layers)

    def _init_linear(self, module, records, generator) -> None:
        import control
        import torch

        from ..models.lstm_lti import lstm_from_lti
        from ._neural_base import NoLinearStart, linear_start

        if self.layers != 1:
            raise NoLinearStart("the linear start of an LSTM needs layers=1")
        order, lin = None, None
        while lin is None:  # a non-minimal N4SID model (noise-free data): the next lower order
            A, B, C, D = linear_start(records, order, full_state=False, feedthrough=True, dt=self.dt_)
            try:
                lin = lstm_from_lti(control.ss(A, B, C, D, self.dt_), scale=1e-3, dtype=module.readout.weight.dtype)
            except ValueError as err:
                if A.shape[0] <= 1:
                    raise NoLinearStart(str(err)) from None
                order = A.shape[0] - 1
        k, n = lin.n_units, module.n_units
        if k > n:
            raise NoLinearStart(f"the linear model needs nx + nu = {k} units; the LSTM has n_units = {n}")
        src, dst = lin.lstm, module.lstm
        with torch.no_grad():
            for g in range(4):  # gate blocks i, f, g, o
                rows, lrows = slice(g * n, g * n + k), slice(g * k, (g + 1) * k)
                dst.weight_ih_l0[rows] = src.weight_ih_l0[lrows]
                dst.weight_hh_l0[rows] = 0.0
                dst.weight_hh_l0[rows, :k] = src.weight_hh_l0[lrows]
                dst.bias_ih_l0[rows] = src.bias_ih_l0[lrows] + src.bias_hh_l0[lrows]
                dst.bias_hh_l0[rows] = 0.0
            module.readout.weight.zero_()
            module.readout.weight[:, :k] = lin.readout.weight

    # ------------------------------------------------------------------ export
    def to_lure(self):
        """Not available: an LSTM is not a Lur'e system (its gates multiply). Use :meth:`linearize`."""
        raise NotImplementedError("an LSTM is not a Lur'e system (its gates multiply); use linearize() for a local "
                                  "LTI model.")

    def linearize(self, *, x0=None, u0=None) -> control.StateSpace:
        """Jacobian linearization in physical units (docs/math.md §6.3).

        Parameters
        ----------
        x0 : array_like, shape (nx,), optional
            Linearize at this state (h, c); by default at the equilibrium for ``u0``.
        u0 : array_like, shape (nu,), optional
            Constant input in physical units; zeros by default.

        Returns
        -------
        control.StateSpace
            Order 2 · n_units · layers, dt = the training dt; the normalization is folded in
            (B / σu, σy C, σy D / σu), so poles, zeros and DC gain are physical.
        """
        from ..models.lstm_lti import linearize_lstm as _linearize

        self._check_fitted()
        u0 = np.zeros(self.nu_) if u0 is None else np.asarray(u0, dtype=float).reshape(-1)
        if u0.shape != (self.nu_,):
            raise ValueError(f"u0 must have shape (nu,) = ({self.nu_},); got {u0.shape}.")
        lin = _linearize(self.module_, (u0 - self.u_mean_) / self.u_std_, x0=x0, dt=self.dt_)
        su, sy = self.u_std_, self.y_std_
        return control.ss(lin.A, lin.B / su[None, :], sy[:, None] * lin.C, sy[:, None] * lin.D / su[None, :], self.dt_)

    def equilibrium(self, u0=None) -> tuple[np.ndarray, np.ndarray]:
        """Equilibrium for a constant physical input: (x* (nx,), y* (ny,)) with y* physical."""
        from ..models.lstm_lti import lstm_equilibrium

        self._check_fitted()
        u0 = np.zeros(self.nu_) if u0 is None else np.asarray(u0, dtype=float).reshape(-1)
        if u0.shape != (self.nu_,):
            raise ValueError(f"u0 must have shape (nu,) = ({self.nu_},); got {u0.shape}.")
        x = lstm_equilibrium(self.module_, (u0 - self.u_mean_) / self.u_std_)
        return x, self.simulate(u0[None], x0=x)[0]

    # ------------------------------------------------------------------ initial states
    def burn_in_state(self, u_past, *, x0=None) -> np.ndarray:
        """The state (h, c) reached from ``x0`` (zero by default) after the inputs ``u_past`` (N, nu).

        Pass it as ``simulate(u, x0=...)`` to continue from the end of that record.
        """
        import torch

        self._check_fitted()
        u = self._check_input(u_past)
        p = next(self.module_.parameters())
        nx = self.module_.nx
        x = np.zeros(nx) if x0 is None else np.asarray(x0, dtype=float).reshape(-1)
        if x.shape != (nx,):
            raise ValueError(f"x0 must have shape (nx,) = ({nx},); got {x.shape}.")
        if len(u) == 0:
            return x.copy()
        with torch.no_grad():
            un = torch.tensor((u - self.u_mean_) / self.u_std_, dtype=p.dtype, device=p.device)[None]
            xt = torch.tensor(x, dtype=p.dtype, device=p.device)[None]
            _, (h, c) = self.module_.lstm(un, self.module_.split_state(xt))
            return self.module_.join_state(h, c)[0].cpu().numpy()

    def estimate_x0(self, data, *, n: int | None = None, x_init=None, ridge: float = 1e-3) -> np.ndarray:
        """Initial (h, c) that best explains the first ``n`` samples of ``data`` (all by default); shape (nx,).

        Nonlinear least squares in the normalized output units the LSTM trains in, with batched
        central-difference Jacobians, started from ``x_init`` (zero by default). The state has
        2 · n_units · layers components and a short window rarely determines them all (with n
        samples of ny outputs, at most n · ny directions), so ``ridge`` · ‖x − x_init‖² is added:
        the undetermined directions stay at the prior instead of wandering wherever the search
        leaves them. The default 1e-3 weighs a unit state change like an output error of 0.03
        standard deviations; ``ridge=0`` is plain least squares.
        """
        self._check_fitted()
        u = self._check_input(data.u)
        y = data.y
        if n is not None:
            u, y = u[:n], y[:n]
        if not (isinstance(ridge, (int, float, np.integer, np.floating)) and np.isfinite(ridge) and ridge >= 0):
            raise ValueError(f"ridge must be a finite float >= 0; got {ridge!r}.")

        import torch

        nx = self.module_.nx
        p = next(self.module_.parameters())
        un = torch.tensor((u - self.u_mean_) / self.u_std_, dtype=p.dtype, device=p.device)[None]
        yn = (y - self.y_mean_) / self.y_std_
        start = np.zeros(nx) if x_init is None else np.asarray(x_init, dtype=float).reshape(nx)
        w = float(np.sqrt(ridge))

        def run(Z):  # normalized outputs from the initial states Z (B, nx): (B, n, ny)
            with torch.no_grad():
                x0 = torch.tensor(Z, dtype=p.dtype, device=p.device)
                return self.module_(un.expand(len(Z), -1, -1), x0).cpu().numpy()

        def residual(z):
            return np.concatenate([(run(z[None])[0] - yn).ravel(), w * (z - start)])

        def jacobian(z):  # central differences, all 2 nx perturbed runs in one batch
            h = 1e-6 * max(1.0, float(np.abs(z).max()))
            Y = run(np.concatenate([z + h * np.eye(nx), z - h * np.eye(nx)]))
            return np.vstack([((Y[:nx] - Y[nx:]) / (2 * h)).reshape(nx, -1).T, w * np.eye(nx)])

        # from a warm start (k-step prediction carries the previous estimate forward) a few
        # Gauss-Newton steps suffice; from zero the search may need many
        return optimize.least_squares(residual, start, jac=jacobian, max_nfev=50 * nx if x_init is None else 5).x
