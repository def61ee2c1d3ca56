"""Export of a trained REN to physical units: the LureSystem and the certificate it carries.

The module maps normalized signals ũ = Su⁻¹(u − μu) to ỹ = Sy⁻¹(y − μy), Su = diag(σu),
Sy = diag(σy). Folding the scalings into the explicit matrices gives the physical-units
LureSystem (same state x, same Δ); its certificate transforms as follows.

* Contraction: the state is unchanged, so M = EᵀP⁻¹E and Λ certify the exported system as
  they are (same rate ᾱ).
* (Q, S, R) dissipation: Δỹ = Sy⁻¹Δy, Δũ = Su⁻¹Δu, so with the same (M, Λ) the exported
  system satisfies the inequality with Q_phys = Sy⁻¹QSy⁻¹, S_phys = Su⁻¹SSy⁻¹,
  R_phys = Su⁻¹RSu⁻¹.
* Lipschitz bound γ (normalized units): the physical incremental ℓ2 gain is at most
  γ_phys = γ · max(σy) / min(σu), certified with Q = −I/γ_phys, S = 0, R = γ_phys I and the
  rescaled metric M_phys = max(σy) · min(σu) · M (and multipliers scaled alike).

No torch here: the functions take the module's explicit matrices as numpy arrays.
"""

from __future__ import annotations

import numpy as np

from ..core.delta import get as get_delta
from ..core.lure import LureSystem

__all__ = ["fold_normalization", "physical_certificate_data"]


def fold_normalization(e: dict, *, u_mean, u_std, y_mean, y_std, activation: str, dt: float) -> LureSystem:
    """Physical-units LureSystem from the explicit REN matrices in normalized units.

    Parameters
    ----------
    e : dict
        Explicit matrices (``A, B1, B2, C1, D11, D12, C2, D21, D22, bx, bv, by``).
    u_mean, u_std : array_like, shape (nu,)
    y_mean, y_std : array_like, shape (ny,)
    activation : str
        The REN's σ ("relu" or "tanh").
    dt : float
        Sampling period of the data.
    """
    u_mean, u_std = np.asarray(u_mean, float), np.asarray(u_std, float)
    y_mean, y_std = np.asarray(y_mean, float), np.asarray(y_std, float)
    Su_inv = np.diag(1.0 / u_std)
    Sy = np.diag(y_std)
    B2 = e["B2"] @ Su_inv
    D12 = e["D12"] @ Su_inv
    D22n = e["D22"] @ Su_inv
    return LureSystem(
        A=e["A"], B1=e["B1"], B2=B2, C1=e["C1"], D11=e["D11"], D12=D12,
        C2=Sy @ e["C2"], D21=Sy @ e["D21"], D22=Sy @ D22n,
        bx=e["bx"] - B2 @ u_mean, bv=e["bv"] - D12 @ u_mean,
        by=Sy @ (e["by"] - D22n @ u_mean) + y_mean,
        delta=get_delta(activation), dt=dt, nu=len(u_std))


def physical_certificate_data(e: dict, *, kind: str, rate: float, u_std, y_std, gamma: float | None = None,
                              qsr=None) -> dict:
    """The certificate of the physical-units REN: (M, Lambda, rate, Q, S, R, gamma).

    Parameters
    ----------
    e : dict
        Explicit matrices with ``M (nx, nx)`` and ``Lambda (nv,)`` in normalized units.
    kind : {"contracting", "lipschitz", "iqc"}
    u_std : array_like, shape (nu,)
    y_std : array_like, shape (ny,)
    gamma : float, optional
        The normalized-units Lipschitz bound (``kind="lipschitz"``).
    qsr : tuple of arrays, optional
        (Q, S, R) in normalized units (``kind="iqc"``).

    Returns
    -------
    dict
        ``M, Lambda, rate`` and, for robust RENs, ``Q, S, R`` (None for contracting) and
        ``gamma`` (the physical Lipschitz bound; None unless ``kind="lipschitz"``).
    """
    u_std, y_std = np.asarray(u_std, float), np.asarray(y_std, float)
    out = dict(M=e["M"].copy(), Lambda=e["Lambda"].copy(), rate=float(rate), Q=None, S=None, R=None, gamma=None)
    if kind == "lipschitz":
        c = float(y_std.max() * u_std.min())
        g = float(gamma) * float(y_std.max()) / float(u_std.min())
        out.update(M=c * e["M"], Lambda=c * e["Lambda"], gamma=g, Q=-np.eye(len(y_std)) / g,
                   S=np.zeros((len(u_std), len(y_std))), R=g * np.eye(len(u_std)))
    elif kind == "iqc":
        Q, S, R = qsr
        Su_inv, Sy_inv = np.diag(1.0 / u_std), np.diag(1.0 / y_std)
        out.update(Q=Sy_inv @ Q @ Sy_inv, S=Su_inv @ S @ Sy_inv, R=Su_inv @ R @ Su_inv)
    return out
