"""REN estimator: exact physical-units export, certificates after normalization, training, save/load."""

import numpy as np
import pytest

pytest.importorskip("torch")

from sysid import IOData, NotFittedError  # noqa: E402
from sysid.certify import Certificate  # noqa: E402
from sysid.estimators import REN  # noqa: E402


def plant_data(nu=1, ny=1, N=240, seed=0, u_scale=3.0, u_offset=2.0, y_scale=50.0, y_offset=-7.0):
    """A stable nonlinear plant with signals far from zero mean / unit variance."""
    rng = np.random.default_rng(seed)
    u = u_offset + u_scale * rng.standard_normal((N, nu))
    x = np.zeros(2)
    y = np.empty((N, ny))
    W = rng.standard_normal((2, nu)) / np.sqrt(nu)
    Cy = rng.standard_normal((ny, 2))
    for k in range(N):
        y[k] = y_offset + y_scale * (Cy @ x)
        un = (u[k] - u_offset) / u_scale
        x = np.array([0.7 * x[0] + 0.2 * x[1], -0.2 * x[0] + 0.6 * x[1]]) + 0.5 * np.tanh(W @ un)
    return IOData(u, y, dt=0.5)


FAST = dict(nx=3, nv=4, epochs=2, horizon=40, burn_in=5, batch_size=8, seed=0)


def fitted(kind="contracting", nu=1, ny=1, **kw):
    extra = {}
    if kind == "lipschitz":
        extra = dict(gamma=kw.pop("gamma", 2.0))
    elif kind == "iqc":
        extra = dict(Q=-np.eye(ny), S=0.1 * np.ones((nu, ny)), R=4.0 * np.eye(nu))
    params = {**FAST, **kw}
    return REN(kind=kind, **extra, **params).fit(plant_data(nu, ny))


@pytest.mark.parametrize("kind", ["contracting", "lipschitz", "iqc"])
@pytest.mark.parametrize("nu,ny", [(1, 1), (2, 3)])
def test_to_lure_matches_torch_simulation(kind, nu, ny):
    est = fitted(kind, nu, ny)
    assert np.any(est.u_std_ != 1.0) and np.any(est.y_mean_ != 0.0)  # normalization is non-trivial
    lure = est.to_lure()
    assert lure.is_acyclic and lure.dt == 0.5 and lure.delta.name == "relu"
    rng = np.random.default_rng(1)
    u = 2.0 + 3.0 * rng.standard_normal((60, nu))
    x0 = rng.standard_normal(est.nx)
    np.testing.assert_allclose(lure.simulate(u, x0), est.simulate(u, x0=x0), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["contracting", "lipschitz", "iqc"])
def test_certificate_of_exported_system(kind):
    est = fitted(kind, 2, 2, rate=0.95)
    cert = est.certificate()
    assert isinstance(cert, Certificate) and cert.certified
    M, lam = est.certificate_data_["M"], est.certificate_data_["Lambda"]
    # independent check: V = ΔxᵀMΔx shrinks by rate² per step along the exported system
    lure = est.to_lure()
    rng = np.random.default_rng(0)
    u = 2.0 + 3.0 * rng.standard_normal((50, 2))
    _, X1 = lure.simulate(u, 5 * rng.standard_normal(3), return_x=True)
    _, X2 = lure.simulate(u, 5 * rng.standard_normal(3), return_x=True)
    d = X1 - X2
    V = np.einsum("ti,ij,tj->t", d, M, d)
    assert np.all(V[1:] <= 0.95**2 * V[:-1] * (1 + 1e-9) + 1e-14)
    assert np.all(lam > 0)


@pytest.mark.parametrize("nu,ny", [(2, 3), (3, 2), (2, 2)])
def test_physical_lipschitz_bound(nu, ny):
    gamma = 1.5
    est = fitted("lipschitz", nu, ny, gamma=gamma)
    g = est.gamma_phys_
    np.testing.assert_allclose(g, gamma * est.y_std_.max() / est.u_std_.min())
    assert est.certificate().certified
    lure = est.to_lure()
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal(est.nx)
    for _ in range(5):
        u1 = 2 + 3 * rng.standard_normal((80, nu))
        u2 = u1 + rng.uniform(0.05, 3) * rng.standard_normal((80, nu))
        dy = lure.simulate(u1, x0) - lure.simulate(u2, x0)
        assert np.sum(dy**2) <= g**2 * np.sum((u1 - u2) ** 2) * (1 + 1e-9)


