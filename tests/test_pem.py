"""Prediction-error method: sensitivity Jacobian, OE/ARMAX/BJ oracles, guarantees, estimators."""
import control
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import signal

from sysid import IOData, LureSystem, compare
from sysid.estimators import ARMAX, BJ, N4SID, OE
from sysid.linear import armax, bj, n4sid, oe, pem
from sysid.linear._pe import jacobian, minimize_prediction_error, predictor_residuals
from sysid.linear._pem import StateSpaceStructure
from sysid.linear._polynomial import PolynomialStructure, _Block

B_TRUE, F_TRUE, C_TRUE, D_TRUE, A_TRUE = [0.5, 0.3], [1.0, -1.2, 0.5], [1.0, 0.4], [1.0, -0.7], [1.0, -1.2, 0.5]


def signals(N=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=N), rng.normal(size=N)


def oe_data(noise, N=2000, seed=0):
    u, e = signals(N, seed)
    return IOData(u, signal.lfilter([0, *B_TRUE], F_TRUE, u) + noise * e, dt=1.0)


# ---------------------------------------------------------------- the Jacobian against finite differences
@pytest.mark.parametrize("structure", [
    StateSpaceStructure(3, 1, 1),
    StateSpaceStructure(3, 2, 2, noise=True),
    StateSpaceStructure(3, 1, 2, feedthrough=False, integrators=1),
    PolynomialStructure([_Block(3, [2, 3], [0, 1], nk=0, noise=True, gamma_idx=[4, 5])], 6),  # ARMAX, nk = 0
    PolynomialStructure([_Block(2, [3, 4], [0, 1], nk=1), _Block(1, [2], noise=True, gamma_idx=[5])], 6),  # BJ
], ids=["ss-oe", "ss-innovations-mimo", "ss-integrator", "armax-nk0", "bj"])
def test_sensitivity_jacobian_matches_finite_differences(structure):
    rng = np.random.default_rng(1)
    theta = 0.15 * rng.normal(size=structure.n_theta)
    N, nx = 60, structure.nx
    exps = [IOData(rng.normal(size=(N, structure.nu)), rng.normal(size=(N, structure.ny)), dt=1.0) for _ in range(2)]
    X0 = 0.3 * rng.normal(size=(2, nx))
    scale = np.array([1.0, 2.0])[: structure.ny]

    def res(p):
        th, x = p[: structure.n_theta], p[structure.n_theta:].reshape(2, nx)
        mats, _ = structure.build(th)
        return np.concatenate([(predictor_residuals(mats, d.u, d.y, xi)[0] / scale).ravel() for d, xi in zip(exps, x)])

    p = np.concatenate([theta, X0.ravel()])
    J = jacobian(structure, theta, exps, X0, scale)
    h = 1e-6
    Jfd = np.stack([(res(p + h * e) - res(p - h * e)) / (2 * h) for e in np.eye(p.size)], axis=1)
    np.testing.assert_allclose(J, Jfd, rtol=1e-6, atol=1e-7 * np.abs(Jfd).max())


# ---------------------------------------------------------------- noise-free oracles: true parameters to 1e-8
def test_oe_noise_free_from_a_perturbed_start():
    res = oe(oe_data(0.0), 2, 2, 1, start=[0.4, 0.4, -1.0, 0.4])
    np.testing.assert_allclose(res.B, B_TRUE, atol=1e-8)
    np.testing.assert_allclose(res.F, F_TRUE, atol=1e-8)
    assert res.cost_final < 1e-16


def test_armax_noise_free_recovers_a_and_b():
    u, _ = signals()
    y = signal.lfilter([0, *B_TRUE], A_TRUE, u)
    res = armax(IOData(u, y, dt=1.0), 2, 2, 1, 1, start=[-1.0, 0.4, 0.6, 0.2, 0.2])
    np.testing.assert_allclose(res.A, A_TRUE, atol=1e-8)
    np.testing.assert_allclose(res.B, B_TRUE, atol=1e-8)


def test_bj_noise_free_recovers_b_and_f_and_an_initial_state():
    u, _ = signals()
    # a nonzero initial state of B/F: the free response of F added to the output
    free = signal.lfilter([1.0], F_TRUE, np.r_[1.0, np.zeros(len(u) - 1)]) * 2.0
    y = signal.lfilter([0, *B_TRUE], F_TRUE, u) + free
    res = bj(IOData(u, y, dt=1.0), 2, 1, 1, 2, 1, start=[0.4, 0.4, 0.2, -0.5, -1.0, 0.4])
    np.testing.assert_allclose(res.B, B_TRUE, atol=1e-8)
    np.testing.assert_allclose(res.F, F_TRUE, atol=1e-8)
    assert res.cost_final < 1e-16


