import numpy as np
import pytest

from sysid import IOData
from sysid.core.iodata import as_experiments


def make(N=50, nu=2, ny=1, **kw):
    rng = np.random.default_rng(1)
    return IOData(rng.normal(size=(N, nu)), rng.normal(size=(N, ny)), dt=0.1, **kw)


def test_shapes_and_defaults():
    d = make(input_names=["force", "volt"], output_units=["m"])
    assert (d.N, d.nu, d.ny) == (50, 2, 1)
    assert d.input_names == ["force", "volt"] and d.output_names == ["y0"]
    np.testing.assert_allclose(d.t, 0.1 * np.arange(50))
    assert d.is_uniform


def test_one_dimensional_signals_are_one_channel():
    d = IOData(np.arange(5.0), np.arange(5.0) ** 2, dt=1.0)
    assert d.u.shape == (5, 1) and d.y.shape == (5, 1)


def test_autonomous_data():
    d = IOData(None, np.ones((4, 2)), dt=0.5)
    assert d.u.shape == (4, 0)


def test_slicing_keeps_metadata_and_time():
    d = make(output_names=["angle"], output_units=["rad"], name="run1")
    s = d[10:20]
    assert len(s) == 10 and s.output_names == ["angle"] and s.output_units == ["rad"] and s.name == "run1"
    np.testing.assert_allclose(s.t, d.t[10:20])
    np.testing.assert_array_equal(s.u, d.u[10:20])
    every_other = d[::2]
    assert every_other.dt == pytest.approx(0.2)


def test_split_fraction_and_index():
    d = make()
    a, b = d.split(0.8)
    assert (len(a), len(b)) == (40, 10)
    np.testing.assert_array_equal(np.vstack([a.y, b.y]), d.y)
    a, b = d.split(7)
    assert (len(a), len(b)) == (7, 43)
    assert b.t[0] == pytest.approx(0.7)


@pytest.mark.parametrize("at, err", [(1.5, "fraction must be in"), (0, "both sides"), (50, "both sides"),
                                     ("half", "fraction in")])
def test_split_errors(at, err):
    with pytest.raises((ValueError, TypeError), match=err):
        make().split(at)


def test_irregular_times():
    t = np.array([0.0, 0.1, 0.35, 0.4])
    d = IOData(np.zeros(4), np.ones(4), t=t)
    assert not d.is_uniform
    np.testing.assert_array_equal(d[1:3].t, t[1:3])


def test_nan_rows_are_named():
    y = np.ones((30, 1))
    y[[17, 18]] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN .*rows \[17, 18\]"):
        IOData(np.zeros(30), y, dt=1.0)


def test_inf_in_u():
    u = np.zeros((10, 1))
    u[3] = np.inf
    with pytest.raises(ValueError, match=r"u contains inf .*rows \[3\]"):
        IOData(u, np.zeros(10), dt=1.0)


def test_length_mismatch():
    with pytest.raises(ValueError, match="same number of samples"):
        IOData(np.zeros((10, 1)), np.zeros((9, 1)), dt=1.0)


def test_wrong_orientation_hints_transpose():
    with pytest.raises(ValueError, match=r"pass u\.T"):
        IOData(np.zeros((2, 500)), np.zeros((500, 1)), dt=1.0)


def test_empty_data():
    with pytest.raises(ValueError, match="empty"):
        IOData(np.zeros((0, 1)), np.zeros((0, 1)), dt=1.0)


def test_non_increasing_t():
    with pytest.raises(ValueError, match="strictly increasing"):
        IOData(np.zeros(3), np.zeros(3), t=[0.0, 0.2, 0.2])


@pytest.mark.parametrize("dt", [0.0, -1.0, np.nan])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be"):
        IOData(np.zeros(3), np.zeros(3), dt=dt)


def test_dt_or_t_required():
    with pytest.raises(ValueError, match="exactly one of dt"):
        IOData(np.zeros(3), np.zeros(3))


def test_names_length_checked():
    with pytest.raises(ValueError, match="one entry per channel"):
        IOData(np.zeros((3, 2)), np.zeros(3), dt=1.0, input_names=["a"])


def test_csv_round_trip(tmp_path):
    d = make(input_names=["a", "b"], output_names=["c"])
    p = tmp_path / "d.csv"
    d.to_csv(p)
    e = IOData.from_csv(p, inputs=["a", "b"], outputs=["c"], dt=0.1)
    np.testing.assert_array_equal(e.u, d.u)
    np.testing.assert_array_equal(e.y, d.y)
    f = IOData.from_csv(p, inputs=["a"], outputs=["c"], time="time")
    np.testing.assert_allclose(f.t, d.t)


def test_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file"):
        IOData.from_csv(tmp_path / "missing.csv", inputs=[], outputs=["y"], dt=1.0)
    p = tmp_path / "d.csv"
    p.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ValueError, match=r"columns \['c'\] are not in"):
        IOData.from_csv(p, inputs=["a"], outputs=["c"], dt=1.0)
    with pytest.raises(ValueError, match="is not a number"):
        IOData.from_csv(p, inputs=["a"], outputs=["b"], dt=1.0)


def test_experiments_container():
    a, b = make(N=30), make(N=45)
    assert as_experiments(a) == [a]
    assert as_experiments([a, b]) == [a, b]
    with pytest.raises(ValueError, match="empty list"):
        as_experiments([])
    with pytest.raises(ValueError, match="same channels"):
        as_experiments([a, make(nu=1)])
    with pytest.raises(TypeError, match="Wrap arrays"):
        as_experiments(np.zeros((3, 2)))
