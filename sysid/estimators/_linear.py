"""Linear estimators with the common contract: :class:`N4SID` and :class:`ARX`.

Every linear estimator keeps, beside ``system_`` (the input-output model, a
control.StateSpace), its innovations form ``innovations_ = (A, B, C, D, K)`` — K = 0 for
output-error models — from which ``predict`` and :func:`sysid.resid` compute one-step (or
k-step) prediction errors.
"""

from __future__ import annotations

import control
import numpy as np

from ..core.iodata import IOData, as_experiments
from ..core.lure import LureSystem
from ._base import BaseEstimator, check_int

__all__ = ["N4SID", "ARX"]


class _LinearEstimator(BaseEstimator):
    """Shared behaviour: the fitted model is ``system_`` (a control.StateSpace)."""

    def _set_system(self, system: control.StateSpace, data, innovations=None) -> None:
        exps = self._experiments(data)
        self.system_ = system
        self.nu_, self.ny_, self.dt_ = exps[0].nu, exps[0].ny, exps[0].dt
        if innovations is None:
            innovations = (np.asarray(system.A), np.asarray(system.B), np.asarray(system.C), np.asarray(system.D),
                           np.zeros((system.nstates, system.noutputs)))
        self.innovations_ = tuple(np.asarray(m, float) for m in innovations)
        self._set_state_prior(exps)

    def _set_state_prior(self, exps) -> None:
        """Mean and covariance of the model's states over the training records (free run from the
        least-squares initial states) and the per-output simulation-error variance: the prior of
        :meth:`estimate_x0` for short windows."""
        from ..linear._sim import batched_response

        A, B, C, D = (np.asarray(m, float) for m in (self.system_.A, self.system_.B, self.system_.C, self.system_.D))
        nx = A.shape[0]
        states, errors = [], []
        for d in exps:
            with np.errstate(all="ignore"):
                Xf = _states(self.system_, d.u, np.zeros(nx))  # forced states
                forced = Xf @ C.T + d.u @ D.T
                x0 = np.zeros(nx)
                if nx:
                    O = batched_response(A, np.zeros((nx, nx, d.N)), np.eye(nx), C=C).transpose(2, 0, 1).reshape(-1, nx)
                    if np.all(np.isfinite(O)) and np.all(np.isfinite(forced)):
                        x0 = np.linalg.lstsq(O, (d.y - forced).ravel(), rcond=None)[0]
                X = Xf + _states(self.system_, np.zeros_like(d.u), x0) if nx else Xf
                states.append(X)
                errors.append(d.y - X @ C.T - d.u @ D.T)
        X = np.concatenate(states) if states else np.zeros((0, nx))
        E = np.concatenate(errors)
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(E))):  # an unstable model: no usable prior
            self.state_mean_, self.state_cov_, self.error_var_ = None, None, None
            return
        self.state_mean_ = X.mean(axis=0) if len(X) else np.zeros(nx)
        self.state_cov_ = np.cov(X.T).reshape(nx, nx) if len(X) > 1 else np.eye(nx)
        self.error_var_ = np.maximum(np.mean(E**2, axis=0), 0.0)

    def estimate_x0(self, data: IOData, *, n: int | None = None) -> np.ndarray:
        """Initial state that best explains the first ``n`` samples (all by default), shape (nx,).

        Maximum a posteriori: the least-squares fit of the free response, weighted by the training
        simulation-error variance, with the distribution of the model's states over the training
        data as the prior (a Kalman-filter initialization). Over long windows this is the plain
        least-squares estimate; over short ones (e.g. 5 samples of a model with slow poles) the
        directions the window does not determine stay at the training operating point instead
        of at the steady state of the first input.
        """
        self._check_fitted()
        lure = self.to_lure()
        mean = getattr(self, "state_mean_", None)
        if mean is None or lure.nx == 0:
            return lure.estimate_x0(data, n=n)
        u, y = lure._data(data)
        if n is not None:
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"n must be a positive number of samples; got {n!r}.")
            if n > len(y):
                raise ValueError(f"n = {n} exceeds the record length {len(y)}.")
            u, y = u[:n], y[:n]
        nx, ny = lure.nx, lure.ny
        from ..linear._sim import batched_response

        A, C = np.asarray(self.system_.A, float), np.asarray(self.system_.C, float)
        O = batched_response(A, np.zeros((nx, nx, len(y))), np.eye(nx), C=C).transpose(2, 0, 1).reshape(-1, nx)
        r = (y - lure.simulate(u)).ravel()
        scale = np.sqrt(np.mean(self.error_var_)) if np.any(self.error_var_ > 0) else 0.0
        w = 1.0 / np.sqrt(np.maximum(np.tile(self.error_var_, len(y)), 1e-30 + (1e-6 * scale) ** 2))
        P = self.state_cov_ + 1e-9 * (np.trace(self.state_cov_) / nx + 1e-300) * np.eye(nx)
        try:
            L = np.linalg.cholesky(P)
        except np.linalg.LinAlgError:
            return lure.estimate_x0(data, n=n)
        Li = np.linalg.solve(L, np.eye(nx))
        M = np.vstack([O * w[:, None], Li])
        t = np.concatenate([r * w, Li @ self.state_mean_])
        if not (np.all(np.isfinite(M)) and np.all(np.isfinite(t))):
            return lure.estimate_x0(data, n=n)
        return np.linalg.lstsq(M, t, rcond=None)[0]

    def simulate(self, u, *, x0=None) -> np.ndarray:
        """Free-run simulation from ``x0`` (zeros by default); u (N, nu) → y (N, ny)."""
        u = self._check_input(u)
        return LureSystem.from_control(self.system_).simulate(u, x0)

    def to_lure(self) -> LureSystem:
        self._check_fitted()
        return LureSystem.from_control(self.system_)

    def linearize(self, *, x0=None, u0=None) -> control.StateSpace:
        """The identified StateSpace (a linear model is its own linearization at every point)."""
        self._check_fitted()
        for name, value, n in (("x0", x0, self.system_.nstates), ("u0", u0, self.nu_)):
            if value is not None and np.shape(value) != (n,):
                raise ValueError(f"{name} must have shape ({n},) for this {type(self).__name__}; got "
                                 f"{np.shape(value)}. A linear model has the same linearization everywhere, "
                                 f"so {name} may also be omitted.")
        return self.system_

    def prediction_errors(self, data: IOData) -> np.ndarray:
        """One-step prediction errors e(t) = y(t) − ŷ(t | t − 1) of the innovations form, shape (N, ny),
        from the least-squares initial state (for output-error models: the simulation error)."""
        from ..linear._pe import predictor_errors

        self._check_fitted()
        if not isinstance(data, IOData):
            raise TypeError(f"data must be a sysid.IOData; got {type(data).__name__}.")
        self._check_period(data)
        return predictor_errors(self.innovations_, self._check_input(data.u), _check_y(data.y, self.ny_))

    def predict(self, data, *, horizon: int) -> np.ndarray:
        """k-step prediction ŷ(t | t − k) from the innovations form (Kalman gain K of the noise
        model). For output-error models (K = 0, e.g. N4SID, OE) it equals the free-run simulation
        from the estimated initial state, as in MATLAB; :func:`sysid.compare` with ``horizon=None``
        says so explicitly."""
        self._check_fitted()
        A, B, C, D, K = self.innovations_
        if not np.any(K):
            lure = self.to_lure()
            return lure.predict(data, horizon=horizon, K=np.zeros((lure.nx, lure.ny)), x0=lure.estimate_x0(data))
        from ..linear._pe import predictor_x0

        lure = LureSystem.from_control(control.ss(A, B, C, D, self.dt_))
        lure._data(data)  # checks the channels and the sampling period
        x0 = predictor_x0(self.innovations_, data.u, data.y)
        return lure.predict(data, horizon=horizon, K=K, x0=x0)

    def _state(self):
        s = self.system_
        meta = {"nu": self.nu_, "ny": self.ny_, "dt": self.dt_}
        meta.update(self._extra_meta())
        Ai, Bi, Ci, Di, Ki = self.innovations_
        return meta, {"A": np.asarray(s.A), "B": np.asarray(s.B), "C": np.asarray(s.C), "D": np.asarray(s.D),
                      "inn_A": Ai, "inn_B": Bi, "inn_C": Ci, "inn_D": Di, "inn_K": Ki,
                      **({} if self.state_mean_ is None else {"state_mean": self.state_mean_, "state_cov": self.state_cov_,
                                                              "error_var": self.error_var_}),
                      **self._extra_arrays()}

    def _set_state(self, meta, arrays):
        self.system_ = control.ss(arrays["A"], arrays["B"], arrays["C"], arrays["D"], meta["dt"])
        self.nu_, self.ny_, self.dt_ = meta["nu"], meta["ny"], meta["dt"]
        if "inn_A" in arrays:
            self.innovations_ = tuple(arrays[k] for k in ("inn_A", "inn_B", "inn_C", "inn_D", "inn_K"))
        else:  # saved before the innovations form was kept
            s = self.system_
            self.innovations_ = (np.asarray(s.A), np.asarray(s.B), np.asarray(s.C), np.asarray(s.D),
                                 np.zeros((s.nstates, s.noutputs)))
        self.state_mean_ = self.state_cov_ = self.error_var_ = None
        if "state_mean" in arrays:
            self.state_mean_, self.state_cov_ = arrays["state_mean"], arrays["state_cov"]
            self.error_var_ = arrays["error_var"]
        self._restore_extra(meta, arrays)

    def _extra_meta(self) -> dict:
        return {}

    def _extra_arrays(self) -> dict:
        return {}

    def _restore_extra(self, meta, arrays) -> None:
        pass


