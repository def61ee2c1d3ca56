"""The certificate a trained REN carries, in physical units.

The module maps normalized signals ũ = Su⁻¹(u − μu) to ỹ = Sy⁻¹(y − μy), Su = diag(σu),
Sy = diag(σy). Folding the scalings into the explicit matrices
(:func:`sysid.estimators._neural_base.fold_normalization`) gives the physical-units
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


__all__ = ["physical_certificate_data"]


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
