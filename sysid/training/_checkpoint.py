"""Checkpoints: a torch state_dict plus JSON metadata with the SHA-256 of the weights.

Loading uses ``torch.load(..., weights_only=True)`` (no unpickling of arbitrary objects) and
refuses a file whose hash differs from the one recorded.
"""

from __future__ import annotations

import json
import os

import torch

from .._hashing import sha256_file as _sha256

__all__ = ["save_checkpoint", "load_checkpoint"]



def save_checkpoint(module: torch.nn.Module, path, *, metadata: dict | None = None) -> None:
    """Write ``path/weights.pt`` (state_dict) and ``path/meta.json`` (metadata + SHA-256)."""
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    weights = os.path.join(path, "weights.pt")
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, weights)
    meta = {"format": "sysid-checkpoint/1", "weights_sha256": _sha256(weights), "metadata": metadata or {}}
    with open(os.path.join(path, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=2)


def load_checkpoint(module: torch.nn.Module, path) -> dict:
    """Load weights saved by :func:`save_checkpoint` into ``module``; returns the metadata.

    Raises
    ------
    ValueError
        If the weights do not match the recorded SHA-256 (changed or corrupted file).
    """
    path = os.fspath(path)
    weights = os.path.join(path, "weights.pt")
    meta_path = os.path.join(path, "meta.json")
    if not (os.path.isfile(weights) and os.path.isfile(meta_path)):
        raise FileNotFoundError(f"{path!r} is not a sysid checkpoint: expected weights.pt and meta.json inside it.")
    with open(meta_path) as fh:
        meta = json.load(fh)
    digest = _sha256(weights)
    if digest != meta.get("weights_sha256"):
        raise ValueError(f"the weights in {weights!r} do not match the SHA-256 recorded in meta.json; the file was "
                         "changed or corrupted. Refusing to load it.")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    return meta["metadata"]
