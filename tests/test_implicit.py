"""sysid.estimators.Implicit: the seed's implicit model as a NARX regression through a fixed point."""
import numpy as np
import pytest

pytest.importorskip("torch")

from sysid import IOData, NotFittedError, certify  # noqa: E402
from sysid.estimators import Implicit  # noqa: E402

FAST = dict(nx=4, epochs=4, batch_size=64, seed=0)


def plant(N=160, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=N)
    y, x = np.zeros(N), np.zeros(2)
    for k in range(N):
        y[k] = x[0]
        x = np.array([0.7 * x[0] + 0.2 * x[1] + 0.5 * u[k], -0.2 * x[0] + 0.6 * x[1] + np.tanh(u[k])])
    return IOData(u, y, dt=0.1)


def window_state(est, data, t):
    """The Lur'e state at time t: [u(t−1), …, u(t−pu), y(t−1), …, y(t−na)] (SISO)."""
    pu = est.nk + est.nb - 1
    return np.concatenate([[data.u[t - i, 0] for i in range(1, pu + 1)],
                           [data.y[t - i, 0] for i in range(1, est.na + 1)]])


@pytest.fixture(scope="module")
def data():
    return plant()


@pytest.fixture(scope="module")
def fitted(data):
    return Implicit(na=2, nb=2, nk=1, lora_rank=1, tol=1e-12, **FAST).fit(data)


def test_contract_basics(data, tmp_path):
    est = Implicit(**FAST)
    params = est.get_params()
    assert Implicit(**params).get_params() == params
    assert not [k for k in vars(est) if k.endswith("_")]
    with pytest.raises(NotFittedError, match="not fitted"):
        est.simulate(np.zeros((10, 1)))
    assert est.fit(data) is est
    y = est.simulate(data.u)
    assert y.shape == (data.N, 1) and np.all(np.isfinite(y))
    np.testing.assert_allclose(est.simulate(data.u[:, 0]), y)
    np.testing.assert_allclose(Implicit(**params).fit(data).simulate(data.u), y, rtol=1e-10, atol=1e-12)
    est.save(tmp_path / "m")
    back = Implicit.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict(data, horizon=1), est.predict(data, horizon=1), atol=1e-12)


def test_lure_export_reproduces_simulation_and_prediction(fitted, data):
    lure = fitted.to_lure()
    np.testing.assert_allclose(lure.D11, fitted.W_)
    # free run of the exported Lur'e system = the estimator's own simulation (both exact to 1e-12)
    np.testing.assert_allclose(lure.simulate(data.u), fitted.simulate(data.u), atol=1e-9)
    # one-step prediction = the Lur'e output with the measured window as state
    yp = fitted.predict(data, horizon=1)
    lag = fitted.lag_
    for t in (lag, lag + 7, data.N - 1):
        x = window_state(fitted, data, t)
        np.testing.assert_allclose(lure.output(x, data.u[t]), yp[t], atol=1e-9)


def test_linear_phi_regime_matches_closed_form(fitted):
    # in the model's own terms: with σ replaced by identity the layer is x = (I − W)⁻¹ h
    from sysid import solvers as S

    h = np.random.default_rng(0).normal(size=(3, fitted.W_.shape[0]))
    res = S.anderson(lambda X: X @ fitted.W_.T + h, np.zeros_like(h), atol=1e-13, rtol=0)
    np.testing.assert_allclose(res.x, np.linalg.solve(np.eye(len(fitted.W_)) - fitted.W_, h.T).T, atol=1e-10)


def test_well_posed_by_construction_and_certified(fitted):
    assert np.linalg.norm(fitted.W_, 2) <= fitted.gamma + 1e-12
    cert = certify.well_posedness(fitted.to_lure())
    assert cert.certified
    mono = Implicit(na=2, nb=2, weight="monotone", m=0.2, **FAST).fit(plant(120, seed=1))
    S = np.eye(len(mono.W_)) - mono.W_
    assert np.linalg.eigvalsh((S + S.T) / 2)[0] >= 0.2 - 1e-9


def test_linearize_poles_and_dc_gain_agree_with_nonlinear_steady_state(fitted):
    import control

    lin = fitted.linearize()
    assert lin.dt == pytest.approx(0.1)
    x_eq = fitted.equilibrium([0.0])
    # DC gain of the linearization vs the nonlinear steady-state response to a small step
    lure = fitted.to_lure()
    d = 1e-5
    x1 = fitted.equilibrium([d])
    y0, y1 = lure.output(x_eq, np.zeros(1)), lure.output(x1, np.array([d]))
    np.testing.assert_allclose(control.dcgain(lin), (y1 - y0)[0] / d, rtol=1e-4)
    np.testing.assert_allclose(np.sort(np.abs(control.poles(lin))), np.sort(np.abs(np.linalg.eigvals(lin.A))))


