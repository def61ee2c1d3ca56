"""Linear estimators with the common contract: :class:`N4SID` and :class:`ARX`."""

from __future__ import annotations

import control
import numpy as np

from ..core.lure import LureSystem
from ._base import BaseEstimator, check_int

__all__ = ["N4SID", "ARX"]


class _LinearEstimator(BaseEstimator):
    """Shared behaviour: the fitted model is ``system_`` (a control.StateSpace)."""

    def _set_system(self, system: control.StateSpace, data) -> None:
        exps = self._experiments(data)
        self.system_ = system
        self.nu_, self.ny_, self.dt_ = exps[0].nu, exps[0].ny, exps[0].dt

    def simulate(self, u, *, x0=None) -> np.ndarray:
        """Free-run simulation from ``x0`` (zeros by default); u (N, nu) → y (N, ny)."""
        u = self._check_input(u)
        return LureSystem.from_control(self.system_).simulate(u, x0)

    def to_lure(self) -> LureSystem:
        self._check_fitted()
        return LureSystem.from_control(self.system_)

    def linearize(self, *, x0=None, u0=None) -> control.StateSpace:
        """The identified StateSpace (a linear model is its own linearization)."""
        self._check_fitted()
        return self.system_

    def predict(self, data, *, horizon: int) -> np.ndarray:
        """k-step prediction. These are output-error models (no noise model), so, as in
        MATLAB, the k-step prediction equals the free-run simulation from the estimated
        initial state; use :func:`sysid.compare` with ``horizon=None`` to say so explicitly."""
        self._check_fitted()
        lure = self.to_lure()
        return lure.predict(data, horizon=horizon, K=np.zeros((lure.nx, lure.ny)),
                            x0=lure.estimate_x0(data))

    def _state(self):
        s = self.system_
        meta = {"nu": self.nu_, "ny": self.ny_, "dt": self.dt_}
        meta.update(self._extra_meta())
        return meta, {"A": np.asarray(s.A), "B": np.asarray(s.B), "C": np.asarray(s.C), "D": np.asarray(s.D),
                      **self._extra_arrays()}

    def _set_state(self, meta, arrays):
        self.system_ = control.ss(arrays["A"], arrays["B"], arrays["C"], arrays["D"], meta["dt"])
        self.nu_, self.ny_, self.dt_ = meta["nu"], meta["ny"], meta["dt"]
        self._restore_extra(meta, arrays)

    def _extra_meta(self) -> dict:
        return {}

    def _extra_arrays(self) -> dict:
        return {}

    def _restore_extra(self, meta, arrays) -> None:
        pass


class N4SID(_LinearEstimator):
    """Subspace identification (PO-MOESP or CVA), optionally refined by PEM.

    Parameters
    ----------
    nx : int, optional
        Model order (None: from the singular-value gap).
    horizon : int, optional
        Block rows of the Hankel matrix (default max(20, nx + 1)).
    weighting : {"moesp", "cva"}
    feedthrough : bool
    pem : bool
        Refine by output-error minimization (:func:`sysid.linear.pem`).
    stable : bool
        With ``pem``: keep the model stable.

    Attributes
    ----------
    system_ : control.StateSpace
    x0_ : ndarray (nx,) — initial state of the (first) training experiment
    singular_values_ : ndarray
    nx_ : int
    """

    def __init__(self, nx: int | None = None, *, horizon: int | None = None, weighting: str = "moesp",
                 feedthrough: bool = True, pem: bool = False, stable: bool = True):
        self.nx = nx
        self.horizon = horizon
        self.weighting = weighting
        self.feedthrough = feedthrough
        self.pem = pem
        self.stable = stable

    def fit(self, data, *, val=None) -> "N4SID":
        from ..linear import n4sid, pem

        check_int(self.nx, "nx", "N4SID", allow_none=True)
        check_int(self.horizon, "horizon", "N4SID", allow_none=True)
        res = n4sid(data, self.nx, horizon=self.horizon, weighting=self.weighting, feedthrough=self.feedthrough)
        system, x0 = res.system, res.x0
        if self.pem:
            refined = pem(data, system, stable=self.stable, feedthrough=self.feedthrough)
            system, x0 = refined.system, refined.x0
        self._set_system(system, data)
        self.x0_ = np.asarray(x0 if not isinstance(x0, list) else x0[0])
        self.singular_values_ = res.singular_values
        self.nx_ = res.nx
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
    """ARX model by least squares: y(t) + Σ A_i y(t−i) = Σ B_j u(t−nk−j).

    Parameters
    ----------
    na, nb, nk : int
        Output lags, input coefficients, input delay.

    Attributes
    ----------
    system_ : control.StateSpace
    A_ : ndarray (na, ny, ny), B_ : ndarray (nb, ny, nu)
    """

    def __init__(self, na: int = 2, nb: int = 2, nk: int = 1):
        self.na = na
        self.nb = nb
        self.nk = nk

    def fit(self, data, *, val=None) -> "ARX":
        from ..linear import arx

        res = arx(data, self.na, self.nb, self.nk)
        self._set_system(res.system, data)
        self.A_, self.B_ = res.A, res.B
        return self

    def _extra_arrays(self):
        return {"A_poly": self.A_, "B_poly": self.B_}

    def _restore_extra(self, meta, arrays):
        self.A_, self.B_ = arrays["A_poly"], arrays["B_poly"]
