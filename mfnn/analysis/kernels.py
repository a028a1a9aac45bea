"""Layer kernels and kernel-target alignment: is a hidden layer's representation shaped by the target?

    K_l(x, x') = h_l(x) . h_l(x') / N                  (the layer's feature kernel, a Gram matrix)
    A(K, K')   = <K_c, K'_c>_F / (|K_c|_F |K'_c|_F)     K_c = H K H, H = I - 11^T/n (centred alignment)
    A(K, y)    = A(K, y y^T)                            (kernel-target alignment, KTA)

A lazy (NTK/GP) network keeps its initial kernel, so its KTA stays at the GP value; a feature-learning
(mean-field) network bends its kernels towards y y^T. With features h (n, N), K_c = h_c h_c^T (h_c:
column-centred), so A(K, y) = |h_c^T y_c|^2 / (|h_c^T h_c|_F |y_c|^2) costs O(n N^2), not O(n^2 N).

`mfnn.callbacks.KernelAlignment` records every hidden layer's KTA on a fixed probe set during fit.
"""
from __future__ import annotations

import torch


def centre(K: torch.Tensor) -> torch.Tensor:
    """H K H: subtract row and column means (K: (n, n))."""
    return K - K.mean(0, keepdim=True) - K.mean(1, keepdim=True) + K.mean()


def alignment(K1: torch.Tensor, K2: torch.Tensor, centred: bool = True) -> float:
    """Cosine between two kernel matrices in Frobenius geometry (centred by default)."""
    if centred:
        K1, K2 = centre(K1), centre(K2)
    return float((K1 * K2).sum() / (K1.norm() * K2.norm()))


def as_columns(y: torch.Tensor) -> torch.Tensor:
    return y.reshape(len(y), -1).to(torch.float64)  # (n,) or (n, C) -> (n, C)


def target_kernel(y: torch.Tensor) -> torch.Tensor:
    """y y^T: (n, n) for targets y (n,) or (n, C)."""
    y = as_columns(y)
    return y @ y.T


def feature_kernel(h: torch.Tensor) -> torch.Tensor:
    """h h^T / N for features h (n, N)."""
    return h @ h.T / h.shape[1]


def target_alignment(K: torch.Tensor, y: torch.Tensor) -> float:
    """Centred KTA A(K, y y^T) from a kernel matrix K (n, n)."""
    return alignment(K.to(torch.float64), target_kernel(y))


def feature_target_alignment(h: torch.Tensor, y: torch.Tensor) -> float:
    """Centred KTA of the kernel h h^T (any scale), computed from the features h (n, N) without an n x n matrix."""
    h = h.to(torch.float64)
    y = as_columns(y)
    h_c, y_c = h - h.mean(0), y - y.mean(0)
    cross = h_c.T @ y_c  # (N, C)
    return float(cross.square().sum() / ((h_c.T @ h_c).norm() * (y_c.T @ y_c).norm()))


@torch.no_grad()
def layer_features(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Post-activations of every hidden layer of an MLPNet-like `net` (depth, hidden(x, upto)): [(n, N)] * depth."""
    return [net.hidden(x, l) for l in range(net.depth)]


def layer_kernels(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Feature kernel K_l = h_l h_l^T / N of every hidden layer: [(n, n)] * depth."""
    return [feature_kernel(h) for h in layer_features(net, x)]


def layer_alignments(net, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """KTA of every hidden layer's kernel with y y^T."""
    return [feature_target_alignment(h, y) for h in layer_features(net, x)]


def neuron_target_correlation(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each neuron's activation with a scalar target: h (n, N), y (n,) -> (N,)."""
    h, y = h.to(torch.float64), y.reshape(-1).to(torch.float64)
    h_c, y_c = h - h.mean(0), y - y.mean()
    return (h_c.T @ y_c) / (h_c.norm(dim=0) * y_c.norm()).clamp_min(1e-300)


def kernel_regression(K_train: torch.Tensor, K_test: torch.Tensor, y: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """Kernel ridge regression (the GP posterior mean): K_test (m, n) (K_train + ridge * mean(diag) I)^-1 y.
    K_train (n, n), y (n,) or (n, C) -> predictions (m,) or (m, C)."""
    K = K_train.to(torch.float64)
    jitter = ridge * K.diagonal().mean()
    alpha = torch.linalg.solve(K + jitter * torch.eye(len(K), dtype=K.dtype, device=K.device), y.to(K))
    return K_test.to(K) @ alpha


def subspace_fraction(W: torch.Tensor, U: torch.Tensor) -> float:
    """Share of the squared norm of rows W (N, D) that lies in span(U) (U: (D, k), orthonormal columns).
    Isotropic rows give k / D; rows inside the subspace give 1."""
    W = W.detach().to(torch.float64)
    return float((W @ U.to(W)).square().sum() / W.square().sum())
