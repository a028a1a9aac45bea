r"""Infinite-width kernels of mfnn's MLPs: the NNGP (feature) kernel and the neural tangent kernel (NTK).

The network (`mfnn.models.mlp.MLPNet`), with W_in ~ N(0, s_in^2), W_hidden ~ N(0, 1), biases ~ N(0, s_b^2):

    z_1 = W_in x / sqrt(d) + b_in,   z_{l+1} = W_hidden[l] phi(z_l) / sqrt(N) + b_l,   f = s_N a . phi(z_L)

As N -> oo every pre-activation z_l is a centred Gaussian process with covariance Sigma_l, and the layer's
feature kernel h_l h_l^T / N (what `mfnn.analysis.kernels.layer_kernels` measures) tends to Lambda_l:

    Sigma_1(x, x')     = s_in^2 x.x'/d + s_b^2
    Lambda_l(x, x')    = E[phi(u) phi(v)],   (u, v) ~ N(0, Sigma_l restricted to {x, x'})
    Sigma_{l+1}(x, x') = Lambda_l(x, x') + s_b^2

The NTK counts each parameter's gradient with the learning-rate multiplier the optimiser applies to it
(`mfnn.parameterization.sgd_lr_scale`): Theta(x, x') = sum_p lr_scale_p df/dp(x) df/dp(x'). The init stds
sit in the initial weights, not as multipliers, so W_in contributes x.x'/d (not s_in^2 x.x'/d) and a bias 1:

    Theta_1            = x.x'/d + 1[bias]
    Theta_{l+1}        = Lambda_l + 1[bias] + Lambda'_l Theta_l,      Lambda'_l = E[phi'(u) phi'(v)]
    Theta(x, x')       = c_P (Lambda_L + s_a^2 Lambda'_L Theta_L)

with s_a = s_out and c_P = s_N^2 N lr_scale = 1 under both mean_field (1/N^2 * N * N) and ntk (1/N * N * 1):
the tangent kernel at initialisation is the same; what differs is that under ntk it stays there (lazy
training) while under mean_field it moves O(1). Under standard (s_N = 1, a ~ N(0, s_out^2/N), lr x 1) the
readout term grows like N: Theta = N Lambda_L + s_out^2 Lambda'_L Theta_L, so `ntk` needs the width there.
The output NNGP (the prior of f at initialisation) is Cov f = s_N^2 N std(a)^2 Lambda_L: s_out^2 Lambda_L
under ntk and standard, s_out^2 Lambda_L / N under mean_field (the mean-field output starts at zero).

Gaussian expectations: closed forms for relu (the arc-cosine kernel of Cho & Saul 2009), erf (Williams
1997), identity and quadratic; 2-D Gauss-Hermite quadrature (numpy.polynomial.hermite_e.hermegauss) for the
others (tanh, hardtanh). HardTanh's slope is a step, which quadrature integrates poorly; its derivative
kernel E[1{|u|<1} 1{|v|<1}] is a bivariate normal rectangle probability, computed exactly with Owen's T
function (scipy.special.owens_t).

Everything runs in float64 on the inputs' device. `width_convergence` compares these kernels with the
empirical ones of finite nets (error ~ 1/sqrt(N)); `infinite_width_baseline` is the GP / lazy-regime
reference a replication can report next to its trained nets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr, owens_t

from mfnn.analysis.kernels import kernel_regression
from mfnn.errors import require, require_choice
from mfnn.models.mlp import ACTIVATIONS, act_and_slope
from mfnn.parameterization import PARAMETERIZATIONS, sgd_lr_scale

__all__ = ["KernelSpec", "gaussian_expectation", "dual_kernels", "layer_nngp", "nngp", "output_nngp", "ntk",
           "nngp_and_ntk",
           "empirical_ntk", "kernel_regression", "infinite_width_baseline", "replication_baseline", "width_convergence"]

CLOSED_FORM = ("relu", "erf", "identity", "quadratic")  # both Lambda and Lambda' exact
QUADRATURE_NODES = 64  # Gauss-Hermite nodes per axis: tanh kernels to ~1e-7 at variance 1.5, ~1e-4 at 4 (measured)
CHUNK = 2 ** 22  # pairs x nodes per quadrature block (32 MiB of float64)


@dataclass(frozen=True)
class KernelSpec:
    """The infinite-width law of an `MLPNet`: everything its kernels depend on (not the width).

    Args:
        activation: one of `mfnn.models.mlp.ACTIVATIONS` ("relu", "erf", "hardtanh", "tanh", ...).
        depth: number of hidden layers L (>= 1).
        bias: whether hidden layers have biases.
        std_in: init std s_in of the input weights W_in (hidden weights always have std 1).
        std_bias: init std s_b of every bias.
        std_out: init std s_out of the readout a (before the standard parameterisation's 1/sqrt(N)).
        parameterization: "mean_field", "ntk" or "standard" (fixes the output-NNGP and NTK prefactors).
    """

    activation: str = "relu"
    depth: int = 1
    bias: bool = True
    std_in: float = 1.0
    std_bias: float = 1.0
    std_out: float = 1.0
    parameterization: str = "ntk"

    def __post_init__(self):
        require_choice(self.activation, ACTIVATIONS, "activation")
        require_choice(self.parameterization, PARAMETERIZATIONS, "parameterization")
        require(self.depth >= 1, "depth", f"must be >= 1 (got {self.depth})")

    @classmethod
    def of(cls, net) -> "KernelSpec":
        """The spec of an `MLPNet` (or a module with `.net`), read from its constructor arguments."""
        net = getattr(net, "net", net)
        return cls(activation=net.activation, depth=net.depth, bias=net.b_in is not None,
                   std_in=net.init_std["in"], std_bias=net.init_std["bias"], std_out=net.init_std["out"],
                   parameterization=net.parameterization)

    @property
    def bias_var(self) -> float:
        """s_b^2 if the layers have biases, else 0."""
        return self.std_bias ** 2 if self.bias else 0.0


# ---- 2-D Gaussian expectations -------------------------------------------------------------------------
def gaussian_expectation(f, g, q1: torch.Tensor, q2: torch.Tensor, c: torch.Tensor,
                         nodes: int = QUADRATURE_NODES) -> torch.Tensor:
    """E[f(u) g(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]), elementwise, by Gauss-Hermite quadrature.

    u = sqrt(q1) xi_1, v = (c / sqrt(q1)) xi_1 + sqrt(q2 - c^2/q1) xi_2 with xi ~ N(0, I_2) on a
    `nodes` x `nodes` grid of probabilists' Hermite nodes. Exact for polynomials of degree < 2 nodes.

    Args:
        f, g: elementwise torch functions.
        q1, q2, c: variances and covariance, broadcastable tensors of one shape.
        nodes: quadrature nodes per axis.

    Returns:
        Tensor of the broadcast shape.
    """
    q1, q2, c = torch.broadcast_tensors(q1, q2, c)
    shape = q1.shape
    q1, q2, c = (t.reshape(-1, 1) for t in (q1, q2, c))
    xi, w = np.polynomial.hermite_e.hermegauss(nodes)
    xi, w = (torch.as_tensor(a, dtype=q1.dtype, device=q1.device) for a in (xi, w / math.sqrt(2 * math.pi)))
    s1 = q1.clamp_min(0).sqrt()
    slope = torch.where(s1 > 0, c / s1.clamp_min(1e-300), torch.zeros_like(c))  # E[v | xi_1] / xi_1
    rest = (q2 - slope.square()).clamp_min(0).sqrt()  # std of v given xi_1
    out = torch.empty(len(q1), dtype=q1.dtype, device=q1.device)
    step = max(1, CHUNK // nodes ** 2)
    for i in range(0, len(q1), step):
        sl = slice(i, i + step)
        fu = f(s1[sl] * xi) * w  # (P, m): f at u, weighted along xi_1
        v = (slope[sl] * xi)[:, :, None] + (rest[sl] * xi)[:, None, :]  # (P, m, m): [xi_1, xi_2]
        out[sl] = torch.einsum("pi,pij,j->p", fu, g(v), w)
    return out.reshape(shape)


def _bvn_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X < h, Y < k) for standard normals with correlation rho (|rho| < 1, h and k nonzero), by Owen's
    (1956) formula: Phi(h)/2 + Phi(k)/2 - T(h, a_h) - T(k, a_k) - [hk < 0]/2, a_h = (k - rho h)/(h sqrt(1 - rho^2))."""
    r = np.sqrt(1 - rho ** 2)
    t_h = owens_t(h, (k - rho * h) / (h * r))
    t_k = owens_t(k, (h - rho * k) / (k * r))
    return 0.5 * ndtr(h) + 0.5 * ndtr(k) - t_h - t_k - 0.5 * (h * k < 0)


def _hardtanh_slope_kernel(q1, q2, c) -> torch.Tensor:
    """E[1{|u|<1} 1{|v|<1}]: the bivariate normal probability of the square [-1, 1]^2 (inclusion-exclusion)."""
    device = q1.device
    q1, q2, c = (t.detach().cpu().numpy() for t in torch.broadcast_tensors(q1, q2, c))
    s1, s2 = np.sqrt(np.maximum(q1, 1e-300)), np.sqrt(np.maximum(q2, 1e-300))
    rho = np.clip(c / (s1 * s2), -1 + 1e-12, 1 - 1e-12)  # Owen's formula needs |rho| < 1
    a, b = 1 / s1, 1 / s2  # the square's corners in standardised units
    p = _bvn_cdf(a, b, rho) - _bvn_cdf(-a, b, rho) - _bvn_cdf(a, -b, rho) + _bvn_cdf(-a, -b, rho)
    return torch.as_tensor(p, dtype=torch.float64).to(device)


def _hardtanh_kernel(q1: torch.Tensor, q2: torch.Tensor, c: torch.Tensor, nodes: int = 24) -> torch.Tensor:
    """E[ht(u) ht(v)] for HardTanh, as a 1-D integral with the inner expectation in closed form.

    With u = s1 xi, v | xi ~ N(k xi, sigma^2) (k = c/s1), E[ht(v) | xi] = G(k xi, sigma) is exact (normal cdf
    and density); the outer integrand phi(xi) ht(s1 xi) G(k xi) is even in xi and smooth between its kinks at
    1/s1 and 1/|k|, so [0, 12] is split there and each piece gets `nodes` Gauss-Legendre points (24: <= 1e-4 relative; 2-D
    Gauss-Hermite across the kinks is only good to ~1e-2)."""
    q1, q2, c = torch.broadcast_tensors(q1, q2, c)
    shape = q1.shape
    q1, q2, c = (t.reshape(-1, 1) for t in (q1, q2, c))
    s1 = q1.clamp_min(1e-300).sqrt()
    k = c / s1
    sigma = (q2 - k.square()).clamp_min(0).sqrt()
    top = 12.0  # phi(12) ~ 1e-32: the tail beyond is nothing
    b1 = (1 / s1).clamp(max=top)
    b2 = (1 / k.abs().clamp_min(1e-300)).clamp(max=top)
    edges = torch.cat([torch.zeros_like(b1), torch.minimum(b1, b2), torch.maximum(b1, b2),
                       torch.full_like(b1, top)], 1)  # (P, 4)
    x, w = (torch.as_tensor(a, dtype=c.dtype, device=c.device) for a in np.polynomial.legendre.leggauss(nodes))
    lo, hi = edges[:, :-1, None], edges[:, 1:, None]  # (P, 3, 1)
    xi = (lo + hi) / 2 + (hi - lo) / 2 * x  # (P, 3, m) nodes on each piece
    weight = (hi - lo) / 2 * w * torch.exp(-xi.square() / 2) / math.sqrt(2 * math.pi)
    mu, sd = k[:, :, None] * xi, sigma[:, :, None]
    safe = sd.clamp_min(1e-12)
    alpha, beta = (-1 - mu) / safe, (1 - mu) / safe
    Phi = lambda t: 0.5 * torch.erfc(-t / math.sqrt(2))  # noqa: E731
    pdf = lambda t: torch.exp(-t.square() / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    P_a, P_b = Phi(alpha), Phi(beta)
    G = 1 - P_b - P_a + mu * (P_b - P_a) + safe * (pdf(alpha) - pdf(beta))
    G = torch.where(sd > 1e-12, G, mu.clamp(-1, 1))  # v determined by u: G = ht(mu)
    out = 2 * (weight * (s1[:, :, None] * xi).clamp(-1, 1) * G).sum((1, 2))
    return out.reshape(shape)


def dual_kernels(activation: str, q1: torch.Tensor, q2: torch.Tensor, c: torch.Tensor,
                 derivative: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Lambda = E[phi(u) phi(v)] and Lambda' = E[phi'(u) phi'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]).

    Args:
        activation: an `ACTIVATIONS` name.
        q1, q2, c: variances and covariance (broadcastable, float64).
        derivative: also compute Lambda' (needed for the NTK).

    Returns:
        (Lambda, Lambda' or None), each of the broadcast shape.
    """
    q1, q2, c = torch.broadcast_tensors(q1, q2, c)
    if activation == "relu":  # arc-cosine kernel of degree 1 and 0
        s = (q1 * q2).clamp_min(1e-300).sqrt()
        theta = torch.arccos((c / s).clamp(-1, 1))
        lam = s / (2 * math.pi) * (torch.sin(theta) + (math.pi - theta) * torch.cos(theta))
        return lam, ((math.pi - theta) / (2 * math.pi) if derivative else None)
    if activation == "erf":  # Williams 1997; erf' = 2/sqrt(pi) exp(-z^2), E[exp(-u^2 - v^2)] = det(I + 2 Sigma)^-1/2
        a, b = 1 + 2 * q1, 1 + 2 * q2
        lam = (2 / math.pi) * torch.arcsin((2 * c / (a * b).sqrt()).clamp(-1, 1))
        return lam, ((4 / math.pi) / (a * b - 4 * c.square()).clamp_min(1e-300).sqrt() if derivative else None)
    if activation == "identity":
        return c.clone(), (torch.ones_like(c) if derivative else None)
    if activation == "quadratic":  # Isserlis: E[u^2 v^2] = q1 q2 + 2 c^2
        return q1 * q2 + 2 * c.square(), (4 * c if derivative else None)
    if activation == "hardtanh":
        return _hardtanh_kernel(q1, q2, c), (_hardtanh_slope_kernel(q1, q2, c) if derivative else None)
    fn = ACTIVATIONS[activation]
    lam = gaussian_expectation(fn, fn, q1, q2, c)
    if not derivative:
        return lam, None
    slope = lambda z: act_and_slope(activation, z)[1]  # noqa: E731
    return lam, gaussian_expectation(slope, slope, q1, q2, c)


# ---- layer recursions -----------------------------------------------------------------------------------
def _as64(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64).reshape(len(x), -1)


def _recursion(spec: KernelSpec, x1: torch.Tensor, x2: torch.Tensor | None, tangent: bool):
    """Walk the layers: yields (Lambda_l, Lambda'_l or None, Theta_l or None) for l = 1..L on (x1, x2)."""
    x1 = _as64(x1)
    x2 = x1 if x2 is None else _as64(x2).to(x1.device)
    d, sb2 = x1.shape[1], spec.bias_var
    bias_grad = 1.0 if spec.bias else 0.0
    # Sigma_1 on the cross pairs and on each set's diagonal
    c = spec.std_in ** 2 * (x1 @ x2.T) / d + sb2  # (n1, n2)
    q1 = spec.std_in ** 2 * x1.square().sum(1) / d + sb2  # (n1,)
    q2 = spec.std_in ** 2 * x2.square().sum(1) / d + sb2  # (n2,)
    theta = (x1 @ x2.T) / d + bias_grad if tangent else None
    same = x2 is x1  # one set: quadrature treats u and v differently, so symmetrise (to its ~1e-6 error)
    for layer in range(spec.depth):
        lam, dlam = dual_kernels(spec.activation, q1[:, None], q2[None, :], c, derivative=tangent)
        if same:
            lam, dlam = (lam + lam.T) / 2, (dlam + dlam.T) / 2 if tangent else None
        yield lam, dlam, theta
        if layer == spec.depth - 1:
            return
        if tangent:
            theta = lam + bias_grad + dlam * theta
        c = lam + sb2
        q1 = dual_kernels(spec.activation, q1, q1, q1, derivative=False)[0] + sb2
        q2 = dual_kernels(spec.activation, q2, q2, q2, derivative=False)[0] + sb2


def layer_nngp(spec: KernelSpec, x1: torch.Tensor, x2: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Infinite-width feature kernel Lambda_l of every hidden layer (the limit of `layer_kernels`).

    Args:
        spec: the network's `KernelSpec`.
        x1: inputs (n1, d).
        x2: inputs (n2, d); default x1.

    Returns:
        [Lambda_l (n1, n2)] for l = 1..L (float64).
    """
    return [lam for lam, _, _ in _recursion(spec, x1, x2, tangent=False)]


def nngp(spec: KernelSpec, x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
    """Infinite-width feature kernel of the last hidden layer, lim h_L(x1) h_L(x2)^T / N: (n1, n2) float64.

    This is the kernel whose ridge regression is the GP (readout-only, "random features") predictor; its
    scale does not matter for `kernel_regression` (the ridge is relative to mean(diag K))."""
    return layer_nngp(spec, x1, x2)[-1]


def output_nngp(spec: KernelSpec, x1: torch.Tensor, x2: torch.Tensor | None = None,
                width: int | None = None) -> torch.Tensor:
    """Covariance of the network output at initialisation, Cov[f(x1), f(x2)] = s_N^2 N std(a)^2 Lambda_L.

    Args:
        spec: the network's `KernelSpec`.
        x1, x2: inputs (n1, d), (n2, d).
        width: N; needed under mean_field (Cov f = s_out^2 Lambda_L / N).

    Returns:
        (n1, n2) float64.
    """
    scale = spec.std_out ** 2
    if spec.parameterization == "mean_field":
        require(width is not None and width > 0, "width", "is needed for the mean-field output covariance")
        scale /= width
    return scale * nngp(spec, x1, x2)


def ntk(spec: KernelSpec, x1: torch.Tensor, x2: torch.Tensor | None = None, width: int | None = None) -> torch.Tensor:
    """Infinite-width neural tangent kernel, weighted by the optimiser's per-parameter lr multiplier.

    Theta(x, x') = sum_p lr_scale_p df/dp(x) df/dp(x'): the kernel of gradient flow in function space,
    df/dt = -lr Theta (f - y) / n for MSE (see the module docstring for the recursion).

    Args:
        spec: the network's `KernelSpec`.
        x1, x2: inputs (n1, d), (n2, d); x2 defaults to x1.
        width: N; needed under the standard parameterisation (its readout term is N Lambda_L).

    Returns:
        (n1, n2) float64.
    """
    return nngp_and_ntk(spec, x1, x2, width)[1]


# ---- empirical kernels (for checks) ---------------------------------------------------------------------
def empirical_ntk(net, x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
    """The finite-width NTK of a scalar-output `MLPNet` by autograd, with its lr multiplier applied.

    Args:
        net: an `MLPNet` (or module with `.net`) with output_dim 1.
        x1, x2: inputs (n1, d), (n2, d); x2 defaults to x1.

    Returns:
        sgd_lr_scale * J(x1) J(x2)^T, (n1, n2) float64 (J: per-example gradients of f w.r.t. all parameters).
    """
    net = getattr(net, "net", net)
    params = [p for p in net.parameters() if p.requires_grad]

    def jacobian(x):
        rows = []
        for xi in x:
            grads = torch.autograd.grad(net(xi[None]).sum(), params)
            rows.append(torch.cat([g.reshape(-1) for g in grads]).to(torch.float64))
        return torch.stack(rows)  # (n, P)

    J1 = jacobian(x1)
    J2 = J1 if x2 is None else jacobian(x2)
    return sgd_lr_scale(net.parameterization, net.width) * (J1 @ J2.T)


# ---- uses -----------------------------------------------------------------------------------------------
RIDGES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # relative to mean(diag K)


def nngp_and_ntk(spec: KernelSpec, x1: torch.Tensor, x2: torch.Tensor | None = None,
                 width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`nngp` and `ntk` from one pass through the layers (half the cost of calling both): two (n1, n2) tensors."""
    *_, (lam, dlam, theta) = _recursion(spec, x1, x2, tangent=True)
    readout = 1.0
    if spec.parameterization == "standard":
        require(width is not None and width > 0, "width", "is needed for the standard-parameterisation NTK")
        readout = float(width)
    return lam, readout * lam + spec.std_out ** 2 * dlam * theta


@torch.no_grad()
def infinite_width_baseline(spec: KernelSpec, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                            y_test: torch.Tensor, ridges=RIDGES, width: int | None = None) -> dict:
    """Held-out MSE of the two infinite-width predictors of a net, for a replication's GP / lazy reference.

    "nngp": kernel ridge regression with the last hidden layer's NNGP kernel (the GP posterior mean of a
    net whose hidden layers stay at initialisation and whose readout is fitted: the GP-limit readout).
    "ntk": kernel ridge regression with the NTK (the infinite-width lazy net trained to convergence from
    f_0 = 0; ridge -> 0 is gradient flow to interpolation, larger ridges are early-stopping-like).

    Args:
        spec: the net's `KernelSpec` (`KernelSpec.of(net)`).
        x_train, y_train: training inputs (n, d) and targets (n,) or (n, C).
        x_test, y_test: held-out inputs (m, d) and targets.
        ridges: ridges relative to mean(diag K) (see `kernel_regression`).
        width: only for the standard parameterisation's NTK.

    Returns:
        {"nngp": {ridge: mse}, "ntk": {ridge: mse}, "best": {"nngp": min mse, "ntk": min mse},
         "var_y": var(y_test)}: MSE is the mean over test points (and outputs) of the squared error.
    """
    y_train, y_test = y_train.to(torch.float64), y_test.to(torch.float64)
    train, test = nngp_and_ntk(spec, x_train, width=width), nngp_and_ntk(spec, x_test, x_train, width=width)
    out = {}
    for name, K, K_test in (("nngp", train[0], test[0]), ("ntk", train[1], test[1])):
        out[name] = {r: float((kernel_regression(K, K_test, y_train, ridge=r) - y_test).square().mean()) for r in ridges}
    out["best"] = {name: min(out[name].values()) for name in ("nngp", "ntk")}
    out["var_y"] = float(y_test.var())
    return out


def replication_baseline(net, datamodule, n_train: int = 512, n_test: int = 1024, ridges=RIDGES, seed: int = 0) -> dict:
    """`infinite_width_baseline` for a replication's net and data module, in one call.

    Training points: the data module's fixed train split (its first n_train points), or, for fresh-sample
    data (train_size null), n_train points drawn from it with `seed`; test points: the first n_test of
    the validation split. Cost grows as n_train * (n_train + n_test) kernel entries (closed forms: seconds;
    HardTanh/tanh: about a minute at the defaults on one core).

    Args:
        net: the `MLPNet` (or its module) whose infinite-width law is wanted (its init stds, depth, activation).
        datamodule: a set-up data module with `splits["val"]` (and `splits["train"]` or `sample(n, generator)`).
        n_train, n_test: sizes of the regression problem.
        ridges: relative ridges (see `kernel_regression`).
        seed: generator seed for the fresh-sample case.

    Returns:
        The `infinite_width_baseline` dict plus "n_train" and "n_test".
    """
    net = getattr(net, "net", net)
    if "train" in datamodule.splits:
        x_train, y_train = (t[:n_train] for t in datamodule.splits["train"][:2])
    else:
        x_train, y_train = datamodule.sample(n_train, torch.Generator().manual_seed(seed))
    x_test, y_test = (t[:n_test] for t in datamodule.splits["val"][:2])
    out = infinite_width_baseline(KernelSpec.of(net), x_train, y_train, x_test, y_test, ridges, width=net.width)
    return {**out, "n_train": len(x_train), "n_test": len(x_test)}


def relative_error(K_emp: torch.Tensor, K: torch.Tensor) -> float:
    """|K_emp - K|_F / |K|_F."""
    return float((K_emp.to(K) - K).norm() / K.norm())


def width_convergence(spec: KernelSpec, x: torch.Tensor, widths=(64, 256, 1024), seeds=(0, 1, 2),
                      kind: str = "nngp", reference: KernelSpec | None = None) -> dict:
    """Does a finite net's kernel approach the analytic one as 1/sqrt(width)? The diagnostic behind the tests.

    For each width and seed: a fresh `MLPNet` with `spec`'s law, its empirical kernel on x (last-layer
    feature kernel for "nngp", autograd NTK for "ntk") and the relative Frobenius error against the analytic
    kernel of `reference` (default `spec`; pass a different law as a placebo: its error should not shrink).
    Then the slope of log(error) against log(width), fitted per seed, and on the per-width RMS error.

    Args:
        spec: the law of the finite nets.
        x: probe inputs (n, d).
        widths: at least 3 widths.
        seeds: torch seeds, one net per (width, seed).
        kind: "nngp" or "ntk".
        reference: the law whose analytic kernel the nets are compared with.

    Returns:
        {"widths", "errors" [width][seed], "slope" (fit on RMS errors), "slopes" (per seed),
         "slope_mean", "slope_std"}.
    """
    from mfnn.models.mlp import MLPNet

    require(len(widths) >= 3, "widths", f"needs >= 3 widths for a slope (got {len(widths)})")
    require_choice(kind, ("nngp", "ntk"), "kind")
    reference = reference or spec
    x = x.to(torch.float64)
    if kind == "nngp":
        K = nngp(reference, x)
    else:  # under the standard parameterisation the NTK depends on the width (readout term N Lambda_L)
        base = {"lam": nngp(reference, x), "full": ntk(reference, x, width=1)}
    errors = []
    with torch.random.fork_rng():  # the caller's random state is left as it was
        for width in widths:
            row = []
            for seed in seeds:
                torch.manual_seed(seed * 1_000_003 + width)  # independent nets across widths (not nested draws)
                net = MLPNet(x.shape[1], width, spec.depth, 1, spec.activation, spec.parameterization, spec.bias,
                             spec.std_in, spec.std_bias, spec.std_out).double()
                if kind == "nngp":
                    with torch.no_grad():
                        h = net.hidden(x)
                    K_emp = h @ h.T / width
                else:
                    K_emp = empirical_ntk(net, x)
                    extra = (width - 1) * base["lam"] if reference.parameterization == "standard" else 0.0
                    K = base["full"] + extra
                row.append(relative_error(K_emp, K))
            errors.append(row)
    logw, err = np.log(np.asarray(widths, float)), np.asarray(errors)  # err: (widths, seeds)
    slopes = [float(np.polyfit(logw, np.log(err[:, s]), 1)[0]) for s in range(err.shape[1])]
    rms = np.sqrt((err ** 2).mean(1))
    return {"widths": list(widths), "seeds": list(seeds), "kind": kind, "errors": err.tolist(),
            "rms": rms.tolist(), "slope": float(np.polyfit(logw, np.log(rms), 1)[0]), "slopes": slopes,
            "slope_mean": float(np.mean(slopes)), "slope_std": float(np.std(slopes, ddof=1)) if len(slopes) > 1 else 0.0}


def main(argv=None) -> int:
    """`python -m mfnn.theory.kernels`: print how fast finite nets approach the analytic kernels.

    For each activation and kernel: per-width RMS relative error over seeds, the fitted slope of
    log(error) on log(width) (expected -0.5) and its seed-to-seed spread."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mfnn.theory.kernels", description=main.__doc__)
    parser.add_argument("--activations", nargs="+", default=["relu", "erf", "hardtanh", "tanh"], choices=sorted(ACTIVATIONS))
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--parameterization", default="ntk", choices=PARAMETERIZATIONS)
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 512, 2048, 8192])
    parser.add_argument("--seeds", type=int, default=5, help="nets per width")
    parser.add_argument("--points", type=int, default=12, help="probe inputs x ~ N(0, I_d)")
    parser.add_argument("--input-dim", type=int, default=5)
    parser.add_argument("--std-bias", type=float, default=0.5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    x = torch.randn(args.points, args.input_dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    print(f"depth {args.depth}, {args.parameterization}, {args.points} points in d = {args.input_dim}, "
          f"{args.seeds} seeds; RMS relative Frobenius error |K_N - K|/|K| at widths {args.widths}")
    for activation in args.activations:
        for kind in ("nngp", "ntk"):
            spec = KernelSpec(activation, args.depth, std_bias=args.std_bias, parameterization=args.parameterization)
            r = width_convergence(spec, x, tuple(args.widths), tuple(range(args.seeds)), kind=kind)
            ok = abs(r["slope"] + 0.5) <= 0.15  # the tests' rule (tests/test_theory_kernels.py gives the reason)
            print(f"  {activation:9s} {kind:4s} errors {' '.join(f'{e:.4f}' for e in r['rms'])}  slope {r['slope']:+.3f} "
                  f"(per seed {r['slope_mean']:+.3f} ± {r['slope_std']:.3f})  {'PASS' if ok else 'FAIL'} (-0.5 ± 0.15)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
