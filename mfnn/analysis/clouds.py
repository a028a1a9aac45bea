"""Two-sample distances between neuron clouds (each row one particle, e.g. (w_1, ..., w_d, b, a)).

mmd: maximum mean discrepancy with a Gaussian (RBF) kernel k(u, v) = exp(-|u - v|^2 / (2 sigma^2)),
  sigma fixed by the caller (median_bandwidth of a reference cloud, so that every comparison in one
  experiment uses the same kernel). Reported as MMD = sqrt(max(MMD^2_biased, 0)): a V-statistic, >= 0,
  whose finite-sample floor depends only on the two sample sizes.
sliced_wasserstein: the 2-Wasserstein distance averaged over random 1-d projections (exact in 1-d by
  sorting; unequal sizes compared through matched quantiles).
Both are only meaningful next to a reference: `permutation_null` (same law, resampled) or the distance
between two independent seeds of the same training.
"""
from __future__ import annotations

from typing import Callable

import torch

Statistic = Callable[[torch.Tensor, torch.Tensor], float]


def particles(neurons: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """{W (N, d), b (N,) or None, a (N, C)} -> (N, d + 1 + C) rows (w, b, a): the full particle."""
    cols = [neurons["W"].detach()]
    if neurons.get("b") is not None:
        cols.append(neurons["b"].detach().reshape(-1, 1))
    if neurons.get("a") is not None:
        cols.append(neurons["a"].detach().reshape(len(cols[0]), -1))
    return torch.cat(cols, 1).float()


def median_bandwidth(X: torch.Tensor, max_points: int = 2048) -> float:
    """Median pairwise Euclidean distance among (at most max_points of) the rows of X."""
    X = X[:max_points].double()
    d = torch.cdist(X, X)
    return float(d[torch.triu_indices(len(X), len(X), 1).unbind()].median())


def mmd(X: torch.Tensor, Y: torch.Tensor, bandwidth: float) -> float:
    """Biased (V-statistic) RBF-kernel MMD between rows of X (n, D) and Y (m, D)."""
    X, Y = X.double(), Y.double()
    gamma = 1.0 / (2 * bandwidth**2)
    k_xx = torch.exp(-gamma * torch.cdist(X, X).square()).mean()
    k_yy = torch.exp(-gamma * torch.cdist(Y, Y).square()).mean()
    k_xy = torch.exp(-gamma * torch.cdist(X, Y).square()).mean()
    return float((k_xx + k_yy - 2 * k_xy).clamp_min(0).sqrt())


def sliced_wasserstein(X: torch.Tensor, Y: torch.Tensor, n_projections: int = 256, seed: int = 0) -> float:
    """sqrt(mean over random unit directions u of W_2^2(X u, Y u)); quantiles matched on a common grid."""
    X, Y = X.double(), Y.double()
    g = torch.Generator().manual_seed(seed)
    U = torch.randn(X.shape[1], n_projections, generator=g, dtype=torch.float64)
    U = U / U.norm(dim=0, keepdim=True)  # (D, P)
    px, py = (X @ U).sort(0).values, (Y @ U).sort(0).values  # (n, P), (m, P)
    n = max(len(X), len(Y))
    q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    qx = px[(q * len(X)).long().clamp_max(len(X) - 1)]  # (n, P): the quantile function on the grid
    qy = py[(q * len(Y)).long().clamp_max(len(Y) - 1)]
    return float((qx - qy).square().mean().sqrt())


def permutation_null(X: torch.Tensor, Y: torch.Tensor, statistic: Statistic, n_perm: int = 20,
                     seed: int = 0) -> torch.Tensor:
    """The statistic on `n_perm` random relabelings of the pooled rows: its spread under 'same law'."""
    g = torch.Generator().manual_seed(seed)
    Z = torch.cat([X, Y])
    out = []
    for _ in range(n_perm):  # few permutations of a cheap statistic: a loop is clearer than batching
        idx = torch.randperm(len(Z), generator=g)
        out.append(statistic(Z[idx[: len(X)]], Z[idx[len(X):]]))
    return torch.tensor(out)


def split_distance(X: torch.Tensor, Y: torch.Tensor, statistic: Statistic) -> float:
    """Mean statistic between Y and each len(Y)-sized chunk of X: compares samples of equal size
    (the finite-sample floor of MMD/SW depends on the sizes) when X is a multiple of Y's size."""
    chunks = [c for c in X.split(len(Y)) if len(c) == len(Y)] or [X]
    return sum(statistic(c, Y) for c in chunks) / len(chunks)


def fourfold_order(W: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """Four-lobed ("clover-leaf") order of a 2-d cloud: E_w[cos 4 theta] with theta the angle of w,
    weighted (default |w|^2, so neurons that moved out count most). ~0 for an isotropic blob,
    -1 when every neuron lies on a diagonal, +1 on the axes."""
    W = W.detach().double()
    theta = torch.atan2(W[:, 1], W[:, 0])
    wt = W.square().sum(1) if weight is None else weight.detach().double().reshape(-1)
    return float((wt * torch.cos(4 * theta)).sum() / wt.sum())


def energy_distance(X: torch.Tensor, Y: torch.Tensor) -> float:
    """sqrt of the (V-statistic) energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo):
    no bandwidth to choose; 0 iff the laws agree (for finite first moments)."""
    X, Y = X.double(), Y.double()
    d = 2 * torch.cdist(X, Y).mean() - torch.cdist(X, X).mean() - torch.cdist(Y, Y).mean()
    return float(d.clamp_min(0).sqrt())


def null_score(value: float, null: torch.Tensor) -> dict[str, float]:
    """A distance read against its null sample (e.g. all seed-to-seed pairs): z = (value - mean) / sd
    and the one-sided empirical p-value (1 + #{null >= value}) / (1 + n)."""
    null = torch.as_tensor(null, dtype=torch.float64)
    mean, sd = float(null.mean()), float(null.std())
    return {"value": value, "null_mean": mean, "null_sd": sd, "z": (value - mean) / max(sd, 1e-300),
            "p": (1 + int((null >= value).sum())) / (1 + len(null))}