def test_iterations_reported_on_every_prediction(fitted, data):
    fitted.predict(data, horizon=1)
    rep = fitted.last_inference_
    assert rep.iterations.shape == (data.N,) and rep.mean_iterations > 0 and rep.converged
    fitted.predict(data, horizon=3)
    assert fitted.last_inference_.iterations.shape == (3 * data.N,)
    fitted.simulate(data.u[:20])
    assert fitted.last_inference_.iterations.shape == (20,)
    fitted.predict(data, horizon=1, solver="picard")
    picard = fitted.last_inference_.mean_iterations
    fitted.predict(data, horizon=1, solver="anderson")
    assert fitted.last_inference_.mean_iterations <= picard


def test_multistep_prediction_equals_simulation_from_the_measured_window(fitted, data):
    yp = fitted.predict(data, horizon=4)
    lure = fitted.to_lure()
    t = 40
    o = t - 4  # origin: the window holds measured data up to o
    x = window_state(fitted, data, o + 1)
    seg = lure.simulate(data.u[o + 1:t + 1], x)
    np.testing.assert_allclose(seg[-1], yp[t], atol=1e-9)


def test_training_reduces_error_against_untrained(data):
    untrained = Implicit(na=2, nb=2, nk=1, **{**FAST, "epochs": 0}).fit(data)
    trained = Implicit(na=2, nb=2, nk=1, **{**FAST, "epochs": 25, "lr": 1e-2}).fit(data)
    e0 = np.mean((untrained.predict(data) - data.y) ** 2)
    e1 = np.mean((trained.predict(data) - data.y) ** 2)
    assert e1 < 0.5 * e0
    assert trained.history_["best_epoch"] >= 0 and len(trained.history_["val"]) >= 1


def test_autonomous_series_with_last_value_baseline_exports_exactly():
    y = np.sin(0.2 * np.arange(150))[:, None] + 0.01 * np.random.default_rng(0).normal(size=(150, 1))
    d = IOData(None, y, dt=1.0)
    est = Implicit(na=3, tol=1e-12, **FAST).fit(d)
    lure = est.to_lure()
    assert lure.nu == 0 and lure.nx == 3
    yp = est.predict(d, horizon=1)
    for t in (3, 50, 149):
        np.testing.assert_allclose(lure.output(y[[t - 1, t - 2, t - 3], 0], np.zeros(0)), yp[t], atol=1e-9)
    # the model adds to the last value: far better than the series mean, and the persistence term is in C2
    assert np.mean((yp[3:] - y[3:]) ** 2) < 0.1 * np.var(y)
    plain = Implicit(na=3, baseline=None, tol=1e-12, **FAST).fit(d)
    assert plain.to_lure().C2[0, 0] != pytest.approx(lure.C2[0, 0])


def test_too_short_record_says_how_long(data):
    with pytest.raises(ValueError, match="needs records of at least 15 samples .* got a record of 12 samples"):
        Implicit(na=5, nb=2, **FAST).fit(data[:12])


def test_bad_parameters(data):
    with pytest.raises(ValueError, match="The 'gamma' parameter of Implicit must be in \\(0, 1\\). Got 1.5"):
        Implicit(gamma=1.5).fit(data)
    with pytest.raises(ValueError, match="The 'weight' parameter of Implicit must be 'contractive' or 'monotone'"):
        Implicit(weight="free").fit(data)
    with pytest.raises(ValueError, match="The 'solver' parameter of Implicit must be one of"):
        Implicit(solver="newton").fit(data)
    with pytest.raises(ValueError, match="baseline='last' .* needs na >= 1"):
        Implicit(na=0, baseline="last").fit(data)
    with pytest.raises(ValueError, match="the window is empty"):
        Implicit(na=0, nb=0).fit(data)
    est = Implicit(**FAST).fit(data)
    with pytest.raises(ValueError, match="horizon must be an int >= 1; got 0"):
        est.predict(data, horizon=0)
    with pytest.raises(ValueError, match="data must have nu = 1 inputs and ny = 1 outputs"):
        est.predict(IOData(None, data.y, dt=0.1))


@pytest.mark.slow
def test_implicit_vs_lstm_example_runs(tmp_path):
    import json
    import pathlib
    import subprocess
    import sys

    repo = pathlib.Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, str(repo / "examples" / "implicit_vs_lstm.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Three-forces ablation" in res.stdout and "Finite depth vs equilibrium" in res.stdout
    assert (tmp_path / "implicit_forecasts.png").is_file() and (tmp_path / "implicit_residuals.png").is_file()
    out = json.loads((tmp_path / "implicit_vs_lstm.json").read_text())
    assert out["targets"]["mondeq_all_draws_converge"]
    assert len(out["finite_depth"]) == 31
