"""The training-layer rows of the bad-input campaign: divergence, overflowing data, bad seeds. Tiny networks and few epochs: each runs in seconds.
"""

import numpy as np
import pytest

from sysid import DivergenceError, IOData, LureSystem
from sysid.delta import Tanh


def plant_data(N=120, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(N, 1))
    lure = LureSystem(A=[[0.6, 0.2], [-0.2, 0.5]], B1=[[0.3], [0.1]], B2=[[1.0], [0.5]], C1=[[1.0, 0.0]],
                      C2=[[1.0, 0.5]], delta=Tanh(), dt=0.1)
    return IOData(u * scale, lure.simulate(u) * scale, dt=0.1)


def test_huge_learning_rate_stops_with_divergence_error_and_restores_the_best_weights():
    from sysid.estimators import NeuralNetStep

    est = NeuralNetStep(nx=2, hidden=4, epochs=30, lr=1e3, seed=0)
    with pytest.raises(DivergenceError, match=r"epoch \d+.*([Ll]ower|smaller) the learning rate"):
        est.fit(plant_data())
    # the best weights are restored: the model still simulates finite values
    assert np.all(np.isfinite(est.simulate(plant_data().u)))


def test_data_whose_scale_would_overflow_is_refused_before_training():
    from sysid.estimators import NeuralNetStep

    with pytest.raises(ValueError, match=r"(scale|overflow).*(rescale|units)"):
        NeuralNetStep(nx=2, hidden=4, epochs=2, seed=0).fit(plant_data(scale=1e200))


def test_training_on_huge_data_never_logs_zero_loss_nor_predicts_nan():
    from sysid.estimators import NeuralNetStep

    d = plant_data(scale=1e200)
    try:
        est = NeuralNetStep(nx=2, hidden=4, epochs=2, seed=0).fit(d)
    except ValueError:
        return  # refused before training: the expected outcome
    assert all(np.isfinite(v) and v > 0 for v in est.history_.loss)
    assert np.all(np.isfinite(est.simulate(d.u)))


def test_non_integer_seed_is_a_clear_error():
    from sysid.estimators import NeuralNetStep

    with pytest.raises(ValueError, match=r"The 'seed' parameter of NeuralNetStep must be an int .* Got 'abc' instead"):
        NeuralNetStep(nx=2, hidden=4, epochs=2, seed="abc").fit(plant_data())
