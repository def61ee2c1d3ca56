"""Prediction-error refinement of state-space models (MATLAB ``ssest``/``pem`` style).

A fully parameterized (A, B, C, D[, K]) model, optionally with known integrators, is refined
from a start model (e.g. from :func:`n4sid`) by :func:`~sysid.linear._pe.minimize_prediction_error`
(analytic Jacobian, ``scipy.optimize.least_squares``). With ``noise=False`` (default) the
criterion is the output error (free-run simulation from estimated initial states); with
``noise=True`` a Kalman gain K is estimated too and the criterion is the one-step prediction
error (innovations form).

References
----------
L. Ljung, *System Identification: Theory for the User*, 2nd ed., 1999, ch. 4, 7 and 10.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import control
import numpy as np

from ..core.iodata import as_experiments
from ..core.lti import balanced_realization
from ._n4sid import IdentificationWarning
from ._pe import Structure, minimize_prediction_error

__all__ = ["PEMResult", "pem", "StateSpaceStructure"]


class StateSpaceStructure(Structure):
    """Full parameterization of x⁺ = A x + B u (+ K e), y = C x + D u (+ e), with ``integrators``
    states whose block of A is fixed at the identity:

        A = [[A0, 0], [A_I, I]],  B = [B0; B_I],  C = [C0, C_I]

    (the first ``nx − integrators`` states form the free part A0, which ``stable`` keeps inside
    the unit circle; the integrator states are driven by A_I x_f + B_I u).
    """

    def __init__(self, nx: int, nu: int, ny: int, *, feedthrough: bool = True, noise: bool = False,
                 integrators: int = 0):
        if not 0 <= integrators <= nx:
            raise ValueError(f"integrators must be between 0 and nx = {nx}; got {integrators}.")
        self.nx, self.nu, self.ny = nx, nu, ny
        self.feedthrough, self.noise, self.integrators = feedthrough, noise, integrators
        nf = nx - integrators
        self._nf = nf
        # blocks: (matrix index 0..4 = A,B,C,D,K, rows, cols)
        rs_f, rs_i = slice(0, nf), slice(nf, nx)
        blocks = [(0, rs_f, slice(0, nf)), (0, rs_i, slice(0, nf)), (1, slice(0, nx), slice(0, nu)),
                  (2, slice(0, ny), slice(0, nx))]
        if feedthrough:
            blocks.append((3, slice(0, ny), slice(0, nu)))
        if noise:
            blocks.append((4, slice(0, nx), slice(0, ny)))
        shapes = [(nx, nx), (nx, nu), (ny, nx), (ny, nu), (nx, ny)]
        self._base = [np.zeros(s) for s in shapes]
        self._base[0][rs_i, rs_i] = np.eye(integrators)
        index = []
        for mat, rs, cs in blocks:
            for i in range(rs.start, rs.stop):
                for j in range(cs.start, cs.stop):
                    index.append((mat, i, j))
        self._index = index
        self.n_theta = len(index)
        self._derivs = [np.zeros((self.n_theta,) + s) for s in shapes]
        for m, (mat, i, j) in enumerate(index):
            self._derivs[mat][m, i, j] = 1.0

    def build(self, theta):
        mats = [b.copy() for b in self._base]
        for value, (mat, i, j) in zip(theta, self._index):
            mats[mat][i, j] = value
        return tuple(mats), tuple(self._derivs)

    def theta_of(self, A, B, C, D, K=None) -> np.ndarray:
        mats = [np.asarray(A, float), np.asarray(B, float), np.asarray(C, float), np.asarray(D, float),
                np.zeros((self.nx, self.ny)) if K is None else np.asarray(K, float)]
        return np.array([mats[mat][i, j] for mat, i, j in self._index])

    def stability_matrix(self, theta, Abar):
        if self.integrators and not self.noise:
            mats, _ = self.build(theta)
            return mats[0][: self._nf, : self._nf]
        return Abar


class _LocalCoordinates(Structure):
    """θ = θc + U β with U an orthonormal basis of the complement of the similarity directions at θc
    (data-driven local coordinates): the search moves only in directions that change the
    input-output behaviour, with nx² fewer Jacobian columns.

    References
    ----------
    T. McKelvey, A. Helmersson, T. Ribarits, "Data driven local coordinates for multivariable
    linear systems and their application to system identification", Automatica 40 (2004).
    """

    def __init__(self, base: StateSpaceStructure, center: np.ndarray):
        self.base, self.center = base, center
        self.nx, self.nu, self.ny = base.nx, base.nu, base.ny
        (A, B, C, D, K), _ = base.build(center)
        nf = base.nx - base.integrators
        tangents = []
        for i in range(nf):
            for j in range(nf):
                E = np.zeros((base.nx, base.nx))
                E[i, j] = 1.0
                tangents.append(base.theta_of(E @ A - A @ E, E @ B, -C @ E, np.zeros_like(D), E @ K))
        Q = np.array(tangents).T if tangents else np.zeros((base.n_theta, 0))
        Uq, sv, _ = np.linalg.svd(Q, full_matrices=True)
        rank = int(np.sum(sv > 1e-10 * max(sv.max(initial=0.0), 1.0)))
        self.U = Uq[:, rank:]
        self.n_theta = self.U.shape[1]

    def theta(self, beta):
        return self.center + self.U @ beta

    def build(self, beta):
        mats, dmats = self.base.build(self.theta(beta))
        return mats, tuple(np.tensordot(self.U.T, d, axes=(1, 0)) for d in dmats)

    def stability_matrix(self, beta, Abar):
        return self.base.stability_matrix(self.theta(beta), Abar)


@dataclass
class PEMResult:
    """Result of :func:`pem`.

    Attributes
    ----------
    system : control.StateSpace
    x0 : ndarray (nx,) or list of them (one per experiment)
    cost_initial, cost_final : float
        The criterion (mean squared prediction error, outputs scaled by their standard
        deviation) of the start and of the result; ``cost_final <= cost_initial`` always.
    nfev : int
    message : str
    K : ndarray, shape (nx, ny)
        Kalman gain of the innovations form (zeros for output-error models).
    noise_variance : ndarray, shape (ny,)
    """

    system: control.StateSpace
    x0: object
    cost_initial: float
    cost_final: float
    nfev: int
    message: str
    K: np.ndarray | None = None
    noise_variance: np.ndarray | None = None


def pem(data, init_system, *, stable: bool = True, feedthrough: bool = True, max_nfev: int = 100,
        rho_max: float = 0.9999, noise: bool = False, integrators: int = 0, K0=None,
        x0: str = "estimate") -> PEMResult:
    """Refine ``init_system`` by minimizing the prediction error on ``data``.

    Parameters
    ----------
    data : IOData or list of IOData
    init_system : control.StateSpace
        Discrete-time start model with the data's dt. With ``integrators = k`` its last k
        states must be integrators in the form of :class:`StateSpaceStructure` (as returned by
        ``n4sid(..., integrators=k)``).
    stable : bool
        Keep the predictor (for output error: the model; with integrators: its free part) strictly
        inside the unit circle (spectral radius < ``rho_max``). An unstable start is first scaled
        inside.
    feedthrough : bool
        Estimate D (else D is kept at zero).
    max_nfev : int
        Budget of criterion evaluations of ``least_squares``.
    noise : bool
        Estimate a Kalman gain K (innovations form, one-step prediction error) instead of the
        output-error criterion.
    integrators : int
        Number of integrator states kept exactly at z = 1.
    K0 : ndarray, shape (nx, ny), optional
        Start value of K with ``noise=True`` (zeros by default).
    x0 : {"estimate", "zero"}
        Estimate the initial state of every experiment (default) or start at rest.

    Returns
    -------
    PEMResult
    """
    exps = as_experiments(data)
    if not isinstance(init_system, control.StateSpace) or not control.isdtime(init_system, strict=True):
        raise TypeError("init_system must be a discrete-time control.StateSpace (e.g. n4sid(data).system); "
                        f"got {type(init_system).__name__}" +
                        (" with dt = 0 (continuous time)" if isinstance(init_system, control.StateSpace) else "") +
                        ". Discretize it with control.c2d first.")
    nx, nu, ny = init_system.nstates, init_system.ninputs, init_system.noutputs
    if (exps[0].nu, exps[0].ny) != (nu, ny):
        raise ValueError(f"data have (nu, ny) = ({exps[0].nu}, {exps[0].ny}); init_system has ({nu}, {ny}).")
    if not np.isclose(exps[0].dt, init_system.dt):
        raise ValueError(f"init_system.dt = {init_system.dt} differs from the data's dt = {exps[0].dt}.")
    A, B, C, D = (np.asarray(m, float) for m in (init_system.A, init_system.B, init_system.C, init_system.D))
    if not feedthrough:
        D = np.zeros_like(D)
    K = np.zeros((nx, ny)) if K0 is None else np.asarray(K0, float)
    structure = StateSpaceStructure(nx, nu, ny, feedthrough=feedthrough, noise=noise, integrators=integrators)
    nf = nx - integrators
    if integrators:
        tail = A[nf:, nf:]
        if not (np.allclose(tail, np.eye(integrators)) and np.allclose(A[:nf, nf:], 0)):
            raise ValueError("with integrators = k the start model's last k states must be integrators: "
                             "A = [[A0, 0], [A_I, I]]. Use n4sid(..., integrators=k) for the start model.")
    free = A[:nf, :nf]
    rho0 = float(np.max(np.abs(np.linalg.eigvals(free)))) if nf else 0.0
    if stable and rho0 >= rho_max:
        warnings.warn(
            f"the start model is unstable (spectral radius {rho0:.4g} >= {rho_max:g}); with stable=True it is "
            "scaled inside the unit circle and kept there. If the plant itself is unstable, pass stable=False "
            "(and data taken in closed loop).", IdentificationWarning, stacklevel=2)
        # start from the model with the free part shrunk into the stability region (same eigenvectors)
        A = A.copy()
        A[:nf, :nf] = free * (0.99 * rho_max / rho0)
        rho0 = 0.99 * rho_max
    if nx and not integrators and rho0 < 1 and not noise:
        try:  # well-conditioned coordinates for the search
            bal, _ = balanced_realization(control.ss(A, B, C, D, init_system.dt))
            A, B, C, D = (np.asarray(m, float) for m in (bal.A, bal.B, bal.C, bal.D))
        except (ValueError, np.linalg.LinAlgError):
            pass
    if noise and stable and nx:
        Ab = A - K @ C
        if float(np.max(np.abs(np.linalg.eigvals(Ab)))) >= rho_max:
            K = np.zeros((nx, ny))
    theta0 = structure.theta_of(A, B, C, D, K)
    local = _LocalCoordinates(structure, theta0)
    fit = minimize_prediction_error(local, np.zeros(local.n_theta), exps, x0=x0, stable=stable, rho_max=rho_max,
                                    max_nfev=max_nfev)
    (A, B, C, D, K), _ = structure.build(local.theta(fit.theta))
    system = control.ss(A, B, C, D, init_system.dt)
    x0s = fit.x0
    return PEMResult(system=system, x0=x0s[0] if len(x0s) == 1 else x0s, cost_initial=fit.cost_initial,
                     cost_final=fit.cost_final, nfev=fit.nfev, message=fit.message, K=K,
                     noise_variance=fit.noise_variance)
