"""The fast evaluation paths of the REN and the NeuralODE against their plain references.

Oracles: row-by-row substitution and batched triangular solves for the equilibrium layer, the
step-by-step autograd REN (``run_reference``), finite differences (``gradcheck``), and for the
NeuralODE a plain RK4 / Euler loop written out here.
"""

import pytest

torch = pytest.importorskip("torch")

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
def test_fixed_point_equals_row_by_row_solution(activation, scale):
    gen = torch.Generator().manual_seed(int(10 * scale))
    nv = 12
    D11 = torch.tril(scale * torch.randn(nv, nv, generator=gen, dtype=F64), diagonal=-1)
    v = 2.0 * torch.randn(64, nv, generator=gen, dtype=F64)
    sigma = torch.relu if activation == "relu" else torch.tanh
    w = _fixed_point(v, D11.T, activation)
    ref = sequential_layer(v, D11, sigma)
    assert torch.allclose(w, ref, rtol=0, atol=1e-12 * (1 + ref.abs().max().item()))
    assert torch.allclose(w, sigma(v + w @ D11.T), rtol=0, atol=1e-12 * (1 + ref.abs().max().item()))


@pytest.mark.parametrize("scale", [0.0, 0.3, 3.0])
def test_adjoint_fixed_point_equals_triangular_solve(scale):
    gen = torch.Generator().manual_seed(7)
    nv = 10
    D11 = torch.tril(scale * torch.randn(nv, nv, generator=gen, dtype=F64), diagonal=-1)
    J = torch.rand(32, nv, generator=gen, dtype=F64)
    J[J < 0.3] = 0.0
    g = torch.randn(32, nv, generator=gen, dtype=F64)
    M = torch.eye(nv, dtype=F64) - D11.T[None] * J[:, None, :]  # I − D11ᵀ J per sample
    mu = torch.linalg.solve(M, g[:, :, None])[:, :, 0]
    got = _adjoint_fixed_point(g, J, D11)
    assert torch.allclose(got, J * mu, rtol=0, atol=1e-12 * (1 + mu.abs().max().item()))


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
def test_ren_fast_run_equals_reference_values_and_gradients(activation, init, kind):
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
def test_recurrence_gradcheck(activation):
    gen = torch.Generator().manual_seed(5)
    B, T, nx, nv = 3, 6, 2, 4
    n = nx + nv

    def r(*shape, s=1.0):
        return (s * torch.randn(*shape, generator=gen, dtype=F64)).requires_grad_()

    # random values: no pre-activation of the relu falls within eps of its kink
    x0, v0, U = r(B, nx), r(B, nv), r(T, B, n)
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
