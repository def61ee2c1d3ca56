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
