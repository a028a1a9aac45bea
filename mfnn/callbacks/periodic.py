"""Base for callbacks that keep snapshots of the model on a step cadence (at the start, every
`every_n_steps` steps) and carry them through checkpoints.

A checkpoint carries the snapshots by reference. Each snapshot is written once, at the first checkpoint after
it was taken, to <run dir>/snapshots/<callback>/<index>.pt (tensors and primitives only); the checkpoint lists
those files. When every checkpoint held every snapshot, a save cost more the longer the run: the 40 000-epoch
transformer run's last.ckpt grew to 365 MB, re-written every 100 steps (~70 GB written per seed, 14% of the
step rate lost by the end). A resume therefore needs the run folders that wrote the listed files.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import lightning as L
import torch

from mfnn.errors import ConfigError, require


def run_dir(trainer) -> Path:
    return Path(trainer.log_dir or trainer.default_root_dir)


class PeriodicSnapshots(L.Callback):
    def __init__(self, every_n_steps: int):
        require(every_n_steps > 0, "every_n_steps", f"must be > 0 (got {every_n_steps})")
        self.every_n_steps = every_n_steps
        self.snapshots: list = []
        self._files: list[tuple[object, str]] = []  # (snapshot, its file), for the first snapshots, already written
        self._folder: Path | None = None  # where this fit writes them
        self._writes = True  # (rank 0 only under DDP: the other ranks' checkpoints are not saved)

    def snapshot(self, trainer, pl_module):
        raise NotImplementedError

    def on_train_start(self, trainer, pl_module):
        name = hashlib.sha1(self.state_key.encode()).hexdigest()[:8]
        self._folder = run_dir(trainer) / "snapshots" / f"{type(self).__name__}-{name}"
        self._writes = trainer.is_global_zero
        if not self.snapshots:  # a resumed run already has its start
            self.snapshot(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % self.every_n_steps == 0:
            self.snapshot(trainer, pl_module)

    def state_dict(self):
        if self._folder is None:  # not fitting (a checkpoint saved by hand): the snapshots themselves
            return {"snapshots": self.snapshots}
        for i, snap in enumerate(self.snapshots):
            if i < len(self._files) and self._files[i][0] is snap:
                continue
            path = self._folder / f"{i:06d}.pt"  # (a snapshot replaced in place gets a file of its own)
            while path.exists():
                path = path.with_name(f"{path.stem}_.pt")
            if self._writes:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(snap, path)
            self._files[i:] = [(snap, str(path.resolve()))]
        return {"snapshot_files": [f for _, f in self._files]}

    def load_state_dict(self, state_dict):
        if "snapshots" in state_dict:
            self.snapshots, self._files = list(state_dict["snapshots"]), []
            return
        missing = [f for f in state_dict["snapshot_files"] if not Path(f).is_file()]
        if missing:
            raise ConfigError("ckpt_path", f"the checkpoint's {type(self).__name__} snapshots are kept beside the run "
                                           f"that took them, and {len(missing)} are missing (first: {missing[0]}): "
                                           "resume with that run's folder in place")
        self.snapshots = [torch.load(f, weights_only=False) for f in state_dict["snapshot_files"]]
        self._files = list(zip(self.snapshots, state_dict["snapshot_files"]))
