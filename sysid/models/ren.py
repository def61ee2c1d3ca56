"""Recurrent equilibrium network (REN): the direct (unconstrained) parameterization in torch.

Free parameters X, Y1, B2ᵢ, D12ᵢ, C2, D21 (and D22 or the Cayley factors X3, Y3, Z3), biases
→ H = XᵀX + εI (+ Γ2 − Γ1 for robust RENs) partitioned [x | v | x⁺] → implicit (E, F, P, B1ᵢ,
C1ᵢ, Λ, D11ᵢ) → explicit Lur'e form

    x⁺ = A x + B1 w + B2 u + bx,   v = C1 x + D11 w + D12 u + bv,   w = σ(v),
    y  = C2 x + D21 w + D22 u + by,

with D11 strictly lower triangular (the equilibrium layer is solved row by row). Every value of
the free parameters gives a model that carries its certificate: the metric M = EᵀP⁻¹E and the
multipliers Λ satisfy the contraction LMI (``kind="contracting"``) or the incremental (Q, S, R)
dissipation inequality (``kind="lipschitz"`` with Q = −I/γ, S = 0, R = γI, or ``kind="iqc"``);
see docs/math.md §3.

References
----------
M. Revay, R. Wang, I. R. Manchester, "Recurrent equilibrium networks: flexible dynamic models
with guaranteed stability and robustness", IEEE Trans. Automatic Control, 2023
(arXiv:2104.05942). Reference code: acfr/RobustNeuralNetworks.jl (``utils.jl``,
``lipschitz_ren.jl``, ``general_ren.jl``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["RENModule", "check_ren_params"]

_KINDS = ("contracting", "lipschitz", "iqc")
_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class _Layer:
    """Solves the equilibrium layer w = σ(v + D11 w) (D11 strictly lower triangular) and its adjoint
    for B samples at once, stored feature-major: v, w (nv, B), one row per neuron. Buffers and
    slices are made once, for every step of a window.

    First the Picard iteration w ← σ(v + D11 w) from w = σ(v): three tensor operations per
    evaluation, and its k-th iterate has its first k entries final (entry i depends only on entries
    < i), so after nv evaluations it is exact and then repeats itself bit for bit. It stops at the
    first iterate that repeats (a few evaluations while D11 is small). If ``picard`` evaluations
    have not settled it, the other rows are solved one by one, w_i = σ(v_i + D11[i, :i] w_{:i}):
    two operations per neuron. Either way the result is the exact solution, to rounding. By default
    the first solve runs Picard to the end and its count sets the cap for the window's other steps
    (:meth:`_settled`): the rows after two evaluations when Picard would cost more.

    The adjoint, J μ for (I − D11ᵀ J) μ = g (J = diag σ'), goes the same way from the last entry up:
    μ ← g + D11ᵀ (J μ), then μ_i = g_i + D11[i+1:, i]ᵀ (J μ)_{i+1:}.
    """

    def __init__(self, D11: torch.Tensor, B: int, activation: str, picard: int | None = None):
        nv = D11.shape[0]
        self.nv, self.D11, self.D11t, self.B = nv, D11, D11.T, B
        self.adapt = picard is None
        self.m = nv if picard is None else max(1, min(int(picard), nv))
        self.act = torch.relu_ if activation == "relu" else torch.tanh_
        new = lambda: D11.new_empty(nv, B)  # noqa: E731
        self.v, self.work, self.W, self.g, self.J = new(), new(), new(), new(), new()
        if self.m < nv or self.adapt:  # per-neuron slices for the row-by-row part, in solving order
            v_i, W_i, g_i, J_i = self.v.unbind(0), self.W.unbind(0), self.g.unbind(0), self.J.unbind(0)
            self.rows = [(v_i[i], self.W[:i].T, D11[i, :i], W_i[i]) for i in range(nv)]
            self.rows_adjoint = [(g_i[i], self.W[i + 1:].T, D11[i + 1:, i], J_i[i], W_i[i])
                                 for i in range(nv - 1, -1, -1)]

    def _settled(self, k: int) -> None:
        """After the first solve (which ran Picard until it settled, at evaluation k ≤ nv), choose the
        cap for the other steps of the window: k + 1 if k evaluations cost less than 2 evaluations and
        nv − 2 rows, else 2 (then rows). Cost in units of one small operation (about 2 µs): an
        evaluation is 3 of them plus its nv²B multiply-adds (about 1.1e-5 units each in float32,
        3.2e-5 in float64, measured on the benchmark machine), a row 2."""
        if not self.adapt:
            return
        self.adapt = False
        flops = (1.1e-5 if self.D11.dtype == torch.float32 else 3.2e-5) * self.nv ** 2 * self.B
        evaluation, row = 3.0 + flops, 2.0
        self.m = min(self.nv, k + 1) if k * evaluation <= 2 * evaluation + (self.nv - 2) * row else 2

    def solve(self, out: torch.Tensor, out_holds_v: bool = False) -> torch.Tensor:
        """w (nv, B) into ``out`` for v in ``self.v`` (``out_holds_v``: ``out`` holds a copy of it)."""
        act, v, a, b, m = self.act, self.v, out, self.work, self.m
        act(a if out_holds_v else a.copy_(v))
        for k in range(2, m + 1):  # evaluation k
            act(torch.addmm(v, self.D11, a, out=b))
            if torch.equal(a, b):
                self._settled(k)
                return out
            a, b = b, a
        if m == self.nv:  # exact after nv evaluations
            self._settled(m)
            return out if a is out else out.copy_(a)
        self.W.copy_(a)  # rows < m are final
        addmv = torch.addmv
        for v_i, W_before, D11_row, W_i in self.rows[m:]:
            act(addmv(v_i, W_before, D11_row, out=W_i))
        return out.copy_(self.W)

    def adjoint(self, g: torch.Tensor, J: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """J μ (nv, B) into ``out`` (which may be g itself)."""
        a, b, jm, m = self.v, self.work, self.W, self.m
        a.copy_(g)
        torch.mul(J, a, out=jm)
        for k in range(2, m + 1):
            torch.addmm(g, self.D11t, jm, out=b)
            if torch.equal(a, b):
                self._settled(k)
                return out.copy_(jm)
            a, b = b, a
            torch.mul(J, a, out=jm)
        if m == self.nv:
            self._settled(m)
            return out.copy_(jm)
        self.g.copy_(g)
        self.J.copy_(J)  # jm = J μ sits in W; rows ≥ nv − m are final
        addmv = torch.addmv
        for g_i, W_after, D11_col, J_i, W_i in self.rows_adjoint[m:]:
            addmv(g_i, W_after, D11_col, out=W_i).mul_(J_i)
        return out.copy_(self.W)


def _fixed_point(v: torch.Tensor, D11t: torch.Tensor, activation: str, picard: int | None = None) -> torch.Tensor:
    """w = σ(v + w D11ᵀ) for the rows of v (B, nv) (D11t = D11ᵀ); see :class:`_Layer`."""
    layer = _Layer(D11t.T, v.shape[0], activation, picard)
    layer.v.copy_(v.T)
    return layer.solve(torch.empty_like(layer.v)).T


def _adjoint_fixed_point(g: torch.Tensor, J: torch.Tensor, D11: torch.Tensor,
                         picard: int | None = None) -> torch.Tensor:
    """J μ for (I − D11ᵀ J) μ = g per row of g (B, nv); see :class:`_Layer`."""
    layer = _Layer(D11, g.shape[0], "relu", picard)
    return layer.adjoint(g.T.contiguous(), J.T.contiguous(), torch.empty_like(layer.v)).T


def _slope(w: torch.Tensor, activation: str) -> torch.Tensor:
    """σ'(z) from w = σ(z): 1[w > 0] (relu; z > 0 ⟺ w > 0) or 1 − w² (tanh)."""
    return (w > 0).to(w.dtype) if activation == "relu" else 1.0 - w * w


class _Recurrence(torch.autograd.Function):
    """The REN's time loop, with a hand-written backward (back-propagation through time).

    Feature-major (one column per sample): with s_t = [x_t; w_t] (nx + nv, B) and
    p_t = [x_{t+1}; v_{t+1}],

        w_t = σ(v_t + D11 w_t),   p_t = K s_t + U_t,   K = [[A, B1], [C1 A, C1 B1]],

    U_t = [ux_t; C1 ux_t + ub_{t+1}] (v_{t+1} = C1 x_{t+1} + ub_{t+1} without a second product).
    Forward: no autograd graph — one matrix product and the equilibrium layer (:class:`_Layer`) per
    step, written in place into a preallocated S (T, nx + nv, B), S[t] = s_t; returns S and x_T
    (nx, B). Backward: the adjoint recursion q_t = G_t + Kᵀ p̄_t, v̄_t = J_t μ with
    (I − D11ᵀ J_t) μ = q_t[nx:], p̄_{t−1} = [q_t[:nx]; v̄_t]; the parameter gradients are batched
    products over all steps at the end (K̄ = Σ p̄_t s_tᵀ, D̄11 = tril(Σ v̄_t w_tᵀ, −1)). Once
    differentiable.
    """

    @staticmethod
    def forward(ctx, x0, v0, U, K, D11, activation: str):
        T, n, B = U.shape
        nx = x0.shape[0]
        S = x0.new_empty(T, n, B)
        end = x0.new_empty(n, B)  # [x_T; v_T]
        S[0, :nx] = x0
        S[0, nx:] = v0
        layer = _Layer(D11, B, activation)
        Ss = S.unbind(0)
        v, solve, addmm = layer.v, layer.solve, torch.addmm
        for s, w, u, s_next in zip(Ss, S[:, nx:].unbind(0), U.unbind(0), Ss[1:] + (end,)):
            v.copy_(w)  # s holds [x_t; v_t]; v_t is replaced by w_t in place
            solve(w, out_holds_v=True)
            addmm(u, K, s, out=s_next)
        ctx.save_for_backward(S, K, D11)
        ctx.activation, ctx.nx = activation, nx
        return S, end[:nx].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, G, g_end):
        S, K, D11 = ctx.saved_tensors
        nx = ctx.nx
        T, n, B = S.shape
        J = _slope(S[:, nx:], ctx.activation).unbind(0)
        Kt = K.T
        # Q[t + 1] = p̄_t (the gradient of U_t) for t = T − 1 … 0, and Q[0] = [x̄_0; v̄_0]
        Q = S.new_empty(T + 1, n, B)
        Q[T, :nx] = g_end
        Q[T, nx:] = 0.0
        Qs, Vs, Gs = Q.unbind(0), Q[:, nx:].unbind(0), G.unbind(0)
        adjoint, addmm = _Layer(D11, B, ctx.activation).adjoint, torch.addmm
        for t in range(T - 1, -1, -1):
            addmm(Gs[t], Kt, Qs[t + 1], out=Qs[t])
            adjoint(Vs[t], J[t], out=Vs[t])
        gK = torch.bmm(Q[1:], S.transpose(1, 2)).sum(0)
        gD = torch.bmm(Q[:T, nx:], S[:, nx:].transpose(1, 2)).sum(0)  # Σ v̄_t w_tᵀ (v̄_t sits in Q[t])
        return Q[0, :nx], Q[0, nx:], Q[1:], gK, torch.tril(gD, diagonal=-1), None


