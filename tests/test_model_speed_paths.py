"""The fast evaluation paths of the REN and the NeuralODE against their plain references.

Oracles: row-by-row substitution and batched triangular solves for the equilibrium layer (Picard
iteration alone, and switched to rows after a few evaluations), the step-by-step autograd REN
(``run_reference``), finite differences (``gradcheck``), and for the NeuralODE a plain RK4 / Euler
loop written out here.
"""

import pytest

torch = pytest.importorskip("torch")

from sysid.models import ren  # noqa: E402
from sysid.models.ren import RENModule, _adjoint_fixed_point, _fixed_point, _Recurrence  # noqa: E402

F64 = torch.float64


def sequential_layer(v, D11, sigma):
    """w_i = σ(v_i + Σ_{j<i} D11[i, j] w_j), neuron by neuron."""
    w = torch.zeros_like(v)
    for i in range(v.shape[1]):
        w[:, i] = sigma(v[:, i] + w[:, :i] @ D11[i, :i])
    return w


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("scale", [0.0, 0.1, 1.0, 5.0])
@pytest.mark.parametrize("picard", [1, 3, None, 12])  # 12 = nv: Picard iteration only
def test_fixed_point_equals_row_by_row_solution(activation, scale, picard):
    gen = torch.Generator().manual_seed(int(10 * scale))
    nv = 12
    D11 = torch.tril(scale * torch.randn(nv, nv, generator=gen, dtype=F64), diagonal=-1)
    v = 2.0 * torch.randn(64, nv, generator=gen, dtype=F64)
    sigma = torch.relu if activation == "relu" else torch.tanh
    w = _fixed_point(v, D11.T, activation, picard)
    ref = sequential_layer(v, D11, sigma)
    assert torch.allclose(w, ref, rtol=0, atol=1e-12 * (1 + ref.abs().max().item()))
    assert torch.allclose(w, sigma(v + w @ D11.T), rtol=0, atol=1e-12 * (1 + ref.abs().max().item()))


@pytest.mark.parametrize("scale", [0.0, 0.3, 3.0])
@pytest.mark.parametrize("picard", [1, 3, None, 10])
def test_adjoint_fixed_point_equals_triangular_solve(scale, picard):
    gen = torch.Generator().manual_seed(7)
    nv = 10
    D11 = torch.tril(scale * torch.randn(nv, nv, generator=gen, dtype=F64), diagonal=-1)
    J = torch.rand(32, nv, generator=gen, dtype=F64)
    J[J < 0.3] = 0.0
    g = torch.randn(32, nv, generator=gen, dtype=F64)
    M = torch.eye(nv, dtype=F64) - D11.T[None] * J[:, None, :]  # I − D11ᵀ J per sample
    mu = torch.linalg.solve(M, g[:, :, None])[:, :, 0]
    got = _adjoint_fixed_point(g, J, D11, picard)
    assert torch.allclose(got, J * mu, rtol=0, atol=1e-12 * (1 + mu.abs().max().item()))


@pytest.mark.parametrize("scale", [0.0, 0.05, 0.5, 5.0])
def test_default_layer_is_exact_over_many_solves(scale):
    """The default cap, set by the first solve (Picard for a small D11, rows after two evaluations
    for a large one), gives the exact solution at every step."""
    gen = torch.Generator().manual_seed(11)
    nv, B = 10, 16
    D11 = torch.tril(scale * torch.randn(nv, nv, generator=gen, dtype=F64), diagonal=-1)
    fwd, adj = ren._Layer(D11, B, "relu"), ren._Layer(D11, B, "relu")
    for step in range(4):
        v = 2.0 * torch.randn(B, nv, generator=gen, dtype=F64)
        fwd.v.copy_(v.T)
        w = fwd.solve(torch.empty(nv, B, dtype=F64)).T
        ref = sequential_layer(v, D11, torch.relu)
        assert torch.allclose(w, ref, rtol=0, atol=1e-12 * (1 + ref.abs().max().item()))
        J = (ref > 0).to(F64)
        g = torch.randn(B, nv, generator=gen, dtype=F64)
        mu = torch.linalg.solve(torch.eye(nv, dtype=F64) - D11.T[None] * J[:, None, :], g[:, :, None])[:, :, 0]
        got = adj.adjoint(g.T.contiguous(), J.T.contiguous(), torch.empty(nv, B, dtype=F64)).T
        assert torch.allclose(got, J * mu, rtol=0, atol=1e-12 * (1 + mu.abs().max().item()))
        if step == 0 and scale == 0.0:  # settled at the second evaluation: Picard, cap 3
            assert fwd.m == 3 and adj.m == 3
        if step == 0 and scale == 5.0:  # Picard would take about nv evaluations: rows after two
            assert fwd.m == 2


