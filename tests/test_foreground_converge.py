"""The converged-foreground solver: exact gradients and Hessians of the single-neuron objective V_s,
the test particle's gradient equals minus a background neuron's own velocity, and the solver stops on
the gradient norm."""

import pytest
import torch
from torch.func import grad, hessian, vmap

from mfnn.foreground.converge import _features, converge, grad_hess, gradient_norms, objective
from mfnn.models.mlp import MLPNet


def sample(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (2 * torch.rand(n, 2, generator=g) - 1).double()
    return x, x[:, 0] * x[:, 1]


@pytest.mark.parametrize("s,wd", [(0.0, 0.0), (0.0, 0.01), (1 / 64, 0.0), (1.0, 0.03)])
def test_gradient_and_hessian_match_torch_func(s, wd):
    x, r = sample()
    u = _features(x)
    theta = torch.randn(7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    one = lambda th: objective(th[None], u, r, s, wd)[0]  # noqa: E731
    g, H = grad_hess(theta, u, r, s, wd)
    torch.testing.assert_close(g, vmap(grad(one))(theta))
    torch.testing.assert_close(H, vmap(hessian(one))(theta))  # HardTanh: phi'' = 0 on the sample


def test_test_particle_gradient_is_minus_the_background_velocity():
    """For s = 0, grad V at a background neuron = -(its mean-field SGD step) / lr, with MFNNModule's
    scaling (lr x N, weight decay / N): the background is at rest iff its neurons are stationary."""
    torch.manual_seed(0)
    N, lr, wd = 32, 0.5, 0.01
    net = MLPNet(2, N, activation="hardtanh", parameterization="mean_field").double()
    x, y = sample(256)
    with torch.no_grad():
        r = y - net(x)
    theta = torch.cat([net.W_in, net.b_in[:, None], net.a], 1).detach()
    opt = torch.optim.SGD(net.parameters(), lr=lr * N, weight_decay=wd / N)
    (net(x) - y).square().mean().backward()
    opt.step()
    moved = torch.cat([net.W_in, net.b_in[:, None], net.a], 1).detach() - theta
    g, _ = grad_hess(theta, _features(x), r, 0.0, wd)
    torch.testing.assert_close(moved, -lr * g)


def test_converge_reaches_tolerance_and_minimises_each_neuron():
    x, y = sample(512)
    r = 0.3 * y  # a residual with a learnable shape
    theta0 = torch.randn(64, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    res = converge(theta0, x, r, s=1.0, wd=0.01, tol=1e-6, max_iter=200)
    assert res.fraction_converged == 1.0 and float(res.grad_norm.max()) < 1e-6
    torch.testing.assert_close(gradient_norms(res.theta, x, r, 1.0, 0.01), res.grad_norm, atol=1e-6, rtol=0)
    v_end = objective(res.theta.double(), _features(x), r, 1.0, 0.01)
    v_start = objective(theta0.double(), _features(x), r, 1.0, 0.01)
    assert bool((v_end <= v_start + 1e-12).all())  # descent, neuron by neuron
    # a local minimum: no small random perturbation lowers V
    for k in range(5):
        d = 1e-3 * torch.randn(res.theta.shape, generator=torch.Generator().manual_seed(10 + k), dtype=torch.float64)
        assert bool((objective(res.theta.double() + d, _features(x), r, 1.0, 0.01) >= v_end - 1e-9).all())


def test_unbounded_objective_is_reported_not_converged():
    """s = 0, wd = 0: V = -2 a <r phi> is linear in a; the solver must not claim convergence."""
    x, y = sample(256)
    theta0 = torch.randn(16, 4, generator=torch.Generator().manual_seed(3))
    res = converge(theta0, x, 0.3 * y, s=0.0, wd=0.0, tol=1e-6, max_iter=20)
    assert res.fraction_converged < 0.5
    assert float(res.theta[:, -1].abs().mean()) > float(theta0[:, -1].abs().mean()) + 5  # a runs away


def test_anneal_factor_and_snapshots():
    from mfnn.callbacks.foreground import AnnealLR

    a = AnnealLR(start=10, end=20, final=0.1)
    assert a.factor(0) == 1.0 and a.factor(10) == 1.0 and abs(a.factor(15) - 0.55) < 1e-12
    assert abs(a.factor(20) - 0.1) < 1e-12 and abs(a.factor(99) - 0.1) < 1e-12


def test_null_score_and_energy_distance_tell_laws_apart():
    from mfnn.analysis.clouds import energy_distance, null_score

    g = torch.Generator().manual_seed(0)
    clouds = [torch.randn(256, 3, generator=g) for _ in range(6)]
    null = torch.tensor([energy_distance(clouds[i], clouds[j]) for i in range(5) for j in range(i + 1, 5)])
    same = null_score(energy_distance(clouds[5], clouds[0]), null)
    shifted = null_score(energy_distance(clouds[5] + torch.tensor([0.5, 0, 0]), clouds[0]), null)
    assert same["z"] < 3 and shifted["z"] > 3 and shifted["p"] == 1 / 11
