"""Random contracting RENs built in numpy from the direct parameterization (docs/math.md §3.3).

Private helper for tests and benchmarks (no torch): H = XᵀX + εI is partitioned in the order
[x | v | x⁺] and read as the implicit model; the explicit model is returned as a LureSystem
together with the REN's own certificate (M = EᵀP⁻¹E, λ).
"""

from __future__ import annotations

import numpy as np

from ..core.delta import ReLU
from ..core.lure import LureSystem

__all__ = ["random_contracting_ren"]


def random_contracting_ren(nx: int, nv: int, nu: int, ny: int, *, rate: float = 1.0, seed: int | None = 0,
                           eps: float = 1e-8, delta=None):
    """A contracting REN with random direct parameters and its built-in certificate.

    Parameters
    ----------
    nx, nv, nu, ny : int
        States, neurons, inputs, outputs.
    rate : float
        Contraction-rate bound ᾱ ∈ (0, 1].
    seed : int or None
    eps : float
        The ε of H = XᵀX + εI.
    delta : Nonlinearity, optional
        Activation (slopes in [0, 1]); ReLU by default.

    Returns
    -------
    lure : LureSystem
        The explicit model (D11 strictly lower triangular, with random biases), dt = 1.
    (M, lam) : (ndarray (nx, nx), ndarray (nv,))
        The metric EᵀP⁻¹E and the multipliers λ = diag(H22)/2.
    """
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1]; got {rate}.")
    rng = np.random.default_rng(seed)
    n = 2 * nx + nv
    X = rng.standard_normal((n, n)) / np.sqrt(n)
    H = X.T @ X + eps * np.eye(n)
    ix, iv, ip = slice(0, nx), slice(nx, nx + nv), slice(nx + nv, n)
    P, F = H[ip, ip], H[ip, ix]
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
        delta=ReLU() if delta is None else delta, dt=1.0)
    M = E.T @ np.linalg.solve(P, E)
    return lure, (0.5 * (M + M.T), lam)