def _states(system: control.StateSpace, u: np.ndarray, x0: np.ndarray) -> np.ndarray:
    from ..linear._sim import state_response

    A, B = np.asarray(system.A, float), np.asarray(system.B, float)
    return state_response(A, u @ B.T, x0)


def _check_y(y, ny):
    from ..core.iodata import as_signal

    return as_signal(np.asarray(y, float), "y", n_channels=ny)


class N4SID(_LinearEstimator):
    """Subspace identification (PO-MOESP or CVA), optionally refined by the prediction-error method.

    Parameters
    ----------
    nx : int, optional
        Model order, integrators included (None: selected by BIC on the simulation error among
        the orders the singular values allow, or by the error on ``val`` when given to ``fit``).
    horizon : int, optional
        Block rows of the Hankel matrix (default 20, at least nx/ny + 1, fewer for short records).
    weighting : {"moesp", "cva"}
    feedthrough : bool
    pem : bool
        Refine by the prediction-error method (:func:`sysid.linear.pem`, analytic gradients).
    stable : bool, optional
        True: the N4SID model is made stable (Maciejowski) and PEM keeps it stable (for
        ``noise=True``: keeps the predictor stable); False: no constraint. None (default): the
        plain N4SID model is unconstrained; with ``pem`` the start is made stable and PEM keeps it so.
    integrator : bool
        The plant integrates (one integrator per output): identify on differenced outputs and
        keep exact integrators at z = 1, also through PEM.
    noise : bool
        With ``pem``: estimate a Kalman gain (innovations form, one-step prediction-error
        criterion) instead of the output-error criterion.
    max_order : int, optional
        Largest order of the automatic selection.

    Attributes
    ----------
    system_ : control.StateSpace
    innovations_ : tuple (A, B, C, D, K)
    x0_ : ndarray (nx,) — initial state of the (first) training experiment
    singular_values_ : ndarray
    nx_ : int
    result_ : N4SIDResult — diagnostics (input conditioning, order scores, feedback check)
    pem_ : PEMResult or None
    """

    def __init__(self, nx: int | None = None, *, horizon: int | None = None, weighting: str = "moesp",
                 feedthrough: bool = True, pem: bool = False, stable: bool | None = None,
                 integrator: bool = False, noise: bool = False, max_order: int | None = None):
        self.nx = nx
        self.horizon = horizon
        self.weighting = weighting
        self.feedthrough = feedthrough
        self.pem = pem
        self.stable = stable
        self.integrator = integrator
        self.noise = noise
        self.max_order = max_order

    def fit(self, data, *, val=None) -> "N4SID":
        from ..linear import n4sid, pem

        check_int(self.nx, "nx", "N4SID", allow_none=True)
        check_int(self.horizon, "horizon", "N4SID", allow_none=True)
        check_int(self.max_order, "max_order", "N4SID", allow_none=True)
        if self.stable not in (None, True, False):
            raise ValueError(f"The 'stable' parameter of N4SID must be True, False or None. Got {self.stable!r} instead.")
        exps = as_experiments(data)
        # a stable-constrained PEM starts from a stable subspace model (Maciejowski), not a shrunk one
        stable_start = bool(self.stable) or (self.pem and self.stable is None)
        res = n4sid(exps, self.nx, horizon=self.horizon, weighting=self.weighting, feedthrough=self.feedthrough,
                    stable=stable_start, integrator=self.integrator, max_order=self.max_order, val=val)
        system, x0 = res.system, res.x0
        K = np.zeros((system.nstates, system.noutputs))
        self.pem_ = None
        if self.pem:
            refined = pem(exps, system, stable=self.stable is not False, feedthrough=self.feedthrough,
                          integrators=system.noutputs if self.integrator else 0, noise=self.noise)
            self.pem_ = refined
            system, x0, K = refined.system, refined.x0, refined.K
        self._set_system(system, exps, innovations=(system.A, system.B, system.C, system.D, K))
        self.x0_ = np.asarray(x0 if not isinstance(x0, list) else x0[0])
        self.singular_values_ = res.singular_values
        self.nx_ = res.nx
        self.result_ = res
        return self

    def _extra_meta(self):
        return {"nx": int(self.nx_)}

    def _extra_arrays(self):
        return {"x0": self.x0_, "singular_values": self.singular_values_}

    def _restore_extra(self, meta, arrays):
        self.nx_ = meta["nx"]
        self.x0_ = arrays["x0"]
        self.singular_values_ = arrays["singular_values"]


