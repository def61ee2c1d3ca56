"""Well-posedness (§4.4, §4.7), monotonicity (§4.5) and LipSDP (§4.6)."""
import numpy as np
import pytest

from sysid import LureSystem, certify
from sysid.delta import ReLU, ZMinusSin


def loop(D11, delta=None):
    D11 = np.asarray(D11, float)
    n = D11.shape[0]
    return LureSystem(A=[[0.5]], B1=np.zeros((1, n)), C1=np.zeros((n, 1)), D11=D11, C2=[[1.0]],
                      delta=delta or ReLU(), dt=1.0)


@pytest.mark.parametrize("D11, ok", [([[1.5]], False), ([[0.5]], True), ([[0, 2], [-2, 0]], True),
                                     (np.tril(np.random.default_rng(0).normal(size=(5, 5)) * 8, -1), True)])
def test_well_posedness(D11, ok):
    c = certify.well_posedness(loop(D11))
    assert c.certified is ok
    if ok:  # oracle: the numpy LMI holds with the returned λ ≥ 1
        L = np.diag(c.multipliers)
        D = np.asarray(D11, float)
        assert np.all(c.multipliers >= 1 - 1e-7)
        assert np.linalg.eigvalsh(2 * L - (L @ D + D.T @ L)).min() > 0


def test_well_posedness_scales_with_slope_bound():
    # slopes in [0, 2]: D11 = 0.5 is the boundary case β·D11 = 1 → not certified; 0.4 is
    assert not certify.well_posedness(loop([[0.5]], ZMinusSin())).certified
    assert certify.well_posedness(loop([[0.4]], ZMinusSin())).certified


def test_monotone():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(6, 6)) * 0.4, rng.normal(size=(6, 6)) * 0.4
    m = 0.1
    W = (1 - m) * np.eye(6) - A.T @ A + B - B.T  # monDEQ parameterization: m* ≥ m by construction
    c = certify.monotone(W, m)
    assert c.certified and c.bound >= m - 1e-12
    assert c.bound == pytest.approx(np.linalg.eigvalsh(np.eye(6) - (W + W.T) / 2).min())
    assert not certify.monotone(2 * np.eye(3), 0.0).certified
    with pytest.raises(ValueError, match="square matrix"):
        certify.monotone(np.ones((2, 3)))


def test_lipsdp_exact_on_scalar_relu():
    assert certify.lipschitz([np.array([[3.0]]), np.array([[-2.0]])]).bound == pytest.approx(6.0, rel=1e-6)


def test_lipsdp_between_gradient_max_and_norm_product():
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(20, 4)) / 2, rng.normal(size=(15, 20)) / 4, rng.normal(size=(2, 15)) / 3]
    c = certify.lipschitz(Ws)
    x = rng.normal(size=(2000, 4))
    grads = []
    for xi in x:  # Jacobian of the ReLU net
        d1 = (Ws[0] @ xi > 0).astype(float)
        d2 = (Ws[1] @ (d1 * (Ws[0] @ xi)) > 0).astype(float)
        J = Ws[2] @ (d2[:, None] * Ws[1]) @ (d1[:, None] * Ws[0])
        grads.append(np.linalg.norm(J, 2))
    prod = np.prod([np.linalg.norm(W, 2) for W in Ws])
    assert c.certified and max(grads) <= c.bound <= prod


def test_lipsdp_bad_input():
    with pytest.raises(ValueError, match="consecutive layers must match"):
        certify.lipschitz([np.ones((3, 2)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="at least two weight matrices"):
        certify.lipschitz([np.ones((3, 2))])
