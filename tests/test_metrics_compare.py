import control
import numpy as np
import pytest

from sysid import IOData, LureSystem, compare, metrics


def test_metrics_against_hand_formulas():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(100, 2))
    yp = y + rng.normal(size=(100, 2)) * [0.1, 0.5]
    e = y - yp
    dev = y - y.mean(0)
    np.testing.assert_allclose(metrics.rmse(y, yp), np.sqrt((e**2).mean(0)))
    np.testing.assert_allclose(metrics.nrmse(y, yp), np.sqrt((e**2).sum(0) / (dev**2).sum(0)))
    np.testing.assert_allclose(metrics.nrmse(y, yp), metrics.rmse(y, yp) / y.std(0))
    np.testing.assert_allclose(metrics.fit_percent(y, yp), 100 * (1 - metrics.nrmse(y, yp)))
    np.testing.assert_allclose(metrics.r2(y, yp), 1 - (e**2).sum(0) / (dev**2).sum(0))
    assert metrics.fit_percent(y, y).tolist() == [100.0, 100.0]
    assert metrics.rmse(y, yp).shape == (2,)


def test_metric_errors():
    with pytest.raises(ValueError, match="same shape"):
        metrics.rmse(np.zeros((5, 1)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="constant on output channels \\[0\\]"):
        metrics.nrmse(np.ones((5, 1)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.rmse([1.0, np.nan], [1.0, 2.0])


def plant():
    return control.ss([[0.8, 0.2], [-0.2, 0.7]], [[1.0], [0.5]], [[1.0, 0.0]], [[0.0]], 0.1)


def test_compare_simulation_is_exact_for_the_true_system():
    G = plant()
    u = np.random.default_rng(1).normal(size=(200, 1))
    x0 = np.array([3.0, -1.0])
    y = LureSystem.from_control(G).simulate(u, x0)
    d = IOData(u, y, dt=0.1, output_names=["pos"], output_units=["m"])
    res = compare(G, d, x0="estimate")
    assert res.kind == "simulation" and res.horizon is None
    np.testing.assert_allclose(res.fit_percent, [100.0], atol=1e-8)
    np.testing.assert_allclose(res.x0, x0, atol=1e-9)
    zero = compare(G, d)  # wrong initial state costs fit early on
    assert zero.fit_percent[0] < 99.9
    skipped = compare(G, d, x0="estimate", skip=10)
    np.testing.assert_allclose(skipped.fit_percent, [100.0], atol=1e-8)
    assert "free-run simulation" in str(res) and "pos [m]" in str(res)
    explicit = compare(G, d, x0=x0)
    np.testing.assert_allclose(explicit.y_model, y, atol=1e-12)


def test_compare_several_experiments_and_errors():
    G = plant()
    u = np.random.default_rng(2).normal(size=(50, 1))
    d = IOData(u, LureSystem.from_control(G).simulate(u), dt=0.1)
    out = compare(G, [d, d[:30]])
    assert isinstance(out, list) and len(out) == 2 and out[1].y_model.shape == (30, 1)
    with pytest.raises(ValueError, match="sampling period"):
        compare(G, IOData(u, d.y, dt=0.2))
    with pytest.raises(ValueError, match="x0 must be"):
        compare(G, d, x0="guess")
    with pytest.raises(ValueError, match="skip"):
        compare(G, d, skip=50)
    with pytest.raises(TypeError, match="compare expects"):
        compare("model", d)
    with pytest.raises(ValueError, match="horizon"):
        compare(G, d, horizon=0)


def test_compare_continuous_model_on_sampled_data():
    Gc = control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]])
    Gd = control.c2d(Gc, 0.1, "zoh")
    u = np.random.default_rng(3).normal(size=(40, 1))
    d = IOData(u, LureSystem.from_control(Gd).simulate(u), dt=0.1)
    with pytest.warns(UserWarning, match=r"zero-order hold.*c2d\(model, 0.1, 'zoh'\)"):
        res = compare(Gc, d)  # integrated with the input held: equals the ZOH discretization
    np.testing.assert_allclose(res.y_model, d.y, atol=1e-8)
    np.testing.assert_allclose(compare(Gd, d).y_model, res.y_model, atol=1e-8)  # explicit: no warning


def test_compare_refuses_irregular_data_for_a_fixed_rate_estimator():
    from sysid.estimators import N4SID

    G = plant()
    u = np.random.default_rng(4).normal(size=(300, 1))
    est = N4SID(nx=2).fit(IOData(u, LureSystem.from_control(G).simulate(u), dt=0.1))
    irregular = IOData(u[:5], np.ones(5), t=[0, 0.1, 0.25, 0.3, 0.5])
    with pytest.raises(ValueError, match="fixed sampling period"):
        compare(est, irregular)
