"""Irregularly sampled series: the data helpers, the four recurrent models against their oracles
(torch's GRU, each other, the closed-form KL), the estimators and their errors."""
import numpy as np
import pytest
import torch

from sysid import IOData
from sysid.datasets import batch_records, irregular_subset, spiral_source
from sysid.estimators import ODERNN, LatentODE, RNNDecay, RNNDelta
from sysid.models import LatentODEModule, ODERNNModule, RNNDecayModule, RNNDeltaModule, check_sequence_module
from sysid.models.irregular import kl_normal
from sysid.training._irregular import ELBO, LatentEncoder, Observed

DIMS = [(0, 1), (1, 1), (2, 3)]  # (nu, ny): autonomous SISO, SISO, MIMO


# ----------------------------------------------------------------------------- data
def test_irregular_subset_keeps_the_exact_samples():
    rng = np.random.default_rng(0)
    d = IOData(rng.normal(size=(200, 2)), rng.normal(size=(200, 3)), dt=0.1, t0=1.0)
    s, idx = irregular_subset(d, keep=0.35, seed=4, return_index=True)
    assert s.N == 70 and not s.is_uniform and idx[0] == 0
    assert np.array_equal(s.y, d.y[idx]) and np.array_equal(s.u, d.u[idx]) and np.array_equal(s.t, d.t[idx])
    assert np.all(np.diff(s.t) > 0)
    again = irregular_subset(d, keep=0.35, seed=4)
    assert np.array_equal(again.t, s.t)  # seeded
    other = irregular_subset(d, keep=0.35, seed=5)
    assert not np.array_equal(other.t, s.t)
    # an irregular record thinned again keeps its own samples exactly
    s2, idx2 = irregular_subset(s, keep=0.5, seed=1, return_index=True)
    assert np.array_equal(s2.y, d.y[idx[idx2]])
    # lists: one draw per record
    both = irregular_subset([d, d[:50]], keep=0.5, seed=0)
    assert [r.N for r in both] == [100, 25]


@pytest.mark.parametrize("keep", [0, 1.5, -0.1, True, "half"])
def test_irregular_subset_refuses_bad_fractions(keep):
    d = IOData(None, np.arange(10.0), dt=1.0)
    with pytest.raises(ValueError, match=r"keep must be the fraction of samples kept, a number in \(0, 1\]"):
        irregular_subset(d, keep=keep)


def test_irregular_subset_refuses_one_sample_records():
    with pytest.raises(ValueError, match="has 1 sample; an irregular subset needs records of at least 2"):
        irregular_subset(IOData(None, [1.0], dt=1.0))


def test_batch_pads_records_of_different_lengths_and_times():
    a = IOData([[1.0], [2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], t=[0.0, 0.5, 2.0])
    b = IOData([[7.0], [8.0]], [[9.0, 10.0], [11.0, 12.0]], t=[0.25, 0.5])
    batch = batch_records([a, b], masks=[np.ones((3, 2)), [[1, 0], [0, 1]]])
    assert batch.t.shape == (2, 3) and batch.y.shape == (2, 3, 2) and batch.u.shape == (2, 3, 1)
    assert batch.lengths.tolist() == [3, 2]
    np.testing.assert_array_equal(batch.dt, [[0.5, 1.5], [0.25, 0.0]])
    np.testing.assert_array_equal(batch.mask[1], [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(batch.y[1], [[9, 0], [0, 12], [0, 0]])
    union = batch_records([a, b], grid="union")
    np.testing.assert_array_equal(union.t[0], [0.0, 0.25, 0.5, 2.0])
    np.testing.assert_array_equal(union.mask[:, :, 0], [[1, 0, 1, 1], [0, 1, 1, 0]])
    np.testing.assert_array_equal(union.u[1, :, 0], [7, 7, 8, 8])  # held inputs
    # NaN in tuples marks what is not observed
    nan = batch_records([(np.array([0.0, 1.0, 3.0]), np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, 4.0]]))])
    np.testing.assert_array_equal(nan.mask[0], [[1, 0], [0, 1], [1, 1]])


