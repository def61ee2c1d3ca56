"""sysid.datasets.read_data: CSV, .npz and .mat records by channel name (what the command line reads)."""
import numpy as np
import pytest
from scipy.io import savemat

from sysid.datasets import read_data

RNG = np.random.default_rng(0)
U = RNG.standard_normal((40, 2))
Y = RNG.standard_normal((40, 1))


def _csv(path, header, table):
    with open(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        for row in table:
            fh.write(",".join(repr(float(v)) for v in row) + "\n")


@pytest.mark.parametrize("fmt", ["csv", "npz", "mat", "npz-table", "mat-row"])
def test_round_trip(fmt, tmp_path):
    path = tmp_path / f"rec.{fmt.split('-')[0]}"
    cols = {"a": U[:, 0], "b": U[:, 1], "y": Y[:, 0]}
    if fmt == "csv":
        _csv(path, list(cols), np.column_stack(list(cols.values())))
    elif fmt == "npz":
        np.savez(path, **cols)
    elif fmt == "npz-table":
        np.savez(path, data=np.column_stack(list(cols.values())), columns=np.array(list(cols)))
    elif fmt == "mat":
        savemat(path, {k: v[:, None] for k, v in cols.items()})
    else:  # MATLAB row vectors (1, N)
        savemat(path, {k: v[None, :] for k, v in cols.items()})
    d = read_data(path, inputs=["a", "b"], outputs=["y"], dt=0.5)
    np.testing.assert_array_equal(d.u, U)
    np.testing.assert_array_equal(d.y, Y)
    assert d.input_names == ["a", "b"] and d.dt == 0.5 and d.name == path.name


def test_time_column_gives_dt_or_irregular_t(tmp_path):
    t = 0.1 * np.arange(40) + 2.0
    _csv(tmp_path / "u.csv", ["time", "y"], np.column_stack([t, Y[:, 0]]))
    d = read_data(tmp_path / "u.csv", inputs=[], outputs=["y"], time="time")
    assert d.dt == pytest.approx(0.1) and d.t0 == pytest.approx(2.0) and d.nu == 0
    t_irr = np.cumsum(RNG.uniform(0.05, 0.2, 40))
    _csv(tmp_path / "i.csv", ["time", "y"], np.column_stack([t_irr, Y[:, 0]]))
    d = read_data(tmp_path / "i.csv", inputs=[], outputs=["y"], time="time")
    assert d.dt is None and np.allclose(d.t, t_irr)


def test_dt_stored_in_the_file(tmp_path):
    np.savez(tmp_path / "r.npz", u=U[:, 0], y=Y[:, 0], dt=0.25)
    assert read_data(tmp_path / "r.npz", inputs=["u"], outputs=["y"]).dt == 0.25


@pytest.mark.parametrize("setup, match", [
    (lambda p: np.savez(p / "r.npz", u=U[:, 0], y=Y[:, 0]), "no sampling period; give dt"),
    (lambda p: np.savez(p / "r.npz", u=U, y=Y[:, 0], dt=1.0), r"'u' must be one channel.*\(40, 2\)"),
    (lambda p: np.savez(p / "r.npz", u=U[:5, 0], y=Y[:, 0], dt=1.0), "same number of samples"),
    (lambda p: np.savez(p / "r.npz", v=U[:, 0], y=Y[:, 0], dt=1.0), r"no channel 'u'.*its channels are \['v', 'y'\]"),
    (lambda p: np.savez(p / "r.npz", u=np.array(["a"] * 40), y=Y[:, 0], dt=1.0), "must hold numbers"),
])
def test_bad_npz(setup, match, tmp_path):
    setup(tmp_path)
    with pytest.raises(ValueError, match=match):
        read_data(tmp_path / "r.npz", inputs=["u"], outputs=["y"])


def test_bad_csv(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match="is empty; expected a header row"):
        read_data(tmp_path / "e.csv", inputs=[], outputs=["y"], dt=1.0)
    (tmp_path / "s.csv").write_text("u,y\n1,2\n3,x\n")
    with pytest.raises(ValueError, match=r"column 'y', data row 1: 'x' is not a number"):
        read_data(tmp_path / "s.csv", inputs=["u"], outputs=["y"], dt=1.0)
    (tmp_path / "r.csv").write_text("u,y\n1,2\n3\n")
    with pytest.raises(ValueError, match="data row 1 has 1 cells but the header has 2"):
        read_data(tmp_path / "r.csv", inputs=["u"], outputs=["y"], dt=1.0)
    (tmp_path / "n.csv").write_text("u,y\n1,2\n3,\n4,nan\n")
    with pytest.raises(ValueError, match=r"y contains NaN .* at rows \[1, 2\]"):
        read_data(tmp_path / "n.csv", inputs=["u"], outputs=["y"], dt=1.0)


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data file at"):
        read_data(tmp_path / "nope.csv", inputs=[], outputs=["y"], dt=1.0)
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(ValueError, match="suffix '.json'; expected one of"):
        read_data(tmp_path / "a.json", inputs=[], outputs=["y"], dt=1.0)
    np.savez(tmp_path / "r.npz", u=U[:, 0], y=Y[:, 0])
    with pytest.raises(TypeError, match="lists of channel names"):
        read_data(tmp_path / "r.npz", inputs="u", outputs=["y"], dt=1.0)
    with pytest.raises(ValueError, match="outputs must name at least one channel"):
        read_data(tmp_path / "r.npz", inputs=["u"], outputs=[], dt=1.0)
    (tmp_path / "x.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match="not a readable .mat file"):
        read_data(tmp_path / "x.mat", inputs=[], outputs=["y"], dt=1.0)
