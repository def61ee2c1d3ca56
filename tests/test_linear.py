import control
import numpy as np
import pytest

from sysid import IOData, LureSystem, compare, datasets
from sysid.estimators import ARX, N4SID
from sysid.linear import arx, n4sid, pem


def random_stable(nx, nu, ny, seed):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.3, 0.9, nx)
    th = rng.uniform(0, np.pi, nx)
    A = np.zeros((nx, nx))
    i = 0
    while i < nx:  # real-Jordan blocks: complex pairs and real poles
        if i + 1 < nx and rng.random() < 0.5:
            A[i:i + 2, i:i + 2] = r[i] * np.array([[np.cos(th[i]), -np.sin(th[i])], [np.sin(th[i]), np.cos(th[i])]])
            i += 2
        else:
            A[i, i] = r[i] * np.sign(rng.normal())
            i += 1
    T = rng.normal(size=(nx, nx)) + 2 * np.eye(nx)
    A = T @ A @ np.linalg.inv(T)
    return control.ss(A, rng.normal(size=(nx, nu)), rng.normal(size=(ny, nx)), rng.normal(size=(ny, nu)), 1.0)


def sim_data(G, N, seed, noise=0.0, x0=None):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(N, G.ninputs))
    y = LureSystem.from_control(G).simulate(u, x0)
    return IOData(u, y + noise * rng.normal(size=y.shape), dt=G.dt)


def freq_err(G, H):
    z = np.exp(1j * np.linspace(0.01, np.pi, 200))
    return np.max(np.abs(G(z) - H(z))) / np.max(np.abs(G(z)))


@pytest.mark.parametrize("nx,nu,ny,seed", [(1, 1, 1, 0), (2, 1, 1, 1), (3, 2, 1, 2), (4, 1, 2, 3),
                                           (5, 2, 3, 4), (6, 3, 2, 5)])
def test_exact_recovery_noise_free(nx, nu, ny, seed):
    G = random_stable(nx, nu, ny, seed)
    res = n4sid(sim_data(G, 800, seed, x0=np.ones(nx)))
    assert res.nx == nx
    np.testing.assert_allclose(np.sort_complex(res.system.poles()), np.sort_complex(G.poles()), rtol=1e-7, atol=1e-9)
    assert freq_err(G, res.system) < 1e-7
    assert res.system.dt == 1.0


def test_fourth_order_plant_poles_and_dc_gain():
    d = datasets.fourth_order_plant(N=2000)
    res = n4sid(d.train)
    assert res.nx == 4
    p, pt = np.sort_complex(res.system.poles()), np.sort_complex(d.system.poles())
    assert np.max(np.abs(p - pt) / np.abs(pt)) < 1e-6
    np.testing.assert_allclose(control.dcgain(res.system), control.dcgain(d.system), rtol=1e-6)
    # the initial state is estimated too
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    y = LureSystem.from_control(d.system).simulate(d.train.u, x0)
    res = n4sid(d.train.with_data(y=y), nx=4)
    sim = LureSystem.from_control(res.system).simulate(d.train.u, res.x0)
    np.testing.assert_allclose(sim, y, atol=1e-7 * np.abs(y).max())


def test_error_falls_like_inverse_sqrt_n():
    Ns = [1000, 4000, 16000, 64000]
    errs = []
    for N in Ns:
        clean = datasets.fourth_order_plant(N=N, n_test=10, seed=7)
        noisy = datasets.fourth_order_plant(N=N, n_test=10, seed=7, noise_std=0.05 * clean.train.y.std())
        res = n4sid(noisy.train, nx=4)
        # average the error over the frequency grid to reduce the variance of one realization
        errs.append(freq_err(clean.system, res.system))
    slope = np.polyfit(np.log(Ns), np.log(errs), 1)[0]
    assert -0.85 < slope < -0.3, (errs, slope)
    assert errs[-1] < errs[0] / 3


