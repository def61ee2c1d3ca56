"""Fast linear simulation for estimation: complex Schur form + first-order ``lfilter`` passes.

A Python loop over 10⁶ samples takes seconds; the same recursion as ``nx`` first-order IIR
filters (scipy's C implementation) takes milliseconds. With A = Z T Zᴴ (T upper triangular)
the Schur coordinates ξ = Zᴴ x are solved from the last to the first: each ξ_i is a
first-order filter of the already-known ξ_j, j > i.

:func:`batched_response` runs the same recursion for many driving sequences at once (one
``lfilter`` call per Schur coordinate filters all of them); the sensitivity equations of
the prediction-error method use it to get every column of the Jacobian in ``nx`` calls.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, signal

__all__ = ["state_response", "lsim", "batched_response"]


def state_response(A: np.ndarray, Bu: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    """States x_k of x⁺ = A x + b_k for a driving sequence, shape (N, nx).

    Parameters
    ----------
    A : ndarray, shape (nx, nx)
    Bu : ndarray, shape (N, nx)
        The sequence b_k = B u_k (any input already multiplied by B).
    x0 : ndarray, shape (nx,), optional
    """
    N, nx = Bu.shape
    if nx == 0:
        return np.zeros((N, 0))
    x0 = np.zeros((nx, 1)) if x0 is None else np.asarray(x0, float).reshape(nx, 1)
    return batched_response(A, Bu.T[:, None, :], x0)[:, 0, :].T


def batched_response(A: np.ndarray, G: np.ndarray, X0: np.ndarray | None = None,
                     C: np.ndarray | None = None) -> np.ndarray:
    """States (or outputs C S) of S_{k+1} = A S_k + G_k, S_0 = X0, for M driving sequences at once.

    Parameters
    ----------
    A : ndarray, shape (nx, nx)
    G : ndarray, shape (nx, M, N)
        M driving sequences, time on the *last* axis (the layout in which the filters run); the
        last sample is not used (it would drive S_N).
    X0 : ndarray, shape (nx, M), optional
        Initial states (zeros by default).
    C : ndarray, shape (p, nx), optional
        Return C S instead of S.

    Returns
    -------
    ndarray, shape (nx, M, N) — or (p, M, N) with ``C``
    """
    nx, M, N = G.shape
    p = nx if C is None else C.shape[0]
    if nx == 0 or N == 0:
        return np.zeros((p, M, N))
    out = _modal_response(A, G, X0, C)
    if out is not None:
        return out
    T, Z = linalg.schur(np.asarray(A, float), output="complex")
    Zh = Z.conj().T
    Gs = (Zh @ G.reshape(nx, M * N)).reshape(nx, M, N)
    Z0 = np.zeros((nx, M), complex) if X0 is None else Zh @ np.asarray(X0, float)
    Xi = np.empty((nx, M, N), complex)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(nx - 1, -1, -1):
            g = Gs[k, :, :-1]
            if k + 1 < nx:
                g = g + np.tensordot(T[k, k + 1:], Xi[k + 1:, :, :-1], axes=(0, 0))
            lam = T[k, k]
            Xi[k, :, 0] = Z0[k]
            if N > 1:
                Xi[k, :, 1:], _ = signal.lfilter([1.0], [1.0, -lam], g, axis=-1, zi=(lam * Z0[k])[:, None])
    out = Z if C is None else np.asarray(C, float) @ Z
    with np.errstate(over="ignore", invalid="ignore"):
        return (out @ Xi.reshape(nx, M * N)).real.reshape(p, M, N)


def _modal_response(A, G, X0, C):
    """Diagonal (modal) version of :func:`batched_response`: one first-order filter per real mode
    or per complex-conjugate pair (the conjugate mode's response is the conjugate), no coupling.
    Returns None when A is not safely diagonalizable (eigenvector matrix condition > 1e6)."""
    nx, M, N = G.shape
    lam, V = np.linalg.eig(np.asarray(A, float))
    if not np.all(np.isfinite(lam)) or np.linalg.cond(V) > 1e6:
        return None
    # one representative per conjugate pair: Im > 0 (weight 2 on the real part) and the real modes
    keep = np.flatnonzero(lam.imag >= 0)
    pair = lam.imag[keep] > 0
    Vi = np.linalg.inv(V)[keep]
    out_map = (V if C is None else np.asarray(C, float) @ V)[:, keep] * np.where(pair, 2.0, 1.0)
    zero_drive = not np.any(G)
    with np.errstate(over="ignore", invalid="ignore"):
        W = None if zero_drive else (Vi @ G.reshape(nx, M * N)).reshape(len(keep), M, N)
    W0 = np.zeros((len(keep), M), complex) if X0 is None else Vi @ np.asarray(X0, float)
    Xi = np.empty((len(keep), M, N), complex)
    with np.errstate(over="ignore", invalid="ignore"):
        for k, lk in enumerate(lam[keep]):
            if zero_drive:
                Xi[k] = W0[k][:, None] * (lk ** np.arange(N))[None, :]
                continue
            Xi[k, :, 0] = W0[k]
            if N > 1:
                if not pair[k]:
                    lr = lk.real
                    Xi[k, :, 1:], _ = signal.lfilter([1.0], [1.0, -lr], W[k, :, :-1].real, axis=-1,
                                                     zi=(lr * W0[k].real)[:, None])
                else:
                    Xi[k, :, 1:], _ = signal.lfilter([1.0], [1.0, -lk], W[k, :, :-1], axis=-1,
                                                     zi=(lk * W0[k])[:, None])
    with np.errstate(over="ignore", invalid="ignore"):
        return (out_map @ Xi.reshape(len(keep), M * N)).real.reshape(-1, M, N)


def lsim(A, B, C, D, u: np.ndarray, x0=None) -> np.ndarray:
    """Output (N, ny) of the discrete system (A, B, C, D) for input u (N, nu)."""
    X = state_response(A, u @ B.T, x0)
    return X @ C.T + u @ D.T
