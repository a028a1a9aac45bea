"""The lazy (NTK) predictor: the layer-by-layer empirical NTK equals J J^T from autograd, and a wide NTK-scaled
network trained by gradient descent ends where its closed-form linearization says; a feature learner does not."""
import torch

from mfnn.analysis.linearized import empirical_ntk, linearized_gd
from mfnn.models.mlp import MLPNet


def _net(width, parameterization="ntk", seed=0):
    torch.manual_seed(seed)
    return MLPNet(5, width, depth=3, activation="erf", parameterization=parameterization).double()


def test_ntk_equals_jacobian_gram():
    net = _net(16)
    x = torch.randn(6, 5, dtype=torch.float64)
    J = []
    for xi in x:
        g = torch.autograd.grad(net(xi[None]).sum(), list(net.parameters()))
        J.append(torch.cat([t.reshape(-1) for t in g]))
    J = torch.stack(J)
    assert torch.allclose(empirical_ntk(net, x, x[:4]), J @ J[:4].T, atol=1e-10)


def _gd(net, x, y, lr, steps):
    for _ in range(steps):
        loss = (net(x) - y).square().mean()
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, g in zip(net.parameters(), grads):
                p -= lr * g
    return net


def _deviation(width, parameterization, lr):
    torch.manual_seed(1)
    x, xe = torch.randn(32, 5, dtype=torch.float64), torch.randn(64, 5, dtype=torch.float64)
    y = x[:, 0] * x[:, 1]
    net0 = _net(width, parameterization)
    with torch.no_grad():
        f0 = net0(xe)
    lin = linearized_gd(net0, x, y, xe, lr, 100)
    net = _gd(_net(width, parameterization), x, y, lr, 100)
    with torch.no_grad():
        f = net(xe)
    return float((f - lin["eval"]).square().sum() / (lin["eval"] - f0).square().sum())


def test_lazy_network_follows_its_linearization_and_mean_field_does_not():
    lazy = _deviation(1024, "ntk", 0.5)
    assert lazy < 0.01  # NTK: the function-space deviation shrinks like 1/N
    assert _deviation(128, "ntk", 0.5) > lazy  # ... and grows at smaller width
    assert _deviation(128, "mean_field", 0.5 * 128) > 0.1  # a mean-field net (lr x N) leaves its linearization


def test_kernel_gd_is_the_linearization_and_the_analytic_kernel_is_its_wide_limit():
    """linearized_gd is kernel_gd with the empirical NTK; the analytic-NTK predictor from the same f_0
    (infinite_width_gd) is approached by the linearization as N grows (distance O(1/N): 16x width,
    at least 4x closer; a wrong kernel law, here relu in place of erf, stays far)."""
    from mfnn.analysis.linearized import infinite_width_gd, kernel_gd
    from mfnn.theory.kernels import KernelSpec, ntk

    torch.manual_seed(1)
    x, xe = torch.randn(32, 5, dtype=torch.float64), torch.randn(64, 5, dtype=torch.float64)
    y = x[:, 0] * x[:, 1]
    gaps = []
    for width in (64, 1024):
        net0 = _net(width)
        lin = linearized_gd(net0, x, y, xe, 0.5, 100)
        with torch.no_grad():
            f0, f0t = net0(xe).reshape(-1), net0(x).reshape(-1)
        again = kernel_gd(empirical_ntk(net0, x, x), empirical_ntk(net0, xe, x), f0t, f0, y, 0.5, 100)
        assert torch.allclose(again["eval"], lin["eval"], atol=1e-12)
        inf = infinite_width_gd(net0, x, y, xe, 0.5, 100)
        gaps.append(float((lin["eval"] - inf["eval"]).square().sum() / (inf["eval"] - f0.double()).square().sum()))
        if width == 1024:  # placebo: the analytic kernel of another activation is not this net's limit
            wrong = KernelSpec("relu", 3, True, parameterization="ntk")
            bad = kernel_gd(ntk(wrong, x), ntk(wrong, xe, x), f0t, f0, y, 0.5, 100)
            assert float((lin["eval"] - bad["eval"]).square().sum()) > 10 * float((lin["eval"] - inf["eval"]).square().sum())
    assert gaps[1] < gaps[0] / 4, gaps


def test_kernel_gd_schedule_equals_the_step_by_step_recursion():
    from mfnn.analysis.linearized import kernel_gd

    g = torch.Generator().manual_seed(0)
    X, Xe = torch.randn(12, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    kern = lambda A, B: torch.exp(-torch.cdist(A, B) ** 2 / 2)  # noqa: E731
    K, Ke = kern(X, X), kern(Xe, X)
    f0, f0e, y = torch.randn(12, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64), \
        torch.randn(12, generator=g, dtype=torch.float64)
    lrs = [0.9, 0.7, 0.5, 0.3, 0.1, 0.0]  # an annealed schedule
    f, fe = f0.clone(), f0e.clone()
    for lr in lrs:  # full-batch GD on mean (f - y)^2 of the kernel model, one step at a time
        grad = 2 * (f - y) / len(X)
        f, fe = f - lr * K @ grad, fe - lr * Ke @ grad
    out = kernel_gd(K, Ke, f0, f0e, y, lrs)
    assert torch.allclose(out["train"], f, atol=1e-12) and torch.allclose(out["eval"], fe, atol=1e-12)
    constant = kernel_gd(K, Ke, f0, f0e, y, 0.4, 7)
    assert torch.allclose(kernel_gd(K, Ke, f0, f0e, y, [0.4] * 7)["eval"], constant["eval"], atol=1e-12)
