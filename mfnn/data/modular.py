"""Modular addition (a + b) mod p: all p^2 pairs live on the device, split into train/test by a
fraction and a seed.

Several independent runs ("members") can share one tensor program: member k has its own train
fraction and split seed. Its train pairs are padded to a common length M with zero weight, so
    train batch: (a, b, y, w)  each (K, M);  w = 1/n_k on member k's n_k pairs, 0 on padding
    val batch:   (a, b, y)     each (P,) with P = p^2 (every pair),  train_mask (K, P)
and sum_k sum_m w_km loss_km is the sum of each member's own mean train loss.
"""
from __future__ import annotations

import torch

from mfnn.data.base import FullBatchDataModule
from mfnn.errors import require, require_positive


def all_pairs(p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """a, b, (a + b) mod p for every pair, a-major: index = a * p + b. Each (p^2,)."""
    a = torch.arange(p).repeat_interleave(p)
    b = torch.arange(p).repeat(p)
    return a, b, (a + b) % p


def split_masks(p: int, fractions: list[float], seeds: list[int]) -> torch.Tensor:
    """(K, p^2) bool: member k trains on round(fractions[k] * p^2) pairs drawn by seeds[k]."""
    P = p * p
    masks = torch.zeros(len(fractions), P, dtype=torch.bool)
    for k, (f, s) in enumerate(zip(fractions, seeds)):  # K is small; this runs once at setup
        perm = torch.randperm(P, generator=torch.Generator().manual_seed(s))
        masks[k, perm[: max(1, round(f * P))]] = True
    return masks


class ModularAdditionDataModule(FullBatchDataModule):
    """(a + b) mod p, full batch: K independent train/held-out splits of the p^2 pairs.

    Validation is the full table; its held-out pairs are the test set (val/test_acc). There is no separate
    test split: `mfnn test` says so.

    Args:
        p: the modulus.
        train_fractions: fraction of the p^2 pairs in each member's train split (one member per value).
        split_seeds: seed of each member's split (default: seed, seed+1, ...).
        seed: default split seed.
        steps_per_epoch: optimiser steps per Lightning epoch (validation runs per epoch).
    """

    def __init__(
        self,
        p: int = 97,
        train_fractions: list[float] = [0.3],  # noqa: B006 (jsonargparse needs a literal default)
        split_seeds: list[int] | None = None,
        seed: int = 0,
        steps_per_epoch: int = 100,
    ):
        super().__init__(seed=seed, steps_per_epoch=steps_per_epoch)
        require(p is not None and p >= 2, "p", f"must be >= 2 (got {p!r})")
        require(len(train_fractions) >= 1, "train_fractions", "must list at least one fraction")
        for f in train_fractions:
            require(0 < f <= 1, "train_fractions", f"each fraction must be in (0, 1] (got {f}; 1 = the whole table)")
        if split_seeds is not None:
            require(len(split_seeds) == len(train_fractions), "split_seeds",
                    f"needs one seed per train fraction ({len(train_fractions)}), got {len(split_seeds)}")
        require_positive(steps_per_epoch, "steps_per_epoch")
        self.p = p
        self.train_fractions = list(train_fractions)
        self.split_seeds = list(split_seeds) if split_seeds is not None else [seed + k for k in range(len(train_fractions))]

    @property
    def members(self) -> int:
        return len(self.train_fractions)

    def build(self, generator):
        a, b, y = all_pairs(self.p)
        mask = split_masks(self.p, self.train_fractions, self.split_seeds)  # (K, P)
        counts = mask.sum(1)
        M = int(counts.max())
        # Each member's train indices first (in pair order), padding after; padding repeats pair 0 at weight 0.
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :M]  # (K, M)
        valid = torch.arange(M)[None, :] < counts[:, None]
        idx = torch.where(valid, order, torch.zeros_like(order))
        w = valid.float() / counts[:, None].float()
        return {"train": (a[idx], b[idx], y[idx], w), "val": (a, b, y, mask)}

    def shard(self, batch, rank: int, world: int):
        # The train batch is (K, M) pairs with weights 1/n: rank r keeps pairs r, r+world, ... of every member and
        # scales their weights by world, so DDP's mean over ranks of the weighted-sum gradients is the full-batch one.
        a, b, y, w = batch
        return a[:, rank::world], b[:, rank::world], y[:, rank::world], w[:, rank::world] * world