def test_batch_bad_inputs():
    good = (np.array([0.0, 1.0, 2.0]), np.ones((3, 1)))
    with pytest.raises(ValueError, match="must be strictly increasing; they do not increase after rows"):
        batch_records([good, (np.array([0.0, 2.0, 1.0]), np.ones((3, 1)))])
    with pytest.raises(ValueError, match="has 1 sample; irregular models need records of at least 2 samples"):
        batch_records([good, (np.array([0.0]), np.ones((1, 1)))])
    with pytest.raises(ValueError, match="has no observation \\(its mask is 0 everywhere\\)"):
        batch_records([good], masks=[np.zeros((3, 1))])
    with pytest.raises(ValueError, match="has no observation"):
        batch_records([(np.array([0.0, 1.0]), np.full((2, 1), np.nan))])
    with pytest.raises(ValueError, match="is NaN or inf where its mask says observed"):
        batch_records([(np.array([0.0, 1.0]), np.array([[1.0], [np.nan]]))], masks=[np.ones((2, 1))])
    with pytest.raises(ValueError, match="the times of record 0 contain NaN"):
        batch_records([(np.array([0.0, np.nan]), np.ones((2, 1)))])
    with pytest.raises(ValueError, match=r"masks\[0\] must be 0/1 with shape \(N, ny\) = \(3, 1\)"):
        batch_records([good], masks=[np.ones((3, 2))])
    with pytest.raises(ValueError, match="y contains NaN"):  # IOData refuses NaN itself
        IOData(None, [1.0, np.nan], t=[0.0, 1.0])
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        IOData(None, [1.0, 2.0], t=[1.0, 1.0])


# ----------------------------------------------------------------------------- module oracles
def _signals(B, T, nu, ny, seed=0, irregular=True):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, T, nu, generator=g, dtype=torch.float64)
    y = torch.randn(B, T, ny, generator=g, dtype=torch.float64)
    dt = 0.2 + torch.rand(B, T - 1, generator=g, dtype=torch.float64) if irregular else None
    return u, y, dt


def _double(m):
    torch.manual_seed(0)
    return m.double()


@pytest.mark.parametrize("nu, ny", DIMS)
def test_rnn_delta_with_constant_dt_equals_the_plain_gru(nu, ny):
    """Δt constant: its column of the input weights is a bias; torch's nn.GRU with that bias is the oracle."""
    m = _double(RNNDeltaModule(5, nu, ny))
    check_sequence_module(m)
    B, T, h = 3, 9, 0.7
    u, y, _ = _signals(B, T, nu, ny)
    x0 = torch.randn(B, 5, dtype=torch.float64)
    y_hat, x = m.forward_states(u, x0, torch.full((B, T - 1), h, dtype=torch.float64), y=y)
    gru = torch.nn.GRU(nu + 2 * ny, 5, batch_first=True).double()
    with torch.no_grad():
        gru.weight_ih_l0.copy_(m.cell.weight_ih[:, :-1])
        gru.weight_hh_l0.copy_(m.cell.weight_hh)
        gru.bias_ih_l0.copy_(m.cell.bias_ih + h * m.cell.weight_ih[:, -1])
        gru.bias_hh_l0.copy_(m.cell.bias_hh)
        out, _ = gru(torch.cat([u, y, torch.ones_like(y)], -1)[:, :-1], x0[None])
    torch.testing.assert_close(x[:, 1:], out, rtol=0, atol=1e-13)
    torch.testing.assert_close(y_hat, x @ m.C.T, rtol=0, atol=1e-14)
    # regular data without dt: the module's own interval
    m.dt = h
    torch.testing.assert_close(m(u, x0, y=y), y_hat, rtol=0, atol=1e-14)


