import subprocess
import sys
from pathlib import Path

import pytest

from sysid import cli

REPO = Path(__file__).resolve().parents[1]


def test_demo_prints_fit_and_poles_and_saves_figure(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "fit %" in out and "true linearized" in out and "poles" in out and "NeuralNetStep" in out
    png = tmp_path / "demo_compare.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info(capsys):
    assert cli.main(["info"]) == 0
    assert "sysid" in capsys.readouterr().out


def test_plot_compare_rejects_mismatched_labels():
    import numpy as np

    from sysid import IOData, compare, plot
    import control

    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)
    d = IOData(np.ones(10), np.ones(10) * 2 - np.exp(-np.arange(10.0)), dt=1.0)
    res = compare(G, d)
    with pytest.raises(ValueError, match="one entry per result"):
        plot.compare([res], ["a", "b"])


@pytest.mark.slow
def test_pendulum_example_runs(tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "examples" / "pendulum.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "pendulum_compare.png").is_file() and (tmp_path / "pendulum_poles.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("script", ["spiral_source.py", "center.py"])
def test_seed_study_examples_run(script, tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "examples" / script), "--out", str(tmp_path), "--epochs", "20"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "learned vs true matrices" in res.stdout
    assert len(list(tmp_path.glob("*.png"))) == 2 and len(list(tmp_path.glob("*.json"))) == 1


@pytest.mark.slow
def test_pendulum_neural_example_runs(tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "examples" / "pendulum_neural.py"), "--out", str(tmp_path),
                          "--epochs", "10"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "true (continuous)" in res.stdout and (tmp_path / "pendulum_neural.png").is_file()


@pytest.mark.slow
def test_lstm_linear_system_example_runs(tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "examples" / "lstm_linear_system.py"), "--out", str(tmp_path),
                          "--epochs", "5"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "(e) linearity check" in res.stdout and (tmp_path / "lstm_linear_system.png").is_file()
