"""The REN example scripts run end to end with tiny settings (slow)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_pendulum_certified_example(tmp_path):
    summary = load("pendulum_certified").main(["--out", str(tmp_path), "--epochs", "2", "--gammas", "2"])
    assert (tmp_path / "pendulum_certified_contraction.png").is_file()
    assert (tmp_path / "pendulum_certified_compare.png").is_file()
    models = summary["models"]
    assert models["REN contracting"]["builtin_certified"]
    assert models["REN contracting"]["contraction_lmi"]
    assert not models["true pendulum (dt = 0.01)"]["contraction_lmi"]
    assert models["REN Lipschitz γ=2"]["gamma_phys"] > 0
    # the LMI gain never exceeds the built-in physical Lipschitz bound
    lip = models["REN Lipschitz γ=2"]
    assert lip["lmi_gain"] <= lip["gamma_phys"] * (1 + 1e-4)
    assert summary["max_V_ratio"] <= 1.0


@pytest.mark.slow
def test_f16_example(tmp_path, data_dir):
    summary = load("f16").main(["--out", str(tmp_path), "--data", str(data_dir / "f16_gvt"), "--n-train", "300",
                                "--n-test", "300", "--epochs", "1", "--nx", "2", "--nv", "3"])
    assert (tmp_path / "f16_compare.png").is_file()
    assert summary["ren_builtin_certified"]
    assert all(len(v) == 3 and len(v[0]) == 3 for v in summary["nrmse"].values())
