import numpy as np
import pytest
import torch

from sysid import DivergenceError, IOData, LureSystem, compare, datasets
from sysid.delta import Tanh
from sysid.estimators import MatrixStep, NeuralNetStep
from sysid.estimators._neural_base import fold_normalization
from sysid.training import TrainConfig, load_checkpoint, make_windows, save_checkpoint, train


def plant_data(N=200, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(N, 1))
    lure = LureSystem(A=[[0.6, 0.2], [-0.2, 0.5]], B1=[[0.3], [0.1]], B2=[[1.0], [0.5]], C1=[[1.0, 0.0]],
                      C2=[[1.0, 0.5]], delta=Tanh(), dt=0.1)
    return IOData(u, 2.0 + 3.0 * lure.simulate(u), dt=0.1)


@pytest.mark.parametrize("maker", [datasets.spiral_source, datasets.center])
def test_matrix_step_recovers_the_transition_matrix(maker):
    d = maker()
    m = MatrixStep().fit(d.train)
    assert np.abs(m.B_hat_ - d.info["Ad"]).max() < 1e-6
    np.testing.assert_array_equal(m.linearize().A, m.B_hat_)
    if maker is datasets.spiral_source:  # the center's grid (ω Δt = 5.7 rad > π) aliases: logm cannot recover A
        assert np.abs(m.continuous_A_ - d.info["A"]).max() < 1e-5


def test_neural_step_beats_the_seed_loss_on_the_spiral():
    d = datasets.spiral_source()
    est = NeuralNetStep(hidden=16, epochs=300, loss="simulation", lr=1e-2).fit(d.train)
    y = est.simulate(np.zeros((8, 0)), x0=d.train[0].y[0])
    assert np.mean((y - d.train[0].y) ** 2) < 2.3e-3  # the seed's table: 2.3e-3
    assert est.history_.loss[-1] < 0.05 * est.history_.loss[0]


def test_to_lure_equals_the_torch_model_with_normalization_and_fitted_state():
    d = plant_data()
    est = NeuralNetStep(nx=3, hidden=6, feedthrough=True, epochs=20, seed=1).fit(d)
    assert abs(est.y_mean_[0]) > 1  # the normalization is not trivial
    x0 = np.array([0.3, -0.2, 0.1])
    np.testing.assert_allclose(est.to_lure().simulate(d.u, x0), est.simulate(d.u, x0=x0), rtol=1e-10, atol=1e-10)
    full = NeuralNetStep(hidden=6, epochs=5, seed=1).fit(d)  # y = x: the state is the physical output
    x0 = d.y[0]
    np.testing.assert_allclose(full.to_lure().simulate(d.u, x0), full.simulate(d.u, x0=x0), rtol=1e-10, atol=1e-10)


def test_training_reduces_the_loss_with_every_optimizer():
    d = plant_data()
    for opt, lr in (("adam", 1e-2), ("rmsprop", 1e-2), ("lbfgs", 1.0)):
        # the optimizer itself: no warm-up, no averaging, no refit
        est = NeuralNetStep(nx=2, hidden=8, epochs=15, optimizer=opt, lr=lr, seed=0, warmup=None, average=None,
                            loss="truncated", horizon=100, batch_size=16, refit=False).fit(d)
        assert est.history_.loss[-1] < 0.7 * est.history_.loss[0], opt
    res = compare(est, d, x0="estimate")
    assert res.fit_percent[0] > 50


def test_divergence_guard_restores_best_weights():
    d = plant_data()
    with pytest.raises(DivergenceError, match="best weights were restored"):
        NeuralNetStep(nx=2, epochs=30, optimizer="sgd", lr=1e6, clip_grad=None).fit(d)

    class Nan(torch.nn.Module):
        nx, nu, ny = 1, 1, 1

        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor([0.5], dtype=torch.float64))
            self.calls = 0

        def forward(self, u, x0):
            self.calls += 1
            y = self.a * u
            return y * float("nan") if self.calls > 6 else y

    m = Nan()
    w = make_windows([(np.ones((5, 1)), 2 * np.ones((5, 1)))])
    with pytest.raises(DivergenceError):
        train(m, w, TrainConfig(epochs=50, lr=0.1))
    assert torch.isfinite(m.a).all()
    assert abs(float(m.a.detach()) - 0.5) > 1e-3  # the best (trained) value was restored, not a NaN