def test_default_horizon_has_no_noise_bias_in_dc_gain():
    clean = datasets.fourth_order_plant(N=20000, seed=2)
    noisy = datasets.fourth_order_plant(N=20000, seed=2, noise_std=0.01 * clean.train.y.std())
    g = control.dcgain(n4sid(noisy.train, nx=4).system)
    assert abs(g / 7.5351 - 1) < 0.005


def test_several_experiments_equal_one_long_experiment():
    G = random_stable(3, 1, 1, seed=9)
    long = sim_data(G, 1200, seed=1)
    parts = [long[:500], long[500:]]
    # noise-free: both recover the same system exactly (the split loses only Hankel columns)
    a, b = n4sid(long, nx=3).system, n4sid(parts, nx=3).system
    assert freq_err(a, b) < 1e-8
    res = n4sid(parts, nx=3)
    assert len(res.x0) == 2


def test_cva_weighting():
    G = random_stable(3, 2, 2, seed=4)
    res = n4sid(sim_data(G, 1000, seed=0), weighting="cva")
    assert res.nx == 3 and freq_err(G, res.system) < 1e-7


def test_n4sid_errors():
    G = random_stable(2, 1, 1, seed=0)
    with pytest.raises(ValueError, match="too few samples"):
        n4sid(sim_data(G, 60, seed=0))
    constant = IOData(np.ones(500), np.ones(500), dt=1.0)
    with pytest.raises(ValueError, match="not persistently exciting"):
        n4sid(constant, nx=1)
    with pytest.raises(ValueError, match="too large for horizon"):
        n4sid(sim_data(G, 500, seed=0), nx=6, horizon=5)
    with pytest.raises(ValueError, match="weighting"):
        n4sid(sim_data(G, 500, seed=0), weighting="n4")
    with pytest.raises(ValueError, match="no inputs"):
        n4sid(IOData(None, np.ones(50), dt=1.0))


def test_arx_recovers_a_known_arx_system():
    rng = np.random.default_rng(0)
    N = 500
    u = rng.normal(size=N)
    y = np.zeros(N)
    up, yp = np.concatenate([[0, 0], u]), np.zeros(N + 2)  # zero past: the realization starts at rest
    for t in range(2, N + 2):
        yp[t] = 1.2 * yp[t - 1] - 0.5 * yp[t - 2] + 0.7 * up[t - 1] + 0.3 * up[t - 2]
    y = yp[2:]
    res = arx(IOData(u, y, dt=1.0), na=2, nb=2, nk=1)
    np.testing.assert_allclose(res.A[:, 0, 0], [-1.2, 0.5], atol=1e-10)
    np.testing.assert_allclose(res.B[:, 0, 0], [0.7, 0.3], atol=1e-10)
    # the realization simulates the same difference equation
    sim = LureSystem.from_control(res.system).simulate(u)
    np.testing.assert_allclose(sim[:, 0], y, atol=1e-9)
    tf = control.tf([0.7, 0.3], [1, -1.2, 0.5], 1.0)
    z = np.exp(1j * np.linspace(0.1, 3, 20))
    np.testing.assert_allclose(res.system(z), tf(z), rtol=1e-9)


def test_arx_mimo_with_feedthrough():
    rng = np.random.default_rng(1)
    N = 400
    u = rng.normal(size=(N, 2))
    A1 = np.array([[0.5, 0.1], [-0.2, 0.3]])
    B0 = np.array([[1.0, 0.5], [0.0, -1.0]])
    y = np.zeros((N, 2))
    y[0] = B0 @ u[0]
    for t in range(1, N):
        y[t] = -A1 @ y[t - 1] + B0 @ u[t]
    res = arx(IOData(u, y, dt=0.5), na=1, nb=1, nk=0)
    np.testing.assert_allclose(res.A[0], A1, atol=1e-10)
    np.testing.assert_allclose(LureSystem.from_control(res.system).simulate(u), y, atol=1e-9)


