"""The estimator contract shared by linear and neural estimators (scikit-learn style).

``__init__`` only stores hyper-parameters; ``fit(data, *, val=None)`` validates, builds,
trains and returns ``self``; fitted state ends in ``_``; using an unfitted estimator
raises :class:`~sysid.NotFittedError`.

Saved models are a folder holding ``meta.json`` (class, hyper-parameters, fitted
metadata, SHA-256 of the weights, and a SHA-256 over all of that) and ``weights.npz``
(arrays only, read with ``allow_pickle=False``) — nothing is unpickled on load, and an edit
of either file is refused. The hashes detect edits and corruption; they are not a
signature (whoever can write the files can recompute them).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import warnings
from typing import Any

import numpy as np

from .._hashing import sha256_file as _sha256
from ..core.iodata import IOData, as_experiments, as_real_array, as_signal
from ..exceptions import NotFittedError

__all__ = ["BaseEstimator", "check_positive", "check_int"]

_FORMAT = "sysid-estimator/2"
_OLD_FORMATS = ("sysid-estimator/1",)  # weights hashed, meta.json not covered: read with a warning


def check_positive(value, name: str, owner: str, *, allow_none: bool = False, strict: bool = True):
    """Raise the scikit-learn style error for a parameter that must be > 0 (or >= 0)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        ok = value > 0 if strict else value >= 0
    if not ok:
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"The {name!r} parameter of {owner} must be {bound}. Got {value!r} instead.")


def check_int(value, name: str, owner: str, *, minimum: int = 1, allow_none: bool = False):
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"The {name!r} parameter of {owner} must be an int >= {minimum}. Got {value!r} instead.")



