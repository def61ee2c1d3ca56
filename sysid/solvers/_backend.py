"""A tiny array backend shim so that one solver implementation serves numpy and torch.

numpy arrays never cause torch to be imported: the torch branch is chosen only when the
array already is a ``torch.Tensor`` (so torch is loaded anyway).
"""

from __future__ import annotations

import numpy as np

__all__ = ["backend_of", "Backend"]


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


class Backend:
    """Row-batched linear algebra on arrays of shape (B, n)."""

    name = "numpy"

    def __init__(self, ref):
        self.dtype = ref.dtype
        self.eps = float(np.finfo(ref.dtype).eps) if np.issubdtype(ref.dtype, np.floating) else 2.2e-16

    def asarray(self, x):
        return np.asarray(x)

    def norm(self, X):  # (B, n) -> (B,)
        return np.linalg.norm(X, axis=1)

    def to_floats(self, v) -> np.ndarray:
        return np.asarray(v, dtype=float)

    def all_finite(self, X) -> bool:
        return bool(np.all(np.isfinite(X)))

    def stack(self, seq, axis):
        return np.stack(seq, axis=axis)

    def eye(self, m, B):
        return np.broadcast_to(np.eye(m, dtype=self.dtype), (B, m, m))

    def solve(self, M, b):  # (B, m, m), (B, m) -> (B, m)
        return np.linalg.solve(M, b[..., None])[..., 0]

    def transpose(self, M):
        return np.swapaxes(M, -1, -2)

    def where(self, mask, a, b):  # mask (B,), a/b (B, n)
        return np.where(mask[:, None], a, b)

    def zeros_like(self, X):
        return np.zeros_like(X)

    def sumsq(self, M):  # (B, n, p) -> (B,)
        return np.sum(M * M, axis=(1, 2))

    def no_grad(self):
        # non-finite iterates are detected and reported; numpy's overflow warnings would only duplicate that
        return np.errstate(all="ignore")


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, ref):
        import torch

        self.torch = torch
        self.dtype = ref.dtype
        self.device = ref.device
        self.eps = float(torch.finfo(ref.dtype).eps)

    def asarray(self, x):
        return x

    def norm(self, X):
        return self.torch.linalg.vector_norm(X, dim=1)

    def to_floats(self, v) -> np.ndarray:
        return v.detach().cpu().double().numpy()

    def all_finite(self, X) -> bool:
        return bool(self.torch.isfinite(X).all())

    def stack(self, seq, axis):
        return self.torch.stack(list(seq), dim=axis)

    def eye(self, m, B):
        return self.torch.eye(m, dtype=self.dtype, device=self.device).expand(B, m, m)

    def solve(self, M, b):
        return self.torch.linalg.solve(M, b.unsqueeze(-1)).squeeze(-1)

    def transpose(self, M):
        return M.transpose(-1, -2)

    def where(self, mask, a, b):
        return self.torch.where(mask[:, None], a, b)

    def zeros_like(self, X):
        return self.torch.zeros_like(X)

    def sumsq(self, M):
        return (M * M).sum(dim=(1, 2))

    def no_grad(self):
        return self.torch.no_grad()


def backend_of(x) -> Backend:
    return TorchBackend(x) if _is_torch(x) else Backend(np.asarray(x))