@pytest.mark.parametrize("nu, ny", DIMS)
def test_rnn_decay_with_zero_tau_equals_rnn_delta_without_dt(nu, ny):
    dec = _double(RNNDecayModule(4, nu, ny, tau0=0.0))
    dlt = _double(RNNDeltaModule(4, nu, ny))
    with torch.no_grad():
        dlt.cell.weight_ih.copy_(torch.cat([dec.cell.weight_ih, torch.zeros(12, 1, dtype=torch.float64)], 1))
        for n in ("weight_hh", "bias_ih", "bias_hh"):
            getattr(dlt.cell, n).copy_(getattr(dec.cell, n))
        dlt.C.copy_(dec.C)
    u, y, dt = _signals(2, 8, nu, ny, seed=1)
    mask = (torch.rand(2, 8, ny, generator=torch.Generator().manual_seed(3)) > 0.4).double()
    x0 = torch.zeros(2, 4, dtype=torch.float64)
    torch.testing.assert_close(dec(u, x0, dt, y=y, mask=mask), dlt(u, x0, dt, y=y, mask=mask), rtol=0, atol=1e-15)
    # and a positive τ decays the state exactly by exp(−τ Δt) after the GRU
    with torch.no_grad():
        dec.tau.fill_(-0.5)  # τ = |tau|
    x1 = dec.forward_states(u, x0, dt, y=y)[1][:, 1]
    ref = dec.cell(dec.cell_input(u[:, 0], y[:, 0], torch.ones_like(y[:, 0])), x0) * torch.exp(-0.5 * dt[:, :1])
    torch.testing.assert_close(x1, ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize("nu, ny", DIMS)
def test_ode_rnn_with_zero_field_equals_its_rnn(nu, ny):
    """f ≡ 0: the ODE-RNN is its GRU run over the samples where something is observed (state held
    elsewhere); oracle: torch's nn.GRU on those samples only."""
    m = _double(ODERNNModule(4, nu, ny, hidden=6))
    with torch.no_grad():
        m.W2.zero_()
        m.b2.zero_()
    T = 10
    u, y, dt = _signals(1, T, nu, ny, seed=2)
    mask = (torch.rand(1, T, ny, generator=torch.Generator().manual_seed(7)) > 0.5).double()
    mask[0, 3] = 0.0  # a sample with nothing observed
    mask[0, 0, 0] = 1.0
    x0 = torch.zeros(1, 4, dtype=torch.float64)
    y_hat, x = m.forward_states(u, x0, dt, y=y, mask=mask)
    seen = [k for k in range(T - 1) if mask[0, k].any()]
    gru = torch.nn.GRU(nu + 2 * ny, 4, batch_first=True).double()
    with torch.no_grad():
        for a, b in (("weight_ih_l0", "weight_ih"), ("weight_hh_l0", "weight_hh"), ("bias_ih_l0", "bias_ih"),
                     ("bias_hh_l0", "bias_hh")):
            getattr(gru, a).copy_(getattr(m.cell, b))
        z = torch.cat([u, y * mask, mask], -1)[:, seen]
        out, _ = gru(z, x0[None])
    for k in range(1, T):
        before = [j for j, s in enumerate(seen) if s < k]
        ref = out[0, before[-1]] if before else x0[0]
        torch.testing.assert_close(x[0, k], ref, rtol=0, atol=1e-13)
    torch.testing.assert_close(y_hat, x @ m.C.T)


def test_ode_rnn_integrates_its_field_and_exports_it():
    """Between observations the state follows the ODE: RK4 converges at fourth order to the exact
    solution of a linear field (tanh in its linear range replaced by a scaled-down weight)."""
    m = _double(ODERNNModule(2, 0, 1, hidden=2, substeps=1))
    with torch.no_grad():
        m.W1.copy_(1e-4 * torch.eye(2, dtype=torch.float64))
        m.W2.copy_(1e4 * torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64))
        m.b1.zero_()
        m.b2.zero_()
    from scipy.linalg import expm

    x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    errs = []
    for n in (8, 16):
        m.substeps = n
        xT = m.evolve(x0, torch.zeros(1, 0, dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64))
        errs.append(np.abs(xT[0].detach().numpy() - expm(2.0 * A) @ [1.0, 0.0]).max())
    assert 12 < errs[0] / errs[1] < 20  # ≈ 16: fourth order (tanh's cubic term is below 1e-8)
    # to_lure is the model between observations: its simulation equals the free run
    m.substeps = 64
    lure = m.to_lure(dt=0.5)
    u = torch.zeros(1, 6, 0, dtype=torch.float64)
    y = m(u, x0).detach().numpy()[0]
    t = 0.5 * np.arange(6)
    np.testing.assert_allclose(lure.simulate(np.zeros((6, 0)), np.array([1.0, 0.0]), t=t), y, atol=1e-5)


def test_latent_kl_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, generator=g, dtype=torch.float64)
    sigma = 0.2 + torch.rand(5, 3, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, sigma)
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(sigma))
    torch.testing.assert_close(kl_normal(mu, sigma), torch.distributions.kl_divergence(q, p).sum(-1), rtol=1e-14, atol=0)
    # by hand: μ = 1, σ = 1 → ½; μ = 0, σ = e → ½ (e² − 1 − 2)
    np.testing.assert_allclose(float(kl_normal(torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))), 0.5)
    e = np.e
    np.testing.assert_allclose(float(kl_normal(torch.tensor([0.0], dtype=torch.float64), torch.tensor([e], dtype=torch.float64))), 0.5 * (e * e - 3), rtol=1e-12)


