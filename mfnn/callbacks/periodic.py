"""Base for callbacks that keep snapshots of the model on a step cadence (at the start, every
`every_n_steps` steps) and carry them through checkpoints (tensors and primitives only)."""
from __future__ import annotations

import lightning as L

from mfnn.errors import require


class PeriodicSnapshots(L.Callback):
    def __init__(self, every_n_steps: int):
        require(every_n_steps > 0, "every_n_steps", f"must be > 0 (got {every_n_steps})")
        self.every_n_steps = every_n_steps
        self.snapshots: list = []

    def snapshot(self, trainer, pl_module):
        raise NotImplementedError

    def on_train_start(self, trainer, pl_module):
        if not self.snapshots:  # a resumed run already has its start
            self.snapshot(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % self.every_n_steps == 0:
            self.snapshot(trainer, pl_module)

    def state_dict(self):
        return {"snapshots": self.snapshots}

    def load_state_dict(self, state_dict):
        self.snapshots = list(state_dict["snapshots"])
