"""Data-parallel training: a 2-process gloo group follows the loss trajectory of one process with the
same global batch (the oracle is sysid.training.train itself, float64)."""
import json
import os
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

from sysid.training import TrainConfig, cut_windows, train, train_distributed  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="this torch build has no torch.distributed gloo backend")


def _records(nu, ny, seed=0, N=160):
    rng = np.random.default_rng(seed)
    out = []
    for r in range(2):
        u = rng.standard_normal((N, nu))
        y = np.zeros((N, ny))
        for k in range(1, N):
            y[k] = 0.8 * y[k - 1] + 0.3 * np.tanh(u[k - 1].sum()) + 0.05 * rng.standard_normal(ny)
        out.append((u, y))
    return out


def _problem(nu, ny, x0, loss, horizon):
    from sysid.models.step import StepModule

    torch.manual_seed(0)
    module = StepModule(ny, nu, ny, hidden=6, full_state=True, init_std=0.3).double()
    windows = cut_windows(_records(nu, ny), loss=loss, horizon=horizon, x0=x0)
    val = cut_windows(_records(nu, ny, seed=1, N=60), loss="simulation", x0="zero" if x0 == "fit" else x0)
    return module, windows, val


CASES = {  # (nu, ny, x0, loss, horizon, batch_size): SISO and MIMO, fitted x0 (extra parameters), odd batches
    "siso_measured": (1, 1, "measured", "truncated", 20, 5),
    "mimo_fit": (2, 2, "fit", "truncated", 25, 4),
    "kstep_full_batch": (1, 1, "measured", "kstep", 40, None),
}


def _config(batch_size):
    # a short warm-up and the moving average run through both paths too
    return TrainConfig(epochs=6, lr=2e-2, batch_size=batch_size, seed=3, patience=None, warmup=3)


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        found = {}
        for case, (nu, ny, x0, loss, horizon, bs) in CASES.items():
            module, windows, val = _problem(nu, ny, x0, loss, horizon)
            res = train_distributed(module, windows, _config(bs), val=val)
            found[case] = {"loss": res.loss, "val_loss": res.val_loss, "best": res.best_epoch,
                           "weights": [p.detach().numpy().ravel().tolist() for p in module.parameters()]}
        if rank == 0:
            with open(out, "w") as fh:
                json.dump(found, fh)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """One 2-process gloo group (spawned once) trains every case."""
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("ddp") / "rank0.json"
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return json.loads(out.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_processes_follow_one_process(case, two_processes):
    two = two_processes[case]
    nu, ny, x0, loss, horizon, bs = CASES[case]
    module, windows, val = _problem(nu, ny, x0, loss, horizon)
    one = train(module, windows, _config(bs), val=val)
    assert len(two["loss"]) == len(one.loss) == 6
    np.testing.assert_allclose(two["loss"], one.loss, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(two["val_loss"], one.val_loss, rtol=1e-6, atol=1e-12)
    assert two["best"] == one.best_epoch
    for a, p in zip(two["weights"], module.parameters()):
        np.testing.assert_allclose(a, p.detach().numpy().ravel(), rtol=1e-6, atol=1e-9)
    assert min(one.loss) < 0.9 * one.loss[0] or min(one.val_loss) < one.initial_loss  # it trained


@pytest.fixture
def single_group():
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    dist.init_process_group("gloo", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_one_process_group_equals_train(single_group):
    module, windows, val = _problem(1, 1, "measured", "truncated", 20)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    res = train_distributed(module, windows, _config(5), val=val)
    module.load_state_dict(state)
    ref = train(module, windows, _config(5), val=val)
    np.testing.assert_allclose(res.loss, ref.loss, rtol=1e-10)
    np.testing.assert_allclose(res.val_loss, ref.val_loss, rtol=1e-10)


def test_callback_stops_every_process(single_group):
    module, windows, val = _problem(1, 1, "measured", "truncated", 20)
    seen = []
    res = train_distributed(module, windows, _config(5), val=val,
                            callback=lambda e, t, v: seen.append((e, t, v)) or e == 2)
    assert res.stopped == "callback" and len(res.loss) == 3 and [s[0] for s in seen] == [0, 1, 2]
    assert seen[-1][1] == res.loss[-1] and seen[-1][2] == res.val_loss[-1]


def test_lbfgs_refused(single_group):
    module, windows, val = _problem(1, 1, "measured", "truncated", 20)
    with pytest.raises(ValueError, match="optimizer='lbfgs'.*use sysid.training.train"):
        train_distributed(module, windows, TrainConfig(optimizer="lbfgs", epochs=1))


def test_needs_a_process_group():
    module, windows, _ = _problem(1, 1, "measured", "truncated", 20)
    with pytest.raises(RuntimeError, match="initialized torch.distributed process group.*torchrun"):
        train_distributed(module, windows, TrainConfig(epochs=1))
