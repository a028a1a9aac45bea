"""Synthetic regression tasks in d dimensions: named targets, a finite train set or fresh samples
every step, and a fixed held-out validation set."""
from __future__ import annotations

import math
from typing import Literal

import torch

from mfnn.data.base import FreshBatches, FullBatchDataModule, grouped_for_module
from mfnn.errors import require, require_choice, require_positive

Target = Literal["xor", "sign_xor", "single_index", "staircase", "linear"]
InputDistribution = Literal["gaussian", "uniform", "hypercube"]


def hermite(k: int, z: torch.Tensor) -> torch.Tensor:
    """Probabilists' Hermite polynomial He_k(z) by the three-term recurrence He_{n+1} = z He_n - n He_{n-1}.

    Kept in torch (not numpy.polynomial.hermite_e.hermeval) because fresh batches are drawn on the training
    device; tests/test_mlp.py checks it against hermeval."""
    prev, cur = torch.ones_like(z), z
    if k == 0:
        return prev
    for n in range(1, k):
        prev, cur = cur, z * cur - n * prev
    return cur


def sample_inputs(n: int, d: int, distribution: str, generator: torch.Generator, device=None) -> torch.Tensor:
    if distribution == "gaussian":
        return torch.randn(n, d, generator=generator, device=device)
    u = torch.rand(n, d, generator=generator, device=device)
    return 2 * u - 1 if distribution == "uniform" else torch.where(u < 0.5, -1.0, 1.0)


class SyntheticTarget:
    """y(x) for a named target. `teacher` is the unit direction w* of single-index/linear targets."""

    def __init__(self, name: str, input_dim: int, hermite_coeffs: list[float], staircase_degree: int,
                 teacher: torch.Tensor):
        self.name, self.coeffs, self.degree, self.teacher = name, hermite_coeffs, staircase_degree, teacher

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.name == "xor":
            return x[:, 0] * x[:, 1]
        if self.name == "sign_xor":
            return torch.sign(x[:, 0] * x[:, 1])
        if self.name == "staircase":  # x1 + x1 x2 + x1 x2 x3 + ...
            return torch.cumprod(x[:, : self.degree], dim=1).sum(1)
        z = x @ self.teacher.to(x)
        if self.name == "linear":
            return z
        return sum(c * hermite(k, z) for k, c in enumerate(self.coeffs) if c)


class SyntheticDataModule(FullBatchDataModule):
    """Inputs x in R^d, targets by name, plus optional label noise.

    train_size=None draws `batch_size` fresh samples every step; an int fixes a train set that is
    used full batch. Validation is always a fixed held-out set of `val_size` samples.

    Args:
        input_dim: input dimension d.
        target: xor (y = x1 x2), sign_xor, single_index (sum_k c_k He_k(x1)), staircase or linear.
        input_distribution: gaussian N(0, I), uniform on [-1, 1]^d or hypercube {-1, 1}^d.
        train_size: a fixed train set of this many samples, used full batch; null: `batch_size` fresh samples
            every step ("infinite data").
        batch_size: samples per step when train_size is null.
        val_size: samples in the fixed held-out validation set.
        test_size: samples in a separate test split (`mfnn test`, `mfnn predict`); 0: none.
        noise_std: std of Gaussian label noise added to every target.
        hermite_coeffs: coefficients c_k of the single-index target's Hermite expansion.
        staircase_degree: degree of the staircase target (at most input_dim).
        steps_per_epoch: optimiser steps per Lightning epoch (validation runs per epoch).
        seed: seed of every sample drawn (train, validation, test).
    """

    def __init__(
        self,
        input_dim: int = 2,
        target: Target = "xor",
        input_distribution: InputDistribution = "uniform",
        train_size: int | None = None,
        batch_size: int = 1024,
        val_size: int = 4096,
        test_size: int = 4096,
        noise_std: float = 0.0,
        hermite_coeffs: list[float] = [0.0, 1.0],
        staircase_degree: int = 3,
        steps_per_epoch: int = 100,
        seed: int = 0,
    ):
        super().__init__(seed=seed, steps_per_epoch=steps_per_epoch)
        require_positive(input_dim, "input_dim")
        require_choice(target, ("xor", "sign_xor", "single_index", "staircase", "linear"), "target")
        require_choice(input_distribution, ("gaussian", "uniform", "hypercube"), "input_distribution")
        require(train_size is None or train_size > 0, "train_size", f"must be > 0 or null for fresh data (got {train_size})")
        require_positive(batch_size, "batch_size")
        require_positive(val_size, "val_size")
        require(test_size >= 0, "test_size", f"must be >= 0 (got {test_size})")
        require_positive(steps_per_epoch, "steps_per_epoch")
        require(math.isfinite(noise_std) and noise_std >= 0, "noise_std", f"must be >= 0 and finite (got {noise_std})")
        require(target not in ("xor", "sign_xor") or input_dim >= 2, "input_dim", f"target {target!r} needs >= 2 (got {input_dim})")
        require(target != "staircase" or 1 <= staircase_degree <= input_dim, "staircase_degree",
                f"must be in [1, input_dim] (got {staircase_degree})")
        self.save_hyperparameters()
        self.input_dim, self.input_distribution = input_dim, input_distribution
        self.train_size, self.batch_size, self.val_size, self.noise_std = train_size, batch_size, val_size, noise_std
        self.test_size = test_size
        teacher = torch.zeros(input_dim)
        teacher[0] = 1.0
        self.target = SyntheticTarget(target, input_dim, list(hermite_coeffs), staircase_degree, teacher)

    def sample(self, n: int, generator: torch.Generator, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        x = sample_inputs(n, self.input_dim, self.input_distribution, generator, device)
        y = self.target(x)
        if self.noise_std:
            y = y + self.noise_std * torch.randn(n, generator=generator, device=device)
        return x, y

    def build(self, generator):
        splits = {"val": self.sample(self.val_size, generator)}
        if self.train_size is not None:
            splits["train"] = self.sample(self.train_size, generator)
        if self.test_size:  # drawn last, so the train and validation samples do not depend on it
            splits["test"] = self.sample(self.test_size, generator)
        return splits

    def train_dataloader(self):
        if self.train_size is not None:
            return super().train_dataloader()
        device = self.device
        return grouped_for_module(FreshBatches(lambda g: self.sample(self.batch_size, g, device), self.steps_per_epoch,
                                               self.seed, device, lambda: self.trainer.global_step if self.trainer else 0),
                                  self.trainer)

    @property
    def target_variance(self) -> float:
        return float(self.splits["val"][1].var()) if self.splits else math.nan