class ARX(_LinearEstimator):
    """ARX model by least squares: y(t) + Σ A_i y(t−i) = Σ B_j u(t−nk−j) + e(t).

    Parameters
    ----------
    na, nb, nk : int
        Output lags, input coefficients, input delay.

    Attributes
    ----------
    system_ : control.StateSpace
    innovations_ : tuple (A, B, C, D, K) — the predictor is the ARX regression itself
    A_ : ndarray (na, ny, ny), B_ : ndarray (nb, ny, nu)
    """

    def __init__(self, na: int = 2, nb: int = 2, nk: int = 1):
        self.na = na
        self.nb = nb
        self.nk = nk

    def fit(self, data, *, val=None) -> "ARX":
        from ..linear import arx

        res = arx(data, self.na, self.nb, self.nk)
        s = res.system
        ny = s.noutputs
        # block observer form: the noise model 1/A(q) has K = (first block column of A) = −A_i blocks
        K = np.asarray(s.A)[:, :ny].copy() if s.nstates else np.zeros((0, ny))
        self._set_system(s, data, innovations=(s.A, s.B, s.C, s.D, K))
        self.A_, self.B_ = res.A, res.B
        return self

    def _extra_arrays(self):
        return {"A_poly": self.A_, "B_poly": self.B_}

    def _restore_extra(self, meta, arrays):
        self.A_, self.B_ = arrays["A_poly"], arrays["B_poly"]
