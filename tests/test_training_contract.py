"""The explicit training contract: every estimator through fit → simulate → to_lure → linearize →
certify (SISO and MIMO), the strategies and losses as objects, the shared settings, and the
defaults that must not fail on short or awkward records."""
import numpy as np
import pytest
import torch

from sysid import IOData, LureSystem, certify, datasets
from sysid.delta import Tanh
from sysid.estimators import LSTM, REN, MatrixStep, NeuralNetStep, NeuralODE, NeuralODEMatrix
from sysid.models import SequenceModule, check_sequence_module
from sysid.training import (BurnIn, Encoder, Fitted, KStep, Loss, Measured, Simulated, Simulation, TrainConfig,
                            Truncated, Zero, cut_windows, train)


def plant(nu=1, ny=1, N=160, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(N, nu))
    lure = LureSystem(A=[[0.6, 0.2], [-0.2, 0.5]], B1=[[0.3], [0.1]], B2=0.5 * np.ones((2, nu)), C1=[[1.0, 0.0]],
                      C2=np.ones((ny, 2)) * np.linspace(1, 0.5, ny)[:, None], delta=Tanh(), dt=0.1)
    return IOData(u, lure.simulate(u) + 0.01 * rng.normal(size=(N, ny)), dt=0.1)


ESTIMATORS = {
    "NeuralNetStep": lambda: NeuralNetStep(nx=3, hidden=6, epochs=3),
    "NeuralNetStep-full": lambda: NeuralNetStep(hidden=6, epochs=3),
    "MatrixStep": lambda: MatrixStep(nx=3, epochs=2),
    "NeuralODE": lambda: NeuralODE(nx=3, hidden=6, epochs=2),
    "NeuralODEMatrix": lambda: NeuralODEMatrix(nx=3, epochs=2),
    "LSTM": lambda: LSTM(n_units=3, epochs=2),
    "REN": lambda: REN(nx=3, nv=4, epochs=2),
}


@pytest.mark.parametrize("nu, ny", [(1, 1), (2, 2)])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_through_the_whole_contract(name, nu, ny):
    d = plant(nu, ny)
    est = ESTIMATORS[name]()
    assert est.fit(d) is est
    assert isinstance(est.module_, SequenceModule)
    check_sequence_module(est.module_)
    y = est.simulate(d.u)
    assert y.shape == (d.N, ny) and np.all(np.isfinite(y))
    lin = est.linearize()
    assert (lin.ninputs, lin.noutputs) == (nu, ny)
    if name == "LSTM":  # not a Lur'e system: the contract says so clearly
        with pytest.raises(NotImplementedError, match="not a Lur'e system"):
            est.to_lure()
        return
    lure = est.to_lure()
    x0 = np.zeros(lure.nx) if not est._full_state else d.y[0]
    # the exported core object reproduces the torch model (continuous ones within solver tolerance)
    tol = 2e-3 if lure.is_continuous else 1e-9
    np.testing.assert_allclose(lure.simulate(d.u[:30], x0, t=d.t[:30] if lure.is_continuous else None),
                               est.simulate(d.u[:30], x0=x0), atol=tol * (1 + np.abs(y).max()))
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(lure.linearize(x0=np.zeros(lure.nx),
                                                                                u0=np.zeros(nu)).A)),
                               np.sort_complex(np.linalg.eigvals(est.linearize(x0=np.zeros(lure.nx),
                                                                               u0=np.zeros(nu)).A)), atol=1e-9)
    cert = certify.lyapunov_stability(lin)
    assert isinstance(cert.certified, bool)


def test_default_start_is_the_linear_model_and_never_lost():
    """init='linear': before training the step model *is* the N4SID model (W2 = 0), and a fit
    never returns a model worse on validation data than that start."""
    from sysid.estimators import N4SID

    d = plant(N=300)
    start = NeuralNetStep(nx=2, epochs=0, val_fraction=0.0).fit(d)
    lin = N4SID(nx=2, feedthrough=False).fit(IOData((d.u - start.u_mean_) / start.u_std_,
                                                     (d.y - start.y_mean_) / start.y_std_, dt=d.dt)).system_
    un = (d.u - start.u_mean_) / start.u_std_
    import control

    y_lin = control.forced_response(lin, U=un.T, X0=np.zeros(2)).outputs.reshape(-1, 1)
    np.testing.assert_allclose((start.simulate(d.u) - start.y_mean_) / start.y_std_, y_lin, atol=1e-9)
    # a learning rate far too large cannot make the returned model worse than its start
    est = NeuralNetStep(nx=2, epochs=5, lr=1e-2, clip_grad=None).fit(d)
    h = est.history_
    assert h.best_loss <= h.initial_loss
    if not h.improved:
        with pytest.warns(UserWarning, match="no training epoch improved on the linear model"):
            NeuralNetStep(nx=2, epochs=5, lr=1e-2, clip_grad=None).fit(d)


