"""Continuous-time models: a NeuralODE ẋ = f_θ(x, u) and the linear ẋ = M x + N u.

Sampled data are simulated with the input held over each sample interval (zero-order hold)
or interpolated linearly (first-order hold). The NeuralODE integrates with torchdiffeq
(fixed-step ``rk4`` with sub-steps by default, or adaptive ``dopri5``, optionally with the
adjoint method); the linear model uses the exact discretization (matrix exponential).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.delta import Tanh
from ..core.lure import LureSystem
from .step import _output_layer, _tanh_layer

__all__ = ["NeuralODEModule", "NeuralODEMatrixModule"]


def _axpy(x, a, k, out=None):
    """x + a k for a float or a (B, 1) tensor a."""
    if isinstance(a, float):
        return torch.add(x, k, alpha=a, out=out)
    return torch.addcmul(x, a, k, out=out)


class _FixedStep(torch.autograd.Function):
    """Fixed-step RK4 / Euler simulation of ẋ = W2ₛ tanh(W1 x + c) + A x + e with a hand-written
    backward (the discrete adjoint of the steps taken).

    Inputs: x0 (B, nx); C (T − 1, M, B, H) and E (T − 1, M, B, nx), the input terms c = U u + b1
    and e = B u + k b2 of the M stages of each sample interval (``substeps`` × 4 for RK4, × 1 for
    Euler); W1t = W1ᵀ (nx, H); At = Aᵀ (nx, nx) or None; W2T = W2ₛᵀ (H, nx); h the step (a float,
    or (T − 1, B, 1)). Returns the states at the samples, X (T, B, nx).

    Forward without an autograd graph: per stage a = tanh(x W1ᵀ + c) and f = e + x Aᵀ + a W2ₛᵀ,
    each written into preallocated buffers (the stage states and tanh values are kept). Backward,
    per RK4 step with λ′ the adjoint of its end: g₄ = h/6 λ′, g₃ = h/3 λ′ + h r₄,
    g₂ = h/3 λ′ + h/2 r₃, g₁ = h/6 λ′ + h/2 r₂ with rᵢ = Jᵢᵀ gᵢ, and λ = λ′ + Σ rᵢ; the weight
    gradients are three products over all stages at the end.
    """

    @staticmethod
    def forward(ctx, x0, C, E, W1t, At, W2T, h, method: str):
        T1, M, B, H = C.shape
        nx = x0.shape[1]
        rk4 = method == "rk4"
        per = 4 if rk4 else 1
        XS = x0.new_empty(T1 + 1, M, B, nx)  # stage states; XS[t, 0] is the state at sample t
        AS = x0.new_empty(T1, M, B, H)  # stage tanh values
        XS[0, 0] = x0
        # every per-stage slice made once (indexing in the loop costs as much as the arithmetic)
        xs, as_ = XS.view(-1, B, nx).unbind(0), AS.view(-1, B, H).unbind(0)
        cs, es = [c.unbind(0) for c in C.unbind(0)], [e.unbind(0) for e in E.unbind(0)]
        kb = x0.new_empty(per, B, nx).unbind(0)  # stage derivatives
        acc = x0.new_empty(B, nx)
        lin = At is not None

        def f(t, i, out):
            x = xs[t * M + i]
            a = torch.addmm(cs[t][i], x, W1t, out=as_[t * M + i]).tanh_()
            if lin:
                return torch.addmm(es[t][i], x, At, out=out).addmm_(a, W2T)
            return torch.addmm(es[t][i], a, W2T, out=out)

        n = M // per
        for t in range(T1):
            ht = h if isinstance(h, float) else h[t]
            for j in range(n):
                i = per * j
                x = xs[t * M + i]
                end = xs[(t + 1) * M] if j == n - 1 else xs[t * M + i + per]
                if not rk4:
                    _axpy(x, ht, f(t, i, kb[0]), out=end)
                    continue
                _axpy(x, 0.5 * ht, f(t, i, kb[0]), out=xs[t * M + i + 1])
                _axpy(x, 0.5 * ht, f(t, i + 1, kb[1]), out=xs[t * M + i + 2])
                _axpy(x, ht, f(t, i + 2, kb[2]), out=xs[t * M + i + 3])
                f(t, i + 3, kb[3])
                torch.add(kb[0], kb[1], alpha=2.0, out=acc).add_(kb[2], alpha=2.0).add_(kb[3])
                _axpy(x, ht / 6.0, acc, out=end)
        ctx.save_for_backward(XS, AS, W1t, At, W2T, *(() if isinstance(h, float) else (h,)))
        ctx.method, ctx.h_float = method, h if isinstance(h, float) else None
        return XS[:, 0]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, G):
        XS, AS, W1t, At, W2T = ctx.saved_tensors[:5]
        h = ctx.h_float if ctx.h_float is not None else ctx.saved_tensors[5]
        T1, M, B, H = AS.shape
        nx = XS.shape[-1]
        rk4 = ctx.method == "rk4"
        per = 4 if rk4 else 1
        as_, one, d = AS.view(-1, B, H).unbind(0), AS.new_ones(()), AS.new_empty(B, H)
        GC = AS.new_empty(T1, M, B, H)  # gradient of each stage's c (and pre-activation)
        GE = AS.new_empty(T1, M, B, nx)  # gradient of each stage's e (= of its derivative f)
        gc, ge = GC.view(-1, B, H).unbind(0), GE.view(-1, B, nx).unbind(0)
        W2, W1 = W2T.T, W1t.T
        A = None if At is None else At.T
        r = AS.new_empty(B, nx)
        a3 = AS.new_empty(B, nx)

        def adj(k):  # r = Jᵀ g for the stage k (flat index) with g = ge[k]; fills gc[k]
            torch.mm(ge[k], W2, out=gc[k]).mul_(torch.addcmul(one, as_[k], as_[k], value=-1.0, out=d))  # tanh'
            torch.mm(gc[k], W1, out=r)
            if A is not None:
                r.addmm_(ge[k], A)
            return r

        lam = G[T1].clone()
        Gs = G.unbind(0)
        n = M // per
        for t in range(T1 - 1, -1, -1):
            ht = h if isinstance(h, float) else h[t]
            for j in range(n - 1, -1, -1):
                k = t * M + per * j
                if not rk4:
                    torch.mul(lam, ht, out=ge[k])
                    lam.add_(adj(k))
                    continue
                torch.mul(lam, ht / 6.0, out=ge[k + 3])
                torch.mul(lam, ht / 3.0, out=a3)
                lam.add_(adj(k + 3))
                _axpy(a3, ht, r, out=ge[k + 2])
                lam.add_(adj(k + 2))
                _axpy(a3, 0.5 * ht, r, out=ge[k + 1])
                lam.add_(adj(k + 1))
                _axpy(ge[k + 3], 0.5 * ht, r, out=ge[k])
                lam.add_(adj(k))
            lam.add_(Gs[t])
        xs = XS[:T1].reshape(-1, nx)
        gW1t = xs.T @ GC.view(-1, H)
        gAt = None if At is None else xs.T @ GE.view(-1, nx)
        gW2T = AS.view(-1, H).T @ GE.view(-1, nx)
        return lam, GC, GE, gW1t, gAt, gW2T, None, None


class NeuralODEModule(nn.Module):
    """ẋ = [A x + B u] + W2 tanh(W1 x + U u + b1) + b2, y = C x (+ D u).

    With the linear part the network's output is scaled by k = 0.1. Lur'e form (continuous,
    dt = 0): A (zero without ``linear``), B1 = k W2, B2 = B, C1 = W1, D12 = U, bx = k b2, bv = b1,
    Δ = tanh.

    Parameters
    ----------
    dt : float
        Length of one sample interval in the module's time unit (1: time counted in samples).
    method : {"rk4", "euler", "dopri5"}
        ``rk4`` and ``euler`` take ``substeps`` fixed steps per sample interval (written as a
        plain loop, the fast path); ``dopri5`` is torchdiffeq's adaptive solver (rtol, atol).
    substeps : int
        Fixed-step methods: integration steps per sample interval.
    hold : {"zoh", "foh"}
        Input between samples.
    adjoint : bool
        Gradients by the adjoint method (torchdiffeq.odeint_adjoint; any method).
    linear : bool
        Add the linear part A x + B u (started at zero; see :meth:`init_linear`).
    """

    def __init__(self, nx: int, nu: int, ny: int, *, dt: float, hidden: int = 16, full_state: bool = True,
                 feedthrough: bool = False, method: str = "rk4", substeps: int = 4, hold: str = "zoh",
                 adjoint: bool = False, rtol: float = 1e-7, atol: float = 1e-9, init_std: float = 0.1,
                 linear: bool = False):
        super().__init__()
        if method not in ("rk4", "dopri5", "euler"):
            raise ValueError(f"method must be 'rk4', 'dopri5' or 'euler'; got {method!r}.")
        if hold not in ("zoh", "foh"):
            raise ValueError(f"hold must be 'zoh' or 'foh'; got {hold!r}.")
        self.nx, self.nu, self.ny, self.dt = nx, nu, ny, float(dt)
        self.method, self.substeps, self.hold, self.adjoint, self.rtol, self.atol = method, substeps, hold, adjoint, rtol, atol
        self.linear = linear
        _tanh_layer(self, nx, nu, hidden, init_std)
        _output_layer(self, nx, nu, ny, full_state, feedthrough)
        # with the linear part the network's output is scaled by 0.1: Adam's first steps (±lr on every
        # weight) then move the model by a tenth as much, and do not throw the linear start off
        self.out_scale = 0.1 if linear else 1.0
        if linear:
            self.A = nn.Parameter(torch.zeros(nx, nx))
            self.B = nn.Parameter(torch.zeros(nx, nu))

    def field(self, x, u):
        """The vector field f(x, u), batched: x (B, nx), u (B, nu) → (B, nx)."""
        f = self.out_scale * (torch.tanh(x @ self.W1.T + u @ self.U.T + self.b1) @ self.W2.T + self.b2)
        if self.linear:
            f = f + x @ self.A.T + u @ self.B.T
        return f

    def output(self, x, u):
        return x @ self.C.T + (u @ self.D.T if self.D is not None else 0)

    def init_linear(self, A, B, C=None, D=None, *, generator: torch.Generator | None = None) -> None:
        """Start as the linear model ẋ = A x + B u (module time unit), y = C x (+ D u), with the
        network's output layer at zero (see :meth:`sysid.models.StepModule.init_linear`)."""
        from .step import StepModule

        if not self.linear:
            raise ValueError("init_linear needs a NeuralODEModule built with linear=True.")
        StepModule.init_linear(self, A, B, C, D, generator=generator)

    residual = False  # init_linear is shared with the step module, whose residual form shifts A

    def _interval_fixed(self, x, u0, u1, h):
        n = self.substeps
        hs = (h / n)[:, None]
        for i in range(n):
            if self.hold == "zoh":
                ua = ub = uc = u0
            else:
                s0, s1 = i / n, (i + 1) / n
                ua, ub, uc = u0 + s0 * (u1 - u0), u0 + 0.5 * (s0 + s1) * (u1 - u0), u0 + s1 * (u1 - u0)
            if self.method == "euler":
                x = x + hs * self.field(x, ua)
                continue
            k1 = self.field(x, ua)
            k2 = self.field(x + 0.5 * hs * k1, ub)
            k3 = self.field(x + 0.5 * hs * k2, ub)
            k4 = self.field(x + hs * k3, uc)
            x = x + hs / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    def _interval(self, x, u0, u1, h):
        """Integrate over one sample interval of length h (B,): in the scaled time s ∈ [0, 1]
        dx/ds = h f(x, u(s)), so one shared time grid serves intervals of different lengths."""
        if self.method != "dopri5" and not self.adjoint:
            return self._interval_fixed(x, u0, u1, h)
        from torchdiffeq import odeint, odeint_adjoint

        hold = self.hold

        class _F(nn.Module):
            def __init__(self, outer):
                super().__init__()
                self.outer = outer

            def forward(self, s, z):
                uu = u0 if hold == "zoh" else u0 + s * (u1 - u0)
                return h[:, None] * self.outer.field(z, uu)

        f = _F(self)
        t = torch.tensor([0.0, 1.0], dtype=x.dtype, device=x.device)
        if self.method != "dopri5":
            opts = {"options": {"step_size": 1.0 / self.substeps}}
        else:
            opts = {"rtol": self.rtol, "atol": self.atol}
        solver = odeint_adjoint if self.adjoint else odeint
        kw = {"adjoint_params": tuple(self.parameters())} if self.adjoint else {}
        return solver(f, x, t, method=self.method, **opts, **kw)[-1]

    def _fast(self, dt) -> bool:
        """The fixed-step path of :class:`_FixedStep` applies: RK4 or Euler without the adjoint
        method, this class's own vector field and output, no gradient wanted for dt."""
        return (self.method in ("rk4", "euler") and not self.adjoint and type(self).field is NeuralODEModule.field
                and type(self).output is NeuralODEModule.output and (dt is None or not dt.requires_grad))

    def forward_states(self, u, x0, dt=None):
        """Simulate: u (B, T, nu), x0 (B, nx) → y (B, T, ny) and the state x (B, T, nx) at each
        sample. ``dt`` (B, T − 1) gives irregular sample intervals (in the module's time unit);
        by default every interval is ``self.dt``.

        RK4 and Euler run in :class:`_FixedStep`: the input terms of every stage in one product,
        each stage two products and a tanh, a hand-written backward; equal, to rounding, to the
        plain step-by-step loop (:meth:`forward_states_reference`)."""
        B, T = u.shape[0], u.shape[1]
        if not self._fast(dt) or T < 2:
            return self.forward_states_reference(u, x0, dt)
        n, rk4, k = self.substeps, self.method == "rk4", self.out_scale
        nx, H = self.nx, self.W1.shape[0]
        M = 4 * n if rk4 else n
        if self.hold == "zoh":
            us = u[:, :-1].transpose(0, 1)[:, None]  # (T − 1, 1, B, nu)
        else:  # the input at each stage's time, interpolated as in the reference loop
            fr = [(i + c) / n for i in range(n) for c in ((0.0, 0.5, 0.5, 1.0) if rk4 else (0.0,))]
            s = torch.tensor(fr, dtype=u.dtype, device=u.device)[None, :, None, None]
            u0, u1 = u[:, :-1].transpose(0, 1)[:, None], u[:, 1:].transpose(0, 1)[:, None]
            us = u0 + s * (u1 - u0)  # (T − 1, M, B, nu)
        C = (us @ self.U.T + self.b1).expand(T - 1, M, B, H)
        E = k * self.b2 + (us @ self.B.T if self.linear else 0.0)
        E = E.expand(T - 1, M, B, nx)
        h = self.dt / n if dt is None else (dt / n).T[:, :, None].contiguous()
        X = _FixedStep.apply(x0, C, E, self.W1.T, self.A.T if self.linear else None, (k * self.W2).T, h,
                             self.method)
        xs = X.transpose(0, 1).contiguous()
        return self.output(xs, u), xs

    def forward_states_reference(self, u, x0, dt=None):
        """:meth:`forward_states` as a plain loop over the samples and stages, with autograd (and
        the path of ``dopri5`` and the adjoint method)."""
        ys, xs, x = [], [], x0
        T = u.shape[1]
        if dt is None:
            dt = torch.full((u.shape[0], max(T - 1, 0)), self.dt, dtype=u.dtype, device=u.device)
        for k in range(T):
            xs.append(x)
            ys.append(self.output(x, u[:, k]))
            if k + 1 < T:
                x = self._interval(x, u[:, k], u[:, k + 1], dt[:, k])
        if not ys:
            return u.new_zeros(u.shape[0], 0, self.ny), u.new_zeros(u.shape[0], 0, self.nx)
        return torch.stack(ys, 1), torch.stack(xs, 1)

    def forward(self, u, x0, dt=None):
        """Simulate: u (B, T, nu), x0 (B, nx) → y (B, T, ny) (see :meth:`forward_states`)."""
        return self.forward_states(u, x0, dt)[0]

    def to_lure(self, dt: float | None = None) -> LureSystem:
        """The continuous Lur'e form (dt = 0) in the time unit in which one sample interval
        lasts ``dt`` (default: the module's own unit, ``self.dt``)."""
        g = lambda p: p.detach().cpu().numpy().astype(float)  # noqa: E731
        s = 1.0 if dt is None else self.dt / float(dt)
        A = s * g(self.A) if self.linear else np.zeros((self.nx, self.nx))
        B2 = s * g(self.B) if self.linear else np.zeros((self.nx, self.nu))
        k = s * self.out_scale
        return LureSystem(A=A, B1=k * g(self.W2), B2=B2, C1=g(self.W1), D12=g(self.U), C2=g(self.C),
                          D22=g(self.D) if self.D is not None else np.zeros((self.ny, self.nu)),
                          bx=k * g(self.b2), bv=g(self.b1), delta=Tanh(), dt=0.0)