def test_nk_zero_direct_feedthrough():
    u, _ = signals()
    y = signal.lfilter([0.8, 0.5], [1.0, -0.6], u)
    res = oe(IOData(u, y, dt=1.0), 2, 1, 0, start=[0.5, 0.2, -0.3])
    np.testing.assert_allclose(res.B, [0.8, 0.5], atol=1e-8)
    np.testing.assert_allclose(res.F, [1.0, -0.6], atol=1e-8)


# ---------------------------------------------------------------- noisy oracles: within 3σ of the reported standard errors
def _z(res, truth):
    est = np.concatenate([res.B, res.C[1:], res.D[1:], res.F[1:], res.A[1:]])
    sd = np.concatenate([res.std.get("B", []), res.std.get("C", [0])[1:], res.std.get("D", [0])[1:],
                         res.std.get("F", [0])[1:], res.std.get("A", [0])[1:]])
    return (est - truth) / sd


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_estimates_lie_within_three_standard_errors(seed):
    u, e = signals(3000, seed)
    y_oe = signal.lfilter([0, *B_TRUE], F_TRUE, u) + 0.3 * e
    assert np.all(np.abs(_z(oe(IOData(u, y_oe, dt=1.0), 2, 2, 1), np.r_[B_TRUE, F_TRUE[1:]])) < 3)
    y_ax = signal.lfilter([0, *B_TRUE], A_TRUE, u) + signal.lfilter(C_TRUE, A_TRUE, 0.3 * e)
    assert np.all(np.abs(_z(armax(IOData(u, y_ax, dt=1.0), 2, 2, 1, 1), np.r_[B_TRUE, C_TRUE[1:], A_TRUE[1:]])) < 3)
    y_bj = signal.lfilter([0, *B_TRUE], F_TRUE, u) + signal.lfilter(C_TRUE, D_TRUE, 0.3 * e)
    z = _z(bj(IOData(u, y_bj, dt=1.0), 2, 1, 1, 2, 1), np.r_[B_TRUE, C_TRUE[1:], D_TRUE[1:], F_TRUE[1:]])
    assert np.all(np.abs(z) < 3), z


def test_standard_errors_match_the_spread_over_realizations():
    """The reported σ is the spread of the estimates over noise realizations (within 35 %)."""
    est, sds = [], []
    for seed in range(30):
        res = oe(oe_data(0.3, N=800, seed=seed), 2, 2, 1)
        est.append(np.r_[res.B, res.F[1:]])
        sds.append(np.r_[res.std["B"], res.std["F"][1:]])
    ratio = np.std(est, axis=0, ddof=1) / np.mean(sds, axis=0)
    assert np.all((ratio > 0.65) & (ratio < 1.35)), ratio


# ---------------------------------------------------------------- guarantees
def random_ss(nx, seed):
    rng = np.random.default_rng(seed)
    poles = rng.uniform(0.2, 0.95, nx) * np.where(rng.random(nx) < 0.5, 1, -1)
    T = rng.normal(size=(nx, nx)) + 2 * np.eye(nx)
    A = T @ np.diag(poles) @ np.linalg.inv(T)
    return control.ss(A, rng.normal(size=(nx, 1)), rng.normal(size=(1, nx)), rng.normal(size=(1, 1)), 1.0)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), nx=st.integers(1, 4), perturb=st.floats(0.0, 0.5), noise=st.floats(0.0, 0.5))
def test_pem_never_raises_the_training_criterion(seed, nx, perturb, noise):
    G = random_ss(nx, seed)
    rng = np.random.default_rng(seed + 1)
    u = rng.normal(size=(300, 1))
    y = LureSystem.from_control(G).simulate(u)
    d = IOData(u, y + noise * y.std() * rng.normal(size=y.shape), dt=1.0)
    start = control.ss(np.asarray(G.A) * (1 - 0.3 * perturb), np.asarray(G.B) * (1 + perturb), G.C, G.D, 1.0)
    res = pem(d, start, max_nfev=15)
    assert res.cost_final <= res.cost_initial
    assert np.max(np.abs(res.system.poles())) < 1.0


