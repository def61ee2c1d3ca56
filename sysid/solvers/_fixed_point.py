"""Fixed-point solvers x = f(x): Picard, Anderson (type II), Broyden, Newton.

One implementation serves numpy arrays and torch tensors (see :mod:`._backend`); a 1-D
``x0`` is one vector, a ``x0`` with ``ndim >= 2`` is a batch along axis 0 (each sample is
flattened and must converge). Iterations run without building an autograd graph; for
gradients see :mod:`sysid.models.deq` (implicit-function-theorem backward).

Convergence test, per sample b: ``‖f(x_b) − x_b‖₂ ≤ atol + rtol · ‖f(x_b)‖₂``.

References
----------
D. G. Anderson, "Iterative procedures for nonlinear integral equations", J. ACM 12, 1965.
H. F. Walker, P. Ni, "Anderson acceleration for fixed-point iterations", SIAM J. Numer.
Anal. 49, 2011 (the difference form used here).
C. G. Broyden, "A class of methods for solving nonlinear simultaneous equations", Math.
Comp. 19, 1965.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..exceptions import ConvergenceError
from ._backend import backend_of

__all__ = ["FixedPointResult", "picard", "anderson", "broyden", "newton",
           "Picard", "Anderson", "Broyden", "convergence_error"]


@dataclass
class FixedPointResult:
    """Outcome of a fixed-point solve.

    Attributes
    ----------
    x : ndarray or Tensor, shape of ``x0``
        The last iterate (the fixed point when ``converged``).
    iterations : int
        Updates performed (``x0`` itself counts as iteration 0).
    residuals : ndarray, shape (iterations + 1,)
        ``max_b ‖f(x_k) − x_k‖₂`` at every iterate (the largest over the batch).
    converged : bool
    method : str
    evaluations : int
        Calls of ``f``.
    sample_iterations : ndarray of int, shape (B,)
        For a batch: the first iteration at which each sample met the tolerance (the count a
        solve of that sample alone would report; the batch is solved per sample, so its
        iterates do not depend on the other samples). ``iterations`` where never met.
    """

    x: Any
    iterations: int
    residuals: np.ndarray
    converged: bool
    method: str
    evaluations: int = 0
    tol: float = field(default=float("nan"))
    sample_iterations: np.ndarray | None = None

    @property
    def residual(self) -> float:
        """The final residual ``max_b ‖f(x) − x‖₂``."""
        return float(self.residuals[-1]) if len(self.residuals) else float("nan")


def convergence_error(method: str, iterations: int, residual: float, tol: float, *,
                      diverged: bool = False, hint: str | None = None) -> ConvergenceError:
    """A :class:`~sysid.ConvergenceError` carrying ``residual`` and ``iterations`` attributes."""
    fix = hint or ("the map may not be a contraction: raise max_iter, use Anderson or Broyden, or check "
                   "well-posedness (sysid.certify.well_posedness) of the layer.")
    if diverged:
        msg = (f"the fixed-point solve ({method}) diverged: the iterate became NaN/inf at iteration "
               f"{iterations} (last finite residual {residual:.2e}); {fix}")
    else:
        msg = (f"the fixed-point solve ({method}) did not converge in {iterations} iterations "
               f"(residual {residual:.2e} > tol {tol:.2e}); {fix}")
    err = ConvergenceError(msg)
    err.residual = float(residual)
    err.iterations = int(iterations)
    err.diverged = bool(diverged)
    return err


def _check_common(atol, rtol, max_iter):
    for name, value in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(value, (int, float, np.floating)) and value >= 0):
            raise ValueError(f"{name} must be a float >= 0; got {value!r}.")
    if atol == 0 and rtol == 0:
        raise ValueError("atol and rtol are both 0, so no iterate can ever pass the test; give atol > 0 or rtol > 0.")
    if not isinstance(max_iter, (int, np.integer)) or isinstance(max_iter, bool) or max_iter < 0:
        raise ValueError(f"max_iter must be an int >= 0; got {max_iter!r}.")


class _Problem:
    """Wraps f for (B, n) iterates and keeps the residual trace."""

    def __init__(self, f: Callable, x0, method: str, atol: float, rtol: float):
        self.bk = backend_of(x0)
        x0 = self.bk.asarray(x0)
        if x0.ndim == 0:
            raise ValueError("x0 must be an array of shape (n,) or a batch (B, ...); got a scalar. Pass np.atleast_1d(x0).")
        self.shape = tuple(x0.shape)
        self.batch = x0.ndim >= 2
        self.B = self.shape[0] if self.batch else 1
        self.f, self.method, self.atol, self.rtol = f, method, float(atol), float(rtol)
        self.X0 = x0.reshape(self.B, -1)
        self.trace: list[float] = []
        self.evaluations = 0
        self.first = np.full(self.B, -1, dtype=int)

    def shaped(self, X):
        return X.reshape(self.shape)

    def F(self, X):
        self.evaluations += 1
        out = self.f(self.shaped(X))
        if tuple(out.shape) != self.shape:
            raise ValueError(f"f must return an array of the shape of x0, {self.shape}; got {tuple(out.shape)}.")
        return out.reshape(self.B, -1)

    def record(self, G, F) -> tuple[bool, bool]:
        """Append the residual; return (finite, converged)."""
        bk = self.bk
        # one conversion per iteration: a NaN or inf anywhere makes its row's norm non-finite
        rf = bk.to_floats(bk.stack([bk.norm(G), bk.norm(F)], 0))
        r, fn = rf[0], rf[1]
        if not np.all(np.isfinite(rf)):
            return False, False
        self.trace.append(float(r.max()))
        ok = r <= self.atol + self.rtol * fn
        self.first[(self.first < 0) & ok] = len(self.trace) - 1
        return True, bool(np.all(ok))

    def tol(self) -> float:
        return self.atol + self.rtol

    def finish(self, X, k: int, converged: bool, raise_on_failure: bool, *, diverged: bool = False):
        first = np.where(self.first < 0, k, self.first)
        res = FixedPointResult(self.shaped(X), k, np.asarray(self.trace, dtype=float), converged,
                               self.method, self.evaluations, self.tol(), first)
        if not converged and raise_on_failure:
            last = self.trace[-1] if self.trace else float("nan")
            raise convergence_error(self.method, k, last, self.tol(), diverged=diverged)
        return res


def picard(f: Callable, x0, *, atol: float = 1e-8, rtol: float = 1e-8, max_iter: int = 200,
           damping: float = 1.0, raise_on_failure: bool = True) -> FixedPointResult:
    """Picard (plain) iteration x ← (1 − β) x + β f(x).

    Parameters
    ----------
    f : callable
        The map; takes and returns arrays of the shape of ``x0``.
    x0 : ndarray or Tensor, shape (n,) or (B, ...)
        Starting point; ``ndim >= 2`` means a batch along axis 0.
    atol, rtol : float
        Per-sample test ``‖f(x) − x‖ ≤ atol + rtol ‖f(x)‖``.
    max_iter : int
    damping : float
        β in (0, 1]; 1 is the undamped iteration.
    raise_on_failure : bool
        Raise :class:`~sysid.ConvergenceError` (with ``.residual`` and ``.iterations``) when the
        tolerance is not met or the iterate becomes non-finite; with ``False`` return a result
        with ``converged=False`` instead (never a NaN iterate: the last finite one).

    Returns
    -------
    FixedPointResult

    Examples
    --------
    >>> import numpy as np
    >>> res = picard(lambda x: 0.5 * x + 1.0, np.zeros(2), atol=1e-12, rtol=0)
    >>> res.x.round(6).tolist(), res.converged
    ([2.0, 2.0], True)
    """
    _check_common(atol, rtol, max_iter)
    if not 0 < damping <= 1:
        raise ValueError(f"damping must be in (0, 1]; got {damping!r}.")
    P = _Problem(f, x0, "picard", atol, rtol)
    with P.bk.no_grad():
        X = X_prev = P.X0
        F = P.F(X)
        for k in range(max_iter + 1):
            G = F - X
            finite, done = P.record(G, F)
            if not finite:
                return P.finish(X_prev, max(k - 1, 0), False, raise_on_failure, diverged=True)
            if done or k == max_iter:
                return P.finish(X, k, done, raise_on_failure)
            X_prev = X
            X = X + damping * G
            F = P.F(X)


def anderson(f: Callable, x0, *, m: int = 5, beta: float = 1.0, reg: float = 1e-10, atol: float = 1e-8,
             rtol: float = 1e-8, max_iter: int = 200, raise_on_failure: bool = True) -> FixedPointResult:
    """Anderson acceleration (type II, window ``m``) in the difference form.

    With ΔX, ΔG the last ``m`` differences of iterates and residuals g = f(x) − x,
    γ = argmin ‖g_k − ΔG γ‖² + λ‖γ‖² and x_{k+1} = x_k + β g_k − (ΔX + β ΔG) γ. The
    regularization is relative, λ = reg · trace(ΔGᵀΔG) / m_k, so it never stalls the
    iteration once the residual is small (an absolute λ does; docs/math.md §7.1).

    Parameters
    ----------
    f, x0, atol, rtol, max_iter, raise_on_failure
        As in :func:`picard`.
    m : int
        Window (number of past differences); 0 is Picard with damping ``beta``.
    beta : float
        Mixing (damping) parameter in (0, 1].
    reg : float
        Relative Tikhonov regularization of the least-squares problem (>= 0).

    Returns
    -------
    FixedPointResult

    Examples
    --------
    >>> import numpy as np
    >>> M = np.diag([0.9, -0.5]); b = np.ones(2)
    >>> res = anderson(lambda x: M @ x + b, np.zeros(2), atol=1e-12, rtol=0)
    >>> bool(np.allclose(res.x, np.linalg.solve(np.eye(2) - M, b))), res.iterations <= 4
    (True, True)
    """
    _check_common(atol, rtol, max_iter)
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 0:
        raise ValueError(f"m (the Anderson window) must be an int >= 0; got {m!r}.")
    if not 0 < beta <= 1:
        raise ValueError(f"beta must be in (0, 1]; got {beta!r}.")
    if reg < 0:
        raise ValueError(f"reg must be >= 0; got {reg!r}.")
    P = _Problem(f, x0, "anderson", atol, rtol)
    bk = P.bk
    tiny = 1e-300 if bk.eps < 1e-10 else 1e-30
    with bk.no_grad():
        X = P.X0
        F = P.F(X)
        G = F - X
        dXs, dGs = [], []
        X_prev = X
        for k in range(max_iter + 1):
            finite, done = P.record(G, F)
            if not finite:
                return P.finish(X_prev, max(k - 1, 0), False, raise_on_failure, diverged=True)
            if done or k == max_iter:
                return P.finish(X, k, done, raise_on_failure)
            if not dXs:
                Xn = X + beta * G
            else:
                dX = bk.stack(dXs, 2)  # (B, n, mk)
                dG = bk.stack(dGs, 2)
                mk = len(dGs)
                GtG = bk.transpose(dG) @ dG  # (B, mk, mk)
                lam = reg * bk.sumsq(dG) / mk + tiny
                rhs = (bk.transpose(dG) @ G[..., None])[..., 0]
                gamma = bk.solve(GtG + lam[:, None, None] * bk.eye(mk, P.B), rhs)
                Xn = X + beta * G - ((dX + beta * dG) @ gamma[..., None])[..., 0]
            Fn = P.F(Xn)
            Gn = Fn - Xn
            dXs.append(Xn - X)
            dGs.append(Gn - G)
            if len(dXs) > m:
                dXs.pop(0)
                dGs.pop(0)
            X_prev = X
            X, F, G = Xn, Fn, Gn


def broyden(f: Callable, x0, *, memory: int = 50, atol: float = 1e-8, rtol: float = 1e-8, max_iter: int = 200,
            raise_on_failure: bool = True) -> FixedPointResult:
    """Good Broyden's method on the inverse Jacobian of g(x) = f(x) − x (limited memory).

    J⁻¹ starts at −I and is kept as −I + U Vᵀ; each step z⁺ = z − J⁻¹ g(z) is followed by
    the Sherman–Morrison secant update J⁻¹Δg = Δz (docs/math.md §7.2). A vanishing denominator
    skips the update; past ``memory`` updates the approximation restarts from the newest
    pair (dropping only the oldest pairs made the iteration diverge in tests).

    Parameters
    ----------
    f, x0, atol, rtol, max_iter, raise_on_failure
        As in :func:`picard`.
    memory : int
        Number of rank-one updates kept (>= 1).

    Returns
    -------
    FixedPointResult
    """
    _check_common(atol, rtol, max_iter)
    if not isinstance(memory, (int, np.integer)) or isinstance(memory, bool) or memory < 1:
        raise ValueError(f"memory must be an int >= 1; got {memory!r}.")
    P = _Problem(f, x0, "broyden", atol, rtol)
    bk = P.bk
    with bk.no_grad():
        Z = P.X0
        F = P.F(Z)
        G = F - Z
        Us, Vs = [], []
        Z_prev = Z
        for k in range(max_iter + 1):
            finite, done = P.record(G, F)
            if not finite:
                return P.finish(Z_prev, max(k - 1, 0), False, raise_on_failure, diverged=True)
            if done or k == max_iter:
                return P.finish(Z, k, done, raise_on_failure)
            if Us:
                U, V = bk.stack(Us, 2), bk.stack(Vs, 2)
                dz = G - (U @ (bk.transpose(V) @ G[..., None]))[..., 0]
            else:
                dz = G
            Zn = Z + dz
            Fn = P.F(Zn)
            Gn = Fn - Zn
            dg = Gn - G
            if Us:
                Jdg = -dg + (U @ (bk.transpose(V) @ dg[..., None]))[..., 0]
                vT = -dz + (V @ (bk.transpose(U) @ dz[..., None]))[..., 0]
            else:
                Jdg, vT = -dg, -dz
            den = (vT * dg).sum(1)
            scale = bk.norm(vT) * bk.norm(dg)
            ok = abs(den) > 1e3 * bk.eps * scale
            safe = den + (~ok) * 1.0
            u = bk.where(ok, (dz - Jdg) / safe[:, None], bk.zeros_like(dz))
            Us.append(u)
            Vs.append(vT)
            if len(Us) > memory:  # limited memory: restart from J⁻¹ = −I (dropping old pairs is unstable)
                Us, Vs = Us[-1:], Vs[-1:]
            Z_prev = Z
            Z, F, G = Zn, Fn, Gn


def newton(f: Callable, x0, *, jac: Callable, atol: float = 1e-12, rtol: float = 1e-12, max_iter: int = 50,
           norm: float = 2, raise_on_failure: bool = True) -> FixedPointResult:
    """Newton's method on g(x) = x − f(x) for one vector (numpy only).

    x ← x − (I − J_f(x))⁻¹ (x − f(x)), quadratic near a regular fixed point.

    Parameters
    ----------
    f : callable, (n,) -> (n,)
    x0 : array_like, shape (n,)
    jac : callable, (n,) -> (n, n)
        Jacobian of ``f``.
    atol, rtol, max_iter, raise_on_failure
        As in :func:`picard` (test ``‖f(x) − x‖ ≤ atol + rtol ‖f(x)‖`` in the norm ``norm``).
    norm : float
        Vector norm order (2 or ``np.inf``).

    Returns
    -------
    FixedPointResult
    """
    _check_common(atol, rtol, max_iter)
    with np.errstate(all="ignore"):  # non-finite iterates are detected and reported
        return _newton(f, x0, jac, atol, rtol, max_iter, norm, raise_on_failure)


def _newton(f, x0, jac, atol, rtol, max_iter, norm, raise_on_failure):
    x = np.array(x0, dtype=float).reshape(-1)
    n = x.size
    eye = np.eye(n)
    trace: list[float] = []
    evals = 0
    for k in range(max_iter + 1):
        fx = np.asarray(f(x), dtype=float)
        evals += 1
        g = fx - x
        if not np.all(np.isfinite(g)):
            res = FixedPointResult(x, k, np.asarray(trace), False, "newton", evals, atol + rtol)
            if raise_on_failure:
                raise convergence_error("newton", k, trace[-1] if trace else float("nan"), atol + rtol, diverged=True)
            return res
        r = float(np.linalg.norm(g, norm))
        trace.append(r)
        if r <= atol + rtol * float(np.linalg.norm(fx, norm)):
            return FixedPointResult(x, k, np.asarray(trace), True, "newton", evals, atol + rtol)
        if k == max_iter:
            break
        try:
            step = np.linalg.solve(eye - np.asarray(jac(x), dtype=float), g)
        except np.linalg.LinAlgError:
            break
        x = x + step
    if raise_on_failure:
        raise convergence_error("newton", k, trace[-1], atol + rtol)
    return FixedPointResult(x, k, np.asarray(trace), False, "newton", evals, atol + rtol)


# ---------------------------------------------------------------------- strategy objects
@dataclass(frozen=True)
class Picard:
    """Solver object for :func:`picard`: ``Picard(atol=1e-6)(f, x0)``."""

    atol: float = 1e-8
    rtol: float = 1e-8
    max_iter: int = 200
    damping: float = 1.0

    def __call__(self, f, x0, *, raise_on_failure: bool = True) -> FixedPointResult:
        return picard(f, x0, atol=self.atol, rtol=self.rtol, max_iter=self.max_iter, damping=self.damping,
                      raise_on_failure=raise_on_failure)


@dataclass(frozen=True)
class Anderson:
    """Solver object for :func:`anderson`: ``Anderson(m=5, atol=1e-6)(f, x0)``."""

    m: int = 5
    beta: float = 1.0
    reg: float = 1e-10
    atol: float = 1e-8
    rtol: float = 1e-8
    max_iter: int = 200

    def __call__(self, f, x0, *, raise_on_failure: bool = True) -> FixedPointResult:
        return anderson(f, x0, m=self.m, beta=self.beta, reg=self.reg, atol=self.atol, rtol=self.rtol,
                        max_iter=self.max_iter, raise_on_failure=raise_on_failure)


@dataclass(frozen=True)
class Broyden:
    """Solver object for :func:`broyden`."""

    memory: int = 50
    atol: float = 1e-8
    rtol: float = 1e-8
    max_iter: int = 200

    def __call__(self, f, x0, *, raise_on_failure: bool = True) -> FixedPointResult:
        return broyden(f, x0, memory=self.memory, atol=self.atol, rtol=self.rtol, max_iter=self.max_iter,
                       raise_on_failure=raise_on_failure)
