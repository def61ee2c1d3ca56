"""Input-output data records: :class:`IOData` and helpers for several experiments."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Union

import numpy as np

__all__ = ["IOData", "as_experiments", "as_signal", "as_real_array", "check_period"]


def _rows(mask: np.ndarray, limit: int = 10) -> str:
    idx = np.flatnonzero(mask)
    text = ", ".join(str(i) for i in idx[:limit])
    if idx.size > limit:
        text += f", ... ({idx.size} rows in all)"
    return f"[{text}]"


def as_real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array, refusing what a plain ``np.asarray(x, float)`` would mangle.

    Complex values (their imaginary part would be dropped), strings, dates, ragged lists and
    Python integers too large for float64 raise a ValueError that says what came; booleans
    and integers are converted. Finiteness is not checked here.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a numeric array; could not build one from the "
                         f"{type(x).__name__} given ({exc}).") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(
            f"{name} must be real; got complex values (dtype {arr.dtype}). sysid does not drop imaginary "
            f"parts silently: pass {name}.real (or np.abs({name})) if that is what you mean, or split real "
            "and imaginary parts into separate channels."
        )
    if kind in "biuf":
        return arr.astype(float, copy=False)
    if kind == "O":
        try:
            out = arr.astype(float)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{name} must hold real numbers; got an object array that does not convert "
                             f"to float64 ({exc}).") from None
        return out
    raise ValueError(f"{name} must hold real numbers; got an array of dtype {arr.dtype} "
                     f"({'text' if kind in 'US' else 'non-numeric'}). Convert it to numbers first, e.g. "
                     f"np.asarray({name}, dtype=float) for numeric strings.")


def check_period(dt, name: str = "dt", *, allow_zero: bool = False) -> float:
    """Validate a sampling period: a real number > 0 (or 0 for continuous time when allowed).

    Refuses ``True``/``False`` (python-control's "discrete, unspecified"), strings and other
    types instead of converting them.
    """
    what = "a sampling period > 0 (discrete) or 0 (continuous)" if allow_zero else "a finite sampling period > 0"
    if isinstance(dt, np.ndarray) and dt.ndim == 0 and dt.dtype.kind in "iuf":
        dt = dt.item()
    if isinstance(dt, (bool, np.bool_)) or not isinstance(dt, (int, float, np.integer, np.floating)):
        hint = ""
        if isinstance(dt, (bool, np.bool_)):
            hint = " (python-control's dt=True, 'discrete with an unspecified period', is not accepted)"
        elif isinstance(dt, str):
            hint = f"; pass the number itself, e.g. {name}=float({dt!r})"
        raise ValueError(f"{name} must be {what}, given as a number; got {dt!r} of type "
                         f"{type(dt).__name__}{hint}.")
    value = float(dt)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        extra = " For irregular samples pass t= instead." if name == "dt" and not allow_zero else ""
        raise ValueError(f"{name} must be {what}; got {dt!r}.{extra}")
    return value


def as_signal(x, name: str, *, n_channels: int | None = None, allow_empty_channels: bool = True) -> np.ndarray:
    """Validate a signal and return it as a float64 array of shape (N, n).

    Parameters
    ----------
    x : array_like, shape (N, n) or (N,)
        Time along axis 0. A 1-D array is one channel.
    name : str
        Name used in error messages (``"u"``, ``"y"``).
    n_channels : int, optional
        Expected number of channels; used to detect a transposed array.

    Raises
    ------
    ValueError
        For non-finite values (the rows are named), wrong rank, wrong orientation.
    """
    arr = as_real_array(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, n{name}) with time along axis 0; got an array with "
            f"{arr.ndim} dimensions, shape {arr.shape}."
        )
    if n_channels is not None and arr.shape[1] != n_channels:
        hint = ""
        if arr.shape[0] == n_channels:
            hint = (" If your data uses python-control's (n, N) layout (time along the last axis), "
                    f"pass {name}.T.")
        raise ValueError(
            f"{name} must have shape (N, {n_channels}) with time along axis 0; got {arr.shape}.{hint}"
        )
    if not allow_empty_channels and arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one channel; got shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = bad.any(axis=1)
        kind = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(
            f"{name} contains {kind} (non-finite values) at rows {_rows(rows)}; remove or "
            f"interpolate them before using the data."
        )
    return arr


class IOData:
    """One input-output experiment, time along axis 0.

    Parameters
    ----------
    u : array_like, shape (N, nu) or (N,), or None
        Inputs. ``None`` (or shape (N, 0)) for an autonomous system.
    y : array_like, shape (N, ny) or (N,)
        Outputs.
    dt : float, optional
        Sampling period (> 0) of uniformly sampled data. Give ``dt`` or ``t``.
    t : array_like, shape (N,), optional
        Sample times for irregular sampling (strictly increasing).
    t0 : float
        Time of the first sample when ``dt`` is given.
    input_names, output_names : list of str, optional
        Channel names (default ``u0, u1, ...``, ``y0, y1, ...``).
    input_units, output_units : list of str, optional
        Channel units (default empty strings).
    name : str, optional
        A label for the experiment.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import IOData
    >>> d = IOData(np.zeros((100, 1)), np.ones((100, 2)), dt=0.1)
    >>> d.N, d.nu, d.ny
    (100, 1, 2)
    >>> train, test = d.split(0.8)
    >>> len(train), len(test)
    (80, 20)
    """

    def __init__(self, u, y, *, dt: float | None = None, t=None, t0: float = 0.0,
                 input_names: Sequence[str] | None = None,
                 output_names: Sequence[str] | None = None,
                 input_units: Sequence[str] | None = None,
                 output_units: Sequence[str] | None = None,
                 name: str | None = None):
        y_arr = as_signal(y, "y", allow_empty_channels=False)
        if y_arr.shape[0] == 0:
            raise ValueError("y is empty (0 samples); IOData needs at least one sample.")
        if u is None:
            u_arr = np.zeros((y_arr.shape[0], 0))
        else:
            u_arr = as_signal(u, "u")
        if u_arr.shape[0] != y_arr.shape[0]:
            hint = ""
            if u_arr.shape[1] == y_arr.shape[0]:
                hint = " Time must be along axis 0: pass u.T."
            elif y_arr.shape[1] == u_arr.shape[0]:
                hint = " Time must be along axis 0: pass y.T."
            raise ValueError(
                f"u and y must have the same number of samples N along axis 0; got u {u_arr.shape} "
                f"and y {y_arr.shape}.{hint}"
            )
        N = y_arr.shape[0]
        if u_arr.shape[1] > N and u_arr.shape[1] > 1:
            raise ValueError(
                f"u has more channels ({u_arr.shape[1]}) than samples ({N}); time must be along "
                f"axis 0. If your data uses the (nu, N) layout, pass u.T."
            )
        if y_arr.shape[1] > N and y_arr.shape[1] > 1:
            raise ValueError(
                f"y has more channels ({y_arr.shape[1]}) than samples ({N}); time must be along "
                f"axis 0. If your data uses the (ny, N) layout, pass y.T."
            )
        if (dt is None) == (t is None):
            raise ValueError(
                "give exactly one of dt (uniform sampling period, > 0) or t (sample times, shape (N,)); "
                f"got dt={dt!r} and t={'None' if t is None else 'an array'}."
            )
        if dt is not None:
            dt = check_period(dt, "dt")
            t_arr = None
        else:
            t_arr = as_real_array(t, "t")
            if t_arr.ndim != 1 or t_arr.shape[0] != N:
                raise ValueError(f"t must have shape (N,) = ({N},); got {t_arr.shape}.")
            if not np.all(np.isfinite(t_arr)):
                raise ValueError(f"t contains non-finite values at rows {_rows(~np.isfinite(t_arr))}.")
            steps = np.diff(t_arr)
            if np.any(steps <= 0):
                raise ValueError(
                    f"t must be strictly increasing; it does not increase after rows {_rows(steps <= 0)}. "
                    "Sort the samples by time and merge duplicates."
                )
        self.u = u_arr
        self.y = y_arr
        self.dt = dt
        self._t = t_arr
        if t_arr is None:
            if isinstance(t0, (bool, np.bool_)) or not isinstance(t0, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(float(t0)):
                raise ValueError(f"t0 (the time of the first sample) must be a finite number; got {t0!r}.")
        self.t0 = float(t0) if t_arr is None else float(t_arr[0])
        self.input_names = self._names(input_names, "u", self.u.shape[1], "input_names")
        self.output_names = self._names(output_names, "y", self.y.shape[1], "output_names")
        self.input_units = self._names(input_units, None, self.u.shape[1], "input_units")
        self.output_units = self._names(output_units, None, self.y.shape[1], "output_units")
        self.name = name

    @staticmethod
    def _names(names, prefix, n, what) -> list[str]:
        if names is None:
            return [f"{prefix}{i}" for i in range(n)] if prefix else [""] * n
        if isinstance(names, str):
            names = [names]
        names = [str(s) for s in names]
        if len(names) != n:
            raise ValueError(f"{what} must have one entry per channel ({n}); got {len(names)}: {names}.")
        return names

    # ------------------------------------------------------------------ properties
    @property
    def N(self) -> int:
        """Number of samples."""
        return self.y.shape[0]

    @property
    def nu(self) -> int:
        return self.u.shape[1]

    @property
    def ny(self) -> int:
        return self.y.shape[1]

    @property
    def is_uniform(self) -> bool:
        """True for uniformly sampled data (``dt`` set)."""
        return self.dt is not None

    @property
    def t(self) -> np.ndarray:
        """Sample times, shape (N,)."""
        if self._t is not None:
            return self._t
        return self.t0 + self.dt * np.arange(self.N)

    def __len__(self) -> int:
        return self.N

    def __repr__(self) -> str:
        base = f"dt={self.dt:g}" if self.dt is not None else "irregular t"
        label = f"{self.name!r}, " if self.name else ""
        return f"IOData({label}N={self.N}, nu={self.nu}, ny={self.ny}, {base})"

    def _meta(self) -> dict:
        return dict(input_names=self.input_names, output_names=self.output_names,
                    input_units=self.input_units, output_units=self.output_units, name=self.name)

    def __getitem__(self, key) -> "IOData":
        """Slice by sample (``d[100:200]``); metadata is kept."""
        if not isinstance(key, slice):
            raise TypeError(f"IOData can only be sliced by sample with a slice (d[a:b]); got {type(key).__name__}.")
        idx = np.arange(self.N)[key]
        if idx.size == 0:
            raise ValueError(f"the slice {key} selects no samples of a record of length {self.N}.")
        if self.dt is not None:
            step = key.step or 1
            if step < 0:
                raise ValueError("IOData slices must go forward in time (positive step).")
            return IOData(self.u[key], self.y[key], dt=self.dt * step, t0=float(self.t[idx[0]]), **self._meta())
        return IOData(self.u[key], self.y[key], t=self._t[key], **self._meta())

    def split(self, at: Union[float, int]) -> tuple["IOData", "IOData"]:
        """Chronological split into (first, second).

        Parameters
        ----------
        at : float in (0, 1) or int
            A fraction of the samples, or the sample index where the second part starts.
        """
        if isinstance(at, (bool, np.bool_)):
            raise TypeError(f"split expects a fraction in (0, 1) or an integer index; got {at!r}.")
        if isinstance(at, (int, np.integer)):
            k = int(at)
        elif isinstance(at, (float, np.floating)):
            if not 0 < at < 1:
                raise ValueError(f"a split fraction must be in (0, 1); got {at}. "
                                 "For a sample index pass an int.")
            k = int(round(float(at) * self.N))
        else:
            raise TypeError(f"split expects a fraction in (0, 1) or an integer index; got {at!r}.")
        if not 0 < k < self.N:
            raise ValueError(f"the split index must leave samples on both sides (0 < k < {self.N}); got {k}.")
        return self[:k], self[k:]

    def with_data(self, u=None, y=None) -> "IOData":
        """A copy with u and/or y replaced (same times and metadata)."""
        u = self.u if u is None else u
        y = self.y if y is None else y
        if self.dt is not None:
            return IOData(u, y, dt=self.dt, t0=self.t0, **self._meta())
        return IOData(u, y, t=self._t, **self._meta())

    # ------------------------------------------------------------------ CSV
    @classmethod
    def from_csv(cls, path, *, inputs: Sequence[str], outputs: Sequence[str],
                 dt: float | None = None, time: str | None = None, delimiter: str = ",",
                 input_units=None, output_units=None) -> "IOData":
        """Read columns of a CSV file with a header row.

        Parameters
        ----------
        path : path-like
        inputs, outputs : list of str
            Column names of the inputs and outputs (``inputs=[]`` for none).
        dt : float, optional
            Sampling period; or give ``time``, the name of a time column.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no CSV file at {path!r}.")
        with open(path, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = [h.strip().strip('"') for h in next(reader)]
            rows = [r for r in reader if any(c.strip() for c in r)]
        wanted = list(inputs) + list(outputs) + ([time] if time else [])
        missing = [c for c in wanted if c not in header]
        if missing:
            raise ValueError(f"columns {missing} are not in {path!r}; its columns are {header}.")

        def column(name):
            j = header.index(name)
            vals = []
            for i, r in enumerate(rows):
                cell = r[j].strip() if j < len(r) else ""
                try:
                    vals.append(float(cell))
                except ValueError:
                    raise ValueError(f"{path!r}: column {name!r}, data row {i}: {cell!r} is not a number.") from None
            return np.array(vals)

        u = np.column_stack([column(c) for c in inputs]) if inputs else None
        y = np.column_stack([column(c) for c in outputs])
        t = column(time) if time else None
        return cls(u, y, dt=dt, t=t, input_names=list(inputs), output_names=list(outputs),
                   input_units=input_units, output_units=output_units,
                   name=os.path.basename(path))

    def to_csv(self, path) -> None:
        """Write a CSV file with a ``time`` column, the inputs and the outputs."""
        header = ["time", *self.input_names, *self.output_names]
        table = np.column_stack([self.t, self.u, self.y])
        with open(os.fspath(path), "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for row in table:
                w.writerow([repr(float(v)) for v in row])


def as_experiments(data, *, name: str = "data") -> list[IOData]:
    """Normalize ``data`` to a non-empty list of :class:`IOData` with equal channel counts.

    Accepts one IOData, or a list/tuple of them (several experiments, lengths may differ).
    """
    if isinstance(data, IOData):
        return [data]
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            raise ValueError(f"{name} is an empty list; give at least one IOData experiment.")
        bad = [type(d).__name__ for d in data if not isinstance(d, IOData)]
        if bad:
            raise TypeError(f"{name} must be IOData or a list of IOData; the list holds {bad}.")
        nu, ny = data[0].nu, data[0].ny
        for k, d in enumerate(data):
            if (d.nu, d.ny) != (nu, ny):
                raise ValueError(
                    f"all experiments in {name} must have the same channels; experiment 0 has "
                    f"(nu, ny) = ({nu}, {ny}), experiment {k} has ({d.nu}, {d.ny})."
                )
        return list(data)
    raise TypeError(
        f"{name} must be an IOData (or a list of IOData); got {type(data).__name__}. "
        "Wrap arrays with sysid.IOData(u, y, dt=...)."
    )