def test_stable_predictor_is_kept_when_the_data_ask_for_an_unstable_one():
    """Data from an unstable plant: stable=True keeps every trial model inside the unit circle."""
    G = control.ss([[1.02]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    u = np.random.default_rng(0).normal(size=(150, 1))
    d = IOData(u, LureSystem.from_control(G).simulate(u), dt=1.0)
    start = control.ss([[0.9]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    res = pem(d, start, rho_max=0.99)
    assert np.max(np.abs(res.system.poles())) < 0.99
    assert res.cost_final <= res.cost_initial
    free = pem(d, start, stable=False)
    np.testing.assert_allclose(free.system.poles(), [1.02], atol=1e-6)
    with pytest.raises(ValueError, match="unstable predictor"):
        minimize_prediction_error(StateSpaceStructure(1, 1, 1), np.array([1.5, 1.0, 1.0, 0.0]), [d])


def test_integrator_structure_keeps_the_pole_at_one():
    u = signals(600)[0]
    d = IOData(u, np.r_[0.0, np.cumsum(u)[:-1]] + 0.3, dt=1.0)  # y(t) = 0.3 + Σ_{j<t} u(j): an integrator
    start = n4sid(d, 2, integrator=True)
    assert np.any(np.isclose(start.system.poles(), 1.0, atol=1e-12))
    res = pem(d, start.system, integrators=1)
    assert np.any(np.isclose(res.system.poles(), 1.0, atol=1e-12))
    assert res.cost_final <= res.cost_initial


def test_innovations_form_recovers_a_noise_model():
    """ARMAX data: N4SID + PEM with a Kalman gain reaches the one-step error of the true predictor."""
    u, e = signals(3000, 4)
    y = signal.lfilter([0, *B_TRUE], A_TRUE, u) + signal.lfilter(C_TRUE, A_TRUE, 0.3 * e)
    d = IOData(u, y, dt=1.0)
    est = N4SID(2, pem=True, noise=True).fit(d)
    assert np.std(est.prediction_errors(d)) < 0.3 * 1.03
    assert np.std(N4SID(2, pem=True).fit(d).prediction_errors(d)) > 0.35  # output error: coloured residual


# ---------------------------------------------------------------- estimators
@pytest.mark.parametrize("cls, params", [(OE, dict(nb=2, nf=2, nk=1)), (ARMAX, dict(na=2, nb=2, nc=1, nk=1)),
                                         (BJ, dict(nb=2, nc=1, nd=1, nf=2, nk=1))])
def test_polynomial_estimators_contract(cls, params, tmp_path):
    u, e = signals(1500, 3)
    y = signal.lfilter([0, *B_TRUE], F_TRUE, u) + signal.lfilter(C_TRUE, D_TRUE, 0.2 * e)
    d = IOData(u, y, dt=0.5)
    est = cls(**params)
    assert cls(**est.get_params()).get_params() == est.get_params()
    assert est.fit(d) is est
    np.testing.assert_allclose(est.B_, B_TRUE, atol=0.05)
    assert est.simulate(d.u).shape == (d.N, 1)
    assert est.linearize().dt == 0.5
    assert compare(est, d, x0="estimate").fit_percent[0] > 60  # the rest is the coloured noise
    one_step = est.predict(d, horizon=1)
    np.testing.assert_allclose(d.y - one_step, est.prediction_errors(d), atol=1e-8 * np.abs(d.y).max() + 1e-6)
    est.save(tmp_path / "m")
    back = cls.load(tmp_path / "m")
    np.testing.assert_allclose(back.simulate(d.u), est.simulate(d.u), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(back.prediction_errors(d), est.prediction_errors(d), rtol=1e-10, atol=1e-12)


def test_polynomial_errors():
    d = oe_data(0.1, N=200)
    with pytest.raises(ValueError, match="nb must be an int >= 1"):
        oe(d, 0, 2)
    with pytest.raises(ValueError, match="The 'nf' parameter of OE must be an int >= 0"):
        OE(nf=-1).fit(d)
    mimo = IOData(np.zeros((50, 2)), np.zeros((50, 1)), dt=1.0)
    with pytest.raises(ValueError, match=r"one input and one output.*N4SID\(pem=True\)"):
        armax(mimo, 1, 1, 1)
    with pytest.raises(ValueError, match=r"start for OE must have 4 values"):
        oe(d, 2, 2, start=[1.0, 2.0])
    with pytest.raises(ValueError, match="The 'x0' parameter of BJ must be 'estimate' or 'zero'"):
        BJ(x0="guess").fit(d)
    with pytest.raises(TypeError, match="discrete-time control.StateSpace.*c2d"):
        pem(d, control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]]))
