"""The systems of the seed documents, simulated from their equations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import control
import numpy as np
from scipy import signal
from scipy.linalg import expm

from ..core.delta import ZMinusSin
from ..core.iodata import IOData
from ..core.lti import balanced_realization
from ..core.lure import LureSystem

__all__ = ["SimulatedData", "spiral_source", "center", "pendulum", "fourth_order_plant", "damped_oscillator",
           "closed_loop_positioner"]


@dataclass
class SimulatedData:
    """A simulated data set.

    Attributes
    ----------
    train, test : IOData or list of IOData
        Training and test records (several experiments as a list).
    system : LureSystem or control.StateSpace
        The true system that generated the data.
    info : dict
        Parameters and exact reference quantities (e.g. the true matrices).
    """

    train: Any
    test: Any
    system: Any
    info: dict = field(default_factory=dict)


def _noisy(y: np.ndarray, noise_std: float, rng) -> np.ndarray:
    if noise_std < 0 or not np.isfinite(noise_std):
        raise ValueError(f"noise_std must be >= 0; got {noise_std}.")
    return y + noise_std * rng.standard_normal(y.shape) if noise_std > 0 else y


def _autonomous(A: np.ndarray, t: np.ndarray, y0s: np.ndarray, noise_std: float, rng, names) -> list[IOData]:
    out = []
    for y0 in y0s:
        Y = np.stack([expm(A * (tk - t[0])) @ y0 for tk in t])
        out.append(IOData(None, _noisy(Y, noise_std, rng), t=t, output_names=names)
                   if not np.allclose(np.diff(t), t[1] - t[0]) else
                   IOData(None, _noisy(Y, noise_std, rng), dt=float(t[1] - t[0]), t0=float(t[0]), output_names=names))
    return out


def _initial_states(y0, n: int, radius: float, rng) -> np.ndarray:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n_initial_states must be an int >= 0; got {n!r}.")
    y0 = np.asarray(y0, dtype=float)
    if y0.shape != (2,) or not np.all(np.isfinite(y0)):
        raise ValueError(f"y0 must be 2 finite numbers (the initial state), shape (2,); got {y0.tolist()!r}.")
    extra = rng.uniform(-radius, radius, size=(n, 2))
    return np.vstack([y0[None], extra])


def spiral_source(*, t=None, y0=(2.0, 0.0), n_initial_states: int = 0, noise_std: float = 0.0,
                  seed: int | None = 0) -> SimulatedData:
    """The seed's spiral: ẏ = A y, A = [[−0.1, 2], [−2, −0.1]], y0 = (2, 0), t = linspace(0, 4, 8).

    Parameters
    ----------
    t : array_like, shape (N,), optional
        Sample times (the seed's grid by default).
    y0 : array_like, shape (2,)
        Initial state of the first training experiment.
    n_initial_states : int
        Extra experiments from random initial states in [−2, 2]² (the test set uses as many,
        at least one).
    noise_std : float
        Standard deviation of white Gaussian noise added to y.
    seed : int or None
        Seed of the initial states and of the noise.

    Returns
    -------
    SimulatedData
        ``train``: list of IOData (autonomous, nu = 0), the first from ``y0``; ``test``: list
        from other random initial states; ``system``: continuous StateSpace (y = x);
        ``info``: ``A``, ``Ad`` = expm(A Δt) (≈ [[0.3919, 0.8593], [−0.8593, 0.3919]]).
    """
    A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    return _linear_autonomous(A, t if t is not None else np.linspace(0, 4, 8), y0, n_initial_states,
                              noise_std, seed, "spiral source")


def center(*, grid: str = "matrix", t=None, y0=(2.0, 2.0), n_initial_states: int = 0,
           noise_std: float = 0.0, seed: int | None = 0) -> SimulatedData:
    """The seed's center: ẏ1 = −0.1 y1 + 10 y2, ẏ2 = −10 y1 + 0.1 y2, y0 = (2, 2).

    Parameters
    ----------
    grid : {"matrix", "node"}
        The seed's grids: ``"matrix"`` t = linspace(0, 4, 8) (its NN/matrix runs), ``"node"``
        t = linspace(0, 0.5, 8) (its NeuralODE runs). Ignored when ``t`` is given.
    t : array_like, shape (N,), optional
        User-chosen, strictly increasing sample times (non-uniform grids give IOData with ``t``).
    y0 : array_like, shape (2,)
        Initial state of the first training experiment.
    n_initial_states : int
        Extra training experiments from random initial states in [−2, 2]² (and as many test
        experiments, at least one).
    noise_std : float
        Standard deviation of white Gaussian noise added to y.
    seed : int or None
        Seed of the initial states and of the noise.

    Returns
    -------
    SimulatedData
        ``train``/``test``: lists of autonomous IOData (nu = 0, ny = 2); ``system``: the
        continuous StateSpace (y = x); ``info["A"]`` the continuous A, ``info["Ad"]`` the exact
        transition matrix expm(A Δt) on a uniform grid.

    Notes
    -----
    A = [[−0.1, 10], [−10, 0.1]] has trace 0 and det 99.99, so its eigenvalues are
    ±9.9995 i: a true center. The seed's "true matrix" of its NN/matrix runs,
    [[0.8477, −0.5390], [0.5390, 0.8369]], is expm(A·4/7) for exactly this A (checked
    numerically: [[0.84773, −0.53897], [0.53897, 0.83695]]), i.e. the one-step map on the
    ``"matrix"`` grid (Δt = 4/7).
    """
    grids = {"matrix": np.linspace(0, 4, 8), "node": np.linspace(0, 0.5, 8)}
    if t is None:
        if grid not in grids:
            raise ValueError(f"grid must be 'matrix' or 'node' (or pass t=); got {grid!r}.")
        t = grids[grid]
    A = np.array([[-0.1, 10.0], [-10.0, 0.1]])
    return _linear_autonomous(A, t, y0, n_initial_states, noise_std, seed, "center")


def _linear_autonomous(A, t, y0, n_extra, noise_std, seed, label) -> SimulatedData:
    rng = np.random.default_rng(seed)
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError(f"t must be a strictly increasing vector of at least 2 times; got shape {t.shape}.")
    train_states = _initial_states(y0, n_extra, 2.0, rng)
    test_states = rng.uniform(-2.0, 2.0, size=(max(n_extra, 1), 2))
    names = ["y1", "y2"]
    train = _autonomous(A, t, train_states, noise_std, rng, names)
    test = _autonomous(A, t, test_states, noise_std, rng, names)
    info = {"A": A, "t": t, "y0": np.asarray(y0, float), "name": label}
    if np.allclose(np.diff(t), t[1] - t[0]):
        info["Ad"] = expm(A * (t[1] - t[0]))
    system = control.ss(A, np.zeros((2, 0)), np.eye(2), np.zeros((2, 0)))
    return SimulatedData(train=train, test=test, system=system, info=info)


def _pendulum_system(g, l, m, mu, delta_t) -> LureSystem:
    a = g * delta_t / l
    return LureSystem(
        A=[[1.0, delta_t], [-a, 1.0 - mu * delta_t / (m * l**2)]],
        B1=[[0.0], [a]], B2=[[0.0], [delta_t / (m * l**2)]],
        C1=[[1.0, 0.0]], C2=[[1.0, 0.0]], delta=ZMinusSin(), dt=delta_t,
    )


def _filtered_noise(N: int, rng, cutoff: float) -> np.ndarray:
    b, a = signal.butter(2, cutoff)
    e = rng.standard_normal(N + 200)
    return signal.lfilter(b, a, e)[200:]


def pendulum(*, n_train: int = 3000, n_test: int = 1500, g: float = 9.81, l: float = 1.0, m: float = 1.0,
             mu: float = 0.5, delta_t: float = 0.01, torque_std: float = 12.0, cutoff: float = 0.02,
             max_angle: float = 1.5, noise_std: float = 0.0, seed: int | None = 0) -> SimulatedData:
    """The seed's torque-driven pendulum with friction, hanging (φ = 0 down, stable).

    Euler-discretized m l² φ̈ = τ − m g l sin φ − μ φ̇ written as a Lur'e system with
    Δ(z) = z − sin z (slopes in [0, 2]), state x = (φ, φ̇), only the angle measured::

        A = [[1, δ], [−gδ/l, 1 − μδ/(ml²)]],  B1 = [0; gδ/l],  B2 = [0; δ/(ml²)],
        C1 = C2 = [1, 0]

    (sin φ = φ − Δ(φ), so −(gδ/l) sin φ = −(gδ/l) φ + (gδ/l) Δ(φ).)

    The torque is low-pass filtered Gaussian noise (2nd-order Butterworth, normalized cutoff
    ``cutoff``) scaled so that the angle peaks at ``max_angle`` rad in each record — large
    enough to excite the nonlinearity, never over the top.

    Parameters
    ----------
    n_train, n_test : int
        Lengths of the training and the (separate, independently excited) test record.
    g, l, m, mu : float
        Gravity [m/s²], length [m], mass [kg], viscous friction [N m s].
    delta_t : float
        Euler step = sampling period δ [s].
    torque_std, cutoff : float
        Initial scale of the torque and the normalized Butterworth cutoff (0 < cutoff < 1).
    max_angle : float
        Peak |φ| of each record [rad]; must stay below π − 0.2.
    noise_std : float
        Standard deviation of white Gaussian noise added to the measured angle.
    seed : int or None
        Seed of the torque and of the noise.

    Returns
    -------
    SimulatedData
        ``train``, ``test`` IOData (u: torque [N m], y: angle [rad]); ``system`` the true
        LureSystem; ``info`` the parameters.
    """
    for name, value in dict(g=g, l=l, m=m, delta_t=delta_t, torque_std=torque_std, max_angle=max_angle).items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0; got {value}.")
    if mu < 0:
        raise ValueError(f"mu (friction) must be >= 0; got {mu}.")
    if max_angle >= np.pi - 0.2:
        raise ValueError(f"max_angle must stay below π − 0.2 (never over the top); got {max_angle}.")
    rng = np.random.default_rng(seed)
    system = _pendulum_system(g, l, m, mu, delta_t)
    records = []
    for N in (n_train, n_test):
        if not isinstance(N, (int, np.integer)) or N < 10:
            raise ValueError(f"n_train and n_test must be ints >= 10; got {N!r}.")
        u = torque_std * _filtered_noise(N, rng, cutoff)[:, None]
        # scale the torque until the angle peaks at max_angle (monotone in the scale for these amplitudes)
        lo, hi = 0.0, 1.0
        while np.max(np.abs(system.simulate(hi * u))) < max_angle and hi < 1e3:
            lo, hi = hi, 2 * hi
        for _ in range(22):
            mid = 0.5 * (lo + hi)
            peak = np.max(np.abs(system.simulate(mid * u)))
            lo, hi = (mid, hi) if peak < max_angle else (lo, mid)
        u = lo * u
        y = system.simulate(u)
        if np.max(np.abs(y)) >= np.pi - 0.2:  # pragma: no cover - guarded by the bisection
            raise RuntimeError("the pendulum swung over the top; lower max_angle.")
        records.append(IOData(u, _noisy(y, noise_std, rng), dt=delta_t, input_names=["torque"],
                              output_names=["angle"], input_units=["N m"], output_units=["rad"],
                              name="pendulum"))
    info = dict(g=g, l=l, m=m, mu=mu, delta_t=delta_t, max_angle=max_angle, noise_std=noise_std)
    return SimulatedData(train=records[0], test=records[1], system=system, info=info)


def fourth_order_plant(*, N: int = 1000, n_test: int = 1000, noise_std: float = 0.0, balanced: bool = True,
                       seed: int | None = 0) -> SimulatedData:
    """The seed's plant zpk(−4, [−9 ± 5i, −2 ± 50i], 5e5), ZOH-discretized at Ts = 0.01 s.

    DC gain 7.5351. The returned realization is *balanced* (square-root method; equal, diagonal
    Gramians, Hankel singular values ≈ [25.4, 24.8, 5.5, 2.4] — see ``info["hsv"]``), whose
    states stay ≈ 10 for unit inputs. The unbalanced realizations are badly scaled:
    ``control.c2d(control.ss(zpk))`` (``info["default_system"]``) has C entries of size ≈ 2e6
    and states ≈ 0.02, the controllable-canonical ``control.ss(tf)`` one has states of several
    hundred for a unit step. Balancing uses :func:`sysid.core.lti.balanced_realization`
    (square-root method; no slycot).

    Parameters
    ----------
    N, n_test : int
        Lengths of the training and test records.
    noise_std : float
        Standard deviation of white Gaussian noise added to the output.
    balanced : bool
        Return the balanced realization (default) or ``info["default_system"]``.
    seed : int or None
        Seed of the inputs (unit-variance white Gaussian noise) and of the noise.

    Returns
    -------
    SimulatedData
        ``train``/``test`` IOData (nu = ny = 1, dt = 0.01); ``system`` the discrete
        StateSpace; ``info``: ``continuous`` (the zpk), ``default_system``, ``hsv``, ``dcgain``.
    """
    if not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"N must be an int >= 1; got {N!r}.")
    Gc = control.zpk([-4.0], [-9 + 5j, -9 - 5j, -2 + 50j, -2 - 50j], 5e5)
    Gd = control.c2d(control.ss(Gc), 0.01, "zoh")
    system, hsv = balanced_realization(Gd) if balanced else (Gd, None)
    rng = np.random.default_rng(seed)
    L = LureSystem.from_control(system)
    out = []
    for n in (N, n_test):
        u = rng.standard_normal((n, 1))
        out.append(IOData(u, _noisy(L.simulate(u), noise_std, rng), dt=0.01, name="fourth-order plant"))
    return SimulatedData(train=out[0], test=out[1], system=system,
                         info={"continuous": Gc, "default_system": Gd, "hsv": hsv, "dcgain": 7.5351})


def damped_oscillator(*, m: float = 1.0, gamma: float = 0.3, N: int = 1000, dt: float = 0.05,
                      forcing: str = "multisine", noise_std: float = 0.0, seed: int | None = 0) -> SimulatedData:
    """m ẍ + γ ẋ + x = F(t), sampled with the force held between samples (ZOH, exact).

    Parameters
    ----------
    m, gamma : float
        Mass (> 0) and damping (>= 0); the spring constant is 1.
    N : int
        Samples per record (train and test each).
    dt : float
        Sampling period [s].
    forcing : {"multisine", "noise", "step"}
        ``"multisine"``: sum of 20 sines at linspace(0.05, 1, 20) Hz with random phases,
        divided by 3 (std ≈ 1.05); ``"noise"``: unit-variance white noise held over each
        sample; ``"step"``: F = 1. The force is held constant between samples, so the
        sampled data are exact (ZOH discretization of the continuous system).
    noise_std : float
        Standard deviation of white Gaussian noise added to x.
    seed : int or None
        Seed of the phases / the noise input and of the output noise.

    Returns
    -------
    SimulatedData with ``system`` the continuous StateSpace (state (x, ẋ), output x).
    """
    if not m > 0 or gamma < 0:
        raise ValueError(f"need m > 0 and gamma >= 0; got m={m}, gamma={gamma}.")
    rng = np.random.default_rng(seed)
    Gc = control.ss([[0.0, 1.0], [-1.0 / m, -gamma / m]], [[0.0], [1.0 / m]], [[1.0, 0.0]], [[0.0]])
    L = LureSystem.from_control(control.c2d(Gc, dt, "zoh"))
    t = dt * np.arange(N)
    out = []
    for _ in range(2):
        if forcing == "multisine":
            freqs = np.linspace(0.05, 1.0, 20)
            F = np.sum(np.sin(2 * np.pi * freqs[:, None] * t + rng.uniform(0, 2 * np.pi, (20, 1))), axis=0) / 3
        elif forcing == "noise":
            F = rng.standard_normal(N)
        elif forcing == "step":
            F = np.ones(N)
        else:
            raise ValueError(f"forcing must be 'multisine', 'noise' or 'step'; got {forcing!r}.")
        y = L.simulate(F[:, None])
        out.append(IOData(F, _noisy(y, noise_std, rng), dt=dt, input_names=["F"], output_names=["x"]))
    return SimulatedData(train=out[0], test=out[1], system=Gc, info=dict(m=m, gamma=gamma, dt=dt, forcing=forcing))


def closed_loop_positioner(*, n_train: int = 4000, n_test: int = 4000, dt: float = 0.01, m: float = 2.0,
                           viscous: float = 20.0, coulomb: float = 0.2, kp: float = 400.0, ki: float = 1000.0,
                           amplitude: float = 0.1, noise_std: float = 2e-4, substeps: int = 10,
                           seed: int | None = 0) -> SimulatedData:
    """A mass with Coulomb and viscous friction, driven by a force, its position measured, under a PI
    position loop — a marginally stable plant identified from closed-loop data.

        m q̈ = F − c q̇ − F_c tanh(q̇ / v_ε),   v_ε = 1e-3 m/s (a smooth Coulomb law)
        F(t_k) = k_p e_k + k_i dt Σ_{j≤k} e_j,   e_k = r_k − y_k,   y_k = q(t_k) + noise

    The force is held between samples; the plant is integrated with ``substeps`` semi-implicit
    Euler steps per sample. The controller sees the noisy measurement, so the input is
    correlated with past output noise (closed loop). The reference is a smooth random
    trajectory (low-pass filtered noise, peak ``amplitude``), independent between records.

    Parameters
    ----------
    n_train, n_test : int
        Samples of the training and the test record.
    dt : float
        Sampling period [s].
    m, viscous, coulomb : float
        Mass [kg], viscous friction c [N s/m], Coulomb friction F_c [N].
    kp, ki : float
        PI gains [N/m], [N/(m s)]; the loop m s³ + c s² + k_p s + k_i is stable for c k_p > m k_i.
    amplitude : float
        Peak of the reference [m].
    noise_std : float
        Standard deviation of the position measurement noise [m].
    substeps : int
        Integration steps per sample.
    seed : int or None

    Returns
    -------
    SimulatedData
        ``train``/``test`` IOData (u: force [N], y: measured position [m]); ``system``: the
        linear part 1/(s (m s + c)) as a continuous StateSpace (state (q, q̇)); ``info``: the
        parameters, ``reference`` (r of each record), ``discrete`` (ZOH of the linear part at
        dt: poles 1 and exp(−c dt/m)).
    """
    for name, value in dict(n_train=n_train, n_test=n_test, substeps=substeps).items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 10 and name != "substeps" \
                or value < 1:
            raise ValueError(f"{name} must be an int >= {1 if name == 'substeps' else 10}; got {value!r}.")
    for name, value in dict(dt=dt, m=m, viscous=viscous, kp=kp, ki=ki, amplitude=amplitude).items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    if coulomb < 0 or noise_std < 0:
        raise ValueError(f"coulomb and noise_std must be >= 0; got {coulomb} and {noise_std}.")
    if not viscous * kp > m * ki:
        raise ValueError(f"the PI loop is unstable: need viscous·kp > m·ki; got {viscous * kp:g} <= {m * ki:g}. "
                         "Lower ki or raise kp.")
    rng = np.random.default_rng(seed)
    h = dt / substeps
    v_eps = 1e-3
    records, refs = [], []
    for N in (n_train, n_test):
        r = _filtered_noise(N, rng, 0.01)
        r = amplitude * r / np.max(np.abs(r))
        q = v = integ = 0.0
        u = np.empty(N)
        y = np.empty(N)
        noise = noise_std * rng.standard_normal(N)
        for k in range(N):
            y[k] = q + noise[k]
            e = r[k] - y[k]
            integ += e * dt
            F = kp * e + ki * integ
            u[k] = F
            for _ in range(substeps):
                v += h * (F - viscous * v - coulomb * np.tanh(v / v_eps)) / m
                q += h * v
        records.append(IOData(u, y, dt=dt, input_names=["force"], output_names=["position"],
                              input_units=["N"], output_units=["m"], name="closed-loop positioner"))
        refs.append(r)
    Gc = control.ss([[0.0, 1.0], [0.0, -viscous / m]], [[0.0], [1.0 / m]], [[1.0, 0.0]], [[0.0]])
    info = dict(m=m, viscous=viscous, coulomb=coulomb, kp=kp, ki=ki, dt=dt, noise_std=noise_std,
                reference=refs, discrete=control.c2d(Gc, dt, "zoh"))
    return SimulatedData(train=records[0], test=records[1], system=Gc, info=info)
