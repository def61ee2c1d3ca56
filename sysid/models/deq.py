"""Deep equilibrium (DEQ) and monotone-operator equilibrium (monDEQ) layers in torch.

    z* = σ(W z* + U x + b),      x: (B, d) → z*: (B, n)

The forward pass solves the fixed point with a solver of :mod:`sysid.solvers` (no autograd
graph); the backward pass is either

* :class:`IFT` — implicit-function-theorem gradient: the adjoint fixed point
  y = ḡ + J_fᵀ y at z* (solved with the same solvers, or exactly by a linear solve), then
  autograd through one tracked application of f gives (∂f/∂θ)ᵀ y (docs/math.md §2.2);
* :class:`Phantom` — the phantom gradient: k damped steps z ← (1 − λ) z + λ f(z) unrolled
  from z* (an approximation; k = 1, λ = 1 is the Jacobian-free gradient).

The weight W comes from a parameterization object: :class:`FreeWeight` (unconstrained),
:class:`ContractiveWeight` (‖W‖₂ ≤ γ < 1: plain iteration is a contraction) or
:class:`MonotoneWeight` (W = (1 − m)I − AᵀA + S − Sᵀ, so sym(I − W) ⪰ mI for every A, S:
well posed for every parameter value, solved by operator splitting). Each accepts a
low-rank (LoRA) correction of rank r, scale 0.1, placed where it keeps the guarantee.

References
----------
S. Bai, J. Z. Kolter, V. Koltun, "Deep equilibrium models", NeurIPS 2019.
E. Winston, J. Z. Kolter, "Monotone operator equilibrium networks", NeurIPS 2020.
Z. Geng et al., "On training implicit models", NeurIPS 2021 (phantom gradients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..solvers import Anderson, FixedPointResult, Picard, monotone_solve

__all__ = ["IFT", "Phantom", "deq_fixed_point", "FreeWeight", "ContractiveWeight", "MonotoneWeight",
           "DEQModule", "MonDEQModule", "SIGMAS"]

SIGMAS: dict[str, tuple[Callable, Callable]] = {
    "tanh": (torch.tanh, lambda v: 1 - torch.tanh(v) ** 2),
    "relu": (torch.relu, lambda v: (v > 0).to(v.dtype)),
}
LORA_SCALE = 0.1


# ---------------------------------------------------------------------- backward strategies
@dataclass(frozen=True)
class IFT:
    """Implicit-function-theorem backward.

    Parameters
    ----------
    solver : callable, optional
        Solver object for the adjoint fixed point y = ḡ + J_fᵀ y (default: the forward solver).
    direct : bool
        Solve (I − J_fᵀ) y = ḡ exactly with a batched linear solve instead (needs J_f as a
        matrix: layers of the form σ(Wz + h)); use it when the plain adjoint iteration need
        not converge (monotone W).
    """

    solver: Callable | None = None
    direct: bool = False


@dataclass(frozen=True)
class Phantom:
    """Phantom gradient: ``steps`` damped iterations unrolled from the fixed point."""

    steps: int = 5
    damping: float = 0.5

    def __post_init__(self):
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"Phantom steps must be an int >= 1; got {self.steps!r}.")
        if not 0 < self.damping <= 1:
            raise ValueError(f"Phantom damping must be in (0, 1]; got {self.damping!r}.")


def deq_fixed_point(f: Callable, z0: torch.Tensor, *, solver: Callable, backward=IFT(),
                    forward_solve: Callable | None = None, jacobian: Callable | None = None
                    ) -> tuple[torch.Tensor, FixedPointResult]:
    """Differentiable fixed point z* = f(z*) of a torch map.

    Parameters
    ----------
    f : callable, (B, n) -> (B, n)
        The map; depends on parameters (and inputs) through its closure.
    z0 : Tensor, shape (B, n)
        Starting point.
    solver : callable
        Forward solver object (e.g. ``Anderson(m=5)``).
    backward : IFT or Phantom
    forward_solve : callable, optional
        ``() -> FixedPointResult`` replacing the forward solve (e.g. an operator splitting);
        ``f`` is still the map whose fixed point that is.
    jacobian : callable, optional
        ``z -> J`` of shape (B, n, n), for ``IFT(direct=True)``.

    Returns
    -------
    z : Tensor, shape (B, n)
        The fixed point, attached to the autograd graph per ``backward``.
    result : FixedPointResult
        Iterations and residual trace of the forward solve.
    """
    with torch.no_grad():
        res = forward_solve() if forward_solve is not None else solver(f, z0.detach())
    z_star = res.x.detach()
    if not torch.is_grad_enabled():
        return z_star, res
    if isinstance(backward, Phantom):
        z = z_star
        for _ in range(backward.steps):
            z = (1 - backward.damping) * z + backward.damping * f(z)
        return z, res
    if not isinstance(backward, IFT):
        raise TypeError(f"backward must be sysid.models.deq.IFT() or Phantom(); got {backward!r}.")
    z_out = f(z_star)  # one tracked application: carries ∂f/∂θ; value = f(z*) ≈ z*
    if not z_out.requires_grad:
        return z_out, res
    if backward.direct:
        if jacobian is None:
            raise ValueError("IFT(direct=True) needs the layer's Jacobian; this layer gives none: use IFT().")
        J = jacobian(z_star).detach()
        eye = torch.eye(J.shape[-1], dtype=J.dtype, device=J.device)

        def hook(grad):
            if grad is None:
                return None
            return torch.linalg.solve(eye - J.transpose(-1, -2), grad.unsqueeze(-1)).squeeze(-1)
    else:
        adjoint_solver = backward.solver or solver
        z_in = z_star.clone().requires_grad_(True)
        with torch.enable_grad():
            f_in = f(z_in)

        def hook(grad):
            if grad is None:
                return None

            def adjoint_map(y):
                with torch.enable_grad():
                    (vjp,) = torch.autograd.grad(f_in, z_in, y, retain_graph=True)
                return vjp + grad
            return adjoint_solver(adjoint_map, grad.detach()).x

    z_out.register_hook(hook)
    return z_out, res


# ---------------------------------------------------------------------- weight parameterizations
class _Weight(nn.Module):
    def __init__(self, n: int, lora_rank: int, dtype, generator):
        super().__init__()
        if lora_rank < 0:
            raise ValueError(f"lora_rank must be an int >= 0; got {lora_rank!r}.")
        self.n, self.lora_rank = n, lora_rank
        if lora_rank:
            # LoRA: P random, Q zero, so the correction starts at 0 and is learned
            self.P = nn.Parameter(torch.randn(n, lora_rank, dtype=dtype, generator=generator) / np.sqrt(n))
            self.Q = nn.Parameter(torch.zeros(n, lora_rank, dtype=dtype))

    def lora(self) -> torch.Tensor | float:
        return LORA_SCALE * self.P @ self.Q.T if self.lora_rank else 0.0


class FreeWeight(_Weight):
    """Unconstrained W = V (+ 0.1 P Qᵀ); no well-posedness guarantee."""

    monotone = False

    def __init__(self, n: int, *, scale: float = 0.5, lora_rank: int = 0, dtype=torch.float64, generator=None):
        super().__init__(n, lora_rank, dtype, generator)
        self.V = nn.Parameter(scale * torch.randn(n, n, dtype=dtype, generator=generator) / np.sqrt(n))

    def forward(self) -> torch.Tensor:
        return self.V + self.lora()


class ContractiveWeight(_Weight):
    """W = γ M / max(1, ‖M‖₂), M = V + 0.1 P Qᵀ: ‖W‖₂ ≤ γ < 1 for every parameter value.

    With a 1-Lipschitz σ the plain iteration is a contraction (rate γ), and sym(I − W) ⪰
    (1 − γ) I, so the layer is also monotone (well posed, certified by
    :func:`sysid.certify.well_posedness` with Λ = I).
    """

    monotone = True

    def __init__(self, n: int, *, gamma: float = 0.9, scale: float = 0.5, lora_rank: int = 0, dtype=torch.float64,
                 generator=None):
        super().__init__(n, lora_rank, dtype, generator)
        if not 0 < gamma < 1:
            raise ValueError(f"gamma (the contraction bound of W) must be in (0, 1); got {gamma!r}.")
        self.gamma = float(gamma)
        self.V = nn.Parameter(scale * torch.randn(n, n, dtype=dtype, generator=generator) / np.sqrt(n))

    def forward(self) -> torch.Tensor:
        M = self.V + self.lora()
        norm = torch.linalg.matrix_norm(M, ord=2)
        return self.gamma * M / torch.clamp(norm, min=1.0)

    @property
    def m(self) -> float:
        return 1.0 - self.gamma


class MonotoneWeight(_Weight):
    """monDEQ: W = (1 − m) I − AᵀA + S − Sᵀ, S = B + 0.1 P Qᵀ; sym(I − W) = mI + AᵀA ⪰ mI.

    The LoRA correction enters the skew part, so every parameter value stays monotone.
    """

    monotone = True

    def __init__(self, n: int, *, m: float = 0.1, scale: float = 0.3, lora_rank: int = 0, dtype=torch.float64,
                 generator=None):
        super().__init__(n, lora_rank, dtype, generator)
        if not m > 0:
            raise ValueError(f"m (the monotonicity margin) must be > 0; got {m!r}.")
        self.m = float(m)
        self.A = nn.Parameter(scale * torch.randn(n, n, dtype=dtype, generator=generator) / np.sqrt(n))
        self.B = nn.Parameter(scale * torch.randn(n, n, dtype=dtype, generator=generator) / np.sqrt(n))

    def forward(self) -> torch.Tensor:
        S = self.B + self.lora()
        eye = torch.eye(self.n, dtype=self.A.dtype, device=self.A.device)
        return (1 - self.m) * eye - self.A.T @ self.A + S - S.T


# ---------------------------------------------------------------------- layers
class DEQModule(nn.Module):
    """Equilibrium layer z* = σ(W z* + U x + b), x (B, d) → z* (B, n).

    Parameters
    ----------
    n : int
        Equilibrium (hidden) size.
    d : int
        Input size.
    sigma : {"tanh", "relu"}
    weight : {"free", "contractive", "monotone"} or a weight module
        Parameterization of W (see the module docstring).
    solver : solver object
        Forward solver (``Anderson()`` by default; ``Picard()``, ``Broyden()``). For a
        monotone weight it accelerates the splitting when ``splitting`` is set.
    splitting : {None, "pr", "fb"}
        Solve a monotone layer by Peaceman–Rachford or forward–backward splitting instead of
        the plain map (which need not converge for a monotone W).
    alpha : float, optional
        Splitting step (PR default 1; FB default 0.9 · 2m/L²).
    backward : IFT or Phantom
    lora_rank : int
        Rank of the LoRA correction of W (0: none).
    dtype : torch.dtype
    seed : int, optional

    Attributes
    ----------
    last_result : FixedPointResult
        Iterations and residual trace of the latest forward solve.
    """

    def __init__(self, n: int, d: int, *, sigma: str = "tanh", weight="contractive", solver=None,
                 splitting: str | None = None, alpha: float | None = None, backward=None, lora_rank: int = 0,
                 gamma: float = 0.9, m: float = 0.1, dtype=torch.float64, seed: int | None = None):
        super().__init__()
        if sigma not in SIGMAS:
            raise ValueError(f"sigma must be one of {sorted(SIGMAS)}; got {sigma!r}.")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        if isinstance(weight, str):
            kinds = {"free": lambda: FreeWeight(n, lora_rank=lora_rank, dtype=dtype, generator=gen),
                     "contractive": lambda: ContractiveWeight(n, gamma=gamma, lora_rank=lora_rank, dtype=dtype,
                                                              generator=gen),
                     "monotone": lambda: MonotoneWeight(n, m=m, lora_rank=lora_rank, dtype=dtype, generator=gen)}
            if weight not in kinds:
                raise ValueError(f"weight must be one of {sorted(kinds)} or a weight module; got {weight!r}.")
            weight = kinds[weight]()
        if splitting not in (None, "pr", "fb"):
            raise ValueError(f"splitting must be None, 'pr' or 'fb'; got {splitting!r}.")
        if splitting is not None and not getattr(weight, "monotone", False):
            raise ValueError("operator splitting needs a monotone weight (weight='monotone' or 'contractive').")
        self.n, self.d, self.sigma = n, d, sigma
        self.weight = weight
        self.U = nn.Parameter(torch.randn(n, d, dtype=dtype, generator=gen) / np.sqrt(max(d, 1)))
        self.b = nn.Parameter(torch.zeros(n, dtype=dtype))
        self.solver = solver if solver is not None else Anderson(m=5, atol=1e-8, rtol=1e-8, max_iter=200)
        self.splitting, self.alpha = splitting, alpha
        self.backward_mode = backward if backward is not None else IFT(direct=splitting is not None)
        self.last_result: FixedPointResult | None = None

    def W(self) -> torch.Tensor:
        """The weight matrix, shape (n, n)."""
        return self.weight()

    def injection(self, x: torch.Tensor) -> torch.Tensor:
        """h = U x + b, shape (B, n)."""
        return x @ self.U.T + self.b

    def forward(self, x: torch.Tensor, z0: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (B, d) = (B, {self.d}); got {tuple(x.shape)}.")
        W = self.W()
        h = self.injection(x)
        act, dact = SIGMAS[self.sigma]

        def f(z):
            return act(z @ W.T + h)

        def jacobian(z):
            return dact(z @ W.T + h).unsqueeze(-1) * W  # diag(σ'(v)) W, (B, n, n)

        def splitting_solve():
            return monotone_solve(W.detach(), h.detach(), sigma=self.sigma, method=self.splitting,
                                  alpha=self.alpha, solver=self.solver)

        forward_solve = splitting_solve if self.splitting is not None else None
        start = torch.zeros_like(h) if z0 is None else z0
        z, res = deq_fixed_point(f, start.detach(), solver=self.solver, backward=self.backward_mode,
                                 forward_solve=forward_solve, jacobian=jacobian)
        self.last_result = res
        return z


class MonDEQModule(DEQModule):
    """monDEQ layer: W = (1 − m)I − AᵀA + S − Sᵀ, solved by operator splitting.

    Converges for every parameter value: Peaceman–Rachford (``splitting="pr"``, any α > 0,
    default 1) or forward–backward (``"fb"``, α < 2m/L²). The backward pass solves the
    adjoint (I − WᵀD) y = ḡ exactly (``IFT(direct=True)``).

    Examples
    --------
    >>> import torch
    >>> layer = MonDEQModule(8, 3, m=0.5, seed=0)
    >>> layer(torch.ones(2, 3, dtype=torch.float64)).shape
    torch.Size([2, 8])
    """

    def __init__(self, n: int, d: int, *, m: float = 0.1, sigma: str = "relu", splitting: str = "pr",
                 alpha: float | None = None, solver=None, backward=None, lora_rank: int = 0,
                 dtype=torch.float64, seed: int | None = None):
        super().__init__(n, d, sigma=sigma, weight="monotone", m=m, splitting=splitting, alpha=alpha,
                         solver=solver if solver is not None else Picard(atol=1e-8, rtol=1e-8, max_iter=10000),
                         backward=backward, lora_rank=lora_rank, dtype=dtype, seed=seed)
