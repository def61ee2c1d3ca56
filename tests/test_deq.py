"""DEQ and monDEQ layers: implicit gradients against unrolled ones and finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

from sysid import ConvergenceError  # noqa: E402
from sysid.models.deq import (IFT, ContractiveWeight, DEQModule, MonDEQModule, MonotoneWeight,  # noqa: E402
                              Phantom, deq_fixed_point)
from sysid.solvers import Anderson, Broyden, Picard, monotone_margin  # noqa: E402

TIGHT = dict(atol=1e-13, rtol=0, max_iter=2000)


def loss_of(z):
    return (z ** 2).sum() + torch.sin(z).sum()


def unrolled_grads(layer, x, steps=400):
    W, h = layer.W(), layer.injection(x)
    act = torch.tanh if layer.sigma == "tanh" else torch.relu
    z = torch.zeros_like(h)
    for _ in range(steps):
        z = act(z @ W.T + h)
    return torch.autograd.grad(loss_of(z), list(layer.parameters()))


@pytest.mark.parametrize("solver", [Picard(**TIGHT), Anderson(**TIGHT), Broyden(**TIGHT)],
                         ids=["picard", "anderson", "broyden"])
@pytest.mark.parametrize("n, d", [(1, 1), (6, 3)])
def test_implicit_gradient_matches_unrolled(solver, n, d):
    layer = DEQModule(n, d, weight="contractive", gamma=0.8, solver=solver, seed=n)
    x = torch.randn(5, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g_ift = torch.autograd.grad(loss_of(layer(x)), list(layer.parameters()))
    g_unr = unrolled_grads(layer, x)
    for a, b in zip(g_ift, g_unr):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-8)


def test_gradcheck_against_finite_differences_all_layers():
    x = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    layers = [
        DEQModule(4, 2, weight="contractive", solver=Anderson(**TIGHT), seed=0),
        DEQModule(4, 2, weight="free", solver=Broyden(**TIGHT), seed=0),
        MonDEQModule(4, 2, m=0.3, sigma="relu", solver=Anderson(**TIGHT), seed=0),
        MonDEQModule(4, 2, m=0.3, sigma="tanh", splitting="fb", solver=Anderson(atol=1e-13, rtol=0, max_iter=5000),
                     seed=0),
    ]
    for layer in layers:
        assert torch.autograd.gradcheck(lambda inp, L=layer: L(inp), (x,), eps=1e-6, atol=1e-6)


def test_phantom_gradient_approaches_ift_with_many_steps():
    layer = DEQModule(5, 3, weight="contractive", gamma=0.5, solver=Anderson(**TIGHT), seed=3)
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    exact = torch.autograd.grad(loss_of(layer(x)), list(layer.parameters()))
    errs = []
    for steps in (1, 5, 40):
        layer.backward_mode = Phantom(steps=steps, damping=1.0)
        approx = torch.autograd.grad(loss_of(layer(x)), list(layer.parameters()))
        errs.append(max(float((a - b).abs().max()) for a, b in zip(exact, approx)))
    assert errs[2] < 1e-9 and errs[0] > errs[1] > errs[2]


def test_adjoint_uses_given_solver_and_generic_function():
    # deq_fixed_point on an arbitrary map: z = 0.5 cos(z) + θ, gradient dz/dθ = 1 / (1 + 0.5 sin z)
    theta = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    z, res = deq_fixed_point(lambda z: 0.5 * torch.cos(z) + theta, torch.zeros(1, 2, dtype=torch.float64),
                             solver=Anderson(**TIGHT), backward=IFT(solver=Picard(**TIGHT)))
    (g,) = torch.autograd.grad(z.sum(), theta)
    expected = 1 / (1 + 0.5 * torch.sin(z.detach()[0]))
    np.testing.assert_allclose(g.numpy(), expected.numpy(), atol=1e-10)
    assert res.converged


def test_non_convergent_layer_raises_with_residual_and_iterations():
    layer = DEQModule(6, 2, weight="free", solver=Picard(max_iter=50), seed=0)
    with torch.no_grad():
        layer.weight.V.copy_(-5.0 * torch.eye(6, dtype=torch.float64))  # z = tanh(-5z + h): a 2-cycle
    x = torch.ones(2, 2, dtype=torch.float64)
    with pytest.raises(ConvergenceError, match="did not converge in 50 iterations|diverged") as info:
        layer(x)
    assert info.value.iterations > 0 and np.isfinite(info.value.residual)


def test_monotone_layer_converges_where_unconstrained_plain_iteration_fails():
    layer = MonDEQModule(10, 3, m=0.2, sigma="relu", seed=0)
    with torch.no_grad():
        layer.weight.A.mul_(4.0)
    W = layer.W().detach()
    assert np.max(np.abs(np.linalg.eigvals(W.numpy()))) > 1
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z = layer(x).detach()
    np.testing.assert_allclose(z.numpy(), torch.relu(z @ W.T + layer.injection(x)).detach().numpy(), atol=1e-6)
    with pytest.raises(ConvergenceError):
        DEQModule(10, 3, weight=layer.weight, sigma="relu", solver=Picard(max_iter=200))(x)


@settings(max_examples=15, derandomize=True, deadline=None)
@given(n=st.integers(1, 12), m=st.floats(0.05, 1.0), scale=st.floats(0.05, 1.0), seed=st.integers(0, 1000),
       lora=st.integers(0, 2), sigma=st.sampled_from(["relu", "tanh"]))
def test_mondeq_converges_for_every_parameter_draw(n, m, scale, seed, lora, sigma):
    gen = torch.Generator().manual_seed(seed)
    layer = MonDEQModule(n, 2, m=m, sigma=sigma, lora_rank=lora, seed=seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(scale * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    assert monotone_margin(layer.W()) >= m - 1e-9
    x = torch.randn(3, 2, dtype=torch.float64, generator=gen)
    z = layer(x).detach()
    act = torch.relu if sigma == "relu" else torch.tanh
    assert layer.last_result.converged and torch.isfinite(z).all()
    # the solver's tolerance (1e-8) is on the splitting variable; the equation error scales with ‖I − W‖
    scale_eq = 1 + float(torch.linalg.matrix_norm(layer.W().detach(), ord=2))
    np.testing.assert_allclose(z.numpy(), act(z @ layer.W().detach().T + layer.injection(x).detach()).numpy(),
                               atol=1e-7 * scale_eq * (1 + float(z.abs().max())))


def test_weight_guarantees_hold_with_lora():
    gen = torch.Generator().manual_seed(0)
    c = ContractiveWeight(7, gamma=0.7, lora_rank=2, generator=gen)
    mw = MonotoneWeight(7, m=0.25, lora_rank=2, generator=gen)
    with torch.no_grad():
        for w in (c, mw):
            for p in w.parameters():
                p.copy_(3 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    assert float(torch.linalg.matrix_norm(c().detach(), ord=2)) <= 0.7 + 1e-12
    assert monotone_margin(mw()) >= 0.25 - 1e-9


def test_bad_inputs():
    with pytest.raises(ValueError, match="sigma must be one of"):
        DEQModule(3, 2, sigma="softplus")
    with pytest.raises(ValueError, match="weight must be one of"):
        DEQModule(3, 2, weight="orthogonal")
    with pytest.raises(ValueError, match="operator splitting needs a monotone weight"):
        DEQModule(3, 2, weight="free", splitting="pr")
    with pytest.raises(ValueError, match="gamma .* must be in \\(0, 1\\); got 1.2"):
        DEQModule(3, 2, gamma=1.2)
    with pytest.raises(ValueError, match="x must have shape \\(B, d\\) = \\(B, 2\\); got \\(4, 3\\)"):
        DEQModule(3, 2)(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="Phantom steps must be an int >= 1"):
        Phantom(steps=0)
