import control
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import signal
from scipy.integrate import solve_ivp

from sysid import ConvergenceError, IOData, LureSystem, compare
from sysid.delta import Identity, LeakyReLU, ReLU, Sigmoid, Tanh, ZMinusSin


def random_stable(nx, nu, ny, seed, dt=0.1):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(nx, nx))
    A *= 0.9 / max(abs(np.linalg.eigvals(A)))
    return control.ss(A, rng.normal(size=(nx, nu)), rng.normal(size=(ny, nx)), rng.normal(size=(ny, nu)), dt)


def random_lure(nx, nu, nv, ny, seed, delta=Tanh(), acyclic=True, scale=0.3):
    rng = np.random.default_rng(seed)
    D11 = np.tril(rng.normal(size=(nv, nv)), -1) * scale if acyclic else rng.normal(size=(nv, nv)) * 0.2
    return LureSystem(A=rng.normal(size=(nx, nx)) * 0.3, B1=rng.normal(size=(nx, nv)) * scale,
                      B2=rng.normal(size=(nx, nu)), C1=rng.normal(size=(nv, nx)), D11=D11,
                      D12=rng.normal(size=(nv, nu)), C2=rng.normal(size=(ny, nx)), D21=rng.normal(size=(ny, nv)),
                      D22=rng.normal(size=(ny, nu)), bx=rng.normal(size=nx) * 0.1, bv=rng.normal(size=nv) * 0.1,
                      by=rng.normal(size=ny) * 0.1, delta=delta, dt=0.05)


@pytest.mark.parametrize("nx,nu,ny", [(1, 1, 1), (3, 2, 2), (4, 1, 3)])
def test_lti_simulation_matches_dlsim_and_forced_response(nx, nu, ny):
    G = random_stable(nx, nu, ny, seed=nx + nu)
    rng = np.random.default_rng(3)
    u = rng.normal(size=(60, nu))
    x0 = rng.normal(size=nx)
    y = LureSystem.from_control(G).simulate(u, x0)
    _, y_dl, _ = signal.dlsim((G.A, G.B, G.C, G.D, G.dt), u, x0=x0)
    np.testing.assert_allclose(y, y_dl, rtol=1e-12, atol=1e-12)
    y_fr = control.forced_response(G, U=u.T, X0=x0).y.T
    np.testing.assert_allclose(y, y_fr, rtol=1e-12, atol=1e-12)


def test_round_trip_to_and_from_control():
    G = random_stable(3, 2, 2, seed=0)
    H = LureSystem.from_control(G).to_control()
    for M in "ABCD":
        np.testing.assert_array_equal(getattr(G, M), getattr(H, M))
    assert H.dt == G.dt
    tf = control.tf([1.0], [1.0, -0.5], 1.0)
    L = LureSystem.from_control(tf)
    np.testing.assert_allclose(L.simulate(np.ones(20))[-1], [2.0], rtol=1e-5)


