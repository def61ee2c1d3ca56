"""The Lur'e / LFT system: an LTI system in feedback with a static nonlinearity.

    x⁺ (or ẋ) = A x + B1 w + B2 u + bx
    v         = C1 x + D11 w + D12 u + bv
    w         = Δ(v)                       (elementwise, slope-restricted)
    y         = C2 x + D21 w + D22 u + by

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks", IEEE TAC 2023 (the
acyclic evaluation of the loop). H. K. Khalil, *Nonlinear Systems*, ch. 7 (Lur'e systems).
"""

from __future__ import annotations

import warnings
from typing import Optional

import control
import numpy as np
from scipy import optimize
from scipy.integrate import solve_ivp

from ..exceptions import ConvergenceError
from .delta import Nonlinearity, get as get_delta
from ._loop import loop_verdict
from .iodata import IOData, as_real_array, as_signal, check_period

__all__ = ["LureSystem"]

# block name -> (row dimension, column dimension)
_BLOCKS = {
    "A": ("nx", "nx"), "B1": ("nx", "nv"), "B2": ("nx", "nu"),
    "C1": ("nv", "nx"), "D11": ("nv", "nv"), "D12": ("nv", "nu"),
    "C2": ("ny", "nx"), "D21": ("ny", "nv"), "D22": ("ny", "nu"),
}
_BIASES = {"bx": "nx", "bv": "nv", "by": "ny"}


def _dims(blocks: dict, biases: dict, given: dict) -> dict:
    """Infer nx, nu, nv, ny from the blocks given; raise naming the blocks that disagree."""
    seen: dict[str, list[tuple[int, str]]] = {k: [] for k in ("nx", "nu", "nv", "ny")}
    for name, M in blocks.items():
        r, c = _BLOCKS[name]
        seen[r].append((M.shape[0], f"{name} has {M.shape[0]} rows"))
        seen[c].append((M.shape[1], f"{name} has {M.shape[1]} columns"))
    for name, b in biases.items():
        seen[_BIASES[name]].append((b.shape[0], f"{name} has length {b.shape[0]}"))
    for key, value in given.items():
        if value is not None:
            seen[key].append((int(value), f"{key}={value} was given"))
    dims = {}
    for key, entries in seen.items():
        values = {v for v, _ in entries}
        if len(values) > 1:
            why = "; ".join(msg for _, msg in entries)
            raise ValueError(f"inconsistent block shapes for {key}: {why}. Every block must agree (A (nx, nx), "
                             "B1 (nx, nv), B2 (nx, nu), C1 (nv, nx), D11 (nv, nv), D12 (nv, nu), C2 (ny, nx), "
                             "D21 (ny, nv), D22 (ny, nu)).")
        dims[key] = values.pop() if values else 0
    return dims