def test_early_stopping_and_loss_threshold():
    d = plant_data()
    train_d, val_d = d.split(0.7)
    est = NeuralNetStep(nx=2, hidden=8, epochs=500, lr=0.05, patience=3, loss="simulation", seed=0).fit(train_d, val=val_d)
    h = est.history_
    assert h.stopped in ("early_stopping", "max_iter") and len(h.val_loss) == len(h.loss)
    assert h.best_loss == pytest.approx(min([h.initial_loss, *h.val_loss]))  # the start counts too
    est = NeuralNetStep(nx=2, epochs=500, loss_threshold=0.5, seed=0).fit(d)
    assert est.history_.stopped == "loss_threshold" and est.history_.loss[-1] < 0.5


def test_checkpoint_round_trip_and_tamper(tmp_path):
    d = plant_data()
    est = NeuralNetStep(nx=2, hidden=5, epochs=3, seed=0).fit(d)
    save_checkpoint(est.module_, tmp_path / "ck", metadata={"epochs": 3})
    other = NeuralNetStep(nx=2, hidden=5, epochs=0, seed=5).fit(d).module_
    assert load_checkpoint(other, tmp_path / "ck") == {"epochs": 3}
    for k, v in est.module_.state_dict().items():
        assert torch.equal(v, other.state_dict()[k])
    w = tmp_path / "ck" / "weights.pt"
    raw = bytearray(w.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    w.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="do not match the SHA-256"):
        load_checkpoint(other, tmp_path / "ck")


def test_estimator_save_load_is_bit_exact(tmp_path):
    d = plant_data()
    est = NeuralNetStep(nx=2, hidden=5, epochs=3, seed=0).fit(d)
    est.save(tmp_path / "m")
    back = NeuralNetStep.load(tmp_path / "m")
    np.testing.assert_array_equal(back.simulate(d.u), est.simulate(d.u))


def test_fold_normalization_is_exact():
    rng = np.random.default_rng(0)
    lure = LureSystem(A=0.3 * rng.normal(size=(2, 2)), B1=rng.normal(size=(2, 3)) * 0.3, B2=rng.normal(size=(2, 1)),
                      C1=rng.normal(size=(3, 2)), D12=rng.normal(size=(3, 1)), C2=rng.normal(size=(2, 2)),
                      D21=rng.normal(size=(2, 3)), D22=rng.normal(size=(2, 1)), bx=rng.normal(size=2),
                      bv=rng.normal(size=3), by=rng.normal(size=2), delta=Tanh(), dt=1.0)
    mu, su, my, sy, T, t = [1.5], [2.0], [3.0, -1.0], [0.5, 4.0], np.array([2.0, 0.5]), np.array([1.0, -2.0])
    phys = fold_normalization(lure, u_mean=mu, u_std=su, y_mean=my, y_std=sy, x_scale=T, x_shift=t)
    u = rng.normal(size=(30, 1)) * 3 + 1
    xn0 = np.array([0.2, -0.4])
    y_ref = lure.simulate((u - mu) / su, xn0) * sy + my
    np.testing.assert_allclose(phys.simulate(u, T * xn0 + t), y_ref, rtol=1e-12, atol=1e-12)


def test_bad_parameters():
    d = plant_data()
    with pytest.raises(ValueError, match="The 'lr' parameter of NeuralNetStep must be > 0. Got -1 instead."):
        NeuralNetStep(lr=-1).fit(d)
    with pytest.raises(ValueError, match="The 'optimizer' parameter of NeuralNetStep must be one of"):
        NeuralNetStep(optimizer="adagrad", epochs=1).fit(d)
    with pytest.raises(ValueError, match="The 'dtype' parameter"):
        NeuralNetStep(dtype="float16").fit(d)
    with pytest.raises(ValueError, match="CUDA is not available"):
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        NeuralNetStep(device="cuda").fit(d)
    with pytest.raises(ValueError, match="needs horizon"):
        make_windows([(np.ones((5, 1)), np.ones((5, 1)))], loss="truncated")
    # a record shorter than the horizon is one window, whole
    (w,) = make_windows([(np.ones((5, 1)), np.ones((5, 1)))], loss="truncated", horizon=10)
    assert tuple(w.u.shape) == (1, 5, 1)
    from sysid.models.step import StepModule

    hidden_state = StepModule(2, 1, 1, full_state=False).double()
    with pytest.raises(ValueError, match="nx = ny"):
        train(hidden_state, make_windows([(np.ones((5, 1)), np.ones((5, 1)))], x0="measured"), TrainConfig(epochs=1))