def test_physical_qsr_dissipation():
    est = fitted("iqc", 2, 2)
    cd = est.certificate_data_
    Q, S, R, M = cd["Q"], cd["S"], cd["R"], cd["M"]
    lure = est.to_lure()
    rng = np.random.default_rng(3)
    u1, u2 = 2 + 3 * rng.standard_normal((60, 2)), 2 + 3 * rng.standard_normal((60, 2))
    y1, X1 = lure.simulate(u1, rng.standard_normal(3), return_x=True)
    y2, X2 = lure.simulate(u2, rng.standard_normal(3), return_x=True)
    dx, dy, du = X1 - X2, y1 - y2, u1 - u2
    V = np.einsum("ti,ij,tj->t", dx, M, dx)
    supply = (np.einsum("ti,ij,tj->t", dy, Q, dy) + 2 * np.einsum("ti,ij,tj->t", du, S, dy)
              + np.einsum("ti,ij,tj->t", du, R, du))
    assert np.min(supply[:-1] - (V[1:] - V[:-1])) >= -1e-9 * max(1.0, np.abs(supply).max())


def test_linearize_matches_finite_differences_and_is_contracting():
    est = fitted("contracting", 2, 2, rate=0.9, activation="tanh")
    lure = est.to_lure()
    u0 = np.array([2.5, 1.0])
    x0 = lure.equilibrium(u0)
    np.testing.assert_allclose(lure.step(x0, u0), x0, atol=1e-9)
    lin = est.linearize(u0=u0)
    h = 1e-6
    A_fd = np.column_stack([(lure.step(x0 + h * e, u0) - lure.step(x0 - h * e, u0)) / (2 * h) for e in np.eye(3)])
    B_fd = np.column_stack([(lure.step(x0, u0 + h * e) - lure.step(x0, u0 - h * e)) / (2 * h) for e in np.eye(2)])
    C_fd = np.column_stack([(lure.output(x0 + h * e, u0) - lure.output(x0 - h * e, u0)) / (2 * h) for e in np.eye(3)])
    D_fd = np.column_stack([(lure.output(x0, u0 + h * e) - lure.output(x0, u0 - h * e)) / (2 * h) for e in np.eye(2)])
    for got, fd in ((lin.A, A_fd), (lin.B, B_fd), (lin.C, C_fd), (lin.D, D_fd)):
        np.testing.assert_allclose(np.asarray(got), fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(fd).max()))
    assert np.max(np.abs(np.linalg.eigvals(np.asarray(lin.A)))) <= 0.9 + 1e-9


def normalized_sim_mse(est, data):
    """Free-run simulation MSE from rest in the normalized units the REN trains in."""
    return float(np.mean(((est.simulate(data.u) - data.y) / est.y_std_) ** 2))


@pytest.mark.parametrize("init", ["long_memory", "random", "linear"])
def test_training_reduces_the_loss(init):
    data = plant_data(1, 1, N=300)
    kw = dict(nx=2, nv=4, lr=1e-2, horizon=60, burn_in=10, batch_size=2, seed=0, init=init, loss="truncated",
              warmup=None, average=None, refit=False)
    start = REN(epochs=0, **kw).fit(data)
    est = REN(epochs=30, **kw).fit(data)
    assert len(est.history_.loss) == 30
    # the N4SID start of init="linear" is already close; the others start far away
    assert normalized_sim_mse(est, data) < (0.9 if init == "linear" else 0.7) * normalized_sim_mse(start, data)


@pytest.mark.parametrize("x0", ["burn_in", "fit", "zero"])
def test_other_initial_state_strategies_train(x0):
    data = plant_data(1, 1, N=300)
    kw = dict(nx=2, nv=4, lr=1e-2, horizon=50, batch_size=3, seed=0, init="long_memory", x0=x0, loss="truncated",
              warmup=None, average=None)
    start, est = REN(epochs=0, **kw).fit(data), REN(epochs=10, **kw).fit(data)
    assert normalized_sim_mse(est, data) < 0.8 * normalized_sim_mse(start, data)
    assert est.certificate().certified


