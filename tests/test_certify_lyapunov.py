"""Lyapunov stability certificates (docs/math.md §4.1, §4.8) and the symmetrization pitfall."""
import control
import cvxpy as cp
import numpy as np
import pytest

from sysid import LureSystem, certify
from sysid.certify._lmi import max_eig, recheck


@pytest.mark.parametrize("A, ok", [([[0.5, 1], [0, 0.5]], True), ([[1.01, 0], [0, 0.5]], False),
                                   ([[0, 1], [-1, 0]], False)])
def test_lyapunov_discrete_known_cases(A, ok):
    A = np.asarray(A, float)
    c = certify.lyapunov_stability(control.ss(A, np.zeros((2, 1)), np.eye(2), np.zeros((2, 1)), 1.0))
    assert c.certified is ok
    if ok:  # oracle
        assert c.bound == pytest.approx(max(abs(np.linalg.eigvals(A))))  # P satisfies the LMI in numpy
        assert np.linalg.eigvalsh(c.P).min() >= 1 - 1e-6
        assert np.linalg.eigvalsh(A.T @ c.P @ A - c.P).max() < 0
    else:
        assert c.status in ("infeasible", "infeasible_inaccurate") and c.bound is None


@pytest.mark.parametrize("shift, ok", [(-0.01, True), (0.01, False)])
def test_lyapunov_continuous_iff_negative_real_parts(shift, ok):
    A = np.array([[shift, 5.0], [-5.0, shift]])
    c = certify.lyapunov_stability(control.ss(A, [[0], [1]], [[1, 0]], [[0]]))
    assert c.certified is ok
    if ok:
        assert np.linalg.eigvalsh(A.T @ c.P + c.P @ A).max() < 0


def test_lyapunov_rejects_lure_systems():
    lure = LureSystem(A=[[0.5]], B1=[[0.1]], C1=[[1.0]], C2=[[1.0]], delta="tanh", dt=1.0)
    with pytest.raises(ValueError, match="for LTI systems.*Use contraction"):
        certify.lyapunov_stability(lure)
    with pytest.raises(TypeError, match="expected a sysid.LureSystem or a control.StateSpace"):
        certify.lyapunov_stability(np.eye(2))


def test_symmetrization_pitfall_regression():
    # A non-symmetric LMI whose skew part is large: its quadratic form is ξᵀNξ = −‖ξ‖² < 0, so
    # it is a valid "⪯ 0" certificate. eigvalsh on the raw matrix reads only one triangle and
    # would reject it (eigenvalues −11 and 9); the re-check must symmetrize.
    N = np.array([[-1.0, 10.0], [-10.0, -1.0]])
    assert np.linalg.eigvalsh(N).max() > 0             # the pitfall
    assert max_eig(N) == pytest.approx(-1.0)             # explicit symmetrization
    assert recheck([N], tol=0.0)[0]
    # cvxpy: `expr << 0` constrains only sym(expr); the certificate code symmetrizes explicitly,
    # and the numpy re-check of the returned P agrees with the quadratic form.
    A = np.array([[0.5, 2.0], [0.0, 0.5]])
    P = cp.Variable((2, 2), symmetric=True)
    assert not (A.T @ P @ A - P).is_symmetric()
    c = certify.lyapunov_stability(control.ss(A, [[0], [1]], [[1, 0]], [[0]], 1.0))
    M = A.T @ c.P @ A - c.P
    assert c.certified and max_eig(M) < 0 and c.max_eig <= c.tol < 0
    t = c.extra["state_scaling"]  # the check ran on the exactly congruent rescaled LMI
    assert max_eig(M * np.outer(t, t)) == pytest.approx(c.max_eig)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 100))
    assert np.all(np.einsum("in,ij,jn->n", x, M, x) < 0)
