"""Tokens and targets of the dot-product-attention teacher of Cui, Behrens, Krzakala & Zdeborová (2024).

    x_l = p_l + z_l,   z_l ~ N(0, sigma^2 I_d),   p_1 = 1_d/sqrt(d) = -p_2           (L = 2 tokens)
    y   = (1 - omega) softmax_row(h h^T) Z + omega A Z,   h_l = z_l . Q*/sqrt(d),   Q* ~ N(0, I_d)

`seeds` independent teachers, each with one pool of n_max = round(max(alphas) d) training samples; the
run at sample ratio alpha trains on the pool's first round(alpha d) samples (a 0/1 `weight` per alpha), so
every (seed, alpha, initialisation) member of an ensemble trains in one tensor program.

The loss only needs per-sample inner products between tokens and targets, so besides the tokens x (for the
attention scores) each split carries the Gram matrices, already divided by d:
    xx[k, k'] = x_k.x_k'/d,  xy[k, l] = x_k.y_l/d,  zz, zy (same with z: the linear baseline's input),  yy = |Y|^2/d.
"""
from __future__ import annotations

import math

import torch
from einops import einsum

from mfnn.data.base import FullBatchDataModule
from mfnn.errors import require, require_positive

A_STANDARD = [[0.6, 0.4], [0.4, 0.6]]


def positional_encodings(d: int) -> torch.Tensor:
    """(L=2, d): p_1 = 1/sqrt(d), p_2 = -p_1."""
    p = torch.ones(d) / math.sqrt(d)
    return torch.stack([p, -p])


def attention_teacher_targets(z: torch.Tensor, q_star: torch.Tensor, omega: float, A: torch.Tensor) -> torch.Tensor:
    """z: (S, n, L, d), q_star: (S, d) -> y: (S, n, L, d)."""
    d = z.shape[-1]
    h = einsum(z, q_star, "s n l d, s d -> s n l") / math.sqrt(d)
    T = (1 - omega) * torch.softmax(h[..., :, None] * h[..., None, :], dim=-1) + omega * A  # (S, n, L, L)
    return einsum(T, z, "s n l k, s n k d -> s n l d")


def grams(x: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    d = x.shape[-1]
    return {"xx": einsum(x, x, "s n k d, s n j d -> s n k j") / d,
            "xy": einsum(x, y, "s n k d, s n l d -> s n k l") / d,
            "zz": einsum(z, z, "s n k d, s n j d -> s n k j") / d,
            "zy": einsum(z, y, "s n k d, s n l d -> s n k l") / d,
            "yy": y.square().sum((-1, -2)) / d}


class AttentionDataModule(FullBatchDataModule):
    """Tokens of the attention teacher, full batch.

    Batches are dicts: x (S, n, L, d), xx/xy/zz/zy (S, n, L, L), yy (S, n), weight (A, n).

    Args:
        dim: token dimension d.
        sigma: std of the semantic part z of every token.
        omega: weight of the positional mixing A Z in the target (0: purely semantic teacher).
        A: the (L, L) positional mixing matrix.
        alphas: sample ratios n/d; the run at alpha trains on the first round(alpha d) samples of the pool.
        seeds: independent teachers Q*.
        test_size: samples in the held-out set (the validation split).
        seed: seed of the teachers and samples.
        steps_per_epoch: optimiser steps per Lightning epoch.
    """

    def __init__(
        self,
        dim: int = 500,
        sigma: float = 0.5,
        omega: float = 0.3,
        A: list[list[float]] = A_STANDARD,
        alphas: list[float] = [0.5, 1.0, 1.5, 2.0],
        seeds: int = 1,
        test_size: int = 4000,
        seed: int = 0,
        steps_per_epoch: int = 100,
    ):
        super().__init__(seed=seed, steps_per_epoch=steps_per_epoch)
        require_positive(dim, "dim")
        require_positive(sigma, "sigma")
        require(0.0 <= omega <= 1.0, "omega", f"must be in [0, 1] (got {omega})")
        require(len(A) == 2 and all(len(r) == 2 for r in A), "A", "must be a 2x2 matrix (L = 2 tokens)")
        require(len(alphas) > 0 and all(a > 0 for a in alphas), "alphas", f"must be positive (got {alphas})")
        require(all(round(a * dim) >= 1 for a in alphas), "alphas", f"alpha * dim must give >= 1 sample (dim={dim})")
        require_positive(seeds, "seeds")
        require_positive(test_size, "test_size")
        self.dim, self.sigma, self.omega, self.alphas, self.seeds, self.test_size = dim, sigma, omega, list(alphas), seeds, test_size
        self.A = torch.tensor(A, dtype=torch.float32)
        self.n_train = [int(round(a * dim)) for a in self.alphas]
        self.q_star: torch.Tensor | None = None  # (S, d), set by setup()

    def sample(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        S, d = self.seeds, self.dim
        z = self.sigma * torch.randn(S, n, 2, d, generator=generator)
        x = z + positional_encodings(d)
        y = attention_teacher_targets(z, self.q_star, self.omega, self.A)
        return {"x": x, **grams(x, z, y)}

    def build(self, generator: torch.Generator):
        self.q_star = torch.randn(self.seeds, self.dim, generator=generator)
        n_max = max(self.n_train)
        train = self.sample(n_max, generator)
        train["weight"] = (torch.arange(n_max)[None, :] < torch.tensor(self.n_train)[:, None]).float()  # (A, n)
        val = self.sample(self.test_size, generator)
        val["weight"] = torch.ones(len(self.alphas), self.test_size)
        return {"train": train, "val": val}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        generator = torch.Generator().manual_seed(self.seed)
        self.splits = {k: {n: t.to(self.device) for n, t in v.items()} for k, v in self.build(generator).items()}
        self.q_star = self.q_star.to(self.device)
