"""The certificate a REN carries by construction, checked in numpy (no solver), and a numpy
construction of random contracting RENs (for tests and benchmarks).

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE TAC 2023 (direct parameterization).
"""

from __future__ import annotations

import numpy as np

from ..core.delta import ReLU
from ..core.lure import LureSystem
from ._lmi import Certificate, as_lure, max_eig, slope_multiplier
from ._stability import _contraction_lmi

__all__ = ["check_ren_certificate", "random_contracting_ren"]


def check_ren_certificate(system, M, Lambda, *, rate: float = 1.0, Q=None, S=None, R=None,
                          rtol: float = 1e-9) -> Certificate:
    """Check a given storage metric M and multipliers Λ in numpy (milliseconds at any size).

    Without (Q, S, R): the explicit contraction LMI
    [A B1]ᵀM[A B1] − blkdiag(ρ²M, 0) + Mvᵀ Q_Λ Mv ⪯ 0. With (Q, S, R) the dissipation
    inequality V⁺ − ρ²V ≤ ΔyᵀQΔy + 2ΔuᵀSΔy + ΔuᵀRΔu in ξ = (Δx, Δw, Δu).

    Parameters
    ----------
    system : LureSystem
    M : ndarray, shape (nx, nx)
    Lambda : ndarray, shape (nv,) or (nv, nv)
        Diagonal multipliers.
    """
    lure = as_lure(system)
    M = np.asarray(M, dtype=float)
    lam = np.diag(Lambda) if np.ndim(Lambda) == 2 else np.asarray(Lambda, dtype=float)
    if M.shape != (lure.nx, lure.nx) or lam.shape != (lure.nv,):
        raise ValueError(f"M must be ({lure.nx}, {lure.nx}) and Lambda ({lure.nv},); got {M.shape} and {lam.shape}.")
    if Q is None:
        L = _contraction_lmi(lure, M, lam, rate)
        prop = "contraction"
    else:
        nx, nv, nu = lure.nx, lure.nv, lure.nu
        Q, S, R = (np.asarray(Z, dtype=float) for Z in (Q, S, R))
        K = np.hstack([lure.A, lure.B1, lure.B2])
        Ex = np.vstack([np.eye(nx), np.zeros((nv + nu, nx))])
        Cy = np.hstack([lure.C2, lure.D21, lure.D22])
        Eu = np.hstack([np.zeros((nu, nx + nv)), np.eye(nu)])
        alpha, beta = lure.delta.slope_bounds
        Mv = np.block([[lure.C1, lure.D11, lure.D12], [np.zeros((nv, nx)), np.eye(nv), np.zeros((nv, nu))]])
        L = (K.T @ M @ K - rate**2 * Ex @ M @ Ex.T + Mv.T @ slope_multiplier(lam, alpha, beta) @ Mv
             - (Cy.T @ Q @ Cy + Cy.T @ S.T @ Eu + Eu.T @ S @ Cy + Eu.T @ R @ Eu))
        prop = "iqc_dissipation"
    worst = max_eig(L)
    tol = rtol * max(1.0, float(np.abs(M).max()))
    ok = bool(worst <= tol and np.linalg.eigvalsh(0.5 * (M + M.T)).min() > 0 and np.all(lam > 0))
    return Certificate(prop, ok, float(rate), M, lam, "numpy", "checked", worst, tol,
                       message="built-in REN certificate (metric M = EᵀP⁻¹E, multipliers Λ)")


def random_contracting_ren(nx: int, nv: int, nu: int, ny: int, *, rate: float = 1.0, seed: int = 0,
                           eps: float = 1e-8, scale: float = 1.0):
    """A contracting REN from random direct parameters, in numpy (ReLU activation).

    Returns
    -------
    lure : LureSystem
    M : ndarray (nx, nx)
        The metric EᵀP⁻¹E of the construction.
    lam : ndarray (nv,)
        The multipliers.
    """
    rng = np.random.default_rng(seed)
    n = 2 * nx + nv
    X = scale * rng.standard_normal((n, n)) / np.sqrt(n)
    H = X.T @ X + eps * np.eye(n)
    ix, iv, ip = slice(0, nx), slice(nx, nx + nv), slice(nx + nv, n)
    P = H[ip, ip]
    F = H[ip, ix]
    Y1 = rng.standard_normal((nx, nx))
    E = 0.5 * (H[ix, ix] + P / rate**2 + Y1 - Y1.T)
    B1i, C1i = H[ip, iv], -H[iv, ix]
    lam = 0.5 * np.diag(H[iv, iv])
    D11i = -np.tril(H[iv, iv], -1)
    B2i = rng.standard_normal((nx, nu))
    D12i = rng.standard_normal((nv, nu))
    lure = LureSystem(
        A=np.linalg.solve(E, F), B1=np.linalg.solve(E, B1i), B2=np.linalg.solve(E, B2i),
        C1=C1i / lam[:, None], D11=D11i / lam[:, None], D12=D12i / lam[:, None],
        C2=rng.standard_normal((ny, nx)), D21=rng.standard_normal((ny, nv)), D22=rng.standard_normal((ny, nu)),
        bx=0.1 * rng.standard_normal(nx), bv=0.1 * rng.standard_normal(nv), by=0.1 * rng.standard_normal(ny),
        delta=ReLU(), dt=1.0)
    M = E.T @ np.linalg.solve(P, E)
    return lure, 0.5 * (M + M.T), lam