def test_arx_errors():
    d = IOData(np.random.default_rng(0).normal(size=50), np.zeros(50), dt=1.0)
    with pytest.raises(ValueError, match="nb must be an int >= 1"):
        arx(d, 2, 0, 1)
    with pytest.raises(ValueError, match="na must be an int >= 0"):
        arx(d, -1, 2, 1)
    with pytest.raises(ValueError, match="too few samples"):
        arx(d[:5], 4, 4, 1)
    with pytest.raises(ValueError, match="not persistently exciting"):
        arx(IOData(np.ones(50), np.zeros(50), dt=1.0), 1, 3, 1)


def test_pem_improves_a_perturbed_model_and_stays_stable():
    G = random_stable(2, 1, 1, seed=3)
    d = sim_data(G, 400, seed=2, noise=0.01)
    bad = control.ss(G.A * 0.9, G.B * 1.3, G.C, G.D, 1.0)
    res = pem(d, bad)
    assert res.cost_final < 0.1 * res.cost_initial
    assert np.max(np.abs(res.system.poles())) < 1
    assert freq_err(G, res.system) < 0.05
    # an unstable start is pulled inside the unit circle first
    unstable = control.ss(np.diag([1.05, 0.5]), [[1.0], [1.0]], [[1.0, 1.0]], [[0.0]], 1.0)
    with pytest.warns(UserWarning, match="start model is unstable"):
        out = pem(d, unstable)
    assert np.max(np.abs(out.system.poles())) < 1
    with pytest.raises(TypeError, match="discrete-time"):
        pem(d, control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]]))


def test_estimator_facades(tmp_path):
    G = random_stable(3, 1, 1, seed=5)
    d = sim_data(G, 600, seed=3, x0=np.ones(3))
    est = N4SID().fit(d)
    assert est.nx_ == 3 and freq_err(G, est.linearize()) < 1e-7
    res = compare(est, d, x0="estimate")
    np.testing.assert_allclose(res.fit_percent, 100.0, atol=1e-5)
    est.save(tmp_path / "n4")
    back = N4SID.load(tmp_path / "n4")
    np.testing.assert_array_equal(back.system_.A, est.system_.A)
    np.testing.assert_array_equal(back.x0_, est.x0_)
    refined = N4SID(nx=3, pem=True).fit(d)
    assert freq_err(G, refined.system_) < 1e-6
    a = ARX(na=3, nb=3, nk=0).fit(d)
    assert a.linearize().nstates == 3
    with pytest.raises(ValueError, match="The 'nx' parameter of N4SID must be an int >= 1"):
        N4SID(nx=0).fit(d)


def test_tampered_model_file_is_refused(tmp_path):
    G = random_stable(2, 1, 1, seed=1)
    est = N4SID(nx=2).fit(sim_data(G, 300, seed=0))
    est.save(tmp_path / "m")
    w = tmp_path / "m" / "weights.npz"
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="do not match the SHA-256"):
        N4SID.load(tmp_path / "m")


def test_benchmark_protocol_on_cascaded_tanks(data_dir, tmp_path):
    from sysid import benchmarks

    bench = datasets.cascaded_tanks(data_dir / "cascaded_tanks")
    r = benchmarks.evaluate(lambda: N4SID(nx=2), bench, label="N4SID nx=2")
    rmse = r["tests"]["test"]["rmse"][0]
    # oracle: the same protocol written out by hand
    est = N4SID(nx=2).fit(bench.train)
    test = bench.test["test"]
    x0 = est.estimate_x0(test, n=5)
    y = est.simulate(test.u, x0=x0)
    np.testing.assert_allclose(rmse, np.sqrt(np.mean((y[5:] - test.y[5:]) ** 2)), rtol=1e-12)
    assert 0 < rmse < 2.0
    table = benchmarks.format_table([r])
    assert "LTI state-space baseline" in table and "N4SID nx=2" in table
    benchmarks.save_json([r], tmp_path / "r.json")
    import json

    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["results"][0]["tests"]["test"]["rmse"][0] == rmse
