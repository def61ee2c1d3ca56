"""Residual analysis: bands, tests that flag wrong models and pass right ones, figure, errors."""
import control
import numpy as np
import pytest
from scipy import signal, stats

import sysid
from sysid import IOData, resid
from sysid.estimators import ARX, BJ, N4SID, OE


def arx_data(N, seed, noise=0.3):
    """y = 1.5 y(t−1) − 0.7 y(t−2) + u(t−1) + 0.5 u(t−2) + e: an ARX(2, 2, 1) system."""
    rng = np.random.default_rng(seed)
    u, e = rng.normal(size=N), noise * rng.normal(size=N)
    y = signal.lfilter([0, 1.0, 0.5], [1, -1.5, 0.7], u) + signal.lfilter([1.0], [1, -1.5, 0.7], e)
    return IOData(u, y, dt=1.0)


def test_right_arx_model_passes_and_wrong_orders_are_flagged():
    train, test = arx_data(3000, 0), arx_data(3000, 1)
    right = resid(ARX(2, 2, 1).fit(train), test)
    assert right.passed and right.kind == "prediction"
    low = resid(ARX(1, 1, 1).fit(train), test)
    assert not low.passed
    assert not low.white[0] and low.whiteness_pvalue[0] < 1e-6
    delay = resid(ARX(2, 1, 2).fit(train), test)  # misses the first input lag
    assert not delay.independent[0, 0] and delay.independence_pvalue[0, 0] < 1e-6


def test_output_error_models_are_judged_by_independence_only():
    rng = np.random.default_rng(2)
    u = signal.lfilter([1.0], [1, -0.5], rng.normal(size=4000))  # a coloured input
    y = signal.lfilter([0, 0.5, 0.3], [1, -1.2, 0.5], u) + signal.lfilter([1, 0.4], [1, -0.7], 0.2 * rng.normal(size=4000))
    train, test = IOData(u[:2500], y[:2500], dt=1.0), IOData(u[2500:], y[2500:], dt=1.0)
    right = resid(OE(2, 2, 1).fit(train), test)
    assert right.kind == "simulation" and right.passed
    assert not right.white[0]  # the coloured noise shows, but is not held against an output-error model
    wrong = resid(OE(1, 1, 1).fit(train), test)
    assert not wrong.passed and not wrong.independent[0, 0]
    full = resid(BJ(2, 1, 1, 2, 1).fit(train), test)  # with the right noise model the errors are white too
    assert full.kind == "prediction" and full.passed


def test_bands_and_statistics_against_their_definitions():
    rng = np.random.default_rng(3)
    N = 2000
    u = rng.normal(size=(N, 2))
    G = control.ss([[0.5]], [[1.0, -1.0]], [[1.0]], [[0.0, 0.0]], 1.0)
    y = sysid.LureSystem.from_control(G).simulate(u) + 0.1 * rng.normal(size=(N, 1))
    d = IOData(u, y, dt=1.0)
    r = resid(G, d, max_lag=10)
    assert r.auto_bound == pytest.approx(stats.norm.ppf(0.995) / np.sqrt(N))
    # white residual and white inputs: the cross band is the auto band (P = 1 up to sampling error)
    np.testing.assert_allclose(r.cross_bound, r.auto_bound, rtol=0.1)
    e = r.residuals[:, 0] - r.residuals[:, 0].mean()
    np.testing.assert_allclose(r.auto[3, 0], (e[3:] @ e[:-3]) / (e @ e), rtol=1e-12)
    uc = u[:, 1] - u[:, 1].mean()
    np.testing.assert_allclose(r.cross[10 + 2, 0, 1], (e[2:] @ uc[:-2]) / np.sqrt((e @ e) * (uc @ uc)), rtol=1e-12)
    assert r.auto.shape == (11, 1) and r.cross.shape == (21, 1, 2) and r.passed
    # the whiteness statistic is the Ljung–Box form N Σ r²
    assert r.whiteness_pvalue[0] == pytest.approx(stats.chi2.sf(N * np.sum(r.auto[1:, 0] ** 2), 10))


def test_false_alarm_rate_is_about_the_level():
    """Right model, 40 noise realizations: the 99 % independence test fails rarely."""
    G = control.ss([[0.8]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    fails = 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        u = signal.lfilter([1.0], [1, -0.7], rng.normal(size=(800, 1)), axis=0)
        y = sysid.LureSystem.from_control(G).simulate(u) + signal.lfilter([1.0], [1, -0.6], 0.2 * rng.normal(size=(800, 1)), axis=0)
        fails += not resid(G, IOData(u, y, dt=1.0)).independent[0, 0]
    assert fails <= 3


def test_figure_and_str(tmp_path):
    from sysid import plot

    r = resid(ARX(2, 2, 1).fit(arx_data(1000, 0)), arx_data(1000, 1))
    fig = plot.plot_resid(r)
    assert len(fig.axes) == 2
    plot.save(fig, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert "passed" in str(r) and "whiteness p" in str(r)


def test_resid_errors():
    d = arx_data(200, 0)
    model = N4SID(nx=2).fit(d)
    with pytest.raises(ValueError, match=r"max_lag must be an int in \[1, N/2\) = \[1, 100\); got 150"):
        resid(model, d, max_lag=150)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\), e.g. 0.99; got 99"):
        resid(model, d, confidence=99)
    with pytest.raises(TypeError, match="data must be a sysid.IOData"):
        resid(model, [d])
    with pytest.raises(TypeError, match="resid expects a fitted sysid estimator"):
        resid("model", d)