def _canonical_sha256(doc: dict) -> str:
    """SHA-256 of the canonical JSON of ``doc`` (sorted keys, no whitespace), without its ``sha256``."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _non_finite(arrays: dict[str, np.ndarray]) -> list[str]:
    return [k for k, v in arrays.items()
            if np.asarray(v).dtype.kind in "fc" and not np.all(np.isfinite(np.asarray(v)))]


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class BaseEstimator:
    """Base class of every sysid estimator.

    Subclasses implement ``fit``, ``simulate`` and ``linearize``, and for saving
    ``_state() -> (dict of JSON metadata, dict of arrays)`` and
    ``_set_state(meta, arrays)``.
    """

    # ---------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "BaseEstimator":
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{key!r} is not a parameter of {type(self).__name__}; valid parameters: {valid}.")
            setattr(self, key, value)
        return self

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        """Default of every hyper-parameter (from the ``__init__`` signature)."""
        sig = inspect.signature(cls.__init__)
        return {n: sig.parameters[n].default for n in cls._param_names() if n in sig.parameters}

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        parts = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = default is not inspect.Parameter.empty and bool(default == value)
            except Exception:  # arrays and other objects that do not compare to a bool
                same = False
            if not same:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # ---------------------------------------------------------------- fitted state
    def _is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with training data "
                "before using this method."
            )

    def _check_period(self, data: IOData) -> None:
        """Refuse data sampled at another period than the (discrete-time) model was fitted at."""
        dt = getattr(self, "dt_", None)
        if dt is None or getattr(self, "_irregular_ok", False):
            return
        name = type(self).__name__
        if not data.is_uniform:
            raise ValueError(f"{name} runs at a fixed sampling period (dt = {dt:g}); the data are irregularly "
                             "sampled (IOData with t). Resample them to a uniform grid.")
        if not np.isclose(data.dt, dt, rtol=1e-9):
            raise ValueError(f"{name} was fitted on data sampled at dt = {dt:g}, but these data are sampled at "
                             f"dt = {data.dt:g}; resample the data to dt = {dt:g} or fit the model at dt = {data.dt:g}.")

    def _check_input(self, u) -> np.ndarray:
        """Validate an input signal against the fitted input count; returns (N, nu)."""
        self._check_fitted()
        nu = self.nu_
        if u is None:
            raise ValueError("u must be an array of shape (N, nu); got None. For an autonomous model pass np.zeros((N, 0)).")
        arr = as_real_array(u, "u")
        if arr.ndim == 1 and nu == 1:
            arr = arr[:, None]
        return as_signal(arr, "u", n_channels=nu)

    @staticmethod
    def _experiments(data, name: str = "data") -> list[IOData]:
        return as_experiments(data, name=name)

    # ---------------------------------------------------------------- contract
    def fit(self, data, *, val=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def simulate(self, u, *, x0=None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, data, *, horizon: int, window: int | None = None) -> np.ndarray:
        """``horizon``-step-ahead prediction ŷ(t | t − horizon), shape (N, ny).

        Uses the exact Lur'e form (:meth:`to_lure`). When the state is measured (y = x) it is
        read from the data (``LureSystem.predict``); otherwise it is estimated by moving-horizon
        least squares: for each t the state at a = t − horizon − window + 1 is fitted to the
        samples a … t − horizon (only past data), then the model runs to t. Models without a
        Lur'e form (the LSTM) warm-start each fit from the previous one carried forward. The first samples,
        which have no past window, use the samples available from 0.
        """
        self._check_fitted()
        if not isinstance(data, IOData):
            raise TypeError(f"data must be a sysid.IOData; got {type(data).__name__}.")
        if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1; got {horizon!r}.")
        if horizon >= data.N:
            raise ValueError(
                f"horizon = {horizon} is not shorter than the record (N = {data.N} samples): every sample would be "
                f"predicted without using the measured outputs. Use horizon <= {data.N - 1}, or simulate() for a "
                "free-run simulation."
            )
        try:
            lure = self.to_lure()
        except NotImplementedError:  # e.g. an LSTM: use its own simulation and state estimate
            lure = None
        if lure is not None and not lure.is_continuous:
            try:
                return lure.predict(data, horizon=horizon)
            except ValueError as exc:
                if "needs a state estimate" not in str(exc):
                    raise
        nx = lure.nx if lure is not None else self.module_.nx
        L = window if window is not None else max(2 * nx, 10)
        if not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"window must be an int >= 1; got {window!r}.")
        if lure is not None:
            lure._data(data)
        else:
            self._check_input(data.u)
            self._check_period(data)
        t_all = data.t
        yp = np.empty_like(data.y)
        x_prev, a_prev = None, 0
        for t in range(data.N):
            a = max(0, t - horizon - L + 1)
            b = max(t - horizon + 1, a + 1)
            if lure is None:
                # warm start: the previous window's estimate carried forward to the new window start
                guess = None if x_prev is None else self.burn_in_state(data.u[a_prev:a], x0=x_prev)
                x_prev, a_prev = self.estimate_x0(data[a:b], x_init=guess), a
                yp[t] = self.simulate(data.u[a:t + 1], x0=x_prev)[-1]
                continue
            x_a = lure.estimate_x0(data[a:b])
            seg = lure.simulate(data.u[a:t + 1], x_a, t=t_all[a:t + 1] if lure.is_continuous else None)
            yp[t] = seg[-1]
        return yp

    def linearize(self, *, x0=None, u0=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def to_lure(self):
        raise NotImplementedError(f"{type(self).__name__} has no exact Lur'e form; use linearize().")

    def estimate_x0(self, data: IOData, *, n: int | None = None) -> np.ndarray:
        """Initial state that best explains the first ``n`` samples of ``data`` (least squares)."""
        self._check_fitted()
        return self.to_lure().estimate_x0(data, n=n)

    # ---------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict, dict[str, np.ndarray]]:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} cannot be saved.")

    def _set_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:  # pragma: no cover
        raise NotImplementedError

    def save(self, path) -> None:
        """Save the fitted estimator to the folder ``path`` (created if needed)."""
        self._check_fitted()
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        meta, arrays = self._state()
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        bad = _non_finite(arrays)
        if bad:
            raise ValueError(f"refusing to save {type(self).__name__}: its arrays {bad} hold NaN or inf, so the model "
                             "cannot simulate. Refit it (e.g. with a smaller learning rate or rescaled data).")
        weights = os.path.join(path, "weights.npz")
        np.savez(weights, **arrays)
        doc = {
            "format": _FORMAT,
            "class": type(self).__name__,
            "module": type(self).__module__,
            "params": _jsonable(self.get_params()),
            "state": _jsonable(meta),
            "weights_sha256": _sha256(weights),
        }
        # the round trip through JSON first, so that the hash is taken over what load() will read
        doc = json.loads(json.dumps(doc))
        doc["sha256"] = _canonical_sha256(doc)
        with open(os.path.join(path, "meta.json"), "w") as fh:
            json.dump(doc, fh, indent=2)

    @classmethod
    def load(cls, path) -> "BaseEstimator":
        """Load an estimator saved with :meth:`save`.

        Refuses (one-line ``ValueError``) a ``meta.json`` that is not valid JSON, weights whose
        SHA-256 differs from the one recorded, a ``meta.json`` whose content (class,
        hyper-parameters, fitted metadata such as ``dt``) differs from its own SHA-256, and
        weights holding NaN or inf. Files of the previous format (``sysid-estimator/1``, whose
        hash covers the weights only) are read with a ``UserWarning``; save them again.
        """
        path = os.fspath(path)
        meta_path = os.path.join(path, "meta.json")
        weights = os.path.join(path, "weights.npz")
        if not os.path.isfile(meta_path) or not os.path.isfile(weights):
            raise FileNotFoundError(f"{path!r} is not a saved sysid model: expected meta.json and weights.npz inside it.")
        try:
            with open(meta_path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise ValueError(f"{meta_path!r} is not valid JSON{where}: the file is truncated, empty or corrupted. "
                             "Refusing to load it; save the model again.") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{meta_path!r} holds a JSON {type(doc).__name__}, not the object sysid writes. "
                             "Refusing to load it; save the model again.")
        fmt = doc.get("format")
        if fmt not in (_FORMAT, *_OLD_FORMATS):
            raise ValueError(f"{meta_path!r} has format {fmt!r}; this version of sysid reads {_FORMAT!r} "
                             f"(and {', '.join(map(repr, _OLD_FORMATS))}).")
        missing = [k for k in ("class", "module", "params", "state", "weights_sha256") if k not in doc]
        if missing:
            raise ValueError(f"{meta_path!r} lacks the entries {missing}. Refusing to load it; save the model again.")
        digest = _sha256(weights)
        if digest != doc.get("weights_sha256"):
            raise ValueError(
                f"the weights in {weights!r} do not match the SHA-256 recorded in meta.json "
                f"({digest[:12]}... != {str(doc.get('weights_sha256'))[:12]}...); the file was changed "
                "or corrupted. Refusing to load it."
            )
        if fmt == _FORMAT:
            recorded, actual = str(doc.get("sha256")), _canonical_sha256(doc)
            if recorded != actual:
                raise ValueError(
                    f"{meta_path!r} was edited after saving: its content does not match its SHA-256 "
                    f"({actual[:12]}... != {recorded[:12]}...), and fitted metadata such as dt or nx change "
                    "the model's outputs. Refusing to load it; save the model again from its source."
                )
        else:
            warnings.warn(f"{meta_path!r} has the old format {fmt!r}, whose SHA-256 covers the weights but not "
                          "meta.json (an edit of dt, nx, ... would go unnoticed); save the model again to "
                          f"upgrade it to {_FORMAT!r}.", UserWarning, stacklevel=2)
        target = cls
        if cls is BaseEstimator or cls.__name__ != doc["class"]:
            if not doc["module"].startswith("sysid."):
                raise ValueError(f"refusing to load class {doc['class']!r} from module {doc['module']!r} (not part of sysid).")
            target = getattr(importlib.import_module(doc["module"]), doc["class"])
            if not (isinstance(target, type) and issubclass(target, BaseEstimator)):
                raise ValueError(f"{doc['class']!r} is not a sysid estimator.")
            if cls is not BaseEstimator and not issubclass(target, cls):
                raise ValueError(f"{path!r} holds a {doc['class']}, not a {cls.__name__}.")
        with np.load(weights, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        bad = _non_finite(arrays)
        if bad:
            raise ValueError(f"the weights in {weights!r} hold NaN or inf (arrays {bad}); a model with them cannot "
                             "simulate. Refusing to load it; refit the model.")
        est = target(**doc["params"])
        est._set_state(doc["state"], arrays)
        return est
