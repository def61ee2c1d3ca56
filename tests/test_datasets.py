import control
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from sysid import datasets


def test_spiral_source_matches_expm_and_the_seed_numbers():
    d = datasets.spiral_source(n_initial_states=3)
    np.testing.assert_allclose(d.info["Ad"], [[0.3919, 0.8593], [-0.8593, 0.3919]], atol=5e-5)
    first = d.train[0]
    assert first.N == 8 and first.nu == 0 and first.dt == pytest.approx(4 / 7)
    for k, tk in enumerate(first.t):
        np.testing.assert_allclose(first.y[k], expm(d.info["A"] * tk) @ [2.0, 0.0], atol=1e-12)
    assert len(d.train) == 4 and len(d.test) == 3


def test_center_grids():
    m = datasets.center()
    np.testing.assert_allclose(m.info["Ad"], [[0.8477, -0.5390], [0.5390, 0.8369]], atol=2e-4)
    n = datasets.center(grid="node")
    np.testing.assert_allclose(n.train[0].t, np.linspace(0, 0.5, 8))
    np.testing.assert_allclose(n.train[0].y[-1], expm(n.info["A"] * 0.5) @ [2.0, 2.0], atol=1e-12)
    t = np.array([0.0, 0.1, 0.3, 0.35])
    irregular = datasets.center(t=t)
    assert not irregular.train[0].is_uniform
    with pytest.raises(ValueError, match="grid must be"):
        datasets.center(grid="fine")


def test_pendulum_is_the_seed_system():
    d = datasets.pendulum(n_train=600, n_test=300, seed=1)
    g, l, m, mu, dt = 9.81, 1.0, 1.0, 0.5, 0.01
    A = np.array([[1, dt], [-g * dt / l, 1 - mu * dt / (m * l**2)]])
    np.testing.assert_allclose(d.system.linearize(u0=[0.0]).A, A, atol=1e-15)
    # the simulated data follow the physical equations (Euler step of m l² φ̈ = τ − m g l sin φ − μ φ̇)
    u = d.train.u[:, 0]
    x = np.zeros(2)
    ys = []
    for k in range(len(u)):
        ys.append(x[0])
        x = np.array([x[0] + dt * x[1], x[1] + dt * (u[k] - m * g * l * np.sin(x[0]) - mu * x[1]) / (m * l**2)])
    np.testing.assert_allclose(d.train.y[:, 0], ys, atol=1e-10)
    peak = np.abs(d.train.y).max()
    assert 1.0 < peak <= 1.5 + 1e-6 < np.pi
    assert d.train.output_units == ["rad"] and d.train.input_names == ["torque"]
    with pytest.raises(ValueError, match="never over the top"):
        datasets.pendulum(max_angle=3.1)


def test_seeds_and_noise():
    a = datasets.fourth_order_plant(N=4000, seed=3)
    b = datasets.fourth_order_plant(N=4000, seed=3)
    np.testing.assert_array_equal(a.train.y, b.train.y)
    c = datasets.fourth_order_plant(N=4000, seed=3, noise_std=0.1)
    np.testing.assert_allclose(np.std(c.train.y - a.train.y), 0.1, rtol=0.05)
    with pytest.raises(ValueError, match="noise_std"):
        datasets.fourth_order_plant(noise_std=-1.0)


def test_fourth_order_plant():
    d = datasets.fourth_order_plant()
    np.testing.assert_allclose(control.dcgain(d.system), 7.5351, atol=5e-5)
    ref = control.c2d(control.ss(d.info["continuous"]), 0.01, "zoh")
    np.testing.assert_allclose(np.sort_complex(d.system.poles()), np.sort_complex(ref.poles()), rtol=1e-10)
    np.testing.assert_allclose(d.info["hsv"], [25.4, 24.8, 5.5, 2.4], atol=0.06)


def test_damped_oscillator_matches_solve_ivp():
    d = datasets.damped_oscillator(m=2.0, gamma=0.4, N=200, dt=0.05)
    F = d.train.u[:, 0]
    x = np.zeros(2)
    ys = [0.0]
    for k in range(199):
        f = lambda _t, z, Fk=F[k]: [z[1], (Fk - 0.4 * z[1] - z[0]) / 2.0]
        x = solve_ivp(f, (0, 0.05), x, rtol=1e-11, atol=1e-13).y[:, -1]
        ys.append(x[0])
    np.testing.assert_allclose(d.train.y[:, 0], ys, atol=1e-8)
    with pytest.raises(ValueError, match="forcing must be"):
        datasets.damped_oscillator(forcing="chirp")


