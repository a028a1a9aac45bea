"""A fast path for `LightningModule.log` when the logged value's accumulator is already on its device.

Lightning (up to 2.6.6, the newest release) moves a key's accumulator (`_ResultMetric`, a torchmetrics
`Metric`) to the value's device on every `self.log` call. It does so by walking the metric's whole
`__dict__` with `apply_to_collection`, which deep-copies its metadata dataclass: ~130 µs per key on this
CPU, ~250 µs per `self.log` in all. A tiny model that logs two keys every 50 steps spent more time there
than in its steps. When every tensor the metric holds is already on the target device, the move is a
no-op, so the patched `to` returns at once; any other call (another device, a dtype, keyword arguments)
takes Lightning's own path. `tests/test_lightning_log.py` checks that logged rows and callback metrics
are the same with and without it.
"""
from __future__ import annotations

import torch
from lightning.pytorch.trainer.connectors.logger_connector import result as _result

_ResultMetric = _result._ResultMetric
# Lightning's own method, kept for every call the fast path does not cover (and kept across a module reload)
lightning_to = getattr(_ResultMetric, "_lightning_to", _ResultMetric.to)
_ResultMetric._lightning_to = lightning_to


def _on(values, device: torch.device) -> bool:
    """Whether every tensor among `values` (and inside their lists, tuples and dicts) is on `device`."""
    for v in values:
        if isinstance(v, torch.Tensor):
            if v.device != device:
                return False
        elif isinstance(v, (list, tuple)):
            if not _on(v, device):
                return False
        elif isinstance(v, dict):
            if not _on(v.values(), device):
                return False
    return True


def to_unless_there(self, *args, **kwargs):
    if len(args) == 1 and not kwargs and isinstance(args[0], torch.device) and not self._modules \
            and _on(self.__dict__.values(), args[0]):
        return self  # (what apply_to_collection would move is already there)
    return lightning_to(self, *args, **kwargs)


_ResultMetric.to = to_unless_there
