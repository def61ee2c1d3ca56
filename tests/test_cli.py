"""The ``sysid`` command line: every command, its help, exit codes and one-line errors for bad files."""
import json
import os
import shutil

import control
import numpy as np
import pytest

from sysid import cli
from sysid.estimators import N4SID

COMMANDS = ["fit", "report", "simulate", "compare", "resid", "linearize", "certify", "bench", "demo", "info"]


def _plant(N=400, seed=0):
    """A stable second-order discrete plant driven by white noise: (u, y, the true system)."""
    G = control.ss([[1.6, -0.8], [1.0, 0.0]], [[1.0], [0.0]], [[0.1, 0.05]], [[0.0]], 0.1)
    u = np.random.default_rng(seed).standard_normal(N)
    y = control.forced_response(G, U=u).y[0]
    return u, y, G


def _write_csv(path, cols: dict) -> None:
    names = list(cols)
    rows = np.column_stack([cols[n] for n in names])
    with open(path, "w") as fh:
        fh.write(",".join(names) + "\n")
        for r in rows:
            fh.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n")


@pytest.fixture
def plant_csv(tmp_path):
    u, y, _ = _plant()
    path = tmp_path / "plant.csv"
    _write_csv(path, {"t": 0.1 * np.arange(u.size), "force": u, "pos": y})
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One N4SID run through the command line, shared by the tests that read its results."""
    tmp = tmp_path_factory.mktemp("cli")
    u, y, G = _plant()
    _write_csv(tmp / "plant.csv", {"force": u, "pos": y})
    rc = cli.main(["fit", "--data", str(tmp / "plant.csv"), "--inputs", "force", "--outputs", "pos", "--dt", "0.1",
                   "--estimator", "N4SID", "--param", "nx=2", "--out", str(tmp / "out"), "--quiet"])
    assert rc == 0
    return tmp, G


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, f"the error must be one line; got:\n{err}"
    return err


# ---------------------------------------------------------------------------------------------- help and usage
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_an_example(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"sysid {command}" in out


def test_main_help_shows_examples_and_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "sysid fit --config" in out and "exit status" in out


def test_version(capsys):
    import sysid

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"sysid {sysid.__version__}"


def test_usage_errors_exit_2(capsys):
    assert cli.main(["no-such-command"]) == 2
    assert cli.main(["linearize"]) == 2  # missing MODEL
    assert cli.main(["compare", "m", "--skip", "x"]) == 2
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------- fit and friends
def test_fit_from_flags_writes_models_and_run_json(fitted):
    tmp, G = fitted
    run = json.loads((tmp / "out" / "run.json").read_text())
    assert run["format"] == "sysid-run/1"
    (m,) = run["models"]
    assert m["estimator"] == "N4SID" and m["params"]["nx"] == 2
    assert (tmp / "out" / m["path"] / "meta.json").is_file()
    # noise-free data from a second-order plant: the poles are recovered
    poles = np.array([complex(*p) for p in m["linearization"]["poles"]])
    np.testing.assert_allclose(np.sort_complex(poles), np.sort_complex(G.poles()), atol=1e-6)
    assert m["compare"]["test"]["fit_percent"][0] > 99.0
    assert run["data"]["train"]["N"] == 280 and run["data"]["test"]["N"] == 120  # 70 % split


def test_report_of_a_file_study(fitted, capsys):
    tmp, _ = fitted
    assert cli.main(["report", str(tmp / "out" / "run.json")]) == 0
    html = (tmp / "out" / "report.html").read_text(encoding="utf-8")
    assert "plant.csv" in html and "SHA-256" in html and html.count("<img ") >= 5
    assert "report.html" in capsys.readouterr().out


def test_linearize_prints_poles_dc_gain_and_damping(fitted, capsys):
    tmp, G = fitted
    assert cli.main(["linearize", str(tmp / "out" / "models" / "N4SID"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(s["dcgain"][0][0], control.dcgain(G), rtol=1e-6)
    z = complex(*s["modes"][0]["pole"])
    sc = np.log(z) / 0.1  # oracle: the damping table is MATLAB damp's, from s = log(z)/dt
    np.testing.assert_allclose(s["modes"][0]["wn"], abs(sc), rtol=1e-9)
    np.testing.assert_allclose(s["modes"][0]["zeta"], -sc.real / abs(sc), rtol=1e-9)
    assert cli.main(["linearize", str(tmp / "out" / "models" / "N4SID")]) == 0
    out = capsys.readouterr().out
    assert "poles:" in out and "DC gain" in out and "zeta" in out and "wn [rad/s]" in out


def test_simulate_writes_the_model_output(fitted, tmp_path, capsys):
    tmp, _ = fitted
    u = np.sin(0.3 * np.arange(50))
    _write_csv(tmp_path / "u.csv", {"force": u})
    model = tmp / "out" / "models" / "N4SID"
    assert cli.main(["simulate", str(model), "--data", str(tmp_path / "u.csv"), "--inputs", "force", "--dt", "0.1",
                     "--out", str(tmp_path / "y.csv")]) == 0
    table = np.loadtxt(tmp_path / "y.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 2], N4SID.load(model).simulate(u[:, None])[:, 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(table[:, 0], 0.1 * np.arange(50), atol=1e-12)
    capsys.readouterr()


def test_compare_matches_the_library_and_saves_a_figure(fitted, plant_csv, tmp_path, capsys):
    import sysid
    from sysid.datasets import read_data

    tmp, _ = fitted
    model = tmp / "out" / "models" / "N4SID"
    fig = tmp_path / "cmp.png"
    assert cli.main(["compare", str(model), "--data", str(plant_csv), "--inputs", "force", "--outputs", "pos",
                     "--time", "t", "--skip", "10", "--figure", str(fig)]) == 0
    out = capsys.readouterr().out
    d = read_data(plant_csv, inputs=["force"], outputs=["pos"], time="t")
    ref = sysid.compare(N4SID.load(model), d, x0="estimate", skip=10)
    assert f"{ref.fit_percent[0]:.2f}" in out
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_resid_matches_the_library(fitted, plant_csv, tmp_path, capsys):
    import sysid
    from sysid.datasets import read_data

    tmp, _ = fitted
    model = tmp / "out" / "models" / "N4SID"
    fig = tmp_path / "resid.png"
    assert cli.main(["resid", str(model), "--data", str(plant_csv), "--inputs", "force", "--outputs", "pos",
                     "--time", "t", "--max-lag", "10", "--figure", str(fig)]) == 0
    out = capsys.readouterr().out
    d = read_data(plant_csv, inputs=["force"], outputs=["pos"], time="t")
    assert str(sysid.resid(N4SID.load(model), d, max_lag=10)) in out
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_certify_prints_the_certificates(fitted, capsys):
    tmp, _ = fitted
    assert cli.main(["certify", str(tmp / "out" / "models" / "N4SID")]) == 0
    out = capsys.readouterr().out
    assert "lyapunov_stability" in out and "contraction" in out


def test_fit_from_a_config_file(tmp_path, capsys):
    u, y, _ = _plant(300)
    np.savez(tmp_path / "rec.npz", force=u, pos=y, dt=0.1)
    (tmp_path / "study.toml").write_text(
        'title = "test study"\n[data]\nfile = "rec.npz"\ninputs = ["force"]\noutputs = ["pos"]\nsplit = 0.5\n'
        '[compare]\nskip = 5\n[certify]\nenabled = false\n'
        '[[model]]\nestimator = "ARX"\nparams = { na = 2, nb = 2 }\n')
    out = tmp_path / "res"
    assert cli.main(["fit", "--config", str(tmp_path / "study.toml"), "--out", str(out), "--quiet"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["title"] == "test study" and run["models"][0]["name"] == "ARX"
    assert run["data"]["train"]["N"] == 150 and "certificates" not in run["models"][0]
    assert "sysid report" in capsys.readouterr().out


@pytest.mark.skipif(not os.path.isdir(os.environ.get("SYSID_DATA", os.path.join(os.path.dirname(__file__), "..",
                                                                                   "..", "shared", "data"))),
                    reason="benchmark data folder absent")
def test_bench_cascaded_tanks(data_dir, capsys):
    assert cli.main(["bench", "cascaded_tanks", "--data-dir", str(data_dir / "cascaded_tanks"),
                     "--param", "nx=2"]) == 0
    out = capsys.readouterr().out
    assert "cascaded_tanks / test" in out and "published" in out


# ---------------------------------------------------------------------------------------------- bad files
def _fit_args(path, *extra):
    return ["fit", "--data", str(path), "--inputs", "force", "--outputs", "pos", "--dt", "0.1",
            "--estimator", "N4SID", "--quiet", *extra]


def test_missing_column(plant_csv, tmp_path, capsys):
    args = ["fit", "--data", str(plant_csv), "--inputs", "torque", "--outputs", "pos", "--dt", "0.1",
            "--estimator", "N4SID", "--out", str(tmp_path / "o")]
    assert cli.main(args) == 1
    err = _err(capsys)
    assert "no channel 'torque'" in err and "its channels are ['t', 'force', 'pos']" in err


def test_nan_in_data(tmp_path, capsys):
    u, y, _ = _plant(100)
    y[[7, 8]] = np.nan
    _write_csv(tmp_path / "nan.csv", {"force": u, "pos": y})
    assert cli.main(_fit_args(tmp_path / "nan.csv", "--out", str(tmp_path / "o"))) == 1
    err = _err(capsys)
    assert "NaN" in err and "[7, 8]" in err and "interpolate" in err


def test_wrong_shape_in_npz(tmp_path, capsys):
    u, y, _ = _plant(100)
    np.savez(tmp_path / "bad.npz", force=np.column_stack([u, u]), pos=y)
    assert cli.main(_fit_args(tmp_path / "bad.npz", "--out", str(tmp_path / "o"))) == 1
    err = _err(capsys)
    assert "'force' must be one channel" in err and "(100, 2)" in err


def test_unknown_estimator(plant_csv, tmp_path, capsys):
    args = ["fit", "--data", str(plant_csv), "--inputs", "force", "--outputs", "pos", "--dt", "0.1",
            "--estimator", "Kalman", "--out", str(tmp_path / "o")]
    assert cli.main(args) == 1
    err = _err(capsys)
    assert "unknown estimator 'Kalman'" in err and "N4SID" in err


def test_unknown_parameter(plant_csv, tmp_path, capsys):
    assert cli.main(_fit_args(plant_csv, "--param", "order=3", "--out", str(tmp_path / "o"))) == 1
    assert "'order' is not a parameter of N4SID" in _err(capsys)


def test_missing_file_and_bad_suffix(tmp_path, capsys):
    assert cli.main(_fit_args(tmp_path / "absent.csv")) == 1
    assert "no data file at" in _err(capsys)
    (tmp_path / "x.xlsx").write_text("a")
    assert cli.main(_fit_args(tmp_path / "x.xlsx")) == 1
    assert "expected one of .csv" in _err(capsys)


def test_bad_toml(tmp_path, capsys):
    (tmp_path / "s.toml").write_text("[data\nfile = 1\n")
    assert cli.main(["fit", "--config", str(tmp_path / "s.toml")]) == 1
    assert "is not valid TOML" in _err(capsys)
    (tmp_path / "s.toml").write_text('[data]\ndataset = "pendulum"\n[[model]]\nestimator = "N4SID"\nnx = 2\n')
    assert cli.main(["fit", "--config", str(tmp_path / "s.toml")]) == 1
    assert "unknown key 'nx'" in _err(capsys)


@pytest.fixture
def model_copy(fitted, tmp_path):
    tmp, _ = fitted
    dst = tmp_path / "model"
    shutil.copytree(tmp / "out" / "models" / "N4SID", dst)
    return dst


def test_tampered_weights(model_copy, capsys):
    with np.load(model_copy / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["A"] = arrays["A"] * 1.01
    np.savez(model_copy / "weights.npz", **arrays)
    assert cli.main(["linearize", str(model_copy)]) == 1
    assert "do not match the SHA-256" in _err(capsys)


@pytest.mark.parametrize("content", ["", '{"format": "sysid-estimator/1", "cla'])
def test_truncated_or_empty_meta(model_copy, content, capsys):
    (model_copy / "meta.json").write_text(content)
    assert cli.main(["simulate", str(model_copy), "--samples", "3"]) == 1
    err = _err(capsys)
    assert "meta.json" in err and "not valid JSON" in err and "refit" in err


def test_nan_weights_are_refused_at_load(model_copy, tmp_path, capsys):
    est = N4SID.load(model_copy)
    est.x0_ = np.array([np.nan, 0.0])  # as a diverged training would leave it; save() records a valid hash
    try:
        est.save(tmp_path / "nan_model")
    except ValueError as exc:  # the library may refuse to save it at all: also a refusal
        assert "NaN" in str(exc)
        return
    assert cli.main(["certify", str(tmp_path / "nan_model")]) == 1
    err = _err(capsys)
    assert "NaN" in err and "refit" in err


def test_not_a_model_folder(tmp_path, capsys):
    assert cli.main(["certify", str(tmp_path / "nothing")]) == 1
    assert "no saved model at" in _err(capsys)


def test_wrong_channel_count_for_compare(fitted, tmp_path, capsys):
    tmp, _ = fitted
    u, y, _ = _plant(60)
    _write_csv(tmp_path / "two.csv", {"a": u, "b": u, "pos": y})
    assert cli.main(["compare", str(tmp / "out" / "models" / "N4SID"), "--data", str(tmp_path / "two.csv"),
                     "--inputs", "a,b", "--outputs", "pos", "--dt", "0.1"]) == 1
    assert "has 1 input(s); the data has 2" in _err(capsys)


def test_traceback_flag_reraises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data file"):
        cli.main(["--traceback", *_fit_args(tmp_path / "absent.csv")])


def test_warnings_are_one_line(capsys):
    import warnings

    from sysid.exceptions import FitWarning

    assert cli._warning_line("first line\n  second line", FitWarning, "f.py", 1) == \
        "sysid: warning (FitWarning): first line second line\n"
    before = warnings.formatwarning
    assert cli.main(["certify", "/nonexistent"]) == 1
    assert warnings.formatwarning is before  # restored after the command
    capsys.readouterr()
