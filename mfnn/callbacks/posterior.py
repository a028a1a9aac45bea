"""Posterior averages of a Langevin run: after `burn_in` steps, every `every` steps, running means (and mean
squares) of the model's statistics on the validation inputs. Saved to run_dir/posterior.pt."""
from __future__ import annotations

import lightning as L
import torch

from mfnn import dashboards
from mfnn.callbacks.periodic import run_dir
from mfnn.errors import require


def validation_inputs(trainer) -> torch.Tensor:
    dm = trainer.datamodule
    splits = getattr(dm, "splits", None)
    if not splits:
        raise TypeError("PosteriorAverage needs a FullBatchDataModule (its fixed validation inputs)")
    return splits["val"][0]


class PosteriorAverage(L.Callback):
    """Running posterior means of `pl_module.posterior_statistics(x_val) -> {name: tensor}`, or of the
    predictions on the validation inputs for models without that method.

    Args:
        burn_in: optimiser steps discarded before averaging.
        every: average one sample every this many steps after the burn-in.
    """

    def __init__(self, burn_in: int = 1000, every: int = 10):
        require(burn_in >= 0, "burn_in", f"must be >= 0 (got {burn_in})")
        require(every > 0, "every", f"must be > 0 (got {every})")
        self.burn_in, self.every = burn_in, every
        self.count = 0
        self.sums: dict[str, torch.Tensor] = {}
        self.sq_sums: dict[str, torch.Tensor] = {}

    def statistics(self, trainer, pl_module) -> dict[str, torch.Tensor]:
        x = validation_inputs(trainer)
        with torch.no_grad():
            if hasattr(pl_module, "posterior_statistics"):
                return pl_module.posterior_statistics(x)
            return {"val_pred": pl_module(x)}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step <= self.burn_in or (step - self.burn_in) % self.every:
            return
        for name, value in self.statistics(trainer, pl_module).items():
            v = value.detach().double()
            self.sums[name] = self.sums.get(name, 0) + v
            self.sq_sums[name] = self.sq_sums.get(name, 0) + v * v
        self.count += 1

    @property
    def mean(self) -> dict[str, torch.Tensor]:
        return {k: (s / max(self.count, 1)).float().cpu() for k, s in self.sums.items()}

    @property
    def var(self) -> dict[str, torch.Tensor]:
        n = max(self.count, 1)
        return {k: (self.sq_sums[k] / n - (s / n) ** 2).clamp_min(0).float().cpu() for k, s in self.sums.items()}

    def on_fit_end(self, trainer, pl_module):
        if not trainer.is_global_zero:
            return
        out = run_dir(trainer)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"count": self.count, "burn_in": self.burn_in, "every": self.every, "mean": self.mean,
                    "var": self.var}, out / "posterior.pt")
        if dashboards.wandb_enabled(trainer):
            # The posterior means as a table (one row per entry of each statistic, flattened) and the count.
            rows = [[name, i, float(m), float(v)] for name, mean in self.mean.items()
                    for i, (m, v) in enumerate(zip(mean.flatten().tolist(), self.var[name].flatten().tolist()))]
            dashboards.log(trainer, {"posterior/means": dashboards.table(["statistic", "index", "mean", "var"],
                                                                         rows[:100_000])})
            dashboards.summary(trainer, {"posterior/samples": self.count})

    def state_dict(self):
        return {"count": self.count, "sums": self.sums, "sq_sums": self.sq_sums}

    def load_state_dict(self, state_dict):
        self.count = state_dict["count"]
        self.sums, self.sq_sums = dict(state_dict["sums"]), dict(state_dict["sq_sums"])
