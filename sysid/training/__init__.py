"""One training loop for every torch model (importing this imports torch).

``train(module, windows, TrainConfig(...), val=...)`` fits any module with
``forward(u (B, T, nu), x0 (B, nx)) -> y (B, T, ny)``; ``make_windows`` cuts records into
simulation, truncated-simulation (multiple shooting) or k-step windows with zero, measured or
fitted initial states; checkpoints carry a SHA-256 of the weights. See docs/training.md.
"""

from ._checkpoint import load_checkpoint, save_checkpoint
from ._engine import TrainConfig, TrainResult, Windows, make_windows, train

__all__ = ["TrainConfig", "TrainResult", "Windows", "make_windows", "train", "save_checkpoint", "load_checkpoint"]