class NeuralODEMatrixModule(nn.Module):
    """ẋ = M x + N u, y = C x (+ D u), simulated with the exact zero-order-hold discretization
    expm([[M, N], [0, 0]] Δt) (no integration error)."""

    def __init__(self, nx: int, nu: int, ny: int, *, dt: float, full_state: bool = True, feedthrough: bool = False):
        super().__init__()
        self.nx, self.nu, self.ny, self.dt = nx, nu, ny, float(dt)
        self.M = nn.Parameter(torch.zeros(nx, nx))
        self.N = nn.Parameter(torch.zeros(nx, nu))
        _output_layer(self, nx, nu, ny, full_state, feedthrough)

    def discrete(self):
        n, m = self.nx, self.nu
        Z = torch.zeros(n + m, n + m, dtype=self.M.dtype, device=self.M.device)
        Z[:n, :n] = self.M
        Z[:n, n:] = self.N
        E = torch.linalg.matrix_exp(Z * self.dt)
        return E[:n, :n], E[:n, n:]

    def forward(self, u, x0):
        Ad, Bd = self.discrete()
        ys, x = [], x0
        for k in range(u.shape[1]):
            ys.append(x @ self.C.T + (u[:, k] @ self.D.T if self.D is not None else 0))
            x = x @ Ad.T + u[:, k] @ Bd.T
        return torch.stack(ys, 1)

    def to_lure(self, dt: float | None = None) -> LureSystem:
        """ẋ = M x + N u as a LureSystem (dt = 0), in the time unit in which one sample interval
        lasts ``dt`` (default: the module's own, ``self.dt``)."""
        g = lambda p: p.detach().cpu().numpy().astype(float)  # noqa: E731
        s = 1.0 if dt is None else self.dt / float(dt)
        return LureSystem(A=s * g(self.M), B2=s * g(self.N), C2=g(self.C),
                          D22=g(self.D) if self.D is not None else np.zeros((self.ny, self.nu)), dt=0.0,
                          nx=self.nx, nu=self.nu, ny=self.ny)