@pytest.mark.parametrize("grid", ["spiral", "center"])
def test_neural_ode_matrix_recovers_A(grid):
    from sysid.estimators import NeuralODEMatrix

    d = datasets.spiral_source() if grid == "spiral" else datasets.center(grid="node")
    m = NeuralODEMatrix().fit(d.train)
    assert np.abs(m.M_ - d.info["A"]).max() < 1e-6
    np.testing.assert_array_equal(m.linearize().A, m.M_)


def test_neural_ode_vector_field_matches_the_lure_export():
    from sysid.estimators import NeuralODE

    d = plant_data(N=40)
    est = NeuralODE(nx=2, hidden=5, epochs=2, substeps=10, normalize="standard").fit(d)
    lure = est.to_lure()
    assert lure.is_continuous
    rng = np.random.default_rng(0)
    m = est.module_
    for _ in range(5):
        x, u = rng.normal(size=2), rng.normal(size=1)
        with torch.no_grad():
            f = m.field(torch.tensor(x)[None], torch.tensor((u - est.u_mean_) / est.u_std_)[None])[0].numpy()
        np.testing.assert_allclose(lure.vector_field(x, u), f / est.dt_, rtol=1e-12, atol=1e-12)
    # the trajectories agree to within the solvers' tolerances
    y_torch = est.simulate(d.u[:15], x0=[0.1, 0.2])
    y_lure = lure.simulate(d.u[:15], [0.1, 0.2], t=d.t[:15])
    np.testing.assert_allclose(y_lure, y_torch, atol=1e-6)


def test_rk4_converges_with_order_four():
    from sysid.models.node import NeuralODEModule

    torch.manual_seed(0)
    ref = NeuralODEModule(2, 1, 2, dt=1.0, hidden=4, method="dopri5", rtol=1e-12, atol=1e-14, init_std=0.8).double()
    u = torch.sin(torch.arange(6.0, dtype=torch.float64))[None, :, None]
    x0 = torch.tensor([[0.5, -0.3]], dtype=torch.float64)
    exact = ref(u, x0).detach()
    errs = []
    for n in (10, 20, 40):
        ref.method, ref.substeps = "rk4", n
        errs.append(float((ref(u, x0) - exact).abs().max().detach()))
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(12 < r < 20 for r in ratios), (errs, ratios)


def test_neural_ode_on_irregular_samples():
    from sysid import compare
    from sysid.estimators import NeuralODE

    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 4, 25))
    t[0] = 0.0
    d = datasets.spiral_source(t=t)
    assert not d.train[0].is_uniform
    est = NeuralODE(hidden=16, epochs=60, seed=0, lr=5e-3, warmup=None, average=None, refit=False).fit(d.train)
    assert est.history_.loss[-1] < 0.2 * est.history_.loss[0]
    res = compare(est, d.train[0], x0=d.train[0].y[0])
    np.testing.assert_allclose(res.y_model, est.simulate(np.zeros((25, 0)), x0=d.train[0].y[0], t=t))
    # the continuous Lur'e export integrates the same irregular grid (both solvers at tight tolerances)
    est.module_.method, est.module_.rtol, est.module_.atol = "dopri5", 1e-10, 1e-12
    y = est.simulate(np.zeros((25, 0)), x0=d.train[0].y[0], t=t)
    y_lure = est.to_lure().simulate(np.zeros((25, 0)), d.train[0].y[0], t=t)
    np.testing.assert_allclose(y_lure, y, atol=1e-7)
    with pytest.raises(ValueError, match="discrete-time model|fixed sampling period"):
        compare(NeuralNetStep(epochs=1, loss="simulation").fit(datasets.spiral_source().train), d.train[0])
    with pytest.raises(ValueError, match="uniformly sampled records"):
        NeuralNetStep(epochs=1).fit(d.train)
    with pytest.raises(ValueError, match="val_x0='simulated' needs regularly sampled records; NeuralODE got"):
        NeuralODE(hidden=4, epochs=1, val_x0="simulated").fit(d.train)


