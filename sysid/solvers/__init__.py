"""Fixed-point solvers (numpy and torch, no model knowledge).

* :func:`picard`, :func:`anderson`, :func:`broyden` — x = f(x) for numpy arrays or torch
  tensors (a batch along axis 0 when ``x0.ndim >= 2``), with ``atol``/``rtol``, a
  :class:`FixedPointResult` (fixed point, iterations, residual trace) and a
  :class:`~sysid.ConvergenceError` carrying ``.residual`` and ``.iterations`` on failure
  (or a result with ``converged=False`` when ``raise_on_failure=False``);
* :class:`Picard`, :class:`Anderson`, :class:`Broyden` — the same as solver objects;
* :func:`newton` — Newton on x − f(x) with a Jacobian (numpy, one vector);
* :func:`monotone_solve` — forward–backward / Peaceman–Rachford splitting for monotone
  equilibrium layers z = σ(Wz + h) (monDEQ), plain or accelerated.

Importing this subpackage does not import torch; torch is used only when the arrays given
are tensors. See docs/math.md §2.3 and §7.
"""

from ._fixed_point import (Anderson, Broyden, FixedPointResult, Picard, anderson, broyden, convergence_error,
                           newton, picard)
from ._splitting import (fb_step_bound, forward_backward_map, monotone_margin, monotone_solve,
                         peaceman_rachford_map, prox)

__all__ = ["FixedPointResult", "picard", "anderson", "broyden", "newton", "Picard", "Anderson", "Broyden",
           "convergence_error", "monotone_solve", "forward_backward_map", "peaceman_rachford_map", "prox",
           "fb_step_bound", "monotone_margin"]