def test_burn_in_windows_skip_the_past():
    data = plant_data(1, 1, N=100)
    est = REN(nx=2, nv=3, epochs=0, horizon=30, burn_in=7, x0="burn_in", seed=0).fit(data)
    from sysid.training import BurnIn, Truncated, cut_windows

    (w,) = cut_windows(est._records([data]), loss=Truncated(30), x0=BurnIn(7))
    assert w.u.shape == (4, 37, 1) and w.scored_y.shape == (4, 30, 1)  # starts 7, 37, 67 and 70 (aligned to the end)
    np.testing.assert_allclose(w.scored_y[1, 0, 0].item(), (data.y[37, 0] - est.y_mean_[0]) / est.y_std_[0])
    np.testing.assert_allclose(w.u[1, 0, 0].item(), (data.u[30, 0] - est.u_mean_[0]) / est.u_std_[0])


def test_validation_keeps_best_parameters():
    data = plant_data(1, 1, N=200)
    val = plant_data(1, 1, N=100, seed=5)
    # whole-record windows from rest: the validation loss is the normalized simulation MSE
    est = REN(nx=2, nv=3, epochs=6, lr=3e-2, loss="simulation", x0="zero", seed=0).fit(data, val=val)
    hist = est.history_
    assert len(hist.val_loss) == 6 and hist.best_loss == min(hist.val_loss)
    np.testing.assert_allclose(normalized_sim_mse(est, val), hist.best_loss, rtol=1e-10)
    assert est.certificate().certified


def test_save_load_round_trip(tmp_path):
    est = fitted("lipschitz", 2, 2, gamma=3.0)
    est.save(tmp_path / "ren")
    back = REN.load(tmp_path / "ren")
    u = np.random.default_rng(0).standard_normal((30, 2))
    np.testing.assert_allclose(back.simulate(u), est.simulate(u), rtol=0, atol=1e-13)
    assert back.gamma_phys_ == pytest.approx(est.gamma_phys_)
    assert back.certificate().certified
    for k in ("A", "B1", "D11", "C2"):
        np.testing.assert_array_equal(getattr(back.to_lure(), k), getattr(est.to_lure(), k))


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="robust"), "'kind' parameter of REN must be one of"),
    (dict(kind="lipschitz"), "needs the Lipschitz bound: pass gamma"),
    (dict(kind="iqc", Q=[[1.0]], R=[[1.0]]), "Q must be negative definite"),
    (dict(rate=1.2), r"'rate' parameter of REN .* must be in \(0, 1\]"),
    (dict(rate=-0.5), r"must be in \(0, 1\]"),
    (dict(lr=-1.0), "The 'lr' parameter of REN must be > 0. Got -1.0 instead."),
    (dict(burn_in=500, x0="burn_in"), r"no window fits in the records \(lengths \[240\]\)"),
    (dict(x0="measured"), r"x0='measured' needs the state to be the output"),
    (dict(x0="warm"), r"'x0' parameter of REN must be one of \['auto', 'zero', 'measured', 'fit', 'simulated', "
                      r"'burn_in', 'encoder'\]"),
    (dict(init="lstsq"), "'init' parameter of REN must be one of"),
    (dict(burn_in=-1), "'burn_in' parameter of REN must be an int >= 0"),
    (dict(x0="burn_in", horizon=1), "'horizon' parameter of REN must be an int >= 2"),
    (dict(nx=0), "'nx' parameter of REN must be an int >= 1"),
])
def test_bad_parameters_raise_at_fit(kwargs, match):
    params = {**FAST, **kwargs}
    with pytest.raises(ValueError, match=match):
        REN(**params).fit(plant_data())


def test_unfitted_and_bad_inputs():
    with pytest.raises(NotFittedError, match="not fitted"):
        REN().certificate()
    est = fitted()
    with pytest.raises(ValueError, match=r"x0 must have shape \(nx,\) = \(3,\)"):
        est.simulate(np.zeros((5, 1)), x0=np.zeros(2))
    other = IOData(np.zeros((50, 1)), np.zeros((50, 1)), dt=0.1)
    with pytest.raises(ValueError, match="uniformly sampled records with one dt"):
        REN(**FAST).fit([plant_data(), other])
