"""Irregularly sampled records: a random subset of a regular record, and padded batches with masks.

Studies of irregular sampling start from a record on a fine grid and keep a random subset of its
samples (:func:`irregular_subset`); models that read several records at once take them as one
:class:`IrregularBatch` — records of different lengths and sample times, padded to a common
length, with a 0/1 mask of the observed channels (:func:`batch_records`). numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.iodata import IOData, as_real_array

__all__ = ["irregular_subset", "IrregularBatch", "batch_records"]


def _check_seed(seed) -> None:
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed must be an int >= 0 or None; got {seed!r}.")


def irregular_subset(data, keep: float = 0.4, *, seed: int | None = None, keep_first: bool = True,
                     return_index: bool = False):
    """An irregularly sampled record made of a random subset of the samples of ``data``.

    The kept samples are copied exactly (values, inputs and times); the result carries the
    time vector ``t`` of the kept samples.

    Parameters
    ----------
    data : IOData or list of IOData
        Records (regular or not) with at least 2 samples each.
    keep : float in (0, 1]
        Fraction of the samples kept (at least 2 per record).
    seed : int, optional
        Seed of the random choice (each record of a list gets its own draw from one generator).
    keep_first : bool
        Always keep the first sample (the initial state is observed).
    return_index : bool
        Also return the kept sample indices (one array per record).

    Returns
    -------
    IOData (or list of IOData), and the indices (N_kept,) when ``return_index``.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import IOData
    >>> from sysid.datasets import irregular_subset
    >>> d = IOData(None, np.sin(np.linspace(0, 5, 101)), dt=0.05)
    >>> s, idx = irregular_subset(d, keep=0.3, seed=0, return_index=True)
    >>> s.N, bool(np.all(s.y[:, 0] == d.y[idx, 0])), s.is_uniform
    (30, True, False)
    """
    if isinstance(keep, (bool, np.bool_)) or not isinstance(keep, (int, float, np.integer, np.floating)) \
            or not 0 < keep <= 1:
        raise ValueError(f"keep must be the fraction of samples kept, a number in (0, 1]; got {keep!r}.")
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    single = isinstance(data, IOData)
    records = [data] if single else data
    if not isinstance(records, (list, tuple)) or not records or not all(isinstance(d, IOData) for d in records):
        raise TypeError(f"irregular_subset needs an IOData or a non-empty list of IOData; got {type(data).__name__}.")
    out, index = [], []
    for k, d in enumerate(records):
        if d.N < 2:
            raise ValueError(f"record {k} has {d.N} sample; an irregular subset needs records of at least 2 samples.")
        n = max(2, int(round(keep * d.N)))
        if keep_first:
            idx = np.concatenate([[0], 1 + rng.choice(d.N - 1, size=n - 1, replace=False)])
        else:
            idx = rng.choice(d.N, size=n, replace=False)
        idx = np.sort(idx)
        out.append(IOData(d.u[idx], d.y[idx], t=d.t[idx], input_names=d.input_names, output_names=d.output_names,
                          input_units=d.input_units, output_units=d.output_units, name=d.name))
        index.append(idx)
    res = out[0] if single else out
    if return_index:
        return res, (index[0] if single else index)
    return res


@dataclass
class IrregularBatch:
    """Records of different lengths and sample times, padded to one length T, with masks.

    Attributes
    ----------
    t : ndarray, shape (B, T)
        Sample times; after the end of a record its last time is repeated (intervals 0).
    u : ndarray, shape (B, T, nu)
    y : ndarray, shape (B, T, ny)
        Zero where not observed.
    mask : ndarray, shape (B, T, ny)
        1.0 where a channel is observed, 0.0 elsewhere (and on padding).
    valid : ndarray of bool, shape (B, T)
        True on the samples of a record (False on padding).
    """

    t: np.ndarray
    u: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    valid: np.ndarray

    @property
    def dt(self) -> np.ndarray:
        """Sample intervals, shape (B, T − 1) (0 on padding)."""
        return np.diff(self.t, axis=1)

    @property
    def lengths(self) -> np.ndarray:
        """Samples of each record, shape (B,)."""
        return self.valid.sum(axis=1)

    def __len__(self) -> int:
        return self.t.shape[0]


def _record(r, k):
    """(t, u, y, mask) of one record given as IOData or (t, y) / (t, u, y) arrays."""
    if isinstance(r, IOData):
        return r.t, r.u, r.y, None
    if not isinstance(r, (tuple, list)) or len(r) not in (2, 3):
        raise TypeError(f"record {k} must be an IOData or a tuple (t, y) or (t, u, y); got {type(r).__name__}.")
    t = as_real_array(r[0], f"t of record {k}")
    y = as_real_array(r[-1], f"y of record {k}")
    y = y[:, None] if y.ndim == 1 else y
    u = np.zeros((len(y), 0)) if len(r) == 2 else as_real_array(r[1], f"u of record {k}")
    u = u[:, None] if u.ndim == 1 else u
    if t.ndim != 1 or y.ndim != 2 or u.ndim != 2 or not (len(t) == len(y) == len(u)):
        raise ValueError(f"record {k} must have t (N,), u (N, nu), y (N, ny) with one N; got t {t.shape}, "
                         f"u {u.shape}, y {y.shape}.")
    if not np.all(np.isfinite(u)):
        raise ValueError(f"u of record {k} contains NaN or inf at rows {np.flatnonzero(~np.isfinite(u).all(1))[:10]}; "
                         "inputs must be known at every sample time.")
    return t, u, y, ~np.isnan(y)


def batch_records(data, *, masks=None, grid: str = "own") -> IrregularBatch:
    """One :class:`IrregularBatch` from records of different lengths and sample times.

    Parameters
    ----------
    data : IOData, or list of IOData or of tuples (t (N,), y (N, ny)) / (t, u (N, nu), y)
        The records. In tuples, NaN in y marks a channel that is not observed at that time.
    masks : list of array_like, each (N, ny), optional
        1 (or True) where a channel is observed; default: every channel at every sample (and
        not where y is NaN).
    grid : {"own", "union"}
        ``"own"``: each record keeps its own times, padded at the end to the longest;
        ``"union"``: all records on the sorted union of their times, masked where a record has
        no sample (the layout of the latent-ODE paper; inputs are held from the last sample).

    Raises
    ------
    ValueError
        Non-increasing or non-finite times, NaN where a channel is said to be observed, a
        record of one sample, a record whose mask observes nothing.
    """
    if grid not in ("own", "union"):
        raise ValueError(f"grid must be 'own' or 'union'; got {grid!r}.")
    records = [data] if isinstance(data, (IOData,)) else list(data) if isinstance(data, (list, tuple)) else None
    if not records:
        raise TypeError("batch_records needs an IOData or a non-empty list of records (IOData or (t, u, y) tuples).")
    if isinstance(data, tuple) and len(data) in (2, 3) and not isinstance(data[0], (IOData, tuple, list)):
        records = [data]  # one (t, y) / (t, u, y) tuple
    if masks is not None and len(masks) != len(records):
        raise ValueError(f"masks must give one (N, ny) array per record ({len(records)}); got {len(masks)}.")
    parts = []
    for k, r in enumerate(records):
        t, u, y, m = _record(r, k)
        N, ny = y.shape
        if N < 2:
            raise ValueError(f"record {k} has {N} sample; irregular models need records of at least 2 samples "
                             "(one interval). Drop it or merge it with another record.")
        if not np.all(np.isfinite(t)):
            raise ValueError(f"the times of record {k} contain NaN or inf at rows {np.flatnonzero(~np.isfinite(t))[:10]}.")
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"the times of record {k} must be strictly increasing; they do not increase after rows "
                             f"{np.flatnonzero(np.diff(t) <= 0)[:10].tolist()}. Sort the samples by time and merge "
                             "duplicates.")
        if masks is not None:
            mk = as_real_array(masks[k], f"masks[{k}]")
            mk = mk[:, None] if mk.ndim == 1 else mk
            if mk.shape != (N, ny) or not np.all((mk == 0) | (mk == 1)):
                raise ValueError(f"masks[{k}] must be 0/1 with shape (N, ny) = ({N}, {ny}); got shape {mk.shape}"
                                 + ("" if mk.shape != (N, ny) else " with other values") + ".")
            mk = mk.astype(bool)
            bad = mk & ~np.isfinite(y)
            if bad.any():
                raise ValueError(f"y of record {k} is NaN or inf where its mask says observed (rows "
                                 f"{np.flatnonzero(bad.any(1))[:10].tolist()}); set the mask to 0 there.")
            m = mk if m is None else (m & mk)
        elif m is not None and not np.all(np.isfinite(y[m])):
            raise ValueError(f"y of record {k} contains inf; mark missing values with NaN or a mask.")
        m = np.ones((N, ny), bool) if m is None else m
        if not m.any():
            raise ValueError(f"record {k} has no observation (its mask is 0 everywhere); every record needs at least "
                             "one observed value. Drop it from the batch.")
        parts.append((t, u, np.where(m, np.nan_to_num(y), 0.0), m))
    nus, nys = {p[1].shape[1] for p in parts}, {p[2].shape[1] for p in parts}
    if len(nus) > 1 or len(nys) > 1:
        raise ValueError(f"all records must have the same channels; got nu in {sorted(nus)} and ny in {sorted(nys)}.")
    nu, ny = nus.pop(), nys.pop()
    B = len(parts)
    if grid == "union":
        tt = np.unique(np.concatenate([p[0] for p in parts]))
        T = len(tt)
        t_out = np.tile(tt, (B, 1))
        u_out, y_out, m_out = np.zeros((B, T, nu)), np.zeros((B, T, ny)), np.zeros((B, T, ny))
        valid = np.ones((B, T), bool)
        for b, (t, u, y, m) in enumerate(parts):
            pos = np.searchsorted(tt, t)
            y_out[b, pos], m_out[b, pos] = y, m
            held = np.clip(np.searchsorted(t, tt, side="right") - 1, 0, len(t) - 1)
            u_out[b] = u[held]
        return IrregularBatch(t_out, u_out, y_out, m_out, valid)
    T = max(len(p[0]) for p in parts)
    t_out = np.zeros((B, T))
    u_out, y_out, m_out = np.zeros((B, T, nu)), np.zeros((B, T, ny)), np.zeros((B, T, ny))
    valid = np.zeros((B, T), bool)
    for b, (t, u, y, m) in enumerate(parts):
        N = len(t)
        t_out[b, :N], t_out[b, N:] = t, t[-1]
        u_out[b, :N], u_out[b, N:] = u, u[-1]
        y_out[b, :N], m_out[b, :N], valid[b, :N] = y, m, True
    return IrregularBatch(t_out, u_out, y_out, m_out, valid)
