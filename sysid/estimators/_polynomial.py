"""Polynomial prediction-error estimators with the common contract: :class:`OE`, :class:`ARMAX`, :class:`BJ`."""

from __future__ import annotations

import control
import numpy as np

from ._base import check_int
from ._linear import _LinearEstimator

__all__ = ["OE", "ARMAX", "BJ"]


class _PolynomialEstimator(_LinearEstimator):
    """Shared fitting and state of the SISO polynomial models (:mod:`sysid.linear._polynomial`)."""

    _orders: tuple[str, ...] = ()
    _minimum = {"nb": 1}

    def _check(self):
        owner = type(self).__name__
        for name in self._orders:
            check_int(getattr(self, name), name, owner, minimum=self._minimum.get(name, 0))
        check_int(self.max_nfev, "max_nfev", owner)
        if self.x0 not in ("estimate", "zero"):
            raise ValueError(f"The 'x0' parameter of {owner} must be 'estimate' or 'zero'. Got {self.x0!r} instead.")

    def _store(self, res, data):
        self._set_system(res.system, data, innovations=res.innovations)
        self.result_ = res
        for key in ("A", "B", "C", "D", "F"):
            setattr(self, f"{key}_", getattr(res, key))
        self.std_ = res.std
        self.covariance_ = res.covariance
        self.noise_variance_ = res.noise_variance
        self.x0_ = np.asarray(res.x0 if not isinstance(res.x0, list) else res.x0[0])
        return self

    @property
    def tf_(self) -> control.TransferFunction:
        """The input-output part B(q) q^−nk / (A(q) F(q)) as a transfer function in z."""
        self._check_fitted()
        return control.ss2tf(self.system_)

    def _extra_arrays(self):
        out = {f"poly_{k}": getattr(self, f"{k}_") for k in ("A", "B", "C", "D", "F")}
        out["x0"] = self.x0_
        out["noise_variance"] = np.array(self.noise_variance_)
        for k, v in self.std_.items():
            out[f"std_{k}"] = v
        return out

    def _restore_extra(self, meta, arrays):
        for k in ("A", "B", "C", "D", "F"):
            setattr(self, f"{k}_", arrays[f"poly_{k}"])
        self.x0_ = arrays["x0"]
        self.noise_variance_ = float(arrays["noise_variance"])
        self.std_ = {k[4:]: v for k, v in arrays.items() if k.startswith("std_")}
        self.covariance_ = None


class OE(_PolynomialEstimator):
    """Output-error model y = B(q)/F(q) u(t − nk) + e(t) by the prediction-error method (SISO).

    Parameters
    ----------
    nb, nf, nk : int
        Number of B coefficients (>= 1), order of F, input delay.
    stable : bool
        Keep F stable.
    max_nfev : int
        Budget of criterion evaluations of the Gauss–Newton / trust-region search.
    x0 : {"estimate", "zero"}
        Estimate the initial state of each training experiment, or start at rest.

    Attributes
    ----------
    system_ : control.StateSpace
    B_, F_ : ndarray — coefficients in powers of q⁻¹ (F_ with its leading 1)
    std_ : dict — standard errors of the coefficients
    covariance_ : ndarray
    noise_variance_ : float
    result_ : PolynomialResult
    """

    _orders = ("nb", "nf", "nk")

    def __init__(self, nb: int = 2, nf: int = 2, nk: int = 1, *, stable: bool = True, max_nfev: int = 100,
                 x0: str = "estimate"):
        self.nb, self.nf, self.nk = nb, nf, nk
        self.stable, self.max_nfev, self.x0 = stable, max_nfev, x0

    def fit(self, data, *, val=None) -> "OE":
        from ..linear import oe

        self._check()
        return self._store(oe(data, self.nb, self.nf, self.nk, stable=self.stable, max_nfev=self.max_nfev,
                              x0=self.x0), data)


class ARMAX(_PolynomialEstimator):
    """ARMAX model A(q) y = B(q) u(t − nk) + C(q) e by the prediction-error method (SISO).

    Parameters
    ----------
    na, nb, nc, nk : int
    stable : bool
        Keep the predictor stable (roots of C inside the unit circle).
    max_nfev : int
    x0 : {"estimate", "zero"}

    Attributes
    ----------
    system_ : control.StateSpace — B/A
    innovations_ : tuple (A, B, C, D, K)
    A_, B_, C_ : ndarray
    std_, covariance_, noise_variance_, result_
    """

    _orders = ("na", "nb", "nc", "nk")

    def __init__(self, na: int = 2, nb: int = 2, nc: int = 2, nk: int = 1, *, stable: bool = True,
                 max_nfev: int = 100, x0: str = "estimate"):
        self.na, self.nb, self.nc, self.nk = na, nb, nc, nk
        self.stable, self.max_nfev, self.x0 = stable, max_nfev, x0

    def fit(self, data, *, val=None) -> "ARMAX":
        from ..linear import armax

        self._check()
        return self._store(armax(data, self.na, self.nb, self.nc, self.nk, stable=self.stable,
                                 max_nfev=self.max_nfev, x0=self.x0), data)


class BJ(_PolynomialEstimator):
    """Box–Jenkins model y = B/F u(t − nk) + C/D e by the prediction-error method (SISO).

    Parameters
    ----------
    nb, nc, nd, nf, nk : int
    stable : bool
        Keep the predictor stable (roots of F and C inside the unit circle).
    max_nfev : int
    x0 : {"estimate", "zero"}

    Attributes
    ----------
    system_ : control.StateSpace — B/F
    innovations_ : tuple (A, B, C, D, K)
    B_, C_, D_, F_ : ndarray
    std_, covariance_, noise_variance_, result_
    """

    _orders = ("nb", "nc", "nd", "nf", "nk")

    def __init__(self, nb: int = 2, nc: int = 2, nd: int = 2, nf: int = 2, nk: int = 1, *, stable: bool = True,
                 max_nfev: int = 100, x0: str = "estimate"):
        self.nb, self.nc, self.nd, self.nf, self.nk = nb, nc, nd, nf, nk
        self.stable, self.max_nfev, self.x0 = stable, max_nfev, x0

    def fit(self, data, *, val=None) -> "BJ":
        from ..linear import bj

        self._check()
        return self._store(bj(data, self.nb, self.nc, self.nd, self.nf, self.nk, stable=self.stable,
                              max_nfev=self.max_nfev, x0=self.x0), data)