def test_identity_delta_equals_closed_loop():
    sys = random_lure(3, 2, 4, 2, seed=5, delta=Identity())
    K = np.eye(sys.nv)
    G = K @ np.linalg.inv(np.eye(sys.nv) - sys.D11 @ K)
    Acl, Bcl = sys.A + sys.B1 @ G @ sys.C1, sys.B2 + sys.B1 @ G @ sys.D12
    Ccl, Dcl = sys.C2 + sys.D21 @ G @ sys.C1, sys.D22 + sys.D21 @ G @ sys.D12
    u = np.random.default_rng(0).normal(size=(40, 2))
    # biases: closed-loop affine terms
    bxc = sys.bx + sys.B1 @ G @ sys.bv
    byc = sys.by + sys.D21 @ G @ sys.bv
    ref = LureSystem(A=Acl, B2=Bcl, C2=Ccl, D22=Dcl, bx=bxc, by=byc, dt=sys.dt)
    np.testing.assert_allclose(sys.simulate(u), ref.simulate(u), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("delta", [Tanh(), Sigmoid(), ZMinusSin(), LeakyReLU(0.2)])
@pytest.mark.parametrize("acyclic", [True, False])
def test_linearize_matches_finite_differences(delta, acyclic):
    sys = random_lure(3, 2, 4, 2, seed=11, delta=delta, acyclic=acyclic)
    rng = np.random.default_rng(2)
    x0, u0 = rng.normal(size=3), rng.normal(size=2)
    lin = sys.linearize(x0=x0, u0=u0)
    h = 1e-6

    def f(x, u):
        return np.concatenate([sys.step(x, u), sys.output(x, u)])

    J = np.empty((5, 5))
    z = np.concatenate([x0, u0])
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        J[:, j] = (f((z + e)[:3], (z + e)[3:]) - f((z - e)[:3], (z - e)[3:])) / (2 * h)
    np.testing.assert_allclose(np.block([[lin.A, lin.B], [lin.C, lin.D]]), J, atol=1e-7)
    assert lin.dt == sys.dt


def test_solve_loop_dense_satisfies_equation_and_acyclic_is_explicit():
    sys = random_lure(2, 1, 5, 1, seed=4, acyclic=False)
    x, u = np.array([0.3, -0.2]), np.array([0.5])
    w = sys.solve_loop(x, u)
    v = sys.C1 @ x + sys.D11 @ w + sys.D12 @ u + sys.bv
    np.testing.assert_allclose(w, sys.delta(v), atol=1e-12)
    acyc = random_lure(2, 1, 5, 1, seed=4, acyclic=True)
    assert acyc.is_acyclic and not sys.is_acyclic
    w = acyc.solve_loop(x, u)
    np.testing.assert_allclose(w, acyc.delta(acyc.C1 @ x + acyc.D11 @ w + acyc.D12 @ u + acyc.bv), atol=1e-14)


def test_ill_posed_loop_is_refused():
    # w = relu(1.5 w + 1) has no solution (and w = relu(1.5 w − 1) has two): refused before Newton runs
    sys = LureSystem(A=[[0.0]], B1=[[1.0]], C1=[[0.0]], D11=[[1.5]], bv=[1.0], C2=[[1.0]], delta=ReLU(), dt=1.0)
    with pytest.raises(ValueError, match="ill posed.*well_posedness"):
        sys.simulate(np.zeros((3, 0)))


def test_pendulum_linearization_at_bottom_is_textbook():
    g, l, m, mu, d = 9.81, 1.0, 1.0, 0.5, 0.01
    A = np.array([[1, d], [-g * d / l, 1 - mu * d / (m * l**2)]])
    pend = LureSystem(A=A, B1=[[0], [g * d / l]], B2=[[0], [d / (m * l**2)]], C1=[[1, 0]], C2=[[1, 0]],
                      delta=ZMinusSin(), dt=d)
    lin = pend.linearize(u0=[0.0])
    np.testing.assert_allclose(lin.A, A, atol=1e-15)
    np.testing.assert_allclose(pend.equilibrium([0.0]), [0, 0], atol=1e-12)
    # with a constant torque tau the equilibrium satisfies m g l sin(phi) = tau
    phi = pend.equilibrium([2.0])[0]
    assert np.sin(phi) == pytest.approx(2.0 / (m * g * l), rel=1e-9)


def test_continuous_lure_matches_hand_written_ode():
    A = np.array([[0.0, 1.0], [-2.0, -0.3]])
    sys = LureSystem(A=A, B1=[[0.0], [-1.0]], B2=[[0.0], [1.0]], C1=[[1.0, 0.0]], C2=[[1.0, 0.0]],
                     delta=Tanh(), dt=0.0)
    t = np.linspace(0, 5, 51)
    u = np.sin(t)[:, None]
    x0 = np.array([1.0, 0.0])
    y, X = sys.simulate(u, x0, t=t, return_x=True, rtol=1e-11, atol=1e-13)
    # hand-written ODE with the input held per interval
    x = x0.copy()
    ref = [x.copy()]
    for k in range(50):
        f = lambda _t, z, uk=u[k, 0]: [z[1], -2 * z[0] - 0.3 * z[1] - np.tanh(z[0]) + uk]
        x = solve_ivp(f, (t[k], t[k + 1]), x, method="Radau", rtol=1e-11, atol=1e-13).y[:, -1]
        ref.append(x.copy())
    np.testing.assert_allclose(X, np.array(ref), atol=1e-8)  # both solvers at rtol 1e-11
    np.testing.assert_allclose(y[:, 0], X[:, 0])
    np.testing.assert_allclose(sys.vector_field(x0, [0.5]), [0.0, -2 - np.tanh(1.0) + 0.5])


def test_continuous_needs_times():
    sys = LureSystem(A=[[-1.0]], B2=[[1.0]], C2=[[1.0]], dt=0.0)
    with pytest.raises(ValueError, match="needs the sample times"):
        sys.simulate(np.ones(5))
    y = sys.simulate(np.ones(5), t=0.1)  # a sampling period is accepted
    np.testing.assert_allclose(y[:, 0], 1 - np.exp(-0.1 * np.arange(5)), atol=1e-9)


def test_linear_part_and_equilibrium_of_lti():
    sys = random_lure(2, 1, 3, 1, seed=8)
    G = sys.linear_part()
    assert (G.ninputs, G.noutputs) == (sys.nu + sys.nv, sys.ny + sys.nv)
    np.testing.assert_array_equal(G.D[:1, 1:], sys.D21)
    lti = LureSystem.from_control(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0))
    np.testing.assert_allclose(lti.equilibrium([1.0]), [2.0])


def test_no_equilibrium_raises():
    integrator = LureSystem(A=[[1.0]], B2=[[1.0]], C2=[[1.0]], dt=1.0)
    with pytest.raises(ConvergenceError, match="no equilibrium"):
        integrator.equilibrium([1.0])


