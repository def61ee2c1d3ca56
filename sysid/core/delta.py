"""Static elementwise nonlinearities Δ with their derivative and slope bounds [α, β].

Every Δ here is slope-restricted: α ≤ (Δ(a) − Δ(b)) / (a − b) ≤ β for all a ≠ b.
The certificates of :mod:`sysid.certify` read ``alpha`` and ``beta``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Nonlinearity", "Tanh", "ReLU", "Identity", "LeakyReLU", "Sigmoid", "ZMinusSin",
    "from_dict", "get",
]


class Nonlinearity:
    """Base class: an elementwise map with derivative and slope bounds.

    Attributes
    ----------
    name : str
    alpha, beta : float
        Slope bounds, α ≤ slope ≤ β.
    """

    name = "nonlinearity"
    alpha = 0.0
    beta = 1.0

    def __call__(self, v: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, v: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def slope_bounds(self) -> tuple[float, float]:
        return (float(self.alpha), float(self.beta))

    def to_dict(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return isinstance(other, Nonlinearity) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_dict().items())))


class Tanh(Nonlinearity):
    """Δ(v) = tanh(v), slopes in [0, 1]."""

    name, alpha, beta = "tanh", 0.0, 1.0

    def __call__(self, v):
        return np.tanh(v)

    def derivative(self, v):
        return 1.0 - np.tanh(v) ** 2


class ReLU(Nonlinearity):
    """Δ(v) = max(v, 0), slopes in [0, 1]; derivative 0 at v = 0 (one-sided, from the left)."""

    name, alpha, beta = "relu", 0.0, 1.0

    def __call__(self, v):
        return np.maximum(v, 0.0)

    def derivative(self, v):
        return (np.asarray(v) > 0).astype(float)


class Identity(Nonlinearity):
    """Δ(v) = v, slopes in [1, 1] (the Lur'e system is then linear)."""

    name, alpha, beta = "identity", 1.0, 1.0

    def __call__(self, v):
        return np.array(v, dtype=float, copy=True)

    def derivative(self, v):
        return np.ones_like(np.asarray(v, dtype=float))


class LeakyReLU(Nonlinearity):
    """Δ(v) = v for v > 0, s·v otherwise; slopes in [min(s, 1), max(s, 1)]."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        s = float(negative_slope)
        if not np.isfinite(s):
            raise ValueError(f"negative_slope must be finite; got {negative_slope}.")
        self.negative_slope = s
        self.alpha, self.beta = min(s, 1.0), max(s, 1.0)

    def __call__(self, v):
        v = np.asarray(v, dtype=float)
        return np.where(v > 0, v, self.negative_slope * v)

    def derivative(self, v):
        return np.where(np.asarray(v) > 0, 1.0, self.negative_slope)

    def to_dict(self):
        return {"name": self.name, "negative_slope": self.negative_slope}

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Sigmoid(Nonlinearity):
    """Δ(v) = 1 / (1 + e^{−v}), slopes in [0, 1/4]."""

    name, alpha, beta = "sigmoid", 0.0, 0.25

    def __call__(self, v):
        return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(v, dtype=float)))

    def derivative(self, v):
        s = self(v)
        return s * (1.0 - s)


class ZMinusSin(Nonlinearity):
    """Δ(z) = z − sin z, the pendulum's nonlinearity; slopes 1 − cos z ∈ [0, 2]."""

    name, alpha, beta = "z_minus_sin", 0.0, 2.0

    def __call__(self, v):
        v = np.asarray(v, dtype=float)
        return v - np.sin(v)

    def derivative(self, v):
        return 1.0 - np.cos(np.asarray(v, dtype=float))


_REGISTRY = {cls.name: cls for cls in (Tanh, ReLU, Identity, LeakyReLU, Sigmoid, ZMinusSin)}


def from_dict(spec: dict) -> Nonlinearity:
    """Rebuild a nonlinearity from :meth:`Nonlinearity.to_dict` (used by save/load)."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in _REGISTRY:
        raise ValueError(f"unknown nonlinearity {name!r}; known: {sorted(_REGISTRY)}.")
    return _REGISTRY[name](**spec)


def get(spec) -> Nonlinearity:
    """A nonlinearity from an instance, a name (``"tanh"``) or a dict."""
    if isinstance(spec, Nonlinearity):
        return spec
    if isinstance(spec, str):
        return from_dict({"name": spec})
    if isinstance(spec, dict):
        return from_dict(spec)
    raise TypeError(f"delta must be a sysid.delta.Nonlinearity, a name in {sorted(_REGISTRY)} or a dict; got {spec!r}.")
