import control
import numpy as np
import pytest
from scipy import linalg

from sysid.core import lti


def plant():
    G = control.zpk([-4], [-9 + 5j, -9 - 5j, -2 + 50j, -2 - 50j], 5e5)
    return control.c2d(control.ss(G), 0.01, "zoh")


def test_dcgain_of_the_fourth_order_plant():
    np.testing.assert_allclose(lti.dcgain(plant()), [[7.5351]], atol=5e-5)
    np.testing.assert_allclose(lti.dcgain(plant()), control.dcgain(plant()), rtol=1e-12)
    with pytest.raises(ValueError, match="pole at z = 1"):
        lti.dcgain(control.ss([[1.0]], [[1.0]], [[1.0]], [[0.0]], 1.0))


def test_balanced_realization_has_equal_diagonal_gramians():
    bal, hsv = lti.balanced_realization(plant())
    A, B, C = bal.A, bal.B, bal.C
    Wc = linalg.solve_discrete_lyapunov(A, B @ B.T)
    Wo = linalg.solve_discrete_lyapunov(A.T, C.T @ C)
    np.testing.assert_allclose(Wc, np.diag(hsv), atol=1e-8 * hsv[0])
    np.testing.assert_allclose(Wo, np.diag(hsv), atol=1e-8 * hsv[0])
    assert np.all(np.diff(hsv) <= 0)
    # same transfer function
    w = np.linspace(0.01, np.pi, 50)
    z = np.exp(1j * w)
    np.testing.assert_allclose(bal(z), plant()(z), rtol=1e-8)
    with pytest.raises(ValueError, match="stable"):
        lti.balanced_realization(control.ss([[1.2]], [[1.0]], [[1.0]], [[0.0]], 1.0))
    with pytest.raises(ValueError, match="not minimal"):
        lti.balanced_realization(control.ss(np.diag([0.5, 0.3]), [[1.0], [0.0]], [[1.0, 1.0]], [[0.0]], 1.0))


def test_transmission_zeros_and_forced_response():
    G = plant()
    z = lti.transmission_zeros(G)
    np.testing.assert_allclose(np.sort_complex(z), np.sort_complex(control.zeros(G)), atol=1e-8)
    u = np.random.default_rng(0).normal(size=(30, 1))
    np.testing.assert_allclose(lti.forced_response(G, u), control.forced_response(G, U=u.T).y.T, atol=1e-9)
    with pytest.raises(ValueError, match="square system"):
        lti.transmission_zeros(control.ss(np.eye(2) * 0.5, np.ones((2, 1)), np.eye(2), np.zeros((2, 1)), 1.0))
    d = lti.describe(G)
    assert d["poles"].shape == (4,) and d["dcgain"].shape == (1, 1)