class _EquilibriumLayer(torch.autograd.Function):
    """w = σ(b + D11 w) for strictly lower-triangular D11, with an implicit backward.

    Forward: the rows in order, without building an autograd graph. Backward (implicit function
    theorem): with J = diag σ'(z), dw = (I − J D11)⁻¹ J (db + dD11 w), so for the incoming
    gradient g the adjoint v solves the unit upper-triangular system (I − D11ᵀ J) v = g (one
    batched triangular solve) and ∂/∂b = J v, ∂/∂D11 = tril((J v)ᵀ w, −1).
    """

    @staticmethod
    def forward(ctx, b, D11, activation: str):
        sigma = _ACTIVATIONS[activation]
        nv = b.shape[1]
        w = torch.empty_like(b)
        z = b.clone()
        for i in range(nv):
            w[:, i] = sigma(z[:, i])
            if i + 1 < nv:
                z[:, i + 1:] += w[:, i:i + 1] * D11[i + 1:, i][None, :]
        ctx.save_for_backward(D11, z, w)
        ctx.activation = activation
        return w

    @staticmethod
    def backward(ctx, g):
        D11, z, w = ctx.saved_tensors
        J = (z > 0).to(z.dtype) if ctx.activation == "relu" else 1.0 - w * w
        nv = D11.shape[0]
        eye = torch.eye(nv, dtype=z.dtype, device=z.device)
        M = eye - D11.T[None, :, :] * J[:, None, :]  # I − D11ᵀ J, unit upper triangular
        v = torch.linalg.solve_triangular(M, g[:, :, None], upper=True, unitriangular=True)[:, :, 0]
        gb = J * v
        gD = torch.tril(gb.T @ w, diagonal=-1)
        return gb, gD, None


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_ren_params(nu: int, ny: int, nx: int, nv: int, kind: str, gamma, Q, S, R, rate, activation,
                     owner: str = "REN") -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Validate the REN hyper-parameters; returns (Q, S, R) as float arrays (None for contracting).

    For ``kind="lipschitz"`` this returns Q = −I/γ, S = 0, R = γI.
    """
    for name, value, minimum in (("nu", nu, 0), ("ny", ny, 1), ("nx", nx, 1), ("nv", nv, 1)):
        if not _is_int(value) or value < minimum:
            raise ValueError(f"The {name!r} parameter of {owner} must be an int >= {minimum}. Got {value!r} instead.")
    if kind not in _KINDS:
        raise ValueError(f"The 'kind' parameter of {owner} must be one of {list(_KINDS)}. Got {kind!r} instead.")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"The 'activation' parameter of {owner} must be one of {sorted(_ACTIVATIONS)} "
                         f"(slope-restricted in [0, 1]). Got {activation!r} instead.")
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not 0 < rate <= 1:
        raise ValueError(f"The 'rate' parameter of {owner} (contraction rate bound ᾱ) must be in (0, 1]. "
                         f"Got {rate!r} instead.")
    if kind == "contracting":
        if gamma is not None or Q is not None or S is not None or R is not None:
            raise ValueError(f"a contracting {owner} takes no gamma, Q, S or R; use kind='lipschitz' (gamma) "
                             "or kind='iqc' (Q, S, R) for a robust REN.")
        return None, None, None
    if kind == "lipschitz":
        if gamma is None:
            raise ValueError(f"kind='lipschitz' needs the Lipschitz bound: pass gamma=<float > 0> to {owner}.")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(gamma) and gamma > 0):
            raise ValueError(f"The 'gamma' parameter of {owner} must be a finite float > 0. Got {gamma!r} instead.")
        if Q is not None or S is not None or R is not None:
            raise ValueError("kind='lipschitz' sets Q = −I/γ, S = 0, R = γI itself; pass Q, S, R only with kind='iqc'.")
        if nu == 0:
            raise ValueError(f"a Lipschitz {owner} needs at least one input (nu >= 1).")
        g = float(gamma)
        return -np.eye(ny) / g, np.zeros((nu, ny)), g * np.eye(nu)
    # iqc
    if gamma is not None:
        raise ValueError("kind='iqc' takes Q, S, R; gamma belongs to kind='lipschitz'.")
    if Q is None or R is None:
        raise ValueError(f"kind='iqc' needs Q (ny, ny) and R (nu, nu) (and optionally S (nu, ny)); got "
                         f"Q={'None' if Q is None else 'given'}, R={'None' if R is None else 'given'}.")
    if nu == 0:
        raise ValueError(f"an (Q, S, R) {owner} needs at least one input (nu >= 1).")
    Q = np.array(Q, dtype=float, ndmin=2)
    R = np.array(R, dtype=float, ndmin=2)
    S = np.zeros((nu, ny)) if S is None else np.array(S, dtype=float, ndmin=2)
    for name, M, shape in (("Q", Q, (ny, ny)), ("S", S, (nu, ny)), ("R", R, (nu, nu))):
        if M.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (ny = {ny}, nu = {nu}); got {M.shape}.")
        if not np.all(np.isfinite(M)):
            raise ValueError(f"{name} contains NaN or inf.")
    for name, M in (("Q", Q), ("R", R)):
        if not np.allclose(M, M.T, rtol=1e-10, atol=1e-12):
            raise ValueError(f"{name} must be symmetric; got an asymmetric matrix (max |{name} − {name}ᵀ| = "
                             f"{np.abs(M - M.T).max():.2e}). Pass ({name} + {name}.T) / 2.")
    Q, R = 0.5 * (Q + Q.T), 0.5 * (R + R.T)
    qmax = np.linalg.eigvalsh(Q).max()
    if not qmax < 0:
        raise ValueError(f"Q must be negative definite (the robust REN needs Q ≺ 0); its largest eigenvalue is "
                         f"{qmax:.3g}. For a Lipschitz bound use kind='lipschitz', gamma=γ.")
    Rt = R - S @ np.linalg.solve(Q, S.T)
    rmin = np.linalg.eigvalsh(0.5 * (Rt + Rt.T)).min()
    if not rmin > 0:
        raise ValueError(f"R − S Q⁻¹ Sᵀ must be positive definite; its smallest eigenvalue is {rmin:.3g}. "
                         "Increase R or reduce S.")
    return Q, S, R


def _long_memory_X(nx: int, nv: int, rate: float, eps: float, scale: float, gen) -> np.ndarray:
    """Upper Cholesky factor X of H = (★) for E = I/ᾱ², P = I, F = diag(a)/ᾱ², Λ = I, small B1ᵢ, C1ᵢ."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    rng = np.random.default_rng(seed)
    a = rate * rng.uniform(0.8, 0.99, nx)
    r2 = rate**2
    C1i = 0.3 * scale * rng.standard_normal((nv, nx)) / np.sqrt(nx)
    B1i = 0.3 * scale * rng.standard_normal((nx, nv)) / np.sqrt(nv)
    for _ in range(60):
        H = np.block([[np.eye(nx) / r2, -C1i.T, np.diag(a) / r2],
                      [-C1i, 2 * np.eye(nv), B1i.T],
                      [np.diag(a) / r2, B1i, np.eye(nx)]])
        try:
            return np.linalg.cholesky(H - eps * np.eye(len(H))).T
        except np.linalg.LinAlgError:
            C1i, B1i = 0.5 * C1i, 0.5 * B1i
    raise RuntimeError("long-memory initialization failed")  # pragma: no cover - B1, C1 -> 0 always works