def random_ren(activation, init, kind="contracting", seed=1, nu=2, ny=2, nx=3, nv=6):
    kw = {"gamma": 2.0} if kind == "lipschitz" else {}
    m = RENModule(nu, ny, nx=nx, nv=nv, seed=seed, init=init, activation=activation, kind=kind, **kw)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():  # every parameter random, D11 far from zero
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return m


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("init,kind", [("random", "contracting"), ("long_memory", "contracting"),
                                       ("random", "lipschitz")])
@pytest.mark.parametrize("picard", [2, 6])  # row by row after 2 evaluations; Picard only (nv = 6)
def test_ren_fast_run_equals_reference_values_and_gradients(activation, init, kind, picard, monkeypatch):
    monkeypatch.setattr(ren._Layer.__init__, "__defaults__", (picard,))
    m = random_ren(activation, init, kind)
    gen = torch.Generator().manual_seed(3)
    u = torch.randn(5, 30, 2, generator=gen, dtype=F64, requires_grad=True)
    x0 = torch.randn(5, 3, generator=gen, dtype=F64, requires_grad=True)
    fast, ref = m.run(u, x0), m.run_reference(u, x0)
    for a, b in zip(fast, ref):
        assert a.shape == b.shape
        assert torch.allclose(a, b, rtol=0, atol=1e-12 * (1 + b.abs().max().item()))
    # a loss that reads y, every state and the final state
    wts = [torch.randn(t.shape, generator=gen, dtype=F64) for t in ref]
    inputs = [u, x0] + [p for p in m.parameters() if p.numel()]
    g_fast = torch.autograd.grad(sum((w * t.sin()).sum() for w, t in zip(wts, fast)), inputs)
    g_ref = torch.autograd.grad(sum((w * t.sin()).sum() for w, t in zip(wts, ref)), inputs)
    for a, b in zip(g_fast, g_ref):
        assert torch.allclose(a, b, rtol=0, atol=1e-10 * (1 + b.abs().max().item()))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("picard", [1, 4])
