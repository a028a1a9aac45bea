"""One progress bar per training run: steps done of max_steps, rate, ETA and the run's key metrics.

Lightning's default bar restarts every epoch (an mfnn "epoch" is only `steps_per_epoch` full-batch steps) and
adds bars for sanity checks and validation; this one counts optimiser steps over the whole run. It prints
nothing under CI (CI=true) or when stdout/stderr is not a terminal and `quiet_unless_tty` is set.
"""
from __future__ import annotations

import math
import sys

from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

from mfnn.console import under_ci


class StepProgressBar(ProgressBar):
    """A single tqdm bar over the run's optimiser steps, with the latest logged values of `metrics`.

    Args:
        metrics: logged keys to show after the bar (those not logged yet are left out), e.g.
            ["train/loss", "val/test_acc"].
        refresh_steps: redraw every this many steps (a tiny model makes thousands of steps a second).
        quiet_unless_tty: print nothing when stderr is not a terminal (log files stay free of bar updates).
    """

    def __init__(self, metrics: list[str] | None = None, refresh_steps: int = 10, quiet_unless_tty: bool = False):
        super().__init__()
        self.metrics = list(metrics) if metrics is not None else ["train/loss", "val/loss"]
        self.refresh_steps = max(1, refresh_steps)
        self.quiet_unless_tty = quiet_unless_tty
        self._enabled = True
        self.bar = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        if not self._enabled or under_ci():
            return False
        return not self.quiet_unless_tty or sys.stderr.isatty()

    def on_train_start(self, trainer, pl_module) -> None:
        if not self.is_enabled or not trainer.is_global_zero:
            return
        from tqdm.auto import tqdm

        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        if total is None and trainer.max_epochs and not math.isinf(trainer.num_training_batches):
            total = trainer.max_epochs * int(trainer.num_training_batches)
        self.bar = tqdm(total=total, initial=trainer.global_step, desc="steps", dynamic_ncols=True,
                        leave=True, file=sys.stderr, smoothing=0.1, mininterval=0.5)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.bar is None:
            return
        done = trainer.global_step - self.bar.n
        if done >= self.refresh_steps or trainer.global_step == self.bar.total:
            self.bar.update(done)
            self.bar.set_postfix(self.values(trainer), refresh=False)

    def values(self, trainer) -> dict[str, str]:
        metrics = trainer.callback_metrics
        return {k: f"{float(metrics[k]):.4g}" for k in self.metrics if k in metrics and metrics[k].numel() == 1}

    def on_train_end(self, trainer, pl_module) -> None:
        self.close(trainer)

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.close(trainer)

    def close(self, trainer) -> None:
        if self.bar is not None:
            self.bar.update(trainer.global_step - self.bar.n)
            self.bar.set_postfix(self.values(trainer), refresh=False)
            self.bar.close()
            self.bar = None