def test_elbo_adds_the_weighted_kl_of_the_batch():
    torch.manual_seed(0)
    m = LatentODEModule(2, 0, 1, hidden=4, enc_units=3, enc_hidden=4).double()
    check_sequence_module(m)
    from sysid.training import cut_windows

    t = np.linspace(0, 3, 12)
    rec = (np.zeros((12, 0)), np.sin(t)[:, None], np.diff(t))
    enc = LatentEncoder()
    loss = ELBO(enc, obs_std=0.1, kl_weight=0.5)
    w = cut_windows([rec, rec], loss=loss, x0=enc)[0]
    enc.prepare(m, [w], torch.Generator().manual_seed(0))
    idx = torch.arange(2)
    y_hat = enc.simulate(m, w, idx)
    mu, sigma = m.posterior(w.u, w.y, None, w.dt)
    expect = 0.5 * 2 * 0.01 * float(kl_normal(mu, sigma).sum().detach()) / 24
    assert float(loss.regularization(m).detach()) == pytest.approx(expect, rel=1e-12)
    assert loss.regularization(m) == 0.0  # cleared once read
    with torch.no_grad():  # evaluation: the posterior mean, no KL recorded
        torch.testing.assert_close(enc.initial(m, w, idx), mu.detach())
    assert enc.count == 0 and y_hat.shape == (2, 12, 1)


# ----------------------------------------------------------------------------- estimators
@pytest.fixture(scope="module")
def spiral():
    d = spiral_source(t=np.linspace(0, 4, 40), n_initial_states=5, seed=0)
    return irregular_subset(d.train, keep=0.5, seed=0), d


@pytest.mark.parametrize("cls, kw", [(RNNDelta, {}), (RNNDecay, {}), (ODERNN, {"hidden": 8}),
                                     (LatentODE, {"hidden": 8, "enc_units": 6, "enc_hidden": 8})])
def test_estimators_train_on_irregular_records(spiral, cls, kw):
    train, d = spiral
    est = cls(nx=6 if cls is not LatentODE else 3, epochs=12, seed=0, val_fraction=0.0, **kw).fit(train)
    assert est._irregular_ and est.history_.loss[-1] < 0.8 * est.history_.initial_loss
    check_sequence_module(est.module_)
    obs = irregular_subset(d.test[0], keep=0.5, seed=3)
    y = est.predict_at(obs, d.test[0].t)
    assert y.shape == (40, 2) and np.all(np.isfinite(y))
    assert est.simulate(np.zeros((10, 0)), t=np.linspace(0, 1, 10)).shape == (10, 2)


def test_exports_say_what_they_can(spiral):
    train, _ = spiral
    rnn = RNNDelta(nx=4, epochs=1, val_fraction=0.0).fit(train)
    with pytest.raises(NotImplementedError, match="not a Lur'e system .*use the estimator's linearize"):
        rnn.to_lure()
    lin = rnn.linearize()
    assert lin.dt == pytest.approx(rnn.dt_) and lin.nstates == 4
    # the linearization point is an equilibrium of the free-run step
    m = rnn.module_
    A = lin.A
    x = torch.zeros(1, 4, dtype=torch.float64)
    for _ in range(300):
        x = m.step(x, torch.zeros(1, 0, dtype=torch.float64))
    from torch.autograd.functional import jacobian

    J = jacobian(lambda z: m.step(z[None], torch.zeros(1, 0, dtype=torch.float64))[0], x[0].detach())
    np.testing.assert_allclose(A, J.numpy(), atol=1e-8)
    lat = LatentODE(nx=2, hidden=4, enc_units=3, enc_hidden=4, epochs=1, val_fraction=0.0).fit(train)
    lure = lat.to_lure()
    assert lure.is_continuous and lure.nx == 2
    np.testing.assert_allclose(np.sort_complex(lat.linearize(x0=np.zeros(2)).poles()),
                               np.sort_complex(np.linalg.eigvals(lure.linearize(x0=np.zeros(2)).A)), atol=1e-10)
    ode = ODERNN(nx=3, hidden=4, epochs=1, val_fraction=0.0).fit(train)
    assert ode.to_lure().is_continuous and ode.linearize(x0=np.zeros(3)).nstates == 3


