"""Full-batch data on the device with no DataLoader on the hot path.

Lightning accepts any iterable with a length as a "dataloader"; these yield tensors that already
live on the training device, so each step costs one Python `yield`.

Several processes (DDP): each rank trains on its own 1/world share of the full batch (no padding, no
duplicated samples) and DDP averages the ranks' gradients. A shard's loss is a mean over its samples, so
with equal shards the average of the ranks' gradients is exactly the full-batch gradient; `shard_batch`
therefore requires the batch to split evenly. Validation is not sharded: every rank evaluates the whole
set, so logged validation metrics equal the single-process ones.
"""
from __future__ import annotations

import itertools
from typing import Callable, Iterator

import lightning as L
import torch

from mfnn.errors import ConfigError


def rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def shard_batch(batch: tuple[torch.Tensor, ...], rank: int, world: int, field: str = "train_size"
                ) -> tuple[torch.Tensor, ...]:
    """Rank `rank`'s contiguous 1/world of every tensor's leading (sample) axis."""
    if world == 1:
        return batch
    n = batch[0].shape[0]
    if n % world:
        raise ConfigError(field, f"the full batch of {n} samples must split evenly over {world} processes "
                                 f"(mean-loss gradients average exactly only over equal shards)")
    size = n // world
    return tuple(t[rank * size:(rank + 1) * size] for t in batch)


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
        rank, world = rank_and_world()  # DDP: every rank draws the same batch and keeps its share
        for i in range(self.steps):
            self.generator.manual_seed((self.seed * 1_000_000_007 + step + i) % 2**62)
            batch = self.draw(self.generator)
            yield batch if world == 1 else shard_batch(batch, rank, world, "batch_size")

    def __len__(self) -> int:
        return self.steps


class StepGroups:
    """The batches of `batches` in consecutive groups of k: what a module that runs k optimiser steps per
    `training_step` (`MFNNModule.steps_per_call`) takes. An epoch keeps its length in optimiser steps."""

    def __init__(self, batches, k: int):
        if len(batches) % k:
            raise ConfigError("data.init_args.steps_per_epoch", f"{len(batches)} must be a multiple of "
                                                                f"steps_per_call={k}")
        self.batches, self.k = batches, k

    def __iter__(self):
        batches = iter(self.batches)
        while group := list(itertools.islice(batches, self.k)):
            yield group

    def __len__(self) -> int:
        return len(self.batches) // self.k


def grouped_for_module(batches, trainer):
    """`batches` as the trainer's module consumes them: one per step, or StepGroups of steps_per_call."""
    k = getattr(getattr(trainer, "lightning_module", None), "steps_per_call", 1) if trainer is not None else 1
    return batches if k == 1 else StepGroups(batches, k)


class FullBatchDataModule(L.LightningDataModule):
    """Base for data modules whose tensors are built once and kept on the training device.

    Subclasses implement `build(generator) -> dict[str, tuple]` with keys "train" / "val"
    (and optionally "test") holding CPU tensors; they may override `train_dataloader` for fresh data.
    Under DDP the train split is cut by `shard(train, rank, world)`: by default along the leading axis
    into equal parts; a subclass whose batch has another layout (or per-sample weights) overrides it so
    that the ranks' mean loss equals the full-batch loss.
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
        splits = self.build(generator)
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.world_size > 1 and "train" in splits:
            splits["train"] = self.shard(splits["train"], trainer.global_rank, trainer.world_size)
        self.splits = {k: tuple(t.to(self.device) for t in v) for k, v in splits.items()}

    def shard(self, batch: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[torch.Tensor, ...]:
        return shard_batch(batch, rank, world)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # The batches already live on the device; skip Lightning's recursive walk over the batch. (On the data
        # module, not the model: Lightning warns when a model overrides this hook and a data module is given.)
        on_device = lambda b: isinstance(b, (tuple, list)) and all(  # noqa: E731
            isinstance(t, torch.Tensor) and t.device == device for t in b)
        if on_device(batch) or (isinstance(batch, list) and all(on_device(b) for b in batch)):  # (StepGroups: k batches)
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def train_dataloader(self):
        return grouped_for_module(RepeatedBatch(self.splits["train"], self.steps_per_epoch), self.trainer)

    def val_dataloader(self):
        return RepeatedBatch(self.splits["val"], 1)

    def test_dataloader(self):
        if "test" not in self.splits:
            raise ConfigError("data", f"{type(self).__name__} has no test split separate from its validation set "
                                      "(its held-out metrics are the val/ ones): run `mfnn validate` instead")
        return RepeatedBatch(self.splits["test"], 1)

    def predict_dataloader(self):
        """The test split if there is one, else the validation set (one full batch)."""
        return RepeatedBatch(self.splits.get("test", self.splits["val"]), 1)
