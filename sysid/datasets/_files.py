"""Read input-output records from CSV, NumPy ``.npz`` and MATLAB ``.mat`` files by column name.

Every format holds *named channels*: a CSV file has a header row, an ``.npz`` or ``.mat``
file has one variable per channel (a vector of shape (N,), (N, 1) or MATLAB's (1, N)).
An ``.npz``/``.mat`` file may instead hold a 2-D array ``data`` (N, k) with its column names
in ``columns`` (k strings). A scalar variable ``dt`` in the file is used as the sampling
period when none is given.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import numpy as np

from ..core.iodata import IOData

__all__ = ["read_data", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".csv", ".txt", ".npz", ".mat")


def _csv_columns(path: str, delimiter: str) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip().strip('"') for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path!r} is empty; expected a header row with the column names, then one row "
                             "per sample.") from None
        rows = [r for r in reader if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path!r} has a header but no data rows; expected one row per sample.")
    table = np.full((len(rows), len(header)), np.nan)
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"{path!r}: data row {i} has {len(row)} cells but the header has {len(header)} "
                             "columns; every row needs one value per column (leave a cell empty for a gap).")
        for j, cell in enumerate(row):
            cell = cell.strip()
            if cell == "" or cell.lower() == "nan":
                continue  # left NaN; IOData names the rows
            try:
                table[i, j] = float(cell)
            except ValueError:
                raise ValueError(f"{path!r}: column {header[j]!r}, data row {i}: {cell!r} is not a number; "
                                 "fix or remove that row.") from None
    return {name: table[:, j] for j, name in enumerate(header)}


def _array_columns(path: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Named vectors of an .npz / .mat file (``data`` + ``columns`` expanded)."""
    out: dict[str, np.ndarray] = {}
    if "data" in arrays and "columns" in arrays:
        data = np.asarray(arrays["data"])
        names = [str(np.asarray(c).squeeze()).strip() for c in np.asarray(arrays["columns"]).ravel()]
        if data.ndim != 2 or data.shape[1] != len(names):
            raise ValueError(f"{path!r}: 'data' must have shape (N, {len(names)}) to match the {len(names)} "
                             f"names in 'columns'; got {data.shape}. Store time along axis 0.")
        out.update({n: data[:, j] for j, n in enumerate(names)})
    for key, value in arrays.items():
        if key.startswith("__") or key in ("data", "columns"):
            continue
        out[key] = np.asarray(value)
    return out


def _vector(path: str, name: str, value: np.ndarray) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{path!r}: variable {name!r} must hold numbers; got dtype {arr.dtype}.")
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(
            f"{path!r}: variable {name!r} must be one channel, a vector of shape (N,), (N, 1) or (1, N); got "
            f"shape {arr.shape}. Save each channel as its own named variable (or use 'data' + 'columns')."
        )
    return arr.astype(float)


def _columns(path: str, delimiter: str) -> dict[str, np.ndarray]:
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".csv", ".txt"):
        return _csv_columns(path, delimiter)
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except ValueError as exc:  # object arrays need pickling: refused
            raise ValueError(f"{path!r} holds Python objects (it needs unpickling, which sysid refuses); save "
                             "plain numeric arrays with np.savez.") from exc
        except OSError as exc:
            raise ValueError(f"{path!r} is not a readable .npz file ({exc}).") from None
        return _array_columns(path, arrays)
    if suffix == ".mat":
        from scipy.io import loadmat

        try:
            arrays = loadmat(path)
        except NotImplementedError:
            raise ValueError(f"{path!r} is a MATLAB v7.3 (HDF5) file; save it with save(..., '-v7') in MATLAB "
                             "or convert it to CSV.") from None
        except Exception as exc:  # scipy raises several types for damaged files
            raise ValueError(f"{path!r} is not a readable .mat file ({type(exc).__name__}: {exc}).") from None
        return _array_columns(path, arrays)
    raise ValueError(f"{path!r} has the suffix {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}. "
                     "Convert the file to CSV with a header row.")


