"""sysid.solvers: fixed-point solvers against closed forms, and the monotone splittings."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sysid import ConvergenceError, LureSystem
from sysid import solvers as S

METHODS = [S.picard, S.anderson, S.broyden]


def contraction(n, rho, seed=0):
    """Symmetric M with spectrum in [-0.5, rho] and a right-hand side."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    M = Q @ np.diag(np.linspace(-0.5, rho, n)) @ Q.T
    return M, rng.normal(size=n)


@pytest.mark.parametrize("solve", METHODS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n, nu", [(1, 1), (6, 3)])
def test_linear_phi_gives_closed_form_numpy(solve, n, nu):
    # x = φ(Ax + Bu) with φ = identity: x* = (I − A)⁻¹ B u
    rng = np.random.default_rng(n)
    A = rng.normal(size=(n, n))
    A *= 0.8 / np.linalg.norm(A, 2)
    B = rng.normal(size=(n, nu))
    u = rng.normal(size=nu)
    res = solve(lambda x: A @ x + B @ u, np.zeros(n), atol=1e-12, rtol=0, max_iter=2000)
    expected = np.linalg.solve(np.eye(n) - A, B @ u)
    np.testing.assert_allclose(res.x, expected, rtol=0, atol=1e-10)
    assert res.converged and res.residual <= 1e-12
    assert res.residuals.shape == (res.iterations + 1,)


@pytest.mark.parametrize("solve", METHODS, ids=lambda f: f.__name__)
def test_linear_phi_gives_closed_form_torch_batch(solve):
    torch = pytest.importorskip("torch")
    n, nu, Bsz = 5, 2, 4
    rng = np.random.default_rng(1)
    A = rng.normal(size=(n, n))
    A *= 0.8 / np.linalg.norm(A, 2)
    Bm = rng.normal(size=(n, nu))
    U = rng.normal(size=(Bsz, nu))
    At, Ht = torch.tensor(A), torch.tensor(U @ Bm.T)
    res = solve(lambda X: X @ At.T + Ht, torch.zeros(Bsz, n, dtype=torch.float64), atol=1e-12, rtol=0,
                max_iter=2000)
    expected = np.linalg.solve(np.eye(n) - A, (U @ Bm.T).T).T
    assert isinstance(res.x, torch.Tensor) and res.x.shape == (Bsz, n)
    np.testing.assert_allclose(res.x.numpy(), expected, rtol=0, atol=1e-10)


def test_anderson_needs_no_more_iterations_than_picard_at_lipschitz_0_9():
    rng = np.random.default_rng(0)
    n = 40
    W = rng.normal(size=(n, n))
    W *= 0.9 / np.linalg.norm(W, 2)  # tanh(W x + b) is a contraction with Lipschitz constant 0.9
    b = rng.normal(size=n)

    def f(x):
        return np.tanh(W @ x + b)

    p = S.picard(f, np.zeros(n), atol=1e-10, rtol=0, max_iter=1000)
    a = S.anderson(f, np.zeros(n), m=5, atol=1e-10, rtol=0, max_iter=1000)
    assert p.converged and a.converged
    assert p.residual <= 1e-10 and a.residual <= 1e-10
    assert a.iterations <= p.iterations
    np.testing.assert_allclose(a.x, p.x, atol=1e-9)
    # the same on a linear contraction with spectral radius 0.9 (Anderson is far faster there)
    M, c = contraction(30, 0.9)
    p = S.picard(lambda x: M @ x + c, np.zeros(30), atol=1e-10, rtol=0, max_iter=5000)
    a = S.anderson(lambda x: M @ x + c, np.zeros(30), atol=1e-10, rtol=0, max_iter=5000)
    assert a.iterations < p.iterations / 2
    np.testing.assert_allclose(a.x, np.linalg.solve(np.eye(30) - M, c), atol=1e-8)


def test_anderson_regularization_is_relative_so_it_does_not_stall():
    # with an absolute λ = 1e-8 this problem stalls near 1e-3 (docs/math.md §7.1); relative λ converges
    M, c = contraction(50, 0.99, seed=2)
    res = S.anderson(lambda x: M @ x + c, np.zeros(50), m=10, reg=1e-8, atol=1e-10, rtol=0, max_iter=2000)
    assert res.converged
    np.testing.assert_allclose(res.x, np.linalg.solve(np.eye(50) - M, c), atol=1e-7)


def test_tolerances_absolute_and_relative():
    f = lambda x: 0.5 * x + 1e6  # noqa: E731  fixed point 2e6
    loose = S.picard(f, np.zeros(1), atol=0, rtol=1e-3)
    tight = S.picard(f, np.zeros(1), atol=1e-6, rtol=0)
    assert loose.residual <= 1e-3 * 2e6 and tight.residual <= 1e-6
    assert loose.iterations < tight.iterations


@pytest.mark.parametrize("solve", METHODS, ids=lambda f: f.__name__)
def test_divergent_map_raises_with_residual_and_iterations_never_nan(solve):
    def f(x):
        return x * x + 1.0  # no real fixed point (x² − x + 1 > 0); the iterates overflow

    with pytest.raises(ConvergenceError, match=r"did not converge in \d+ iterations|diverged") as info:
        solve(f, np.zeros(3), max_iter=2000)
    assert np.isfinite(info.value.residual) and info.value.iterations >= 1
    res = solve(f, np.zeros(3), max_iter=2000, raise_on_failure=False)
    assert not res.converged and np.all(np.isfinite(res.x))


def test_not_converged_in_max_iter_message_and_attributes():
    with pytest.raises(ConvergenceError, match=r"\(picard\) did not converge in 5 iterations \(residual .* > tol") \
            as info:
        S.picard(lambda x: 0.99 * x + 1, np.zeros(2), max_iter=5)
    assert info.value.iterations == 5 and info.value.residual > 0.5


def test_bad_inputs():
    f = lambda x: x  # noqa: E731
    with pytest.raises(ValueError, match="m \\(the Anderson window\\) must be an int >= 0; got -1"):
        S.anderson(f, np.zeros(2), m=-1)
    with pytest.raises(ValueError, match="damping must be in \\(0, 1\\]"):
        S.picard(f, np.zeros(2), damping=0)
    with pytest.raises(ValueError, match="atol and rtol are both 0"):
        S.picard(f, np.zeros(2), atol=0, rtol=0)
    with pytest.raises(ValueError, match="x0 must be an array of shape \\(n,\\).*np.atleast_1d"):
        S.picard(f, np.float64(1.0))
    with pytest.raises(ValueError, match="f must return an array of the shape of x0, \\(2,\\); got \\(3,\\)"):
        S.picard(lambda x: np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="memory must be an int >= 1"):
        S.broyden(f, np.zeros(2), memory=0)


def test_solver_objects_match_functions():
    M, c = contraction(8, 0.8)
    f = lambda x: M @ x + c  # noqa: E731
    for obj, fn in ((S.Picard(atol=1e-11), S.picard), (S.Anderson(m=3, atol=1e-11), S.anderson),
                    (S.Broyden(atol=1e-11), S.broyden)):
        kw = {"m": 3} if fn is S.anderson else {}
        assert obj(f, np.zeros(8)).iterations == fn(f, np.zeros(8), atol=1e-11, **kw).iterations


def test_newton_matches_anderson_and_lure_loop():
    D11 = np.array([[0.0, 2.0], [-2.0, 0.0]])  # ‖D11‖ = 2 but well posed (monotone)
    b = np.array([0.3, -0.7])
    f = lambda w: np.tanh(D11 @ w + b)  # noqa: E731
    jac = lambda w: (1 - np.tanh(D11 @ w + b) ** 2)[:, None] * D11  # noqa: E731
    res = S.newton(f, np.zeros(2), jac=jac, atol=1e-13, rtol=0)
    np.testing.assert_allclose(res.x, f(res.x), atol=1e-12)
    sys = LureSystem(D11=D11, D12=np.eye(2), D21=np.eye(2), delta="tanh", dt=1.0, nx=0)
    np.testing.assert_allclose(sys.solve_loop(np.zeros(0), b), res.x, atol=1e-10)
    with pytest.raises(ConvergenceError, match="newton") as info:
        S.newton(lambda x: x * x + 1, np.zeros(1), jac=lambda x: np.array([[2 * x[0]]]), max_iter=30)
    assert info.value.iterations >= 1 and np.isfinite(info.value.residual)


# ---------------------------------------------------------------------- monotone splittings
def mon_weight(n, m, scale, seed):
    rng = np.random.default_rng(seed)
    A, B = scale * rng.normal(size=(n, n)), scale * rng.normal(size=(n, n))
    return (1 - m) * np.eye(n) - A.T @ A + B - B.T, rng.normal(size=n)


@pytest.mark.parametrize("sigma", ["relu", "tanh"])
@pytest.mark.parametrize("method", ["pr", "fb"])
def test_splittings_reach_the_equilibrium_where_plain_iteration_diverges(sigma, method):
    W, h = mon_weight(12, 0.5, 0.4, 0)
    act = (lambda v: np.maximum(v, 0)) if sigma == "relu" else np.tanh
    assert np.max(np.abs(np.linalg.eigvals(W))) > 1  # the plain map is no contraction
    with pytest.raises(ConvergenceError):
        S.picard(lambda z: act(W @ z + h), np.zeros(12), max_iter=300)
    res = S.monotone_solve(W, h, sigma=sigma, method=method, solver=S.Anderson(atol=1e-12, rtol=0, max_iter=5000))
    z = res.x
    np.testing.assert_allclose(z, act(W @ z + h), atol=1e-9)


def test_prox_of_tanh_for_alpha_not_one():
    x = np.linspace(-4, 4, 41)
    for alpha in (0.3, 2.0):
        z = S.prox("tanh", x, alpha)
        # optimality: (1 − α) z + α atanh(z) = x
        np.testing.assert_allclose((1 - alpha) * z + alpha * np.arctanh(z), x, atol=1e-10)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(n=st.integers(2, 14), m=st.floats(0.05, 1.0), scale=st.floats(0.1, 1.5), seed=st.integers(0, 10_000),
       sigma=st.sampled_from(["relu", "tanh"]))
def test_monotone_weight_always_converges(n, m, scale, seed, sigma):
    W, h = mon_weight(n, m, scale, seed)
    assert S.monotone_margin(W) >= m - 1e-9
    res = S.monotone_solve(W, h, sigma=sigma, method="pr", solver=S.Picard(atol=1e-10, rtol=0, max_iter=20000))
    act = (lambda v: np.maximum(v, 0)) if sigma == "relu" else np.tanh
    z = res.x
    assert res.converged
    np.testing.assert_allclose(z, act(W @ z + h), atol=1e-7 * (1 + np.abs(z).max()))


def test_monotone_solve_bad_inputs():
    W, h = mon_weight(4, 0.3, 0.3, 0)
    with pytest.raises(ValueError, match="method must be 'pr' .* or 'fb'"):
        S.monotone_solve(W, h, method="admm")
    with pytest.raises(ValueError, match="alpha must be > 0"):
        S.monotone_solve(W, h, alpha=-1.0)
    with pytest.raises(ValueError, match="forward-backward needs sym\\(I - W\\) > 0"):
        S.monotone_solve(3 * np.eye(4), h, method="fb")
    with pytest.raises(ValueError, match="sigma 'relu' or 'tanh'"):
        S.monotone_solve(W, h, sigma="sigmoid")