def test_latent_ode_posterior_samples_and_save_load(spiral, tmp_path):
    train, d = spiral
    est = LatentODE(nx=2, hidden=4, enc_units=3, enc_hidden=4, epochs=3, val_fraction=0.0, kl_warmup=1).fit(train)
    obs = train[0]
    s = est.sample_posterior(obs, obs.t, n_samples=4, seed=1)
    assert s.shape == (4, obs.N, 2) and np.ptp(s, axis=0).max() > 0
    mu, sigma = est.posterior(obs)
    assert mu.shape == (2,) and np.all(sigma > 0)
    np.testing.assert_array_equal(est.sample_posterior(obs, obs.t, n_samples=4, seed=1), s)  # seeded
    est.save(tmp_path / "lat")
    back = LatentODE.load(tmp_path / "lat")
    np.testing.assert_allclose(back.predict_at(obs, obs.t), est.predict_at(obs, obs.t), rtol=0, atol=1e-12)


def test_estimator_bad_inputs(spiral):
    train, d = spiral
    est = RNNDecay(nx=3, epochs=1, val_fraction=0.0).fit(train)
    with pytest.raises(ValueError, match="t \\(the query times\\) must be a non-empty, finite, strictly increasing"):
        est.predict_at(train[0], [0.5, 0.2])
    with pytest.raises(ValueError, match="must start at or after the first observation"):
        est.predict_at(train[1][1:], [0.0, 1.0])
    with pytest.raises(ValueError, match="conditions on one record"):
        est.predict_at(train[:2], [1.0])
    with pytest.raises(ValueError, match="The 'x0' parameter of RNNDecay must be one of"):
        RNNDecay(x0="measured", epochs=1).fit(train)
    with pytest.raises(ValueError, match="The 'x0' parameter of LatentODE must be 'auto'"):
        LatentODE(x0="zero", epochs=1).fit(train)
    with pytest.raises(ValueError, match="The 'init' parameter of ODERNN must be one of \\['random'\\]"):
        ODERNN(init="linear", epochs=1).fit(train)
    with pytest.raises(ValueError, match="y must have shape \\(B, T, ny\\)"):
        est.module_(torch.zeros(1, 4, 0, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64),
                    y=torch.zeros(1, 4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="dt \\(the sample intervals\\) must be >= 0"):
        est.module_(torch.zeros(1, 3, 0, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64),
                    dt=-torch.ones(1, 2, dtype=torch.float64))


def test_observed_strategy_reads_the_window():
    """Observed(past) runs the module over past + window with the observations and scores the window."""
    from sysid.training import cut_windows

    torch.manual_seed(0)
    m = RNNDeltaModule(3, 1, 1).double()
    rng = np.random.default_rng(0)
    rec = (rng.normal(size=(20, 1)), rng.normal(size=(20, 1)))
    s = Observed(past=4)
    w = cut_windows([rec], loss="truncated", horizon=8, x0=s)[0]
    idx = torch.arange(len(w))
    y_hat = s.simulate(m, w, idx)
    ref = m(w.u, torch.zeros(len(w), 3, dtype=torch.float64), y=w.y)[:, 4:]
    torch.testing.assert_close(y_hat, ref)
    assert y_hat.shape == w.scored_y.shape


@pytest.mark.slow
def test_irregular_example_runs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "irregular.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=600)
    res = json.loads((tmp_path / "irregular.json").read_text())["results"]
    assert set(res) == {"spiral", "center", "pendulum"}
    assert all(np.isfinite(r["interp_mse"]) for rows in res.values() for r in rows.values())
    assert (tmp_path / "irregular_spiral.png").is_file()


def test_one_sample_records_are_refused(spiral):
    train, _ = spiral
    with pytest.raises(ValueError, match="data record 1 has 1 sample; ODERNN needs records of at least 2 samples"):
        ODERNN(epochs=1).fit([IOData(None, np.ones((3, 1)), t=[0.0, 1.0, 2.0]), IOData(None, [[1.0]], t=[0.0])])


def test_driven_system_with_inputs_at_the_query_times():
    from sysid.datasets import damped_oscillator

    d = damped_oscillator(N=200, dt=0.1, seed=0)
    obs = irregular_subset(d.train, keep=0.5, seed=0)
    est = RNNDelta(nx=4, epochs=5, val_fraction=0.0, horizon=40).fit(obs)
    y = est.predict_at(obs[:50], d.train.t[:60], u=d.train.u[:60])
    assert y.shape == (60, 1) and np.all(np.isfinite(y))
    with pytest.raises(ValueError, match="this model has 1 input\\(s\\): pass u at the query times, shape \\(60, 1\\)"):
        est.predict_at(obs[:50], d.train.t[:60])
    free = est.simulate(d.train.u[:20], t=d.train.t[:20])  # free run (no observations), irregular times
    assert free.shape == (20, 1)