def read_data(path, *, inputs: Sequence[str], outputs: Sequence[str], dt: float | None = None,
              time: str | None = None, input_units: Sequence[str] | None = None,
              output_units: Sequence[str] | None = None, delimiter: str = ",",
              name: str | None = None) -> IOData:
    """Read an input-output record from a CSV, ``.npz`` or ``.mat`` file by channel name.

    Parameters
    ----------
    path : path-like
        ``.csv``/``.txt`` (header row, one row per sample), ``.npz`` or ``.mat`` (one variable
        per channel, or ``data`` (N, k) with ``columns`` (k,)).
    inputs, outputs : list of str
        Names of the input and output channels (``inputs=[]`` for an autonomous record).
    dt : float, optional
        Sampling period [s]. Without it: the time column ``time``, else a scalar ``dt`` stored
        in an ``.npz``/``.mat`` file.
    time : str, optional
        Name of a time column (irregular sampling is kept as ``IOData(t=...)``; a uniform grid
        gives ``dt``).
    input_units, output_units : list of str, optional
    delimiter : str
        CSV delimiter.
    name : str, optional
        Label of the record (default: the file name).

    Returns
    -------
    IOData
        u (N, nu), y (N, ny) with the channel names.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Unknown suffix, a missing channel, a channel that is not a vector, channels of different
        lengths, no sampling period, or NaN/inf values (the rows are named).

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sysid.datasets import read_data
    >>> path = os.path.join(tempfile.mkdtemp(), "rec.npz")
    >>> np.savez(path, force=np.ones(50), pos=np.zeros(50), dt=0.1)
    >>> d = read_data(path, inputs=["force"], outputs=["pos"])
    >>> d.N, d.nu, d.ny, d.dt
    (50, 1, 1, 0.1)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no data file at {path!r}; check the path (relative paths in a config file "
                                "are relative to the config file's folder).")
    if isinstance(inputs, str) or isinstance(outputs, str):
        raise TypeError("inputs and outputs must be lists of channel names (e.g. ['u1']); got a single string.")
    inputs, outputs = list(inputs), list(outputs)
    if not outputs:
        raise ValueError("outputs must name at least one channel; got an empty list.")
    cols = _columns(path, delimiter)
    wanted = inputs + outputs + ([time] if time else [])
    missing = [c for c in wanted if c not in cols]
    if missing:
        have = [k for k in cols if k != "dt"]
        raise ValueError(f"{path!r} has no channel {missing[0]!r}" + (f" (nor {missing[1:]})" if missing[1:] else "")
                         + f"; its channels are {have}. Fix the names in inputs/outputs/time.")
    vecs = {c: _vector(path, c, cols[c]) for c in wanted}
    lengths = {c: v.shape[0] for c, v in vecs.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{path!r}: the channels must have the same number of samples; got {lengths}.")
    t = None
    if dt is None and time is None:
        if "dt" in cols and np.asarray(cols["dt"]).size == 1:
            dt = float(np.asarray(cols["dt"]).ravel()[0])
        else:
            raise ValueError(f"{path!r}: no sampling period; give dt (seconds) or time (the name of a time "
                             "column).")
    if time is not None and dt is None:
        t = vecs[time]
        steps = np.diff(t)
        if steps.size and np.all(np.isfinite(steps)) and np.allclose(steps, steps[0], rtol=1e-6, atol=0) \
                and steps[0] > 0:
            dt, t0, t = float(steps[0]), float(t[0]), None
        else:
            t0 = 0.0
    else:
        t0 = float(vecs[time][0]) if time is not None else 0.0
    u = np.column_stack([vecs[c] for c in inputs]) if inputs else None
    y = np.column_stack([vecs[c] for c in outputs])
    try:
        return IOData(u, y, dt=dt, t=t, t0=t0, input_names=inputs, output_names=outputs,
                      input_units=input_units, output_units=output_units,
                      name=name or os.path.basename(path))
    except ValueError as exc:
        raise ValueError(f"{path!r}: {exc}") from None