def test_validation_is_carved_from_the_end_of_each_record_by_default():
    d = plant(N=200)
    est = NeuralNetStep(nx=2, hidden=4, epochs=3, refit=False).fit(d)
    assert len(est.history_.val_loss) == 3 and est.history_.selection is None
    none = NeuralNetStep(nx=2, hidden=4, epochs=3, val_fraction=0.0).fit(d)
    assert none.history_.val_loss == [] and none.history_.selection is None


@pytest.mark.parametrize("cls, kw", [(NeuralNetStep, dict(nx=2, hidden=4)), (REN, dict(nx=2, nv=4))])
def test_refit_trains_again_on_all_data_for_the_chosen_epochs(cls, kw):
    """The carved validation chooses the number of epochs; the returned model is exactly the
    model trained from the same start on every sample for that many epochs."""
    d = plant(N=400)
    est = cls(**kw, epochs=6, patience=2, lr=3e-3).fit(d)
    sel = est.history_.selection
    assert sel is not None and len(sel.val_loss) == len(sel.loss) >= 1 and sel.improved
    n = sel.best_epoch + 1
    assert len(est.history_.loss) == n and est.history_.val_loss == []
    assert est.history_.best_epoch == n - 1  # the last epoch is returned, even if an earlier one fit better
    same = cls(**kw, epochs=n, patience=None, lr=3e-3, val_fraction=0.0, restore_best=False).fit(d)
    for (k, a), b in zip(est.module_.state_dict().items(), same.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    # the validation part is used only to choose: without refit the model saw 4/5 of the data
    part = cls(**kw, epochs=6, patience=2, lr=3e-3, refit=False).fit(d)
    assert part.history_.selection is None and len(part.history_.val_loss) == len(sel.val_loss)
    np.testing.assert_allclose(part.history_.val_loss, sel.val_loss, rtol=1e-12)
    # given validation data: no carving, no refit
    given = cls(**kw, epochs=3, lr=1e-2).fit(d, val=plant(N=200, seed=1))
    assert given.history_.selection is None and len(given.history_.val_loss) == 3


def test_validation_windows_start_as_val_x0_says():
    """val_x0 starts the carved validation windows its own way while training keeps x0; "auto"
    is the training strategy's choice (Simulated for Fitted). A burn-in start reads the samples
    before each held-out block and scores only the block."""
    from sysid.training import train as engine

    seen = {}

    def spy(module, windows, config, *, val=None, callback=None, guard=None):
        seen["train"], seen["val"], seen["guard"] = windows, val, guard
        return engine(module, windows, config, val=val, callback=callback, guard=guard)

    d = plant(N=400)
    NeuralNetStep(nx=2, hidden=4, epochs=1, horizon=10, refit=False, val_x0="burn_in", burn_in=7).fit(d, trainer=spy)
    assert all(isinstance(w.x0, Simulated) for w in seen["train"])
    val = seen["val"]
    assert all(isinstance(w.x0, BurnIn) and w.past == 7 for w in val)
    starts = torch.cat([w.start for w in val]).numpy()
    # every 5th 10-sample block validates: its windows start inside it, 7 samples after the past begins
    assert set(starts // 10 % 5) == {4} and min(starts) == 40
    for w in val:
        assert w.u.shape[1] == 7 + w.scored_y.shape[1]
    # the same held-out windows, run free along the record, guard the start
    assert all(isinstance(w.x0, Simulated) for w in seen["guard"])
    assert sorted(torch.cat([w.start for w in seen["guard"]]).tolist()) == sorted(starts.tolist())
    NeuralNetStep(nx=2, hidden=4, epochs=1, horizon=10, refit=False, x0="fit").fit(d, trainer=spy)
    assert all(isinstance(w.x0, Fitted) for w in seen["train"])
    assert all(isinstance(w.x0, Simulated) for w in seen["val"])
    assert seen["guard"] is None  # val_x0="auto": validation is itself the free run
    with pytest.raises(ValueError, match=r"NeuralNetStep: val_x0='measured' cannot start this model's validation "
                                         r"windows: x0='measured' needs the state to be the output"):
        NeuralNetStep(nx=2, hidden=4, epochs=1, val_x0="measured").fit(d)
    LSTM(n_units=3, epochs=1, refit=False).fit(d, trainer=spy)
    assert all(isinstance(w.x0, Simulated) for w in seen["train"])
    assert all(isinstance(w.x0, BurnIn) for w in seen["val"])


def test_carved_validation_keeps_long_training_pieces_on_long_records():
    """Every 5th block validates; a long record gets at most 8 validation blocks, so the training
    pieces between them (where the linear start is fitted) stay long: on an 8,192-sample F-16
    period, blocks of one 50-sample horizon left 164 pieces of 200 samples, on which N4SID's
    start was three times worse than on the whole record."""
    from sysid.estimators._neural_base import NeuralEstimator

    rec = lambda N: (np.zeros((N, 1)), np.zeros((N, 1)))  # noqa: E731
    train, val = NeuralEstimator._carve([rec(8192), rec(1024)], 0.2, 50)
    long_val, short_val = val
    assert len(long_val) == 8 and all(b - a == 8192 // 40 for a, b in long_val)
    assert all(b - a >= 4 * (8192 // 40) for a, b in train[0][:-1])
    # a short record keeps blocks of one horizon: every 5th of the 20 full blocks, and the first
    # samples always train
    assert short_val == [(a, a + 50) for a in range(200, 1024 - 50, 250)] and train[1][0][0] == 0
    covered = sorted(train[0] + long_val)
    assert covered[0][0] == 0 and covered[-1][1] == 8192 and all(p[1] == q[0] for p, q in zip(covered, covered[1:]))


def test_lstm_starts_linear_on_noise_free_data():
    """N4SID's order on noise-free data may give a non-minimal model, which the LSTM's calculated
    weights cannot take; the start then steps down to a minimal order instead of falling back to
    the random initialization."""
    import control
    import warnings

    u = np.random.default_rng(0).normal(size=(200, 1))
    G = control.ss([[0.9, 0.2], [0.0, 0.7]], [[1.0], [0.5]], [[1.0, 0.0]], [[0.0]], 0.1)
    d = IOData(u, control.forced_response(G, U=u.T).outputs.T, dt=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no linear start" FitWarning
        est = LSTM(n_units=8, epochs=0, val_fraction=0.0).fit(d)
    y = est.simulate(d.u)[100:]  # after the start's transient (its zero state is the records' mean)
    assert np.max(np.abs(y - d.y[100:])) < 2e-2 * np.max(np.abs(d.y))


def test_refit_is_skipped_when_nothing_improved_or_a_callback_stopped():
    d = plant(N=300)
    stopped = NeuralNetStep(nx=2, hidden=4, epochs=10).fit(d, callback=lambda e, t, v: e >= 1)
    assert stopped.history_.stopped == "callback" and stopped.history_.selection is None
    with pytest.raises(ValueError, match="'refit' parameter of NeuralNetStep must be True or False"):
        NeuralNetStep(refit="yes").fit(d)


def test_warmup_raises_the_learning_rate_linearly_then_decays_per_epoch():
    from sysid.training._engine import _Schedule

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=0.1)
    sched = _Schedule(opt, TrainConfig(lr=0.1, warmup=4, lr_decay=0.5))
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(seen, [0.025, 0.05, 0.075, 0.1, 0.1, 0.1], rtol=1e-15)
    sched.epoch()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05, rel=1e-15)
    opt2 = torch.optim.LBFGS([p], lr=1.0)  # no warm-up for L-BFGS: its line search sets the step
    _Schedule(opt2, TrainConfig(optimizer="lbfgs", lr=1.0, warmup=4))
    assert opt2.param_groups[0]["lr"] == 1.0
    with pytest.raises(ValueError, match="'warmup' parameter of REN"):
        REN(warmup=0).fit(plant())


@pytest.mark.parametrize("restore_best", [True, False])
def test_averaged_weights_are_what_is_scored_shown_and_returned(restore_best):
    """With ``average``, every epoch is scored with the moving average of the iterates (recomputed
    here by hand from the iterates the optimizer produced); the callback sees those weights, and
    the run returns them, also when it keeps its last epoch (``restore_best=False``, the refit)."""
    from sysid.training._engine import _loss, _refresh

    d = plant(N=120)
    u = torch.tensor((d.u - d.u.mean(0)) / d.u.std(0))
    y = torch.tensor((d.y - d.y.mean(0)) / d.y.std(0))
    torch.manual_seed(0)
    m = NeuralNetStep(nx=2, hidden=6)._build_module(1, 1).double()
    w = cut_windows([(u, y)], loss="truncated", horizon=40, x0="zero")
    iterates, shown = [], []
    step = torch.optim.Adam.step

    def spy(opt, *a, **k):  # record every iterate the optimizer produces
        out = step(opt, *a, **k)
        iterates.append(torch.cat([p.detach().flatten().clone() for p in m.parameters()]))
        return out

    def callback(epoch, train_loss, val_loss):
        with torch.no_grad():
            _refresh(m, w)
            shown.append((float(_loss(m, w)), train_loss,
                          torch.cat([p.detach().flatten().clone() for p in m.parameters()])))
        return False

    theta0 = torch.cat([p.detach().flatten().clone() for p in m.parameters()])
    cfg = TrainConfig(epochs=4, lr=1e-2, batch_size=16, average=0.9, warmup=None, restore_best=restore_best)
    torch.optim.Adam.step = spy
    try:
        r = train(m, w, cfg, callback=callback)
    finally:
        torch.optim.Adam.step = step
    ema, n, per_epoch = theta0.clone(), 0, len(iterates) // 4
    averaged = []
    for k, it in enumerate(iterates):  # EMA with the warm start min(decay, (1 + n) / (10 + n))
        n += 1
        dk = min(0.9, (1 + n) / (10 + n))
        ema = dk * ema + (1 - dk) * it
        if (k + 1) % per_epoch == 0:
            averaged.append(ema.clone())
    assert len(shown) == 4 and len(averaged) == 4
    for (loss_seen, loss_reported, theta), a in zip(shown, averaged):
        torch.testing.assert_close(theta, a, rtol=1e-12, atol=1e-14)  # the callback sees the average
        assert loss_seen == pytest.approx(loss_reported, rel=1e-12)  # the loss reported is its loss
    final = torch.cat([p.detach().flatten() for p in m.parameters()])
    expect = averaged[r.best_epoch] if restore_best else averaged[-1]
    torch.testing.assert_close(final, expect, rtol=1e-12, atol=1e-14)
    assert not torch.allclose(final, iterates[-1])  # not the last iterate


def test_seed_short_records_train_with_the_defaults():
    """The seed's records have 8 samples: the horizon adapts (a record shorter than it is whole)."""
    d = datasets.spiral_source()
    with pytest.warns(UserWarning, match="no linear start"):  # N4SID needs inputs: the random start is used
        NeuralNetStep(nx=3, epochs=1).fit(d.train)
    for est in (NeuralNetStep(epochs=3), NeuralNetStep(nx=3, init="random", epochs=3), NeuralODE(epochs=2),
                REN(nx=2, nv=4, init="long_memory", epochs=2), MatrixStep()):
        est.fit(d.train)
        assert np.all(np.isfinite(est.simulate(np.zeros((8, 0)), x0=None)))
    with pytest.raises(ValueError, match="LSTM needs at least one input channel"):
        LSTM(n_units=2, epochs=2).fit(d.train)


@pytest.mark.parametrize("x0", ["zero", "fit", "simulated", "burn_in", "encoder", "auto"])
def test_every_initial_state_strategy_trains_a_hidden_state_model(x0):
    d = plant(N=200)
    kw = dict(nx=3, hidden=8, x0=x0, burn_in=5, init="random", val_fraction=0.0, lr=1e-2, batch_size=4, seed=0)
    start = NeuralNetStep(epochs=0, **kw).fit(d)
    est = NeuralNetStep(epochs=15, **kw).fit(d)
    assert est.history_.loss[-1] < 0.75 * est.history_.initial_loss, x0
    assert start.history_.loss == []


def test_encoder_maps_the_past_to_the_state_and_is_trained():
    """The encoder's x0 depends on the past window only, and its weights change in training."""
    torch.manual_seed(0)
    from sysid.models.step import StepModule

    m = StepModule(2, 1, 1, full_state=False, init_std=0.3).double()
    rng = np.random.default_rng(0)
    rec = [(rng.normal(size=(60, 1)), rng.normal(size=(60, 1)))]
    enc = Encoder(past=4, hidden=8)
    ws = cut_windows(rec, loss=Truncated(10), x0=enc)
    w = ws[0]
    assert w.u.shape[1] == 14 and w.scored_y.shape[1] == 10  # 4 past samples + 10 scored
    train(m, ws, TrainConfig(epochs=0))
    before = [p.detach().clone() for p in enc.parameters()]
    idx = torch.arange(len(w))
    x0a = enc.initial(m, w, idx)
    w2 = cut_windows([(rec[0][0].copy(), rec[0][1].copy())], loss=Truncated(10), x0=enc)[0]
    w2.u[:, 4:] += 1.0  # change the scored part only
    torch.testing.assert_close(enc.initial(m, w2, idx), x0a)
    train(m, ws, TrainConfig(epochs=3, lr=1e-2, batch_size=None))
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, enc.parameters()))


def test_losses_are_objects_open_for_new_terms():
    """A loss with a regularization term is used by the engine without editing it."""
    class Ridge(Truncated):
        def regularization(self, module):
            return 10.0 * sum((p ** 2).sum() for p in module.parameters())

    d = plant(N=120)
    est = NeuralNetStep(nx=2, hidden=4, init="random", init_std=0.5, epochs=20, lr=2e-2, val_fraction=0.0,
                        loss=Ridge(20), seed=0).fit(d)
    plain = NeuralNetStep(nx=2, hidden=4, init="random", init_std=0.5, epochs=20, lr=2e-2, val_fraction=0.0,
                          loss="truncated", horizon=20, seed=0).fit(d)
    norm = lambda e: sum(float((p.detach() ** 2).sum()) for p in e.module_.parameters())  # noqa: E731
    assert norm(est) < 0.5 * norm(plain)
    assert isinstance(Ridge(5), Loss)


def test_layouts():
    assert Simulation().layout(3, 10) == [(3, 7)]
    assert Truncated(4).layout(0, 10) == [(0, 4), (4, 4), (6, 4)]
    assert Truncated(40).layout(0, 10) == [(0, 10)]
    assert KStep(8).layout(0, 10) == [(0, 8), (1, 8), (2, 8)]
    assert Truncated(4).layout(5, 5) == []


def test_strategy_windows_and_validation_choices():
    from sysid.models.step import StepModule

    m = StepModule(2, 1, 1, full_state=False).double()
    assert isinstance(Fitted().validation(m), Simulated)
    assert isinstance(Zero().validation(m), Zero)
    with pytest.raises(ValueError, match="nx = ny"):
        Measured().check(m)
    rec = [(np.arange(20.0)[:, None], np.arange(20.0)[:, None])]
    (w,) = cut_windows(rec, loss=Truncated(5), x0=BurnIn(3), spans=[(10, 20)])
    np.testing.assert_array_equal(w.start.numpy(), [10, 15])
    np.testing.assert_array_equal(w.u[0, :, 0].numpy(), np.arange(7.0, 15.0))


def test_global_torch_generator_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    NeuralNetStep(nx=2, hidden=4, epochs=1).fit(plant(N=60))
    torch.testing.assert_close(torch.rand(3), expected)


def test_max_time_stops_training():
    d = plant(N=200)
    est = NeuralNetStep(nx=2, hidden=4, epochs=10_000, max_time=0.5, patience=None).fit(d)
    assert est.history_.stopped == "max_time" and len(est.history_.loss) < 10_000


@pytest.mark.parametrize("flip, kept", [(False, True), (True, False)])
def test_guard_returns_the_start_when_the_chosen_weights_lose_on_it(flip, kept):
    """train(..., guard=): the weights chosen on val are returned only when the guard scores them
    no worse than the starting model; otherwise the start comes back exactly (best_epoch -1)."""
    from sysid.models.step import StepModule

    d = plant(N=120)
    u, y = (d.u - d.u.mean()) / d.u.std(), (d.y - d.y.mean()) / d.y.std()
    torch.manual_seed(0)
    m = StepModule(2, 1, 1, full_state=False, init_std=0.3).double()
    start = {k: v.clone() for k, v in m.state_dict().items()}
    ws = cut_windows([(u, y)], loss=Truncated(20), x0=Zero())
    guard = cut_windows([(u, -y if flip else y)], loss=Simulation(), x0=Zero())
    res = train(m, ws, TrainConfig(epochs=15, lr=1e-2, warmup=None, average=None), val=ws, guard=guard)
    g0, g1 = res.guard
    def ref():  # the guard's score, by hand: free run from zero over the whole record
        with torch.no_grad():
            y_hat = m(torch.tensor(u)[None], torch.zeros(1, 2, dtype=torch.float64))[0]
            return float(((y_hat - torch.tensor(-y if flip else y)) ** 2).mean())
    if kept:
        assert g1 <= g0 and res.improved and res.best_epoch >= 0
        assert ref() == pytest.approx(g1, rel=1e-12)
    else:
        assert g1 > g0 and not res.improved and res.best_loss == res.initial_loss
        for k, v in m.state_dict().items():
            torch.testing.assert_close(v, start[k], rtol=0, atol=0)
        assert ref() == pytest.approx(g0, rel=1e-12)


def test_callback_can_stop_training():
    d = plant(N=100)
    from sysid.models.step import StepModule

    m = StepModule(2, 1, 1, full_state=False, init_std=0.3).double()
    ws = cut_windows([((d.u - d.u.mean()) / d.u.std(), (d.y - d.y.mean()) / d.y.std())], loss=Truncated(20),
                     x0=Fitted())
    seen = []
    res = train(m, ws, TrainConfig(epochs=50), callback=lambda e, tl, vl: seen.append(e) or e >= 2)
    assert seen == [0, 1, 2] and res.stopped == "callback"


@pytest.mark.parametrize("cls", [NeuralNetStep, NeuralODE, LSTM, REN, MatrixStep, NeuralODEMatrix])
@pytest.mark.parametrize("key, value, match", [
    ("x0", "warm", r"The 'x0' parameter of {} must be one of \['auto', 'zero'"),
    ("loss", "l1", r"The 'loss' parameter of {} must be one of \['simulation', 'truncated', 'kstep'\]"),
    ("optimizer", "adagrad", r"The 'optimizer' parameter of {} must be one of"),
    ("lr", -1, r"The 'lr' parameter of {} must be > 0. Got -1 instead."),
    ("epochs", 1.5, r"The 'epochs' parameter of {} must be an int >= 0"),
    ("max_time", 0, r"The 'max_time' parameter of {} must be > 0"),
    ("val_fraction", 1.0, r"The 'val_fraction' parameter of {} must be a number in \[0, 1\)"),
    ("seed", "abc", r"The 'seed' parameter of {} must be an int >= 0 or None. Got 'abc' instead."),
    ("init", "xavier", r"The 'init' parameter of {} must be one of"),
    ("horizon", 1, r"The 'horizon' parameter of {} must be an int >= 2"),
    ("normalize", "minmax", r"The 'normalize' parameter of {} must be one of"),
    ("average", 1.0, r"The 'average' parameter of {} must be a number in \(0, 1\)"),
    ("restore_best", "no", r"The 'restore_best' parameter of {} must be True or False"),
    ("val_x0", "warm", r"The 'val_x0' parameter of {} must be one of \['auto', 'zero', 'measured', 'simulated', "),
    ("val_x0", "fit", r"The 'val_x0' parameter of {} must be one of .*would train its initial states on the vali"),
    ("val_x0", Encoder(5), r"The 'val_x0' parameter of {} must not train a state of its own"),
])
def test_every_bad_setting_names_the_estimator_and_the_accepted_values(cls, key, value, match):
    with pytest.raises(ValueError, match=match.format(cls.__name__)):
        cls(**{key: value}).fit(plant(N=60))


def test_unknown_keyword_and_params_round_trip():
    with pytest.raises(TypeError, match=r"NeuralNetStep got unknown parameter\(s\) \['epoch'\]"):
        NeuralNetStep(epoch=3)
    est = NeuralNetStep(nx=2, lr=1e-3, x0="burn_in")
    params = est.get_params()
    assert params["lr"] == 1e-3 and params["x0"] == "burn_in" and params["nx"] == 2
    assert set(TrainConfig.names()) <= set(params)
    assert NeuralNetStep(**params).get_params() == params
    assert est.set_params(lr=2e-3).lr == 2e-3
    assert "lr=0.002" in repr(est) and "epochs" not in repr(est)
    with pytest.raises(ValueError, match="'lrr' is not a parameter of NeuralNetStep"):
        est.set_params(lrr=1)


def test_burn_in_on_a_step_model_trains():
    """NeuralNetStep(x0='burn_in') used to crash with an AttributeError."""
    d = plant(N=120)
    est = NeuralNetStep(nx=2, hidden=4, x0="burn_in", burn_in=5, epochs=2).fit(d)
    assert est.x0_strategy_.past == 5 and np.all(np.isfinite(est.simulate(d.u)))


def test_lstm_linear_start_reproduces_the_linear_model():
    """init='linear' embeds the N4SID model in the first nx + nu units (calculated weights); the
    other units read out nothing, so the start simulates like the linear model."""
    import control

    from sysid.estimators._neural_base import linear_start

    d = plant(N=300)
    est = LSTM(n_units=8, init="linear", epochs=0, val_fraction=0.0).fit(d)
    un, yn = (d.u - est.u_mean_) / est.u_std_, (d.y - est.y_mean_) / est.y_std_
    A, B, C, D = linear_start([(un, yn)], None, full_state=False, feedthrough=True, dt=d.dt)
    y_lin = control.forced_response(control.ss(A, B, C, D, d.dt), U=un.T).outputs.reshape(-1, 1)
    y_lstm = (est.simulate(d.u) - est.y_mean_) / est.y_std_
    assert np.max(np.abs(y_lstm - y_lin)) < 1e-2 * np.max(np.abs(y_lin))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_ren_layer_implicit_gradient_matches_finite_differences(activation):
    from sysid.models.ren import _EquilibriumLayer

    g = torch.Generator().manual_seed(0)
    b = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    D = torch.randn(5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, D: _EquilibriumLayer.apply(b, torch.tril(D, -1), activation), (b, D))
    # the forward pass is the equilibrium: w = σ(b + D11 w)
    D11 = torch.tril(D, -1).detach()
    w = _EquilibriumLayer.apply(b.detach(), D11, activation)
    sigma = torch.relu if activation == "relu" else torch.tanh
    torch.testing.assert_close(w, sigma(b.detach() + w @ D11.T))


def test_fit_takes_another_training_loop():
    """fit(trainer=...) swaps the loop (e.g. sysid.training.train_distributed under torchrun)."""
    calls = []

    def spy(module, windows, config, *, val=None, callback=None):
        calls.append((type(module).__name__, len(windows), config.epochs, val is not None))
        return train(module, windows, config, val=val, callback=callback)

    est = NeuralNetStep(nx=2, hidden=4, epochs=2).fit(plant(N=120), trainer=spy)
    assert calls == [("StepModule", 1, 2, True)] and len(est.history_.loss) == 2


def test_discrete_to_continuous_inverts_the_zero_order_hold():
    from scipy.linalg import expm

    from sysid.estimators._neural_base import discrete_to_continuous

    rng = np.random.default_rng(1)
    Ac, Bc = -np.eye(3) + 0.3 * rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    M = expm(np.block([[Ac, Bc], [np.zeros((2, 5))]]))
    A2, B2 = discrete_to_continuous(M[:3, :3], M[:3, 3:])
    np.testing.assert_allclose(A2, Ac, atol=1e-10)
    np.testing.assert_allclose(B2, Bc, atol=1e-10)
    # a negative real pole has no real logarithm: the Euler approximation (A − I, B) is returned
    A3, B3 = discrete_to_continuous(np.array([[-0.5]]), np.array([[1.0]]))
    np.testing.assert_allclose(A3, [[-1.5]])
    np.testing.assert_allclose(B3, [[1.0]])


def test_loss_and_strategy_names_are_checked():
    from sysid.training import as_initial_state, as_loss

    with pytest.raises(ValueError, match=r"loss='kstep' needs horizon"):
        as_loss("kstep")
    with pytest.raises(ValueError, match=r"loss must be one of \['simulation', 'truncated', 'kstep'\]"):
        as_loss("l2")
    with pytest.raises(ValueError, match=r"x0 must be one of \['zero', 'measured'"):
        as_initial_state("warm")
    with pytest.raises(ValueError, match=r"BurnIn\(past\) needs an int >= 0"):
        BurnIn(-1)
    with pytest.raises(ValueError, match=r"Encoder\(past\) needs an int >= 1"):
        Encoder(0)
    assert isinstance(as_loss("kstep", 5), KStep) and as_loss("kstep", 5).layout(0, 7) == [(0, 5), (1, 5), (2, 5)]
