"""Stop a batched run of K members once every member has settled: reached the threshold, or stopped
improving. A sweep's step budget then follows its slowest-learning member instead of a fixed count.

A member is settled when its validation metric (`val/<metric>_k<k>`, or `val/<metric>` for one member)
is >= threshold, or when it rose by less than `min_rise` over the last `patience` steps (a member far
below a critical train fraction never generalises; one mid-transition keeps rising and keeps the run
going). `trainer.max_steps` stays the hard cap.
"""
from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from mfnn.errors import require, require_positive


class StopWhenSettled(Callback):
    def __init__(self, metric: str = "test_acc", threshold: float = 0.99, patience: int = 1500,
                 min_rise: float = 0.02, min_steps: int = 0):
        super().__init__()
        require_positive(patience, "patience")
        require(min_rise >= 0, "min_rise", f"must be >= 0 (got {min_rise})")
        self.metric, self.threshold, self.patience = metric, threshold, patience
        self.min_rise, self.min_steps = min_rise, min_steps
        self.history: list[tuple[int, list[float]]] = []  # (step, value of every member)
        self.stopped_at: int | None = None

    def values(self, trainer, members: int) -> list[float] | None:
        m = trainer.callback_metrics
        keys = [f"val/{self.metric}_k{k}" for k in range(members)] if members > 1 else [f"val/{self.metric}"]
        if not all(k in m for k in keys):
            return None
        return [float(m[k]) for k in keys]

    def settled(self, step: int, values: list[float]) -> list[bool]:
        """Per member: at the threshold, or no rise of min_rise over the last `patience` steps."""
        past = [v for s, v in self.history if s <= step - self.patience]
        before = past[-1] if past else None
        return [v >= self.threshold or (before is not None and v - before[k] < self.min_rise)
                for k, v in enumerate(values)]

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        net = getattr(pl_module, "net", None)
        values = self.values(trainer, getattr(net, "members", 1))
        if values is None:
            return
        step = int(trainer.global_step)
        self.history.append((step, values))
        if step >= self.min_steps and all(self.settled(step, values)):
            self.stopped_at = step
            trainer.should_stop = True

    def state_dict(self):
        return {"history": self.history, "stopped_at": self.stopped_at}

    def load_state_dict(self, state):
        self.history, self.stopped_at = [tuple(h) for h in state["history"]], state["stopped_at"]