class LureSystem:
    """Lur'e (LFT) system, discrete (``dt > 0``) or continuous (``dt = 0``).

    Parameters
    ----------
    A : array_like, shape (nx, nx)
    B1 : array_like, shape (nx, nv)
    B2 : array_like, shape (nx, nu)
    C1 : array_like, shape (nv, nx)
    D11 : array_like, shape (nv, nv)
    D12 : array_like, shape (nv, nu)
    C2 : array_like, shape (ny, nx)
    D21 : array_like, shape (ny, nv)
    D22 : array_like, shape (ny, nu)
        Blocks of the LFT; missing blocks are zeros of the right shape.
    bx, bv, by : array_like, shapes (nx,), (nv,), (ny,), optional
        Biases (zero by default).
    delta : Nonlinearity or str, optional
        The elementwise nonlinearity Δ; required when nv > 0.
    dt : float
        Sampling period (> 0) or 0 for continuous time.
    nx, nu, nv, ny : int, optional
        Sizes, needed only where no block fixes them.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import LureSystem
    >>> from sysid.delta import Tanh
    >>> sys = LureSystem(A=[[0.5]], B1=[[0.3]], B2=[[1.0]], C1=[[1.0]], C2=[[1.0]], delta=Tanh(), dt=1.0)
    >>> sys.simulate(np.ones((3, 1))).round(3).ravel().tolist()
    [0.0, 1.0, 1.728]
    """

    def __init__(self, *, A=None, B1=None, B2=None, C1=None, D11=None, D12=None, C2=None,
                 D21=None, D22=None, bx=None, bv=None, by=None,
                 delta: Optional[Nonlinearity | str] = None, dt: float,
                 nx: int | None = None, nu: int | None = None, nv: int | None = None,
                 ny: int | None = None):
        given = dict(A=A, B1=B1, B2=B2, C1=C1, D11=D11, D12=D12, C2=C2, D21=D21, D22=D22)
        blocks = {}
        for name, value in given.items():
            if value is None:
                continue
            M = np.array(as_real_array(value, name), dtype=float)
            if M.ndim == 1 and M.size == 1:
                M = M.reshape(1, 1)
            if M.ndim != 2:
                r, c = _BLOCKS[name]
                raise ValueError(f"{name} must be a 2-D array of shape ({r}, {c}); got shape {M.shape}.")
            if not np.all(np.isfinite(M)):
                raise ValueError(f"{name} contains NaN or inf; every block must be finite.")
            blocks[name] = M
        biases = {}
        for name, value in dict(bx=bx, bv=bv, by=by).items():
            if value is None:
                continue
            b = as_real_array(value, name)
            b = b.reshape(-1) if b.ndim <= 1 else b
            if b.ndim != 1:
                raise ValueError(f"{name} must be a vector of shape ({_BIASES[name]},); got shape {b.shape}.")
            if not np.all(np.isfinite(b)):
                raise ValueError(f"{name} contains NaN or inf.")
            biases[name] = b
        dims = _dims(blocks, biases, dict(nx=nx, nu=nu, nv=nv, ny=ny))
        if dims["ny"] == 0:
            raise ValueError("the system has no outputs: give C2, D21 or D22 (or ny).")
        self.nx, self.nu, self.nv, self.ny = dims["nx"], dims["nu"], dims["nv"], dims["ny"]
        for name, (r, c) in _BLOCKS.items():
            setattr(self, name, blocks.get(name, np.zeros((dims[r], dims[c]))))
        for name, key in _BIASES.items():
            setattr(self, name, biases.get(name, np.zeros(dims[key])))
        self.dt = check_period(dt, "dt", allow_zero=True)
        if self.nv > 0 and delta is None:
            raise ValueError(f"the system has nv = {self.nv} nonlinearity channels; give delta= "
                             "(e.g. sysid.delta.Tanh()).")
        self.delta = get_delta(delta) if delta is not None else None

    # ------------------------------------------------------------------ basics
    @property
    def is_continuous(self) -> bool:
        return self.dt == 0.0

    @property
    def is_acyclic(self) -> bool:
        """True when D11 is strictly lower triangular (the loop is solved explicitly, row by row)."""
        return not np.any(np.triu(self.D11))

    def __repr__(self) -> str:
        time = "continuous" if self.is_continuous else f"dt={self.dt:g}"
        return (f"LureSystem(nx={self.nx}, nu={self.nu}, nv={self.nv}, ny={self.ny}, "
                f"delta={self.delta!r}, {time})")

    def _vec(self, value, n: int, name: str) -> np.ndarray:
        """A vector of shape (n,): 1-D of length n, or a scalar when n = 1; never reshaped."""
        if value is None:
            return np.zeros(n)
        arr = as_real_array(value, name)
        if arr.ndim == 0 and n == 1:
            arr = arr.reshape(1)
        if arr.shape != (n,):
            hint = ""
            if arr.size == n and arr.ndim > 1:
                hint = f" It has the right number of entries: pass a 1-D array ({name}.ravel()) if that is what you mean."
            elif arr.ndim == 2 and arr.shape[1] == n:
                hint = f" For a signal over time use simulate(); an operating point is one row ({name}[0])."
            raise ValueError(f"{name} must have shape ({n},); got {arr.shape}.{hint}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf.")
        return arr

    def _input(self, u, N: int | None = None) -> np.ndarray:
        if u is None:
            raise ValueError(f"u must be an array of shape (N, nu) = (N, {self.nu}); got None. For a system without "
                             "inputs pass np.zeros((N, 0)).")
        arr = as_real_array(u, "u")
        if arr.ndim == 1 and self.nu == 1:
            arr = arr[:, None]
        if arr.ndim == 2 and arr.shape[1] == 0 and self.nu == 0:
            return arr
        return as_signal(arr, "u", n_channels=self.nu)

    # ------------------------------------------------------------------ the loop
    def check_loop(self) -> str:
        """Check that the algebraic loop w = Δ(D11 w + b) has one solution for every b.

        Numpy-only tests with the slope bounds of Δ (see :mod:`sysid.core._loop`): an acyclic
        D11 (strictly lower triangular, as in a REN) and loops that contract or admit a diagonal
        multiplier are well posed; a loop whose Jacobian determinant changes sign over the
        slopes Δ takes is proven ill posed. Called on the first evaluation of a loop with a
        cyclic D11 (``simulate``, ``step``, ``equilibrium``, ``linearize`` ...); building the
        system never raises, so that certificates can still analyse an ill-posed one.

        Returns
        -------
        str
            Why the loop is well posed (or, with a ``UserWarning``, that no test decided).

        Raises
        ------
        ValueError
            When the loop is proven ill posed (several solutions or none for some b).
        """
        key = (self.D11.shape, self.D11.tobytes(), None if self.delta is None else repr(self.delta.to_dict()))
        cached = getattr(self, "_loop_checked", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        if self.nv == 0:
            verdict, reason = "well-posed", "no algebraic loop (nv = 0)"
        else:
            verdict, reason = loop_verdict(self.D11, self.delta)
        if verdict == "ill-posed":
            raise ValueError(
                f"the algebraic loop w = Δ(D11 w + C1 x + D12 u + bv) is ill posed: {reason}. For some states and "
                "inputs it has several solutions or none, so a simulation would depend on the solver's starting "
                "point. Make D11 smaller (a strictly lower-triangular D11, as in a REN, is always well posed); "
                "sysid.certify.well_posedness(system) gives the LMI test."
            )
        if verdict == "unknown":
            warnings.warn(
                f"could not show that the algebraic loop w = Δ(D11 w + ...) is well posed: {reason}; the solution "
                "found by Newton's method may not be the only one. Check with sysid.certify.well_posedness(system).",
                UserWarning, stacklevel=3,
            )
        self._loop_checked = (key, reason)
        return reason

    def solve_loop(self, x, u, *, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
        """Solve w = Δ(C1 x + D11 w + D12 u + bv) for w, shape (nv,).

        Explicit when D11 is strictly lower triangular; otherwise Newton's method
        (:func:`sysid.solvers.newton`) with a :class:`~sysid.ConvergenceError` (carrying
        ``.residual`` and ``.iterations``) if it fails.
        """
        if self.nv == 0:
            return np.zeros(0)
        b = self.C1 @ x + self.D12 @ u + self.bv
        D11, delta = self.D11, self.delta
        if not np.any(D11):
            return delta(b)
        if self.is_acyclic:
            w = np.zeros(self.nv)
            for i in range(self.nv):
                w[i] = delta(b[i] + D11[i, :i] @ w[:i])
            return w
        self.check_loop()
        from ..solvers import newton  # numpy only; the shared fixed-point module

        def f(w):
            return delta(b + D11 @ w)

        def jac(w):
            return delta.derivative(b + D11 @ w)[:, None] * D11

        res = newton(f, delta(b), jac=jac, atol=tol, rtol=tol, max_iter=max_iter, norm=np.inf,
                     raise_on_failure=False)
        if res.converged:
            return res.x
        err = ConvergenceError(
            f"the algebraic loop w = Δ(D11 w + b) did not converge in {res.iterations} Newton iterations "
            f"(residual {res.residual:.2e} > tol {tol:g}); the model may not be well posed — check "
            "sysid.certify.well_posedness(system)."
        )
        err.residual, err.iterations = res.residual, res.iterations
        raise err

    def _rhs(self, x, u) -> tuple[np.ndarray, np.ndarray]:
        w = self.solve_loop(x, u)
        return self.A @ x + self.B1 @ w + self.B2 @ u + self.bx, w

    def step(self, x, u) -> np.ndarray:
        """Discrete-time map x⁺ = f(x, u), shape (nx,)."""
        if self.is_continuous:
            raise ValueError("step() is for discrete-time systems (dt > 0); this one is continuous: use vector_field().")
        return self._rhs(np.asarray(x, float), np.asarray(u, float))[0]

    def vector_field(self, x, u) -> np.ndarray:
        """Continuous-time vector field ẋ = f(x, u), shape (nx,)."""
        if not self.is_continuous:
            raise ValueError("vector_field() is for continuous-time systems (dt = 0); use step() for discrete ones.")
        return self._rhs(np.asarray(x, float), np.asarray(u, float))[0]

    def output(self, x, u, w=None) -> np.ndarray:
        """Output y = C2 x + D21 w + D22 u + by, shape (ny,)."""
        x, u = np.asarray(x, float), np.asarray(u, float)
        if w is None:
            w = self.solve_loop(x, u)
        return self.C2 @ x + self.D21 @ w + self.D22 @ u + self.by

    # ------------------------------------------------------------------ simulation
    def simulate(self, u, x0=None, *, t=None, return_x: bool = False,
                 rtol: float = 1e-10, atol: float = 1e-12):
        """Simulate from ``x0`` (zeros by default).

        Parameters
        ----------
        u : array_like, shape (N, nu)
            Input, time along axis 0 (a 1-D array for one input). For nu = 0 pass (N, 0).
        x0 : array_like, shape (nx,), optional
        t : array_like, shape (N,), or float
            Continuous systems only: sample times, or a sampling period. The input is held
            constant between samples (zero-order hold); integration with scipy ``solve_ivp``
            (DOP853) at tolerances ``rtol``, ``atol``.
        return_x : bool
            Also return the state at each sample, shape (N, nx).

        Returns
        -------
        y : ndarray, shape (N, ny)
        x : ndarray, shape (N, nx)  (only with ``return_x=True``)
        """
        u = self._input(u)
        N = u.shape[0]
        x = self._vec(x0, self.nx, "x0")
        X = np.empty((N, self.nx))
        Y = np.empty((N, self.ny))
        if self.is_continuous:
            times = self._times(t, N)
            for k in range(N):
                X[k] = x
                with np.errstate(over="ignore", invalid="ignore"):
                    Y[k] = self.output(x, u[k])
                if not np.all(np.isfinite(Y[k])):
                    raise ConvergenceError(f"the output became non-finite at t = {times[k]:g} (overflow); the model "
                                           "diverges for this input or the input is too large.")
                if k + 1 < N:
                    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
                        sol = solve_ivp(lambda _t, z, uk=u[k]: self._rhs(z, uk)[0], (times[k], times[k + 1]), x,
                                        method="DOP853", rtol=rtol, atol=atol)
                    if not sol.success:
                        raise ConvergenceError(f"integration failed between t = {times[k]:g} and {times[k + 1]:g}: {sol.message}")
                    x = sol.y[:, -1]
                    if not np.all(np.isfinite(x)):
                        raise ConvergenceError(f"the state became non-finite at t = {times[k + 1]:g}; the model diverges for this input.")
        else:
            if t is not None:
                raise ValueError("t is only for continuous-time systems (dt = 0); this system has dt = "
                                 f"{self.dt:g} and is simulated at its own sampling period.")
            with np.errstate(over="ignore", invalid="ignore"):
                if self.nv == 0:
                    A, B, C, D = self.A, self.B2, self.C2, self.D22
                    Bu = u @ B.T + self.bx
                    for k in range(N):
                        X[k] = x
                        x = A @ x + Bu[k]
                    Y[:] = X @ C.T + u @ D.T + self.by
                else:
                    for k in range(N):
                        X[k] = x
                        xn, w = self._rhs(x, u[k])
                        Y[k] = self.C2 @ x + self.D21 @ w + self.D22 @ u[k] + self.by
                        x = xn
                        if not np.all(np.isfinite(x)):
                            X[k + 1:] = np.nan
                            Y[k + 1:] = np.nan
                            break
            if not np.all(np.isfinite(Y)):
                bad = np.flatnonzero(~np.all(np.isfinite(Y), axis=1))
                raise ConvergenceError(f"the simulation became non-finite from sample {bad[0]} on; the model "
                                       "is unstable for this input or initial state.")
        return (Y, X) if return_x else Y

    @staticmethod
    def _times(t, N: int) -> np.ndarray:
        if t is None:
            raise ValueError("a continuous-time system needs the sample times: pass t= (shape (N,)) or a "
                             "sampling period t=0.01.")
        if np.ndim(t) == 0:
            return check_period(t, "the sampling period t") * np.arange(N)
        times = as_real_array(t, "t")
        if times.shape != (N,):
            raise ValueError(f"t must have shape (N,) = ({N},) to match u; got {times.shape}.")
        if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise ValueError("t must be finite and strictly increasing.")
        return times

    # ------------------------------------------------------------------ equilibria, linearization
    def equilibrium(self, u0=None, *, x_guess=None, tol: float = 1e-10) -> np.ndarray:
        """State x* with x* = f(x*, u0) (discrete) or f(x*, u0) = 0 (continuous), shape (nx,)."""
        u0 = self._vec(u0, self.nu, "u0")
        x = self._vec(x_guess, self.nx, "x_guess")
        if self.nx == 0:
            return x
        eye = 0.0 if self.is_continuous else 1.0

        def residual(z):
            return self._rhs(z, u0)[0] - eye * z

        def jac(z):
            return self._jacobians(z, u0)[0] - eye * np.eye(self.nx)

        sol = optimize.root(residual, x, jac=jac, method="hybr", options={"xtol": 1e-13})
        r = np.linalg.norm(residual(sol.x), np.inf) if np.all(np.isfinite(sol.x)) else np.inf
        if not r <= tol * max(1.0, np.linalg.norm(sol.x, np.inf)):
            raise ConvergenceError(
                f"no equilibrium found for u0 = {u0.tolist()} (residual {r:.2e} > tol {tol:g}, solver: "
                f"{sol.message}). The system may have none (e.g. an integrator driven by a constant input); "
                "try another x_guess."
            )
        return sol.x

    def _jacobians(self, x, u):
        """Exact Jacobians (A, B, C, D) of (f, output) at (x, u) from Δ'."""
        if self.nv == 0:
            return self.A, self.B2, self.C2, self.D22
        w = self.solve_loop(x, u)
        v = self.C1 @ x + self.D11 @ w + self.D12 @ u + self.bv
        J = np.diag(self.delta.derivative(v))
        G = np.linalg.solve(np.eye(self.nv) - J @ self.D11, J)
        return (self.A + self.B1 @ G @ self.C1, self.B2 + self.B1 @ G @ self.D12,
                self.C2 + self.D21 @ G @ self.C1, self.D22 + self.D21 @ G @ self.D12)

    def linearize(self, x0=None, u0=None) -> control.StateSpace:
        """Jacobian linearization at (x0, u0) as a ``control.StateSpace`` with the same dt.

        Without ``x0`` the equilibrium for ``u0`` (zeros by default) is used. The result
        describes deviations δx, δu, δy from the operating point (biases drop out).
        """
        u0 = self._vec(u0, self.nu, "u0")
        x0 = self.equilibrium(u0) if x0 is None else self._vec(x0, self.nx, "x0")
        A, B, C, D = self._jacobians(x0, u0)
        return control.ss(A, B, C, D, self.dt)

    def linear_part(self) -> control.StateSpace:
        """The LTI part G from inputs [u; w] to outputs [y; v] (the loop w = Δ(v) opened)."""
        B = np.hstack([self.B2, self.B1])
        C = np.vstack([self.C2, self.C1])
        D = np.block([[self.D22, self.D21], [self.D12, self.D11]])
        return control.ss(self.A, B, C, D, self.dt)

    @classmethod
    def from_control(cls, sys) -> "LureSystem":
        """A Δ-free LureSystem from a ``control.StateSpace`` (or transfer function)."""
        if isinstance(sys, control.TransferFunction):
            sys = control.ss(sys)
        if not isinstance(sys, control.StateSpace):
            raise TypeError(f"from_control expects a control.StateSpace; got {type(sys).__name__}.")
        dt = sys.dt
        if dt is True:
            raise ValueError("the StateSpace has dt=True (discrete, unspecified period); set its sampling "
                             "period, e.g. control.ss(A, B, C, D, 0.01).")
        dt = 0.0 if dt is None else float(dt)
        lure = cls(A=np.asarray(sys.A), B2=np.asarray(sys.B), C2=np.asarray(sys.C), D22=np.asarray(sys.D),
                   dt=dt, nx=sys.nstates, nu=sys.ninputs, ny=sys.noutputs)
        lure._from_control = True  # compare() says how a continuous one meets sampled data
        return lure

    def to_control(self) -> control.StateSpace:
        """The StateSpace of a system without Δ (nv = 0) and without biases."""
        if self.nv > 0:
            raise ValueError(f"the system has a nonlinearity (nv = {self.nv}); use linearize() or linear_part().")
        if np.any(self.bx) or np.any(self.by):
            raise ValueError("the system has biases bx/by, which a StateSpace cannot hold; use linearize().")
        return control.ss(self.A, self.B2, self.C2, self.D22, self.dt)

    # ------------------------------------------------------------------ data-driven helpers
    def estimate_x0(self, data: IOData, *, n: int | None = None) -> np.ndarray:
        """Initial state that best explains the first ``n`` samples (all by default), shape (nx,).

        Linear systems: exact linear least squares (anchored at the steady state of the first
        input). Nonlinear: ``scipy.optimize.least_squares``. See :mod:`sysid.core._lure_data`.
        """
        from ._lure_data import estimate_x0

        return estimate_x0(self, data, n=n)

    def _data(self, data) -> tuple[np.ndarray, np.ndarray]:
        from ._lure_data import check_data

        return check_data(self, data)

    def predict(self, data: IOData, *, horizon: int, K=None, x0=None) -> np.ndarray:
        """``horizon``-step-ahead prediction ŷ(t | t − horizon), shape (N, ny).

        The state is tracked by the observer x̂⁺ = f(x̂, u) + K (y − ŷ). With ``K=None`` the
        state must be measured: C2 of full column rank and D21 = 0, and x̂ is reconstructed
        from y by least squares at each sample. The first ``horizon`` samples are predicted
        from ``x0`` (zeros by default).
        """
        from ._lure_data import predict

        return predict(self, data, horizon=horizon, K=K, x0=x0)
