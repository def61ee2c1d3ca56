"""sysid.plot: each figure's content (axes, lines, labels) and the numbers it draws, against oracles."""
import control
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import sysid  # noqa: E402
from sysid import IOData, LureSystem, plot  # noqa: E402

G2 = control.ss([[1.6, -0.8], [1.0, 0.0]], [[1.0], [0.0]], [[0.1, 0.05]], [[0.0]], 0.1)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _labels(ax):
    return [line.get_label() for line in ax.get_lines()]


def test_compare_legend_carries_fit_percent():
    u = np.random.default_rng(0).standard_normal(200)
    y = control.forced_response(G2, U=u).y[0]
    d = IOData(u, y, dt=0.1, output_names=["pos"], output_units=["m"])
    res = sysid.compare(G2, d)
    fig = plot.compare(res, ["true"])
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 2 and ax.get_ylabel() == "pos [m]"
    assert "fit 100.0 %" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_pzmap_discrete_draws_unit_circle_and_zooms_on_clustered_poles():
    slow = control.ss([[0.999, 0.01], [-0.01, 0.999]], [[0.0], [0.01]], [[1.0, 0.0]], [[0.0]], 0.01)
    fig = plot.pzmap([slow], ["slow"])
    (main,) = fig.axes
    assert len(main.child_axes) == 1, "clustered poles near z = 1 get a zoomed inset"
    (inset,) = main.child_axes
    assert "unit circle" in _labels(main) and main.get_xlabel() == "Re z"
    x0, x1 = inset.get_xlim()
    assert x1 - x0 < 0.1 and x0 < 0.999 < x1
    poles = [line for line in main.get_lines() if line.get_label() == "slow: poles"][0]
    np.testing.assert_allclose(np.sort(poles.get_xdata()), np.sort(control.poles(slow).real))


def test_pzmap_spread_poles_have_no_inset_and_continuous_has_no_circle():
    fig = plot.pzmap([G2], ["G"])
    assert len(fig.axes) == 1 and not fig.axes[0].child_axes
    Gc = control.ss([[-1.0, 2.0], [-2.0, -1.0]], [[1.0], [0.0]], [[1.0, 0.0]], [[0.0]])
    fig = plot.pzmap(Gc, "continuous")
    assert "unit circle" not in _labels(fig.axes[0]) and fig.axes[0].get_xlabel().startswith("Re s")


def test_pzmap_view_follows_the_poles_and_lists_far_zeros():
    G = control.ss([[0.5, 0.0], [0.0, 0.8]], [[1.0], [1.0]], [[1.0, -1.0]], [[1e-9]], 1.0)  # zeros near ±1.7e4
    fig = plot.pzmap(G, "G")
    ax = fig.axes[0]
    assert ax.get_xlim()[1] < 5 and "zero(s) outside the view" in " ".join(t.get_text() for t in ax.texts)


def test_pzmap_rejects_mixed_time_bases():
    Gc = control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]])
    with pytest.raises(ValueError, match="not both"):
        plot.pzmap([G2, Gc])


def test_bode_model_curve_is_the_frequency_response():
    fig = plot.bode([G2], ["G"], omega=np.logspace(-1, 1.4, 30))
    mag_ax, ph_ax = fig.axes
    line = [ln for ln in mag_ax.get_lines() if ln.get_label() == "G"][0]
    w = line.get_xdata()
    ref = control.frequency_response(G2, w)
    np.testing.assert_allclose(line.get_ydata(), 20 * np.log10(np.abs(ref.complex).ravel()), rtol=1e-9)
    assert mag_ax.get_ylabel().endswith("[dB]") and ph_ax.get_xlabel() == "frequency [rad/s]"