def test_loaders(data_dir):
    ct = datasets.cascaded_tanks(data_dir / "cascaded_tanks")
    assert (ct.train.N, ct.test["test"].N, ct.train.dt, ct.init_window) == (1024, 1024, 4.0, 5)
    sb = datasets.silverbox(data_dir / "silverbox")
    assert sb.train.N == 65062 and sb.test["multisine"].N == 21688
    assert sb.test["arrow_full"].N == 40475 and sb.test["arrow_no_extrapolation"].N == 32000
    assert sb.init_window == 50 and sb.rmse_unit == "mV"
    f = datasets.f16(data_dir / "f16_gvt")
    assert len(f.train) == 4 and len(f.test["test"]) == 3
    assert (f.train[0].nu, f.train[0].ny, f.train[0].N) == (2, 3, 73728)
    assert f.train[0].dt == pytest.approx(1 / 400)


def test_loader_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataBenchmark.csv"):
        datasets.cascaded_tanks(tmp_path)
    with pytest.raises(FileNotFoundError, match="SNLS80mV.csv"):
        datasets.silverbox(tmp_path)
    with pytest.raises(FileNotFoundError, match="F16Data_FullMSine_Level1.csv"):
        datasets.f16(tmp_path)


# --- true systems, realizations and statistics ------------------------------------------------

def test_fourth_order_plant_realization_is_balanced():
    from scipy.linalg import solve_discrete_lyapunov

    from sysid.datasets._balance import balanced_realization

    d = datasets.fourth_order_plant(N=2000)
    A, B, C = (np.asarray(M, float) for M in (d.system.A, d.system.B, d.system.C))
    Wc = solve_discrete_lyapunov(A, B @ B.T)
    Wo = solve_discrete_lyapunov(A.T, C.T @ C)
    np.testing.assert_allclose(Wc, Wo, atol=1e-8 * np.abs(Wc).max())
    np.testing.assert_allclose(Wc, np.diag(np.diag(Wc)), atol=1e-8 * np.abs(Wc).max())
    np.testing.assert_allclose(np.diag(Wc), d.info["hsv"], rtol=1e-8)
    # balanced states are O(10) for unit inputs; the controllable-canonical realization of the
    # transfer function reaches hundreds, the default ss(zpk) one has C of size ~2e6
    _, x_bal = sysid_simulate(d.system, np.ones((300, 1)))
    tf_real = control.ss(control.c2d(control.tf(d.info["continuous"]), 0.01, "zoh"))
    _, x_tf = sysid_simulate(tf_real, np.ones((300, 1)))
    assert 1.0 < np.abs(x_bal).max() < 30.0 < 100.0 < np.abs(x_tf).max()
    assert np.abs(np.asarray(d.info["default_system"].C)).max() > 1e5
    bal, hsv = balanced_realization(d.info["default_system"])
    np.testing.assert_allclose(hsv, d.info["hsv"], rtol=1e-10)


def sysid_simulate(sys, u):
    from sysid import LureSystem

    return LureSystem.from_control(sys).simulate(u, return_x=True)


def test_fourth_order_plant_data_follow_dlsim():
    from scipy import signal

    d = datasets.fourth_order_plant(N=300, n_test=50, seed=4)
    s = d.system
    _, y, _ = signal.dlsim((np.asarray(s.A), np.asarray(s.B), np.asarray(s.C), np.asarray(s.D), 0.01), d.train.u)
    np.testing.assert_allclose(d.train.y, y, rtol=1e-9, atol=1e-9)
    assert (d.train.N, d.test.N, d.train.dt) == (300, 50, 0.01)
    assert abs(np.std(d.train.u) - 1.0) < 0.15


def test_spiral_true_system_noise_and_seeds():
    d = datasets.spiral_source(n_initial_states=2)
    np.testing.assert_allclose(np.asarray(d.system.A), d.info["A"])
    assert d.system.isctime() and d.system.ninputs == 0
    for e in d.train + d.test:
        np.testing.assert_allclose(e.y[-1], expm(d.info["A"] * 4.0) @ e.y[0], atol=1e-12)
    a = datasets.spiral_source(n_initial_states=200, noise_std=0.3, seed=5)
    b = datasets.spiral_source(n_initial_states=200, noise_std=0.3, seed=5)
    for ea, eb in zip(a.train, b.train):
        np.testing.assert_array_equal(ea.y, eb.y)
    clean = datasets.spiral_source(n_initial_states=200, seed=5)
    resid = np.concatenate([ea.y - ec.y for ea, ec in zip(a.train, clean.train)])
    assert resid.shape == (201 * 8, 2)
    assert abs(resid.std() - 0.3) < 0.03 and abs(resid.mean()) < 0.03
    other = datasets.spiral_source(n_initial_states=3, seed=6)
    assert not np.allclose(other.train[1].y, clean.train[1].y)