def test_recurrence_gradcheck(activation, picard, monkeypatch):
    monkeypatch.setattr(ren._Layer.__init__, "__defaults__", (picard,))
    gen = torch.Generator().manual_seed(5)
    B, T, nx, nv = 3, 6, 2, 4
    n = nx + nv

    def r(*shape, s=1.0):
        return (s * torch.randn(*shape, generator=gen, dtype=F64)).requires_grad_()

    # random values: no pre-activation of the relu falls within eps of its kink
    x0, v0, U = r(nx, B), r(nv, B), r(T, n, B)  # feature-major: one column per sample
    K = r(n, n, s=0.4)
    D11 = torch.tril(0.8 * torch.randn(nv, nv, generator=gen, dtype=F64), diagonal=-1).requires_grad_()
    def f(x0, v0, U, K, D11):
        return _Recurrence.apply(x0, v0, U, K, torch.tril(D11, diagonal=-1), activation)

    assert torch.autograd.gradcheck(f, (x0, v0, U, K, D11), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_ren_fast_run_float32_and_empty_window():
    m = RENModule(1, 1, nx=4, nv=16, seed=0, dtype=torch.float32)
    m64 = RENModule(1, 1, nx=4, nv=16, seed=0)
    m64.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(8, 50, 1, generator=gen)
    y32 = m(u, torch.zeros(8, 4))
    y64 = m64.run_reference(u.double(), torch.zeros(8, 4, dtype=F64))[0]
    assert y32.dtype == torch.float32
    assert torch.allclose(y32.double(), y64, rtol=0, atol=1e-4 * (1 + y64.abs().max().item()))
    y, x, xT = m.run(u[:, :0], torch.ones(8, 4))
    assert y.shape == (8, 0, 1) and x.shape == (8, 0, 4) and torch.equal(xT, torch.ones(8, 4))


# ---------------------------------------------------------------- NeuralODE

from sysid.models.node import NeuralODEModule, _FixedStep  # noqa: E402


def plain_simulation(m, u, x0, dt, method, hold, n):
    """RK4 / Euler with n steps per sample interval, input held (zoh) or interpolated (foh)."""
    def field(x, uu):
        f = m.out_scale * (torch.tanh(x @ m.W1.T + uu @ m.U.T + m.b1) @ m.W2.T + m.b2)
        return f + x @ m.A.T + uu @ m.B.T if m.linear else f

    x, xs = x0, [x0]
    for k in range(u.shape[1] - 1):
        h = dt[:, k:k + 1] / n
        u0, u1 = u[:, k], u[:, k + 1]
        for i in range(n):
            ui = (lambda s: u0) if hold == "zoh" else (lambda s: u0 + s * (u1 - u0))
            a, b, c = ui(i / n), ui((i + 0.5) / n), ui((i + 1) / n)
            if method == "euler":
                x = x + h * field(x, a)
                continue
            k1 = field(x, a)
            k2 = field(x + h / 2 * k1, b)
            k3 = field(x + h / 2 * k2, b)
            k4 = field(x + h * k3, c)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        xs.append(x)
    X = torch.stack(xs, 1)
    return X @ m.C.T + (u @ m.D.T if m.D is not None else 0), X


@pytest.mark.parametrize("method", ["rk4", "euler"])
@pytest.mark.parametrize("hold", ["zoh", "foh"])
@pytest.mark.parametrize("linear", [True, False])
@pytest.mark.parametrize("irregular", [False, True])
def test_node_fast_path_equals_plain_integration(method, hold, linear, irregular):
    torch.manual_seed(0)
    m = NeuralODEModule(3, 2, 2, dt=0.7, hidden=8, full_state=False, feedthrough=True, substeps=2,
                        method=method, hold=hold, linear=linear, init_std=0.5).double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(4, 12, 2, generator=gen, dtype=F64, requires_grad=True)
    x0 = torch.randn(4, 3, generator=gen, dtype=F64, requires_grad=True)
    dt = 0.2 + torch.rand(4, 11, generator=gen, dtype=F64) if irregular else None
    y, x = m.forward_states(u, x0, dt)
    y_ref, x_ref = plain_simulation(m, u, x0, torch.full((4, 11), 0.7, dtype=F64) if dt is None else dt,
                                    method, hold, 2)
    assert torch.allclose(x, x_ref, rtol=0, atol=1e-12) and torch.allclose(y, y_ref, rtol=0, atol=1e-12)
    inputs = [u, x0] + list(m.parameters())
    wy, wx = torch.randn(y.shape, generator=gen, dtype=F64), torch.randn(x.shape, generator=gen, dtype=F64)
    g = torch.autograd.grad((wy * y.sin()).sum() + (wx * x).sum(), inputs)
    g_ref = torch.autograd.grad((wy * y_ref.sin()).sum() + (wx * x_ref).sum(), inputs)
    for a, b in zip(g, g_ref):
        assert torch.allclose(a, b, rtol=0, atol=1e-11 * (1 + b.abs().max().item()))
    # the module's own step-by-step path agrees too
    y2, x2 = m.forward_states_reference(u, x0, dt)
    assert torch.allclose(x, x2, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method,linear,float_h", [("rk4", True, True), ("rk4", False, False),
                                                    ("euler", True, False)])
def test_fixed_step_gradcheck(method, linear, float_h):
    gen = torch.Generator().manual_seed(2)
    T1, M, B, H, nx = 3, 4 if method == "rk4" else 2, 2, 5, 2

    def r(*shape, s=1.0):
        return (s * torch.randn(*shape, generator=gen, dtype=F64)).requires_grad_()

    x0, C, E = r(B, nx), r(T1, M, B, H), r(T1, M, B, nx)
    W1t, W2T = r(nx, H, s=0.7), r(H, nx, s=0.7)
    At = r(nx, nx, s=0.5) if linear else None
    h = 0.3 if float_h else 0.1 + torch.rand(T1, B, 1, generator=gen, dtype=F64)

    def f(x0, C, E, W1t, W2T, *At):
        return _FixedStep.apply(x0, C, E, W1t, At[0] if At else None, W2T, h, method)

    args = (x0, C, E, W1t, W2T) + ((At,) if linear else ())
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, rtol=1e-6)


def test_node_float32_and_fallbacks():
    torch.manual_seed(0)
    m = NeuralODEModule(4, 1, 1, dt=1.0, hidden=32, full_state=False, substeps=1, linear=True)
    with torch.no_grad():
        m.A.copy_(-0.1 * torch.eye(4))
        m.B.normal_()
    u = torch.randn(8, 50, 1)
    y32 = m(u, torch.zeros(8, 4))
    y_ref = m.forward_states_reference(u, torch.zeros(8, 4))[0]
    assert y32.dtype == torch.float32
    assert torch.allclose(y32, y_ref, rtol=0, atol=1e-5 * (1 + y_ref.abs().max().item()))
    # a dt that wants a gradient, or one sample, takes the step-by-step path
    dt = torch.ones(8, 49, requires_grad=True)
    assert not m._fast(dt) and m._fast(None)
    assert m(u[:, :1], torch.ones(8, 4)).shape == (8, 1, 1)
