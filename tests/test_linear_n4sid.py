"""N4SID on hard records: band-limited inputs, short records, order selection, stability,
integrators, closed loop."""
import warnings

import control
import numpy as np
import pytest

from sysid import IOData, LureSystem, compare, datasets
from sysid.estimators import N4SID
from sysid.linear import n4sid
from sysid.linear._n4sid import IdentificationWarning


def multisine(P, periods, lo, hi, rng):
    """Random-phase multisine with equal energy on the bins in [lo, hi] (fractions of Nyquist)."""
    k = np.arange(P // 2 + 1)
    band = (2 * k / P >= lo) & (2 * k / P <= hi)
    X = np.zeros(P // 2 + 1, complex)
    X[band] = np.exp(2j * np.pi * rng.random(band.sum()))
    u = np.fft.irfft(X, P)
    return np.tile(u / u.std(), periods)


def in_band_plant():
    """Fourth order, resonances at 10 % and 25 % of the Nyquist frequency."""
    p1, p2 = 0.97 * np.exp(1j * np.pi * 0.10), 0.95 * np.exp(1j * np.pi * 0.25)
    poles = np.array([p1, np.conj(p1), p2, np.conj(p2)])
    return control.ss(control.tf([1.0, 0.5], np.real(np.poly(poles)), 1.0)), poles


def sim(G, u, noise=0.0, seed=0, x0=None):
    y = LureSystem.from_control(G).simulate(u, x0)
    return IOData(u, y + noise * y.std() * np.random.default_rng(seed).normal(size=y.shape), dt=G.dt)


def test_band_limited_multisine_warns_and_recovers_the_poles_at_40_db():
    G, poles = in_band_plant()
    rng = np.random.default_rng(1)
    u = multisine(2048, 5, 0.05, 0.40, rng)[:, None]
    d = sim(G, u, noise=0.01, seed=2)  # 40 dB SNR
    with pytest.warns(IdentificationWarning, match=r"ill-conditioned \(condition number [0-9.]+e\+\d\d"):
        res = n4sid(d, 4)
    assert res.input_condition > 1e8 and res.excited_directions < 20
    err = np.max(np.abs(np.sort_complex(res.system.poles()) - np.sort_complex(poles)))
    assert err < 1e-3, err


def test_band_limited_noise_free_is_exact():
    G, poles = in_band_plant()
    u = multisine(1024, 4, 0.05, 0.40, np.random.default_rng(0))[:, None]
    with pytest.warns(IdentificationWarning, match="band-limited"):
        res = n4sid(sim(G, u), 4)
    np.testing.assert_allclose(np.sort_complex(res.system.poles()), np.sort_complex(poles), atol=1e-8)


def test_a_singular_input_is_still_refused():
    with pytest.raises(ValueError, match=r"not persistently exciting: .*numerical rank 1 .*richer input"):
        n4sid(IOData(np.ones(500), np.ones(500), dt=1.0), nx=1)


def test_white_noise_gives_no_warning_and_short_records_shrink_the_horizon():
    d = datasets.fourth_order_plant(N=150, n_test=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = n4sid(d.train, 4)
        assert res.horizon == 15  # the largest s with 150 − 2s + 1 >= 2·(2s·2) columns: twice as wide as tall
        assert N4SID(nx=4, horizon=5).fit(d.train).nx_ == 4  # the neural estimators' fallback
    assert n4sid(datasets.fourth_order_plant(N=2000).train, 4).horizon == 20
    with pytest.raises(ValueError, match="too few samples for horizon s = 3"):
        n4sid(IOData(np.random.default_rng(0).normal(size=12), np.zeros(12), dt=1.0), 2, horizon=3)


@pytest.mark.parametrize("use_val", [False, True])
def test_order_selection_by_criterion(use_val):
    clean = datasets.fourth_order_plant(N=3000, n_test=2000, seed=3)
    noisy = datasets.fourth_order_plant(N=3000, n_test=2000, seed=3, noise_std=0.05 * clean.train.y.std())
    res = n4sid(noisy.train, val=noisy.test if use_val else None)
    assert res.nx == 4
    scores = res.order_scores
    if not use_val:
        assert min(scores, key=lambda n: scores[n]["criterion"]) == 4
    assert scores[4]["cost"] < scores[3]["cost"]


def test_stable_option_enforces_stability():
    G = control.ss([[1.02, 0.0], [0.3, 0.5]], [[1.0], [0.5]], [[1.0, 1.0]], [[0.0]], 1.0)
    u = np.random.default_rng(0).normal(size=(400, 1))
    d = sim(G, u)
    free = n4sid(d, 2)
    assert np.max(np.abs(free.system.poles())) == pytest.approx(1.02, abs=1e-8)
    with pytest.warns(IdentificationWarning, match=r"unstable \(spectral radius 1.02"):
        res = n4sid(d, 2, stable=True)
    assert np.max(np.abs(res.system.poles())) < 1.0
    with pytest.warns(UserWarning, match="unstable"):
        est = N4SID(nx=2, stable=True, pem=True).fit(d)
    assert np.max(np.abs(est.system_.poles())) < 1.0


def test_integrator_is_exact_and_the_rest_is_recovered():
    G = control.ss([[1.0, 0.1], [0.0, 0.8]], [[0.0], [1.0]], [[1.0, 0.0]], [[0.0]], 1.0)  # position ← velocity ← force
    u = np.random.default_rng(1).normal(size=(1000, 1))
    d = sim(G, u, x0=[0.5, 0.0])
    res = n4sid(d, 2, integrator=True, feedthrough=False)
    p = np.sort(np.real(res.system.poles()))
    assert p[1] == 1.0
    assert p[0] == pytest.approx(0.8, abs=1e-8)
    sim_y = LureSystem.from_control(res.system).simulate(d.u, res.x0)
    np.testing.assert_allclose(sim_y, d.y, atol=1e-7 * np.abs(d.y).max())
    with pytest.raises(ValueError, match=r"integrator=True, nx counts the 1 integrator.*nx >= 2"):
        n4sid(d, 1, integrator=True)


def test_closed_loop_data_are_named():
    rng = np.random.default_rng(0)
    N = 3000
    r, e = rng.normal(size=N), rng.normal(size=N)
    y, u = np.zeros(N), np.zeros(N)
    x = 0.0
    for t in range(N):  # plant x⁺ = 0.8 x + u, y = x + e; controller u = r − 0.6 y
        y[t] = x + e[t]
        u[t] = r[t] - 0.6 * y[t]
        x = 0.8 * x + u[t]
    with pytest.warns(IdentificationWarning, match=r"look closed-loop.*prediction-error method"):
        res = n4sid(IOData(u, y, dt=1.0), 1, feedthrough=False)
    assert res.feedback["closed_loop"] and res.feedback["pvalue"] < 1e-10
    open_loop = IOData(r, np.convolve(r, np.r_[0.0, 0.8 ** np.arange(30)])[:N] + e, dt=1.0)  # strictly proper
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not n4sid(open_loop, 1, feedthrough=False).feedback["closed_loop"]


def test_closed_loop_positioner_dataset():
    d = datasets.closed_loop_positioner(n_train=1500, n_test=500, seed=1)
    assert (d.train.N, d.test.N, d.train.nu, d.train.ny) == (1500, 500, 1, 1)
    np.testing.assert_allclose(np.sort(np.real(d.info["discrete"].poles())), [np.exp(-0.1), 1.0], atol=1e-12)
    # the loop tracks the reference: position within a few mm of it
    assert np.sqrt(np.mean((d.train.y[:, 0] - d.info["reference"][0]) ** 2)) < 0.02
    est = N4SID(nx=2, integrator=True, feedthrough=False, pem=True).fit(d.train)
    res = compare(est, d.test, x0="estimate", skip=50)
    assert res.rmse[0] < 0.05 * np.ptp(d.test.y)
    with pytest.raises(ValueError, match=r"PI loop is unstable: need viscous·kp > m·ki"):
        datasets.closed_loop_positioner(ki=1e5)


@pytest.mark.slow
def test_closed_loop_example_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "closed_loop.py"
    out = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    summary = json.loads((tmp_path / "closed_loop.json").read_text())
    assert summary["N4SID nx=2, integrator + PEM"]["rmse_percent_of_range"] < 5
    assert (tmp_path / "closed_loop_resid.png").exists()