def test_block_shape_errors_name_the_block():
    with pytest.raises(ValueError, match="B2 has 3 rows"):
        LureSystem(A=np.eye(2), B2=np.ones((3, 1)), C2=np.ones((1, 2)), dt=1.0)
    with pytest.raises(ValueError, match="give delta="):
        LureSystem(A=np.eye(2), B1=np.ones((2, 1)), C2=np.ones((1, 2)), dt=1.0)
    with pytest.raises(ValueError, match="dt must be"):
        LureSystem(A=np.eye(2), C2=np.ones((1, 2)), dt=-1.0)
    with pytest.raises(ValueError, match="no outputs"):
        LureSystem(A=np.eye(2), dt=1.0)
    with pytest.raises(ValueError, match=r"u must have shape \(N, 2\)"):
        random_lure(2, 2, 1, 1, seed=0).simulate(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="x0 must have shape"):
        random_lure(2, 2, 1, 1, seed=0).simulate(np.zeros((5, 2)), x0=[1.0])
    with pytest.raises(ValueError, match="dt=True"):
        LureSystem.from_control(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], True))


def test_unstable_simulation_raises_instead_of_nan():
    sys = LureSystem(A=[[3.0]], B2=[[1.0]], C2=[[1.0]], dt=1.0)
    with pytest.raises(ConvergenceError, match="non-finite"):
        sys.simulate(np.ones(1000))


def test_estimate_x0_linear_and_nonlinear():
    G = random_stable(3, 1, 2, seed=2)
    L = LureSystem.from_control(G)
    u = np.random.default_rng(0).normal(size=(50, 1))
    x0 = np.array([1.0, -2.0, 0.5])
    d = IOData(u, L.simulate(u, x0), dt=G.dt)
    np.testing.assert_allclose(L.estimate_x0(d), x0, atol=1e-9)
    np.testing.assert_allclose(L.estimate_x0(d, n=10), x0, atol=1e-8)
    N = random_lure(2, 1, 3, 2, seed=3)
    d = IOData(u, N.simulate(u, [0.4, -0.3]), dt=N.dt)
    np.testing.assert_allclose(N.estimate_x0(d, n=20), [0.4, -0.3], atol=1e-6)


def test_predict_with_measured_state_and_with_kalman_gain():
    G = random_stable(2, 1, 2, seed=6)
    G = control.ss(G.A, G.B, np.eye(2), np.zeros((2, 1)), G.dt)  # state measured
    L = LureSystem.from_control(G)
    rng = np.random.default_rng(1)
    u = rng.normal(size=(80, 1))
    y = L.simulate(u, [1.0, 1.0])
    d = IOData(u, y, dt=G.dt)
    # noise-free and state measured: every k-step prediction is exact after the first k samples
    for k in (1, 3):
        yp = L.predict(d, horizon=k)
        np.testing.assert_allclose(yp[k:], y[k:], atol=1e-12)
    res = compare(G, d, horizon=2, skip=2)
    assert res.kind == "prediction"
    np.testing.assert_allclose(res.fit_percent, 100.0, atol=1e-9)
    # with an observer gain: K = A C^+ gives a deadbeat observer for C = I
    yp = L.predict(d, horizon=1, K=G.A)
    np.testing.assert_allclose(yp[2:], y[2:], atol=1e-12)
    hidden = LureSystem.from_control(random_stable(3, 1, 1, seed=1))
    with pytest.raises(ValueError, match="needs a state estimate"):
        hidden.predict(IOData(u, np.zeros(80), dt=0.1), horizon=2)


shape = st.integers(min_value=1, max_value=3)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(nx=shape, nu=shape, ny=shape, nv=st.integers(0, 3), N=st.integers(1, 12))
def test_simulation_shapes(nx, nu, ny, nv, N):
    sys = random_lure(nx, nu, nv, ny, seed=nx * 100 + nu * 10 + ny) if nv else \
        LureSystem.from_control(random_stable(nx, nu, ny, seed=1))
    y, x = sys.simulate(np.zeros((N, nu)), return_x=True)
    assert y.shape == (N, ny) and x.shape == (N, nx)
    lin = sys.linearize(x0=np.zeros(nx), u0=np.zeros(nu))
    assert (lin.nstates, lin.ninputs, lin.noutputs) == (nx, nu, ny)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(nx=st.integers(1, 4), nu=shape, ny=shape, seed=st.integers(0, 1000))
def test_markov_parameters_are_similarity_invariant(nx, nu, ny, seed):
    G = random_stable(nx, nu, ny, seed)
    T = np.random.default_rng(seed + 1).normal(size=(nx, nx)) + 3 * np.eye(nx)
    Ti = np.linalg.inv(T)
    H = control.ss(T @ G.A @ Ti, T @ G.B, G.C @ Ti, G.D, G.dt)
    # Markov parameters = impulse response of the simulated system
    imp = np.zeros((8, nu))
    for j in range(nu):
        imp[:] = 0
        imp[0, j] = 1.0
        np.testing.assert_allclose(LureSystem.from_control(G).simulate(imp),
                                   LureSystem.from_control(H).simulate(imp), rtol=1e-8, atol=1e-8)
