"""Full-batch data on the device with no DataLoader on the hot path.

Lightning accepts any iterable with a length as a "dataloader"; these yield tensors that already
live on the training device, so each step costs one Python `yield`.
"""
from __future__ import annotations

from typing import Callable, Iterator

import lightning as L
import torch


class RepeatedBatch:
    """Yields the same full batch `steps` times: one Lightning epoch = `steps` full-batch steps."""

    def __init__(self, batch: tuple[torch.Tensor, ...], steps: int = 1):
        self.batch, self.steps = batch, steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for _ in range(self.steps):
            yield self.batch

    def __len__(self) -> int:
        return self.steps


class FreshBatches:
    """Yields `steps` freshly drawn batches per epoch ("infinite data").

    The batch for optimiser step s is drawn from a generator seeded by (seed, s), so a run resumed
    from a checkpoint sees exactly the samples an uninterrupted run sees.
    """

    def __init__(self, draw: Callable[[torch.Generator], tuple[torch.Tensor, ...]], steps: int, seed: int,
                 device: torch.device, first_step: Callable[[], int]):
        self.draw, self.steps, self.seed, self.device, self.first_step = draw, steps, seed, device, first_step
        self.generator = torch.Generator(device=device)

    def __iter__(self):
        step = self.first_step()  # iter() is called at the start of an epoch, before its first step
        for i in range(self.steps):
            self.generator.manual_seed((self.seed * 1_000_000_007 + step + i) % 2**62)
            yield self.draw(self.generator)

    def __len__(self) -> int:
        return self.steps


class FullBatchDataModule(L.LightningDataModule):
    """Base for data modules whose tensors are built once and kept on the training device.

    Subclasses implement `build(generator) -> dict[str, tuple]` with keys "train" / "val"
    (and optionally "test") holding CPU tensors; they may override `train_dataloader` for fresh data.
    """

    def __init__(self, seed: int = 0, steps_per_epoch: int = 100):
        super().__init__()
        self.seed, self.steps_per_epoch = seed, steps_per_epoch
        self.splits: dict[str, tuple[torch.Tensor, ...]] = {}

    @property
    def device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def build(self, generator: torch.Generator) -> dict[str, tuple[torch.Tensor, ...]]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        generator = torch.Generator().manual_seed(self.seed)
        self.splits = {k: tuple(t.to(self.device) for t in v) for k, v in self.build(generator).items()}

    def train_dataloader(self):
        return RepeatedBatch(self.splits["train"], self.steps_per_epoch)

    def val_dataloader(self):
        return RepeatedBatch(self.splits["val"], 1)

    def test_dataloader(self):
        return RepeatedBatch(self.splits.get("test", self.splits["val"]), 1)