class RENModule(nn.Module):
    """Recurrent equilibrium network in the direct parameterization (Revay, Wang & Manchester).

    Follows the sysid torch sequence-module protocol: ``forward(u (B, T, nu), x0 (B, nx))`` →
    y (B, T, ny), free-run simulation; the direct → explicit map is recomputed once per call.

    Parameters
    ----------
    nu, ny : int
        Number of inputs and outputs.
    nx : int
        Number of states.
    nv : int
        Number of neurons in the equilibrium layer.
    kind : {"contracting", "lipschitz", "iqc"}
        Built-in property: contraction; incremental ℓ2 gain (Lipschitz bound) ``gamma``; or the
        incremental (Q, S, R) dissipation inequality
        V(Δx⁺) − ᾱ² V(Δx) ≤ ΔyᵀQΔy + 2ΔuᵀSΔy + ΔuᵀRΔu.
    gamma : float, optional
        Lipschitz bound (``kind="lipschitz"``).
    Q : array_like, shape (ny, ny), optional
        Negative definite (``kind="iqc"``).
    S : array_like, shape (nu, ny), optional
    R : array_like, shape (nu, nu), optional
        With R − SQ⁻¹Sᵀ ≻ 0.
    rate : float
        Contraction-rate bound ᾱ ∈ (0, 1]: V(Δx) shrinks by ᾱ² per step (with equal inputs).
    activation : {"relu", "tanh"}
        σ, slope-restricted in [0, 1].
    polar : bool
        Polar parameterization H = ρ² XᵀX / ‖X‖²_F + εI (ρ a free parameter).
    eps : float, optional
        ε of H = XᵀX + εI; default 1e-12 in float64, 1e-6 in float32 (docs/math.md §3.6).
    init : {"long_memory", "random"}
        Initialization of X. "random": Glorot-normal X. "long_memory" (default): X is the
        Cholesky factor of the H of a REN with slow linear state dynamics (A = diag(a),
        a ∈ [0.8ᾱ, 0.99ᾱ]), E = I/ᾱ², P = I, Λ = I, D11 = 0 and small random B1, C1 — a good
        start for lightly damped plants (after RNN.py ``_x_long_memory_init``, docs/math.md §3.5).
    init_scale : float
        Scale of the random parts of the initialization.
    seed : int, optional
        Seed of the initialization (a private generator; the global torch seed is untouched).
    dtype : torch.dtype
        float64 (default) or float32.

    Examples
    --------
    >>> import torch
    >>> from sysid.models import RENModule
    >>> m = RENModule(1, 1, nx=2, nv=4, seed=0)
    >>> m(torch.zeros(3, 5, 1, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 5, 1])
    """

    def __init__(self, nu: int, ny: int, *, nx: int, nv: int, kind: str = "contracting", gamma: float | None = None,
                 Q=None, S=None, R=None, rate: float = 1.0, activation: str = "relu", polar: bool = True,
                 eps: float | None = None, init: str = "long_memory", init_scale: float = 1.0,
                 seed: int | None = None, dtype: torch.dtype = torch.float64):
        super().__init__()
        Qn, Sn, Rn = check_ren_params(nu, ny, nx, nv, kind, gamma, Q, S, R, rate, activation, owner="RENModule")
        if init not in ("random", "long_memory"):
            raise ValueError(f"The 'init' parameter of RENModule must be 'random' or 'long_memory'. Got {init!r} instead.")
        if dtype not in (torch.float64, torch.float32):
            raise ValueError(f"dtype must be torch.float64 or torch.float32; got {dtype}.")
        if eps is None:
            eps = 1e-12 if dtype == torch.float64 else 1e-6
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"eps must be a float > 0; got {eps!r}.")
        if dtype == torch.float32 and eps < 1.2e-7:
            raise ValueError(f"eps = {eps:g} is below float32 resolution (~1.2e-7); use eps >= 1e-6 in float32 "
                             "or dtype=torch.float64 (docs/math.md §3.6).")
        self.nu, self.ny, self.nx, self.nv = int(nu), int(ny), int(nx), int(nv)
        self.kind, self.rate, self.activation = kind, float(rate), activation
        self.gamma = None if gamma is None else float(gamma)
        self.polar, self.eps = bool(polar), float(eps)
        self.dtype = dtype
        self._sigma = _ACTIVATIONS[activation]
        gen = torch.Generator().manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**31 - 1, (1,))))
        n = 2 * nx + nv

        def randn(*shape, std):
            return nn.Parameter(torch.randn(*shape, generator=gen, dtype=dtype) * std)

        def zeros(*shape):
            return nn.Parameter(torch.zeros(*shape, dtype=dtype))

        self.X = randn(n, n, std=init_scale * math.sqrt(2.0 / (2 * n)))
        self.Y1 = randn(nx, nx, std=math.sqrt(2.0 / (2 * nx)))
        self.B2 = randn(nx, nu, std=math.sqrt(2.0 / (nx + nu)) if nu else 0.0)
        self.D12 = randn(nv, nu, std=math.sqrt(2.0 / (nv + nu)) if nu else 0.0)
        self.C2 = randn(ny, nx, std=math.sqrt(2.0 / (ny + nx)))
        self.D21 = randn(ny, nv, std=math.sqrt(2.0 / (ny + nv)))
        self.bx, self.bv, self.by = zeros(nx), zeros(nv), zeros(ny)
        if init == "long_memory":
            with torch.no_grad():
                self.X.copy_(torch.as_tensor(_long_memory_X(nx, nv, self.rate, self.eps, init_scale, gen), dtype=dtype))
                self.Y1.zero_()
                self.B2.mul_(0.1)  # slow poles amplify the input by ~1/(1 − a): keep the initial gain moderate
        if self.polar:
            self.rho = nn.Parameter(torch.linalg.matrix_norm(self.X.detach()).reshape(()))
        if kind == "contracting":
            self.D22 = zeros(ny, nu)
        else:
            d = min(nu, ny)
            self.X3 = nn.Parameter(torch.eye(d, dtype=dtype))
            self.Y3 = zeros(d, d)
            self.Z3 = zeros(abs(ny - nu), d)
            self.register_buffer("Q", torch.as_tensor(Qn, dtype=dtype))
            self.register_buffer("S", torch.as_tensor(Sn, dtype=dtype))
            self.register_buffer("R", torch.as_tensor(Rn, dtype=dtype))

    def init_from_linear(self, A, B, C, D, *, seed: int = 0, scale: float = 0.1) -> None:
        """Set the parameters so that the REN starts as the LTI model (A, B, C, D) (module units).

        Linear-system initialization of docs/math.md §3.5 generalized to the rate ᾱ: P solves
        (A/ᾱ)ᵀP(A/ᾱ) − P + I = 0, E = P/ᾱ², F = EA, Λ = I, D11 = 0 and small random B1ᵢ, C1ᵢ
        (``scale``), X = chol(H). Exact for ``kind="contracting"``; for robust RENs the output
        layer adds Γ2 − Γ1 to H, so the start is only close to (A, B, C, D). A with spectral
        radius ≥ ᾱ is scaled to 0.999ᾱ first.

        Parameters
        ----------
        A : array_like, shape (nx, nx)
        B : array_like, shape (nx, nu)
        C : array_like, shape (ny, nx)
        D : array_like, shape (ny, nu)
        """
        from scipy.linalg import solve_discrete_lyapunov

        nx, nv, nu, ny = self.nx, self.nv, self.nu, self.ny
        A, B, C, D = (np.asarray(Z, dtype=float).reshape(shape) if np.size(Z) == shape[0] * shape[1] else
                      np.asarray(Z, dtype=float) for Z, shape in ((A, (nx, nx)), (B, (nx, nu)), (C, (ny, nx)),
                                                                  (D, (ny, nu))))
        for name, Z, shape in (("A", A, (nx, nx)), ("B", B, (nx, nu)), ("C", C, (ny, nx)), ("D", D, (ny, nu))):
            if Z.shape != shape:
                raise ValueError(f"{name} must have shape {shape} to initialize this REN; got {Z.shape}.")
        r = self.rate
        rho = np.max(np.abs(np.linalg.eigvals(A)))
        if rho >= 0.999 * r:
            A = A * (0.999 * r / rho)
        P = solve_discrete_lyapunov((A / r).T, np.eye(nx))
        P = 0.5 * (P + P.T)
        E = P / r**2
        rng = np.random.default_rng(seed)
        C1i = scale * rng.standard_normal((nv, nx)) / np.sqrt(nx)
        B1i = scale * rng.standard_normal((nx, nv)) / np.sqrt(nv)
        for _ in range(60):
            H = np.block([[P / r**2, -C1i.T, (E @ A).T], [-C1i, 2 * np.eye(nv), B1i.T], [E @ A, B1i, P]])
            try:
                X = np.linalg.cholesky(H - self.eps * np.eye(len(H))).T
                break
            except np.linalg.LinAlgError:
                C1i, B1i = 0.5 * C1i, 0.5 * B1i
        else:  # pragma: no cover - B1ᵢ, C1ᵢ -> 0 leaves a positive definite H
            raise RuntimeError("linear initialization failed")
        with torch.no_grad():
            t = dict(dtype=self.dtype)
            self.X.copy_(torch.as_tensor(X, **t))
            if self.polar:
                self.rho.copy_(torch.linalg.matrix_norm(self.X))
            self.Y1.zero_()
            self.B2.copy_(torch.as_tensor(E @ B, **t))
            self.D12.mul_(scale)
            self.C2.copy_(torch.as_tensor(C, **t))
            self.D21.mul_(scale)
            if self.kind == "contracting":
                self.D22.copy_(torch.as_tensor(D, **t))
            for b in (self.bx, self.bv, self.by):
                b.zero_()

    # ------------------------------------------------------------------ direct -> explicit
    def _D22_robust(self):
        """Feedthrough D22 = −Q⁻¹Sᵀ + LQ⁻¹ N LR with N = Cayley(X3, Y3, Z3), ‖N‖ < 1 (docs/math.md §3.4)."""
        nu, ny = self.nu, self.ny
        d = min(nu, ny)
        I = torch.eye(d, dtype=self.dtype)
        M3 = self.X3.T @ self.X3 + self.Y3 - self.Y3.T + self.Z3.T @ self.Z3 + self.eps * I
        if ny >= nu:
            inv = torch.linalg.inv(I + M3)
            N = torch.cat([(I - M3) @ inv, -2.0 * self.Z3 @ inv], dim=0)
        else:
            N = torch.cat([torch.linalg.solve(I + M3, I - M3), -2.0 * torch.linalg.solve(I + M3, self.Z3.T)], dim=1)
        LQ = torch.linalg.cholesky(-self.Q).T  # upper: LQᵀ LQ = −Q
        Rs = self.R - self.S @ torch.linalg.solve(self.Q, self.S.T)
        LR = torch.linalg.cholesky(0.5 * (Rs + Rs.T)).T
        return -torch.linalg.solve(self.Q, self.S.T) + torch.linalg.solve_triangular(LQ, N, upper=True) @ LR

    def explicit(self) -> dict[str, torch.Tensor]:
        """The explicit REN matrices and its certificate, as differentiable tensors.

        Returns
        -------
        dict
            ``A (nx, nx), B1 (nx, nv), B2 (nx, nu), C1 (nv, nx), D11 (nv, nv) strictly lower,
            D12 (nv, nu), C2 (ny, nx), D21 (ny, nv), D22 (ny, nu), bx (nx,), bv (nv,), by (ny,)``,
            the implicit ``E, F, P (nx, nx)``, the metric ``M = EᵀP⁻¹E (nx, nx)`` and the
            multipliers ``Lambda (nv,)`` (Λ = diag(Lambda)).
        """
        nx, nv, dt = self.nx, self.nv, self.dtype
        n = 2 * nx + nv
        X = self.X
        XtX = X.T @ X
        if self.polar:
            XtX = self.rho ** 2 * XtX / (torch.sum(X * X) + 1e-300)
        H = XtX + self.eps * torch.eye(n, dtype=dt)
        B2i, D12i = self.B2, self.D12
        C2, D21 = self.C2, self.D21
        if self.kind == "contracting":
            D22 = self.D22
        else:
            D22 = self._D22_robust()
            Q, S, R = self.Q, self.S, self.R
            Rt = R + S @ D22 + D22.T @ S.T + D22.T @ Q @ D22
            Rt = 0.5 * (Rt + Rt.T)
            G = D22.T @ Q + S
            C2i, D21i = G @ C2, G @ D21 - D12i.T
            V1 = torch.cat([C2, D21, torch.zeros(self.ny, nx, dtype=dt)], dim=1)  # (ny, n)
            V2 = torch.cat([C2i, D21i, B2i.T], dim=1)  # (nu, n)
            H = H + V2.T @ torch.linalg.solve(Rt, V2) - V1.T @ Q @ V1
        ix, iv, ip = slice(0, nx), slice(nx, nx + nv), slice(nx + nv, n)
        H11, H21, H22 = H[ix, ix], H[iv, ix], H[iv, iv]
        H31, H32, H33 = H[ip, ix], H[ip, iv], H[ip, ip]
        P, F = H33, H31
        E = 0.5 * (H11 + P / self.rate ** 2 + self.Y1 - self.Y1.T)
        lam = 0.5 * torch.diagonal(H22)
        D11i = -torch.tril(H22, diagonal=-1)
        A = torch.linalg.solve(E, F)
        B1 = torch.linalg.solve(E, H32)
        B2 = torch.linalg.solve(E, B2i)
        M = E.T @ torch.linalg.solve(P, E)
        return dict(A=A, B1=B1, B2=B2, C1=-H21 / lam[:, None], D11=D11i / lam[:, None], D12=D12i / lam[:, None],
                    C2=C2, D21=D21, D22=D22, bx=self.bx, bv=self.bv, by=self.by,
                    E=E, F=F, P=P, M=0.5 * (M + M.T), Lambda=lam)

    def explicit_numpy(self) -> dict[str, np.ndarray]:
        """:meth:`explicit` as float64 numpy arrays (detached)."""
        with torch.no_grad():
            return {k: v.detach().cpu().to(torch.float64).numpy().copy() for k, v in self.explicit().items()}

    def iqc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(Q (ny, ny), S (nu, ny), R (nu, nu)) of a robust REN in the module's units; None if contracting."""
        if self.kind == "contracting":
            return None
        return tuple(t.detach().cpu().to(torch.float64).numpy().copy() for t in (self.Q, self.S, self.R))

    def to_lure(self, dt: float = 1.0):
        """The explicit REN as a :class:`sysid.LureSystem` (module units; sampling period ``dt``)."""
        from ..core.delta import get as get_delta
        from ..core.lure import LureSystem

        m = self.explicit_numpy()
        return LureSystem(**{k: m[k] for k in ("A", "B1", "B2", "C1", "D11", "D12", "C2", "D21", "D22",
                                                "bx", "bv", "by")},
                          delta=get_delta(self.activation), dt=dt, nu=self.nu)

    # ------------------------------------------------------------------ evaluation
    def _solve_layer(self, b: torch.Tensor, D11: torch.Tensor) -> torch.Tensor:
        """w = σ(b + D11 w) for strictly lower-triangular D11; b (B, nv) → w (B, nv).

        Solved row by row; gradients by the implicit function theorem (one batched triangular
        solve, :class:`_EquilibriumLayer`), which is 2–3× faster than back-propagating through
        the rows."""
        return _EquilibriumLayer.apply(b, D11, self.activation)

    def _check(self, u: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if u.ndim != 3 or u.shape[2] != self.nu:
            raise ValueError(f"u must have shape (B, T, nu) = (B, T, {self.nu}); got {tuple(u.shape)}.")
        if x0.ndim != 2 or x0.shape != (u.shape[0], self.nx):
            raise ValueError(f"x0 must have shape (B, nx) = ({u.shape[0]}, {self.nx}); got {tuple(x0.shape)}.")
        return u.to(self.dtype), x0.to(self.dtype)

    def forward_states(self, u: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Free-run simulation; returns y (B, T, ny) and the state x (B, T, nx) at each step."""
        y, x, _ = self.run(u, x0)
        return y, x

    def run(self, u: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free-run simulation returning y (B, T, ny), x (B, T, nx) and the final state x_T (B, nx).

        The explicit matrices are built once; every input term (D12 u, B2 u, D22 u and the biases)
        for all steps in one product each; the time loop runs in :class:`_Recurrence` (one matrix
        product and the equilibrium layer per step, hand-written backward) and the outputs
        C2 x + D21 w + D22 u in one product after it. Equal, to rounding, to the step-by-step
        :meth:`run_reference`."""
        u, x = self._check(u, x0)
        B, T = u.shape[:2]
        if T == 0:
            return u.new_zeros(B, 0, self.ny), u.new_zeros(B, 0, self.nx), x
        m = self.explicit()
        A, B1, C1, nx = m["A"], m["B1"], m["C1"], self.nx
        ut = u.permute(1, 2, 0)  # (T, nu, B): feature-major, one column per sample
        ub = m["D12"] @ ut + m["bv"][:, None]
        ux = m["B2"] @ ut + m["bx"][:, None]
        K = torch.cat([torch.cat([A, B1], dim=1), torch.cat([C1 @ A, C1 @ B1], dim=1)], dim=0)
        ub_next = torch.cat([ub[1:], ub.new_zeros(1, self.nv, B)], dim=0)
        U = torch.cat([ux, C1 @ ux + ub_next], dim=1)
        xc = x.T
        S, xT = _Recurrence.apply(xc, C1 @ xc + ub[0], U, K, m["D11"], self.activation)
        y = torch.cat([m["C2"], m["D21"]], dim=1) @ S + (m["D22"] @ ut + m["by"][:, None])
        return y.permute(2, 0, 1).contiguous(), S[:, :nx].permute(2, 0, 1).contiguous(), xT.T.contiguous()

    def run_reference(self, u: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`run` step by step with autograd (the layer neuron by neuron, :class:`_EquilibriumLayer`):
        the slow, plain reference the fast path is tested against."""
        u, x = self._check(u, x0)
        m = self.explicit()
        A, B1, C1, D11, C2, D21 = m["A"], m["B1"], m["C1"], m["D11"], m["C2"], m["D21"]
        ub = u @ m["D12"].T + m["bv"]
        ux = u @ m["B2"].T + m["bx"]
        uy = u @ m["D22"].T + m["by"]
        ys, xs = [], []
        for t in range(u.shape[1]):
            w = self._solve_layer(x @ C1.T + ub[:, t], D11)
            xs.append(x)
            ys.append(x @ C2.T + w @ D21.T + uy[:, t])
            x = x @ A.T + w @ B1.T + ux[:, t]
        if not ys:
            return u.new_zeros(u.shape[0], 0, self.ny), u.new_zeros(u.shape[0], 0, self.nx), x
        return torch.stack(ys, dim=1), torch.stack(xs, dim=1), x

    def forward(self, u: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Free-run simulation: u (B, T, nu), x0 (B, nx) → y (B, T, ny)."""
        return self.forward_states(u, x0)[0]
