"""RENModule: the direct parameterization carries its certificate for every parameter value.

Oracles: an independent numpy implementation of the explicit LMIs of docs/math.md §3.3/§3.4, simulated
trajectory pairs (contraction, Lipschitz, dissipation), LureSystem simulation, finite differences.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sysid.certify import check_ren_certificate  # noqa: E402
from sysid.models.ren import RENModule  # noqa: E402

KINDS = ("contracting", "lipschitz", "iqc")


def random_qsr(nu, ny, rng):
    Xq = rng.standard_normal((ny, ny))
    Q = -(Xq.T @ Xq) - 0.1 * np.eye(ny)
    S = rng.standard_normal((nu, ny))
    Yq = rng.standard_normal((nu, nu))
    R = S @ np.linalg.solve(Q, S.T) + Yq.T @ Yq + 0.1 * np.eye(nu)
    return Q, S, 0.5 * (R + R.T)


def random_ren(seed, *, kind="contracting", nu=2, ny=2, nx=3, nv=4, rate=1.0, gamma=2.0, scale=0.5,
               activation="relu"):
    """A REN whose every free parameter (not only X) is random."""
    rng = np.random.default_rng(seed)
    kw = {}
    if kind == "lipschitz":
        kw = dict(gamma=gamma)
    elif kind == "iqc":
        kw = dict(zip("QSR", random_qsr(nu, ny, rng)))
    m = RENModule(nu, ny, nx=nx, nv=nv, kind=kind, rate=rate, activation=activation, seed=seed,
                  init="random" if seed % 2 else "long_memory", **kw)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return m


def explicit_lmi(e, rate, qsr=None):
    """Independent numpy build of the explicit certificate LMI (docs/math.md §3.3, §3.4) in ξ = (Δx, Δw[, Δu])."""
    A, B1, B2, C1, D11, D12 = (e[k] for k in ("A", "B1", "B2", "C1", "D11", "D12"))
    C2, D21, D22, M, lam = (e[k] for k in ("C2", "D21", "D22", "M", "Lambda"))
    nx, nv, nu = A.shape[0], B1.shape[1], B2.shape[1]
    L = np.diag(lam)
    if qsr is None:
        K = np.hstack([A, B1])
        out = K.T @ M @ K
        out[:nx, :nx] -= rate**2 * M
        out[:nx, nx:] += C1.T @ L
        out[nx:, :nx] += L @ C1
        out[nx:, nx:] += L @ D11 + D11.T @ L - 2 * L
        return out
    Q, S, R = qsr
    K = np.hstack([A, B1, B2])
    Cv = np.hstack([C1, D11, D12])
    Cy = np.hstack([C2, D21, D22])
    Ew = np.hstack([np.zeros((nv, nx)), np.eye(nv), np.zeros((nv, nu))])
    Eu = np.hstack([np.zeros((nu, nx + nv)), np.eye(nu)])
    Ex = np.hstack([np.eye(nx), np.zeros((nx, nv + nu))])
    return (K.T @ M @ K - rate**2 * Ex.T @ M @ Ex + Ew.T @ L @ Cv + Cv.T @ L @ Ew - 2 * Ew.T @ L @ Ew
            - (Cy.T @ Q @ Cy + Cy.T @ S.T @ Eu + Eu.T @ S @ Cy + Eu.T @ R @ Eu))


def max_eig(M):
    return np.linalg.eigvalsh(0.5 * (M + M.T)).max()


def simulate_pair(lure, u1, u2, x1, x2):
    y1, X1 = lure.simulate(u1, x1, return_x=True)
    y2, X2 = lure.simulate(u2, x2, return_x=True)
    return y1, y2, X1, X2


# 50 random RENs: most small, a few of size 16
CASES = []
_r = np.random.default_rng(2024)
for _seed in range(50):
    big = _seed % 12 == 0
    CASES.append(dict(
        seed=_seed, kind=KINDS[_seed % 3], rate=[1.0, 0.8, 0.5][(_seed // 3) % 3],
        nx=int(_r.integers(8, 17)) if big else int(_r.integers(1, 5)),
        nv=int(_r.integers(8, 17)) if big else int(_r.integers(1, 6)),
        nu=int(_r.integers(1, 4)), ny=int(_r.integers(1, 4)),
        activation="tanh" if _seed % 4 == 1 else "relu"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}-s{c['seed']}-nx{c['nx']}-nv{c['nv']}" for c in CASES])
def test_random_ren_carries_its_certificate(case):
    m = random_ren(case["seed"], kind=case["kind"], nu=case["nu"], ny=case["ny"], nx=case["nx"], nv=case["nv"],
                   rate=case["rate"], activation=case["activation"])
    rate = case["rate"]
    e = m.explicit_numpy()
    # acyclic equilibrium layer and positive multipliers
    assert not np.any(np.triu(e["D11"]))
    assert np.all(e["Lambda"] > 0)
    lure = m.to_lure()
    assert lure.is_acyclic
    scale = max(1.0, np.abs(e["M"]).max())
    # built-in certificate through sysid.certify's numpy check
    qsr = m.iqc()
    cert = check_ren_certificate(lure, e["M"], e["Lambda"], rate=rate,
                                 **({} if qsr is None else dict(zip("QSR", qsr))))
    assert cert.certified, cert
    # independent numpy oracle: contraction LMI (docs/math.md §3.3) holds for every kind (Q ≺ 0)
    assert max_eig(explicit_lmi(e, rate)) <= 1e-9 * scale
    if qsr is not None:
        assert max_eig(explicit_lmi(e, rate, qsr)) <= 1e-9 * scale
    # two trajectories, same input: V = ΔxᵀMΔx shrinks by rate² per step
    rng = np.random.default_rng(case["seed"])
    u = rng.standard_normal((40, case["nu"]))
    _, _, X1, X2 = simulate_pair(lure, u, u, 3 * rng.standard_normal(case["nx"]), 3 * rng.standard_normal(case["nx"]))
    dX = X1 - X2
    V = np.einsum("ti,ij,tj->t", dX, e["M"], dX)
    assert np.all(V[1:] <= rate**2 * V[:-1] * (1 + 1e-9) + 1e-12 * V[0])


@pytest.mark.parametrize("nu,ny", [(2, 3), (3, 2), (2, 2)])
def test_lipschitz_ren_gain_bound(nu, ny):
    gamma = 1.5
    rng = np.random.default_rng(nu * 10 + ny)
    for seed in range(3):
        m = random_ren(100 + seed, kind="lipschitz", nu=nu, ny=ny, nx=3, nv=5, gamma=gamma, scale=1.0)
        e = m.explicit_numpy()
        # the Cayley-constructed feedthrough satisfies ‖D22‖ < γ
        assert np.linalg.norm(e["D22"], 2) < gamma
        lure = m.to_lure()
        x0 = rng.standard_normal(3)
        worst = 0.0
        for _ in range(5):
            u1 = 2 * rng.standard_normal((60, nu))
            u2 = u1 + rng.standard_normal((60, nu)) * rng.uniform(0.01, 2)
            y1, y2, _, _ = simulate_pair(lure, u1, u2, x0, x0)
            ratio = np.sum((y1 - y2) ** 2) / np.sum((u1 - u2) ** 2)
            worst = max(worst, ratio)
            assert ratio <= gamma**2 * (1 + 1e-9)
        assert worst > 0


@pytest.mark.parametrize("nu,ny,rate", [(2, 3, 1.0), (3, 2, 0.8), (2, 2, 1.0), (1, 1, 0.9)])
def test_qsr_ren_dissipation_inequality(nu, ny, rate):
    rng = np.random.default_rng(7 + nu + ny)
    m = random_ren(200 + nu, kind="iqc", nu=nu, ny=ny, nx=3, nv=4, rate=rate, scale=1.0)
    Q, S, R = m.iqc()
    e = m.explicit_numpy()
    lure = m.to_lure()
    M = e["M"]
    for _ in range(5):
        u1, u2 = rng.standard_normal((50, nu)), rng.standard_normal((50, nu))
        y1, y2, X1, X2 = simulate_pair(lure, u1, u2, rng.standard_normal(3), rng.standard_normal(3))
        dx, dy, du = X1 - X2, y1 - y2, u1 - u2
        V = np.einsum("ti,ij,tj->t", dx, M, dx)
        supply = (np.einsum("ti,ij,tj->t", dy, Q, dy) + 2 * np.einsum("ti,ij,tj->t", du, S, dy)
                  + np.einsum("ti,ij,tj->t", du, R, du))
        slack = supply[:-1] - (V[1:] - rate**2 * V[:-1])
        assert slack.min() >= -1e-9 * max(1.0, np.abs(supply).max(), V.max())


def test_qsr_reduces_to_lipschitz():
    gamma = 3.0
    a = random_ren(5, kind="lipschitz", nu=2, ny=3, gamma=gamma)
    b = RENModule(2, 3, nx=3, nv=4, kind="iqc", Q=-np.eye(3) / gamma, S=np.zeros((2, 3)), R=gamma * np.eye(2), seed=0)
    b.load_state_dict(a.state_dict())
    ea, eb = a.explicit_numpy(), b.explicit_numpy()
    for k in ("A", "B1", "B2", "C1", "D11", "D12", "D22", "M"):
        np.testing.assert_allclose(ea[k], eb[k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nu,ny", [(1, 1), (2, 3)])
def test_forward_matches_lure_simulation(kind, nu, ny):
    m = random_ren(11, kind=kind, nu=nu, ny=ny, nx=3, nv=5)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((2, 30, nu))
    x0 = rng.standard_normal((2, 3))
    y, x = m.forward_states(torch.tensor(u), torch.tensor(x0))
    assert y.shape == (2, 30, ny) and x.shape == (2, 30, 3) and y.dtype == torch.float64
    lure = m.to_lure()
    for b in range(2):
        yl, xl = lure.simulate(u[b], x0[b], return_x=True)
        np.testing.assert_allclose(y[b].detach().numpy(), yl, rtol=0, atol=1e-10)
        np.testing.assert_allclose(x[b].detach().numpy(), xl, rtol=0, atol=1e-10)


def test_partition_reconstructs_H():
    """Reassembling H from the implicit matrices (docs/math.md §3.3 (★)) gives back XᵀX + εI."""
    m = random_ren(3, nx=3, nv=4, rate=0.7)
    with torch.no_grad():
        e = m.explicit()
        X = m.X
        H = m.rho**2 * X.T @ X / torch.sum(X * X) + m.eps * torch.eye(10, dtype=torch.float64)
    e = {k: v.detach().numpy() for k, v in e.items()}
    E, F, P, lam = e["E"], e["F"], e["P"], e["Lambda"]
    L = np.diag(lam)
    C1i, D11i, B1i = L @ e["C1"], L @ e["D11"], E @ e["B1"]
    Hs = np.block([[E + E.T - P / 0.7**2, -C1i.T, F.T],
                   [-C1i, 2 * L - D11i - D11i.T, B1i.T],
                   [F, B1i, P]])
    np.testing.assert_allclose(Hs, H.numpy(), rtol=1e-10, atol=1e-12)


def test_gradients_flow_and_are_finite():
    m = random_ren(1, kind="lipschitz", nu=2, ny=2, nx=2, nv=3, gamma=2.0)
    u = torch.randn(4, 10, 2, dtype=torch.float64)
    loss = m(u, torch.zeros(4, 2, dtype=torch.float64)).pow(2).mean()
    loss.backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and torch.all(torch.isfinite(g)) for g in grads)
    assert m.X.grad.abs().sum() > 0


def test_float32_module_keeps_certificate():
    m = RENModule(1, 1, nx=3, nv=4, dtype=torch.float32, seed=0)
    y = m(torch.randn(2, 5, 1), torch.zeros(2, 3))
    assert y.dtype == torch.float32
    e = m.explicit_numpy()
    assert max_eig(explicit_lmi(e, 1.0)) <= 1e-5 * max(1.0, np.abs(e["M"]).max())


def test_certify_contraction_lmi_certifies_random_rens():
    from sysid.certify import contraction

    for seed in range(3):
        m = random_ren(300 + seed, nx=2, nv=3, nu=1, ny=1, rate=1.0)
        assert contraction(m.to_lure(), 1.0).certified


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="stable"), "'kind' parameter of RENModule must be one of"),
    (dict(kind="lipschitz"), "needs the Lipschitz bound: pass gamma"),
    (dict(kind="lipschitz", gamma=-1.0), "'gamma' parameter of RENModule must be a finite float > 0"),
    (dict(kind="contracting", gamma=1.0), "takes no gamma, Q, S or R"),
    (dict(kind="iqc", Q=np.eye(1), R=np.eye(1)), "Q must be negative definite"),
    (dict(kind="iqc", Q=-np.eye(2), R=np.eye(1)), r"Q must have shape \(1, 1\)"),
    (dict(kind="iqc", Q=-np.eye(1), S=[[3.0]], R=[[-20.0]]), "R − S Q⁻¹ Sᵀ must be positive definite"),
    (dict(kind="iqc", Q=-np.eye(1)), "needs Q .* and R"),
    (dict(rate=0.0), r"'rate' parameter of RENModule .* must be in \(0, 1\]"),
    (dict(rate=1.5), r"must be in \(0, 1\]"),
    (dict(activation="sigmoid"), "'activation' parameter of RENModule must be one of"),
    (dict(init="zeros"), "'init' parameter of RENModule must be 'random' or 'long_memory'"),
    (dict(nv=0), "'nv' parameter of RENModule must be an int >= 1"),
    (dict(dtype=torch.float32, eps=1e-12), "below float32 resolution"),
])
def test_bad_parameters_raise(kwargs, match):
    base = dict(nx=2, nv=3)
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        RENModule(1, 1, **base)


def test_bad_shapes_in_forward_raise():
    m = RENModule(2, 1, nx=2, nv=3, seed=0)
    with pytest.raises(ValueError, match=r"u must have shape \(B, T, nu\) = \(B, T, 2\)"):
        m(torch.zeros(1, 5, 3, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, nx\) = \(1, 2\)"):
        m(torch.zeros(1, 5, 2, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64))


@pytest.mark.parametrize("rate", [1.0, 0.9])
def test_init_from_linear_reproduces_the_lti_model(rate):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 3))
    A *= 0.8 * rate / np.max(np.abs(np.linalg.eigvals(A)))
    B, C, D = rng.standard_normal((3, 2)), rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    m = RENModule(2, 2, nx=3, nv=4, rate=rate, seed=0)
    m.init_from_linear(A, B, C, D)
    e = m.explicit_numpy()
    for got, want in ((e["A"], A), (e["B2"], B), (e["C2"], C), (e["D22"], D)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert max_eig(explicit_lmi(e, rate)) <= 1e-9 * max(1.0, np.abs(e["M"]).max())
    # an A faster than the rate is scaled into it
    m.init_from_linear(2 * A / (0.8 * rate), B, C, D)
    assert np.max(np.abs(np.linalg.eigvals(m.explicit_numpy()["A"]))) < rate
    with pytest.raises(ValueError, match=r"B must have shape \(3, 2\)"):
        m.init_from_linear(A, np.zeros((3, 3)), C, D)


def test_long_memory_init_has_slow_stable_poles():
    m = RENModule(1, 1, nx=4, nv=3, rate=0.9, init="long_memory", seed=0)
    e = m.explicit_numpy()
    rho = np.max(np.abs(np.linalg.eigvals(e["A"])))
    assert 0.5 * 0.9 < rho < 0.9
