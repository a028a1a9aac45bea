"""Several processes (DDP): a stated collective timeout, and which rank is stuck when it runs out.

A rank that is stopped (SIGSTOP, a frozen node) leaves the others waiting inside a collective until the process
group's timeout — Lightning's default is 30 minutes, and gloo's error names no rank. Once the processes have
started, mfnn sets the timeout of every later collective (`--collective_timeout`, seconds; starting up keeps
Lightning's own, since imports on a loaded machine are slow) and every rank records, in its run directory, the last training step it
started and whether it reached the gradient all-reduce. When a collective times out, the waiting rank reads
the others' records and says in one line which rank is behind.
"""
from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

from lightning.pytorch import Callback
import torch.distributed as dist

RANK_DIR_ENV = "MFNN_RANK_DIR"  # set by rank 0 before it starts the others; they inherit it
PHASES = ("started", "in all-reduce")  # order within one step


def is_collective_timeout(err: BaseException) -> bool:
    text = str(err).lower()  # gloo says "Timed out waiting ... for recv" or "Application timeout caused pair closure"
    return isinstance(err, RuntimeError) and ("timed out" in text or "timeout" in text)


class RankHeartbeat(Callback):
    """Each rank writes `step phase unix_time` to `<run>/.ranks/rank<r>` as it starts a training step and as it
    enters the gradient all-reduce (a fixed-size overwrite: microseconds a step). On a collective timeout it
    names the ranks that have not reached the point where it waits, and rank 0 stops the stuck processes."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.fd: int | None = None
        self.folder: Path | None = None
        self.message: str | None = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        folder = os.environ.get(RANK_DIR_ENV)
        if trainer.world_size < 2 or not folder:
            return
        if dist.is_available() and dist.is_initialized():
            dist.distributed_c10d._set_pg_timeout(timedelta(seconds=self.timeout_s))
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.folder / f"rank{trainer.global_rank}", os.O_WRONLY | os.O_CREAT, 0o644)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _beat(self, step: int, phase: int) -> None:
        if self.fd is not None:
            os.pwrite(self.fd, f"{step} {phase} {time.time():.3f}".ljust(48).encode(), 0)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._beat(trainer.global_step, 0)

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self._beat(trainer.global_step, 1)

    def records(self) -> dict[int, tuple[int, int, float]]:
        out = {}
        for path in self.folder.glob("rank*") if self.folder else ():
            try:
                step, phase, when = path.read_text().split()
                out[int(path.name[4:])] = (int(step), int(phase), float(when))
            except (OSError, ValueError):
                continue
        return out

    def stuck_ranks(self, me: int, world: int) -> tuple[str, tuple[int, int, float] | None]:
        """'rank 1 (last at step 41, started)' for every rank behind `me`; all others when none is behind."""
        records = self.records()
        mine = records.get(me)
        others = [r for r in range(world) if r != me]
        behind = [r for r in others if r not in records or mine is None or records[r][:2] < mine[:2]]
        now = time.time()

        def say(r: int) -> str:
            if r not in records:
                return f"rank {r} (never reached a training step)"
            step, phase, when = records[r]
            return f"rank {r} (last at step {step}, {PHASES[phase]}, {now - when:.0f} s ago)"
        return ", ".join(say(r) for r in behind or others), mine

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self.folder is None or not is_collective_timeout(exception):
            return
        stuck, mine = self.stuck_ranks(trainer.global_rank, trainer.world_size)
        where = f" at step {mine[0]} ({PHASES[mine[1]]})" if mine else ""
        self.message = (f"rank {trainer.global_rank} waited {self.timeout_s:g} s (--collective_timeout){where} for "
                        f"{stuck}: that process is stopped, frozen or far slower; the last periodic checkpoint "
                        "resumes the run (--ckpt_path)")
        exception.mfnn_message = self.message
        launcher = getattr(trainer.strategy, "launcher", None)
        for proc in getattr(launcher, "procs", None) or ():  # rank 0 owns the others: a stuck one is of no use
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
