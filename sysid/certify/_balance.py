"""Exact rescaling of a Lur'e system before solving: powers of two on states, inputs, outputs.

The LMI solvers work to a tolerance relative to the data; a state measured in µm next to one
in km, or inputs and outputs scaled by 1e6, put the certificate below that tolerance. Scaling
by powers of two changes no bit of the arithmetic except exponents, so the LMI of the scaled
system at the scaled variables is *exactly* the original LMI under a diagonal congruence:
checking one is checking the other.

With x = T x̃ (T = diag(t)), u = c_u ũ and ỹ = c_y y:

    Ã = T⁻¹AT, B̃1 = T⁻¹B1, B̃2 = c_u T⁻¹B2, C̃1 = C1 T, D̃12 = c_u D12,
    C̃2 = c_y C2 T, D̃21 = c_y D21, D̃22 = c_u c_y D22,

and a storage / metric P̃ of the scaled system is P = T⁻¹P̃T⁻¹ for the original one
(multipliers λ unchanged for contraction; for the gain P, λ, s scale by 1/c_y², 1/c_y²,
1/(c_u c_y)²).
"""

from __future__ import annotations

import numpy as np

from ..core.lure import LureSystem

__all__ = ["Scaling", "balance"]


def _pow2(x):
    """Nearest power of two (elementwise), 1 where x is 0 or not finite."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x) & (x > 0)
    return np.where(ok, np.exp2(np.round(np.log2(np.where(ok, x, 1.0)))), 1.0)


class Scaling:
    """The diagonal state scaling t (x = diag(t) x̃) and the scalars c_u, c_y, all powers of two."""

    def __init__(self, t, cu: float = 1.0, cy: float = 1.0):
        self.t, self.cu, self.cy = np.asarray(t, dtype=float), float(cu), float(cy)

    def P_back(self, P_scaled):
        """Metric / storage of the original system, shape (nx, nx)."""
        return P_scaled / np.outer(self.t, self.t)

    def P_forward(self, P):
        """Metric of the scaled system from one of the original system."""
        return P * np.outer(self.t, self.t)


def _state_scaling(A, B, C, sweeps: int = 20):
    """Osborne-style balancing of the state: row i of [A B] and column i of [A; C] get equal norms."""
    nx = A.shape[0]
    t = np.ones(nx)
    off = A - np.diag(np.diag(A))
    for _ in range(sweeps):
        changed = False
        for i in range(nx):
            # scaled: Ã_ij = A_ij t_j / t_i, B̃_i = B_i / t_i, C̃_:i = C_:i t_i
            row = np.sqrt(np.sum((off[i] * t / t[i]) ** 2) + np.sum((B[i] / t[i]) ** 2))
            col = np.sqrt(np.sum((off[:, i] * t[i] / t) ** 2) + np.sum((C[:, i] * t[i]) ** 2))
            if row > 0 and col > 0:
                f = float(_pow2(np.sqrt(row / col)))
                if f != 1.0 and (f > 1.5 or f < 0.7):
                    t[i] *= f
                    changed = True
        if not changed:
            break
    return t


def balance(lure: LureSystem, *, io: bool = False) -> tuple[LureSystem, Scaling]:
    """The exactly rescaled system and its Scaling (see the module docstring).

    Parameters
    ----------
    lure : LureSystem
    io : bool
        Also scale inputs and outputs by scalar powers of two so that ‖[B2; D12; D22]‖ and
        ‖[C2 D21 D22]‖ are within a factor 2 of 1 (for the gain).
    """
    B = np.hstack([lure.B1, lure.B2])
    C = np.vstack([lure.C1, lure.C2])
    t = _state_scaling(lure.A, B, C) if lure.nx else np.ones(0)
    cu = cy = 1.0
    if io:
        nu_ = np.linalg.norm(np.vstack([lure.B2 / t[:, None] if lure.nx else lure.B2, lure.D12, lure.D22]), 2) \
            if lure.nu else 0.0
        ny_ = np.linalg.norm(np.hstack([lure.C2 * t[None, :] if lure.nx else lure.C2, lure.D21, lure.D22]), 2) \
            if lure.ny else 0.0
        cu = float(_pow2(1.0 / nu_)) if nu_ > 0 else 1.0
        cy = float(_pow2(1.0 / ny_)) if ny_ > 0 else 1.0
    Ti = 1.0 / t
    scaled = LureSystem(A=Ti[:, None] * lure.A * t[None, :], B1=Ti[:, None] * lure.B1, B2=cu * Ti[:, None] * lure.B2,
                        C1=lure.C1 * t[None, :], D11=lure.D11, D12=cu * lure.D12,
                        C2=cy * lure.C2 * t[None, :], D21=cy * lure.D21, D22=cu * cy * lure.D22,
                        delta=lure.delta, dt=lure.dt, nx=lure.nx, nu=lure.nu, nv=lure.nv, ny=lure.ny)
    return scaled, Scaling(t, cu, cy)