def test_bode_empirical_estimate_follows_the_true_system():
    rng = np.random.default_rng(1)
    u = rng.standard_normal(8000)
    y = control.forced_response(G2, U=u).y[0]
    d = IOData(u, y, dt=0.1)
    w, H, coh = plot._etfe(d.u, d.y, d.dt, None)
    ref = control.frequency_response(G2, w).complex.ravel()
    good = coh[:, 0, 0] > 0.9
    assert good.mean() > 0.5
    # noise-free data, white input: the Welch estimate matches G within its leakage bias
    np.testing.assert_allclose(np.abs(H[good, 0, 0]), np.abs(ref[good]), rtol=0.15)
    fig = plot.bode([G2], ["G"], data=d)
    assert "data (empirical estimate)" in _labels(fig.axes[0])


def test_bode_mimo_layout_and_bad_data():
    A = np.diag([0.5, -0.3, 0.0])  # a pole at z = 0 too
    G = control.ss(A, np.arange(9.0).reshape(3, 3) / 9, np.ones((2, 3)), np.zeros((2, 3)), 0.5)
    fig = plot.bode(G)
    assert len(fig.axes) == 2 * 2 * 3
    with pytest.raises(ValueError, match="same \\(ny, nu\\)"):
        plot.bode([G2], data=IOData(np.zeros((50, 2)), np.zeros((50, 1)), dt=0.1))


def test_singular_values_marks_the_order():
    fig = plot.singular_values([10.0, 5.0, 1e-3, 1e-4], nx=2)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and "chosen order nx = 2" in _labels(ax)
    with pytest.raises(ValueError, match="finite values >= 0"):
        plot.singular_values([1.0, np.nan])


def test_correlations_against_numpy_and_the_band():
    rng = np.random.default_rng(2)
    N = 500
    e = rng.standard_normal((N, 2))
    u = rng.standard_normal((N, 1))
    r = plot._xcorr(e[:, 0], u[:, 0], 5)
    a, b = e[:, 0] - e[:, 0].mean(), u[:, 0] - u[:, 0].mean()
    full = np.correlate(a, b, mode="full")[N - 1 - 5:N + 5] / np.sqrt(a @ a * (b @ b))
    np.testing.assert_allclose(r, full, rtol=1e-12, atol=1e-15)
    fig = plot.correlations(e, u, max_lag=10, confidence=0.99)
    assert len(fig.axes) == 4  # 2 outputs × (auto + 1 input)
    band = [p for p in fig.axes[0].patches][0]
    lo = band.get_y()
    np.testing.assert_allclose([lo, lo + band.get_height()], [-2.5758293 / np.sqrt(N), 2.5758293 / np.sqrt(N)], rtol=1e-6)
    with pytest.raises(ValueError, match="max_lag must be an int"):
        plot.correlations(e, max_lag=0)


def test_training_curves_mark_the_restored_epoch():
    class History:
        loss = [1.0, 0.5, 0.3, 0.2]
        val_loss = [1.1, 0.6, 0.5, 0.7]
        best_epoch = 2

    fig = plot.training(History(), label="net")
    labels = _labels(fig.axes[0])
    assert labels[:2] == ["training loss", "validation loss"] and "restored epoch 2" in labels
    with pytest.raises(ValueError, match="no loss values"):
        plot.training({"loss": [], "val_loss": []})


def test_contraction_distance_is_the_transition_matrix_applied_to_the_offset():
    A = np.array([[0.9, 0.2], [0.0, 0.8]])
    lure = LureSystem.from_control(control.ss(A, [[1.0], [0.0]], [[1.0, 0.0]], [[0.0]], 1.0))
    u = np.sin(0.1 * np.arange(200))[:, None]
    fig = plot.contraction(lure, u, [[0.0, 0.0], [1.0, 1.0]])
    dist = [ln for ln in fig.axes[1].get_lines()][0].get_ydata()
    expected = [np.linalg.norm(np.linalg.matrix_power(A, k) @ [1.0, 1.0]) for k in range(200)]
    np.testing.assert_allclose(dist, expected, rtol=1e-9, atol=1e-13)  # differences of O(1) trajectories
    with pytest.raises(ValueError, match="x0s must have shape"):
        plot.contraction(lure, u, [[0.0, 0.0]])


def test_to_png_and_poles_alias():
    png = plot.to_png(plot.poles([G2], ["G"]))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
