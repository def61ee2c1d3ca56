"""REN estimator: identify a recurrent equilibrium network that is contracting (or γ-Lipschitz,
or (Q, S, R)-dissipative) by construction, export it exactly, and hand back its certificate.

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE Trans. Automatic Control, 2023.
"""

from __future__ import annotations

import numpy as np

from ..core.iodata import as_signal
from ._neural_base import NeuralEstimator
from ._ren_export import physical_certificate_data

__all__ = ["REN"]



class REN(NeuralEstimator):
    """Recurrent equilibrium network (direct parameterization), trained on simulation error by
    the shared engine (:func:`sysid.training.train`).

    The model works on normalized signals (training mean / std); everything exported
    (:meth:`to_lure`, :meth:`linearize`, :meth:`certificate`) is in physical units. Every
    parameter value is a valid REN, so the certificate holds during and after training.

    Parameters
    ----------
    nx : int
        Number of states.
    nv : int
        Number of neurons of the equilibrium layer.
    kind : {"contracting", "lipschitz", "iqc"}
        Property built into the parameterization.
    gamma : float, optional
        Lipschitz bound of the *normalized* model (``kind="lipschitz"``). In physical units the
        incremental ℓ2 gain is at most ``gamma_phys_ = gamma · max(σy) / min(σu)`` (σ: training
        standard deviations); :meth:`certificate` certifies ``gamma_phys_``.
    Q, S, R : array_like, shapes (ny, ny), (nu, ny), (nu, nu), optional
        Incremental IQC of the normalized model (``kind="iqc"``), Q ≺ 0, R − SQ⁻¹Sᵀ ≻ 0.
        The exported system satisfies it with Sy⁻¹QSy⁻¹, Su⁻¹SSy⁻¹, Su⁻¹RSu⁻¹.
    rate : float
        Contraction-rate bound ᾱ ∈ (0, 1].
    activation : {"relu", "tanh"}
    polar : bool
        Polar parameterization of H.
    init : {"linear", "long_memory", "random"}
        Initialization: "linear" (default) starts from an N4SID model of order ``nx`` fitted to
        the normalized training data (:meth:`sysid.models.RENModule.init_from_linear`; exact for
        contracting RENs); "long_memory" / "random" see :class:`sysid.models.RENModule`.
    epochs, max_time, optimizer, lr, lr_decay, warmup, average, batch_size, loss, horizon, x0,
    burn_in, val_x0, val_fraction, refit, patience, restore_best, loss_threshold, clip_grad, divergence_factor,
    normalize, seed, dtype, device, progress
        The shared training settings, declared once in :class:`sysid.training.TrainConfig`
        (docs/training.md). ``x0="auto"`` starts every window from the state the current REN
        reaches there when it simulates the whole record from rest (``"simulated"``: truncated
        back-propagation through time), which suits lightly damped plants whose transients
        outlast any short burn-in.

    Attributes
    ----------
    module_ : sysid.models.RENModule
    history_ : sysid.training.TrainResult
        Training (and validation) loss per epoch; with validation data the best parameters
        on it are kept.
    u_mean_, u_std_ : ndarray, shape (nu,)
    y_mean_, y_std_ : ndarray, shape (ny,)
    gamma_phys_ : float or None
        Certified physical Lipschitz bound (``kind="lipschitz"``).
    certificate_data_ : dict
        ``M, Lambda, rate, Q, S, R, gamma`` of the physical-units model.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import IOData
    >>> from sysid.estimators import REN
    >>> u = np.random.default_rng(0).normal(size=(200, 1))
    >>> y = np.convolve(u[:, 0], [0.0, 0.5, 0.25], mode="full")[:200, None]
    >>> est = REN(nx=2, nv=4, epochs=2, seed=0).fit(IOData(u, y, dt=0.1))
    >>> est.certificate().certified
    True
    """

    _owner = "REN"

    _inits = ("linear", "long_memory", "random")

    def __init__(self, *, nx: int = 4, nv: int = 16, kind: str = "contracting", gamma: float | None = None,
                 Q=None, S=None, R=None, rate: float = 1.0, activation: str = "relu", polar: bool = True,
                 **settings):
        self.nx, self.nv, self.kind, self.gamma = nx, nv, kind, gamma
        self.Q, self.S, self.R = Q, S, R
        self.rate, self.activation, self.polar = rate, activation, polar
        super().__init__(**settings)

    # ---------------------------------------------------------------- hooks of NeuralEstimator
    def _build_module(self, nu: int, ny: int):
        from ..models.ren import RENModule, check_ren_params

        check_ren_params(nu, ny, self.nx, self.nv, self.kind, self.gamma, self.Q, self.S, self.R, self.rate,
                         self.activation, owner="REN")
        return RENModule(nu, ny, nx=self.nx, nv=self.nv, kind=self.kind, gamma=self.gamma, Q=self.Q, S=self.S,
                         R=self.R, rate=self.rate, activation=self.activation, polar=self.polar,
                         init="random" if self.init == "random" else "long_memory",
                         seed=0 if self.seed is None else int(self.seed), dtype=self._torch_dtype())

    def _init_linear(self, module, records, generator) -> None:
        from ._neural_base import linear_start

        A, B, C, D = linear_start(records, self.nx, full_state=False, feedthrough=True, dt=self.dt_)
        module.init_from_linear(A, B, C, D, seed=0 if self.seed is None else int(self.seed))

    def _module_lure(self):
        return self.module_.to_lure(dt=self.dt_)

    def fit(self, data, *, val=None, callback=None, trainer=None) -> "REN":
        """Train on one IOData or a list of experiments (uniformly sampled, one dt); returns ``self``.

        Parameters
        ----------
        data : IOData or list of IOData
            u (N, nu), y (N, ny).
        val : IOData or list of IOData, optional
            Validation records; the parameters with the lowest validation loss are kept.
        """
        super().fit(data, val=val, callback=callback, trainer=trainer)
        self._finish()
        return self

    def _finish(self) -> None:
        self.explicit_ = self.module_.explicit_numpy()
        cd = physical_certificate_data(self.explicit_, kind=self.kind, rate=float(self.rate), u_std=self.u_std_,
                                       y_std=self.y_std_, gamma=self.gamma, qsr=self.module_.iqc())
        self.certificate_data_ = cd
        self.gamma_phys_ = cd["gamma"]

    # ---------------------------------------------------------------- use
    def linearize(self, *, x0=None, u0=None):
        """Jacobian linearization (``control.StateSpace``) at (x0, u0), physical units; without x0 the
        equilibrium for u0 (zeros by default), unique since the REN is contracting."""
        self._check_fitted()
        if u0 is not None:
            u0 = as_signal(np.atleast_2d(np.asarray(u0, dtype=float)), "u0", n_channels=self.nu_)[0]
        return self.to_lure().linearize(x0=x0, u0=u0)

    def certificate(self):
        """The certificate the REN carries by construction, checked in numpy on :meth:`to_lure`.

        Contraction (rate ᾱ, metric M = EᵀP⁻¹E, multipliers Λ) for ``kind="contracting"``; the
        physical (Q, S, R) dissipation inequality for ``"iqc"``; for ``"lipschitz"`` the
        incremental ℓ2 gain bound ``gamma_phys_`` (see the class docstring).

        Returns
        -------
        sysid.certify.Certificate
        """
        from ..certify import check_ren_certificate

        self._check_fitted()
        cd = self.certificate_data_
        kw = {} if cd["Q"] is None else dict(Q=cd["Q"], S=cd["S"], R=cd["R"])
        cert = check_ren_certificate(self.to_lure(), cd["M"], cd["Lambda"], rate=cd["rate"], **kw)
        if cd["gamma"] is not None:
            cert.extra["gamma"] = cd["gamma"]
            cert.message += f"; incremental l2 gain <= gamma_phys = {cd['gamma']:.6g} (physical units)"
        return cert

    # ---------------------------------------------------------------- persistence
    def _set_state(self, meta, arrays) -> None:
        super()._set_state(meta, arrays)
        self._finish()