def test_center_is_a_true_center_on_any_grid():
    d = datasets.center(n_initial_states=1)
    A = d.info["A"]
    np.testing.assert_allclose(A, [[-0.1, 10.0], [-10.0, 0.1]])
    np.testing.assert_allclose(np.linalg.eigvals(A).real, 0.0, atol=1e-12)
    np.testing.assert_allclose(d.info["Ad"], expm(A * 4 / 7), atol=1e-14)
    np.testing.assert_allclose(d.train[0].y[0], [2.0, 2.0])
    t = np.array([0.0, 0.1, 0.3, 0.35])
    irr = datasets.center(t=t)
    np.testing.assert_allclose(irr.train[0].t, t)
    for k, tk in enumerate(t):
        np.testing.assert_allclose(irr.train[0].y[k], expm(A * tk) @ [2.0, 2.0], atol=1e-12)
    assert "Ad" not in irr.info


def test_simulated_systems_reject_bad_input():
    with pytest.raises(ValueError, match="n_initial_states must be an int"):
        datasets.spiral_source(n_initial_states=-1)
    with pytest.raises(ValueError, match="y0 must be 2 finite numbers"):
        datasets.spiral_source(y0=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        datasets.center(t=[0.0, 0.2, 0.1])
    with pytest.raises(ValueError, match="noise_std must be >= 0"):
        datasets.center(noise_std=float("nan"))
    with pytest.raises(ValueError, match="g must be > 0"):
        datasets.pendulum(g=0.0)
    with pytest.raises(ValueError, match="mu .friction. must be >= 0"):
        datasets.pendulum(mu=-0.1)
    with pytest.raises(ValueError, match="n_train and n_test must be ints >= 10"):
        datasets.pendulum(n_train=5)
    with pytest.raises(ValueError, match="N must be an int >= 1"):
        datasets.fourth_order_plant(N=0)
    with pytest.raises(ValueError, match="need m > 0 and gamma >= 0"):
        datasets.damped_oscillator(m=-1.0)


def test_pendulum_test_record_seed_and_noise():
    a = datasets.pendulum(n_train=400, n_test=400, seed=2)
    b = datasets.pendulum(n_train=400, n_test=400, seed=2)
    np.testing.assert_array_equal(a.train.u, b.train.u)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.allclose(a.train.u, a.test.u)
    for rec in (a.train, a.test):
        assert 1.0 < np.abs(rec.y).max() < np.pi - 0.2
    np.testing.assert_allclose(a.system.simulate(a.test.u), a.test.y, atol=1e-12)
    noisy = datasets.pendulum(n_train=400, n_test=400, seed=2, noise_std=0.05)
    clean_y = noisy.system.simulate(noisy.train.u)
    assert abs(np.std(noisy.train.y - clean_y) - 0.05) < 0.006


def test_damped_oscillator_true_system():
    d = datasets.damped_oscillator(m=2.0, gamma=0.4, N=100, forcing="step")
    np.testing.assert_allclose(np.asarray(d.system.A), [[0.0, 1.0], [-0.5, -0.2]])
    assert d.system.isctime()
    np.testing.assert_allclose(d.train.u, 1.0)
    np.testing.assert_allclose(control.dcgain(d.system), 1.0)  # x → F / k with k = 1


# --- loaders against independent parsers ------------------------------------------------------

def test_cascaded_tanks_matches_the_mat_file(data_dir):
    from scipy.io import loadmat

    ct = datasets.cascaded_tanks(data_dir / "cascaded_tanks")
    mat = loadmat(data_dir / "cascaded_tanks" / "dataBenchmark.mat")
    np.testing.assert_allclose(ct.train.u[:, 0], mat["uEst"].ravel(), atol=5e-5)
    np.testing.assert_allclose(ct.test["test"].y[:, 0], mat["yVal"].ravel(), atol=5e-5)
    assert ct.train.dt == pytest.approx(float(mat["Ts"].ravel()[0]))


def test_silverbox_slices(data_dir):
    sb = datasets.silverbox(data_dir / "silverbox")
    raw = np.genfromtxt(data_dir / "silverbox" / "SNLS80mV.csv", delimiter=",", skip_header=1, usecols=(0, 1))
    np.testing.assert_array_equal(sb.test["arrow_full"].u[:, 0], raw[100:40575, 0])
    np.testing.assert_array_equal(sb.train.y[:, 0], raw[40650:40650 + 65062, 1])
    np.testing.assert_array_equal(sb.test["multisine"].y[:, 0], raw[40650 + 65062:127400, 1])
    assert sb.train.dt == pytest.approx(1 / 610.3515625)


def test_f16_bad_column(data_dir):
    with pytest.raises(ValueError, match="lacks the columns"):
        datasets.f16(data_dir / "f16_gvt", inputs=("Torque",), train_levels=(1,), test_levels=(2,))