def test_k_step_prediction_of_a_hidden_state_model_is_exact_on_its_own_data():
    d = plant_data(N=60)
    est = NeuralNetStep(nx=2, hidden=6, epochs=5, seed=0).fit(d)
    x_true = np.array([0.4, -0.3])
    y = est.simulate(d.u, x0=x_true)
    own = d.with_data(y=y)
    for k in (1, 3):
        yp = est.predict(own, horizon=k)
        np.testing.assert_allclose(yp[k + 4:], y[k + 4:], atol=1e-6)
    with pytest.raises(ValueError, match="horizon must be"):
        est.predict(own, horizon=0)


def test_adjoint_gradients_match_backpropagation():
    from sysid.models.node import NeuralODEModule

    torch.manual_seed(1)
    m = NeuralODEModule(2, 1, 2, dt=1.0, hidden=4, method="dopri5", rtol=1e-10, atol=1e-12, init_std=0.5).double()
    u = torch.sin(torch.arange(4.0, dtype=torch.float64))[None, :, None]
    x0 = torch.tensor([[0.3, -0.1]], dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        m.adjoint = adjoint
        m.zero_grad()
        (m(u, x0) ** 2).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in m.parameters()]).clone())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("module_name", ["ren", "lstm", "step"])
@pytest.mark.parametrize("loss", ["truncated", "kstep"])
def test_simulated_window_states_reproduce_the_whole_record(module_name, loss):
    """x0='simulated': windows started from the carried state give exactly the free-run output
    of the whole record (the oracle: one simulation from rest)."""
    from sysid.models import LSTMModule, RENModule
    from sysid.models.step import StepModule
    from sysid.training import KStep, Truncated
    from sysid.training._engine import _loss, _refresh

    torch.manual_seed(0)
    module = {"ren": lambda: RENModule(1, 2, nx=3, nv=4, seed=0, init="random"),
              "lstm": lambda: LSTMModule(1, 2, n_units=3).double(),
              "step": lambda: StepModule(3, 1, 2, full_state=False, init_std=0.5).double()}[module_name]()
    rng = np.random.default_rng(0)
    recs = [(rng.normal(size=(N, 1)), rng.normal(size=(N, 2))) for N in (37, 53, 53)]
    windows = make_windows(recs, loss=loss, horizon=10, x0="simulated")
    _refresh(module, windows)
    states = [w.simulated for w in windows]
    with torch.no_grad():
        errs = []
        for u, y in recs:
            y_full = module(torch.tensor(u)[None], torch.zeros(1, module.nx, dtype=torch.float64))[0].numpy()
            layout = (Truncated(10) if loss == "truncated" else KStep(10)).layout(0, len(u))
            assert all(T == 10 for _, T in layout) and layout[-1][0] == len(u) - 10  # the end is scored
            for a, _ in layout:
                errs.append((y_full[a:a + 10] - y[a:a + 10]) ** 2)
        expected = np.mean(np.concatenate(errs))
        got = float(_loss(module, windows))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert states[0].shape == (len(windows[0]), module.nx)


def test_simulated_states_need_forward_states_and_regular_samples():
    from sysid.training import Simulated

    class Plain(torch.nn.Module):
        nx, nu, ny = 1, 1, 1

        def forward(self, u, x0):
            return u

    w = make_windows([(np.ones((20, 1)), np.ones((20, 1)))], loss="truncated", horizon=5, x0="simulated")
    with pytest.raises(TypeError, match="has no forward_states"):
        Simulated().check(Plain())
    with pytest.raises(TypeError, match="has no forward_states"):
        train(Plain(), w, TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="needs regularly sampled records"):
        make_windows([(np.ones((20, 1)), np.ones((20, 1)), np.ones(19))], loss="truncated", horizon=5,
                     x0="simulated")


def test_simulated_x0_trains_a_hidden_state_model():
    d = plant_data()
    kw = dict(nx=3, hidden=8, x0="simulated", init="random", val_fraction=0.0, lr=1e-2, batch_size=4, seed=0)
    start = NeuralNetStep(epochs=0, **kw).fit(d)
    est = NeuralNetStep(epochs=30, **kw).fit(d)
    mse = [np.mean((e.simulate(d.u) - d.y) ** 2) for e in (start, est)]
    assert mse[1] < 0.3 * mse[0]
