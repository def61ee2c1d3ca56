"""Output-error refinement (PEM for an output-error model, MATLAB ``ssest``/``pem`` style).

Minimizes the free-run simulation error over a full (A, B, C, D, x0) parameterization with
``scipy.optimize.least_squares``, starting from a given model (e.g. from :func:`n4sid`).

References
----------
L. Ljung, *System Identification: Theory for the User*, 2nd ed., 1999, ch. 7 and 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import control
import numpy as np
from scipy import optimize

from ..core.iodata import as_experiments
from ..core.lti import balanced_realization
from ._sim import lsim

__all__ = ["PEMResult", "pem"]


@dataclass
class PEMResult:
    """Result of :func:`pem`.

    Attributes
    ----------
    system : control.StateSpace
    x0 : ndarray (nx,) or list of them (one per experiment)
    cost_initial, cost_final : float
        Mean squared simulation error (outputs scaled by their standard deviation) before and after.
    nfev : int
    message : str
    """

    system: control.StateSpace
    x0: object
    cost_initial: float
    cost_final: float
    nfev: int
    message: str


def pem(data, init_system, *, stable: bool = True, feedthrough: bool = True, max_nfev: int = 200,
        rho_max: float = 0.9999) -> PEMResult:
    """Refine ``init_system`` by minimizing the free-run simulation error on ``data``.

    Parameters
    ----------
    data : IOData or list of IOData
    init_system : control.StateSpace
        Discrete-time start model with the data's dt.
    stable : bool
        Keep the spectral radius of A below ``rho_max`` (a penalty during the search, and the
        start model is returned if the optimum were unstable).
    feedthrough : bool
        Estimate D (else D is kept at zero).
    max_nfev : int
        Budget of residual evaluations of ``least_squares``.

    Returns
    -------
    PEMResult
    """
    exps = as_experiments(data)
    if not isinstance(init_system, control.StateSpace) or not control.isdtime(init_system, strict=True):
        raise TypeError("init_system must be a discrete-time control.StateSpace (e.g. n4sid(data).system).")
    nx, nu, ny = init_system.nstates, init_system.ninputs, init_system.noutputs
    if (exps[0].nu, exps[0].ny) != (nu, ny):
        raise ValueError(f"data have (nu, ny) = ({exps[0].nu}, {exps[0].ny}); init_system has ({nu}, {ny}).")
    if not np.isclose(exps[0].dt, init_system.dt):
        raise ValueError(f"init_system.dt = {init_system.dt} differs from the data's dt = {exps[0].dt}.")
    rho0 = np.max(np.abs(np.linalg.eigvals(init_system.A))) if nx else 0.0
    sys0 = init_system
    if stable and rho0 >= rho_max:
        # start from the model with A shrunk into the stability region (same eigenvectors)
        shrink = 0.99 * rho_max / rho0
        sys0 = control.ss(np.asarray(init_system.A) * shrink, init_system.B, init_system.C, init_system.D,
                          init_system.dt)
        rho0 = 0.99 * rho_max
    if nx and rho0 < 1:
        try:
            sys0, _ = balanced_realization(sys0)  # well-conditioned coordinates for the search
        except ValueError:
            pass
    scale = np.concatenate([d.y for d in exps]).std(axis=0)
    scale[scale == 0] = 1.0
    n_exp = len(exps)
    sizes = [nx * nx, nx * nu, ny * nx, ny * nu if feedthrough else 0, nx * n_exp]

    def unpack(th):
        parts = np.split(th, np.cumsum(sizes)[:-1])
        A = parts[0].reshape(nx, nx)
        B = parts[1].reshape(nx, nu)
        C = parts[2].reshape(ny, nx)
        D = parts[3].reshape(ny, nu) if feedthrough else np.zeros((ny, nu))
        return A, B, C, D, parts[4].reshape(n_exp, nx)

    def errors(th):
        A, B, C, D, X0 = unpack(th)
        res = []
        with np.errstate(all="ignore"):
            for d, x0 in zip(exps, X0):
                res.append(((lsim(A, B, C, D, d.u, x0) - d.y) / scale).ravel())
        r = np.concatenate(res)
        return np.clip(np.where(np.isfinite(r), r, 1e6), -1e6, 1e6)

    def residual(th):
        r = errors(th)
        if stable and nx:
            rho = np.max(np.abs(np.linalg.eigvals(th[: nx * nx].reshape(nx, nx))))
            r = np.append(r, 1e3 * np.sqrt(r.size) * max(0.0, rho - rho_max))
        return r

    # start: least-squares initial states for the start model
    from ._n4sid import fit_BD_x0

    _, _, x0s = fit_BD_x0(np.asarray(sys0.A), np.asarray(sys0.C), exps, feedthrough=feedthrough)
    theta0 = np.concatenate([np.ravel(sys0.A), np.ravel(sys0.B), np.ravel(sys0.C),
                             np.ravel(sys0.D) if feedthrough else np.zeros(0), np.ravel(x0s)])
    cost0 = float(np.mean(errors(theta0) ** 2))
    sol = optimize.least_squares(residual, theta0, method="trf", x_scale="jac", max_nfev=max_nfev)
    A, B, C, D, X0 = unpack(sol.x)
    cost = float(np.mean(errors(sol.x) ** 2))
    rho = np.max(np.abs(np.linalg.eigvals(A))) if nx else 0.0
    message = sol.message
    if (stable and rho >= 1.0) or not cost <= cost0:
        A, B, C, D, X0 = unpack(theta0)
        cost = cost0
        message = "kept the start model: the refined one was unstable or not better"
    system = control.ss(A, B, C, D, init_system.dt)
    x0 = X0[0] if n_exp == 1 else list(X0)
    return PEMResult(system=system, x0=x0, cost_initial=cost0, cost_final=cost, nfev=int(sol.nfev), message=message)
