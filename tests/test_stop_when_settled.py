"""StopWhenSettled: a batched sweep stops once every member has reached the threshold or stalled, and not
while any member is still climbing or before its floor."""
from types import SimpleNamespace

import torch

from mfnn.callbacks.stop import StopWhenSettled


def drive(callback, curves: list[list[float]], every: int = 100) -> int | None:
    """Feed per-member test accuracies (one list per member, one value per evaluation) to the callback."""
    net = SimpleNamespace(members=len(curves))
    for i in range(len(curves[0])):
        metrics = {f"val/test_acc_k{k}": torch.tensor(c[i]) for k, c in enumerate(curves)}
        trainer = SimpleNamespace(sanity_checking=False, global_step=(i + 1) * every, callback_metrics=metrics,
                                  should_stop=False)
        callback.on_validation_end(trainer, SimpleNamespace(net=net))
        if trainer.should_stop:
            return trainer.global_step
    return None


def test_waits_for_a_climbing_member_then_stops():
    flat = [0.01] * 40  # below the critical fraction: never rises
    fast = [min(1.0, 0.2 * i) for i in range(40)]  # groks by the 6th evaluation
    slow = [0.01] * 10 + [min(1.0, 0.05 * i) for i in range(30)]  # leaves its plateau after step 1000, 99% at 3100
    stop = StopWhenSettled(threshold=0.99, patience=500, min_rise=0.02, min_steps=1500)
    assert drive(stop, [flat, fast, slow]) == 3100  # the slow member sets the budget
    # without a floor past its plateau the slow member looks stalled: why the sweep has min_steps
    assert drive(StopWhenSettled(threshold=0.99, patience=500, min_rise=0.02), [flat, fast, slow]) == 600


def test_floor_and_stalled_members():
    flat = [0.01] * 40
    stop = StopWhenSettled(threshold=0.99, patience=500, min_rise=0.02, min_steps=2000)
    assert drive(stop, [flat, flat]) == 2000  # stalled from step 600 on, but not before the floor
    stop = StopWhenSettled(threshold=0.99, patience=500, min_rise=0.02, min_steps=0)
    assert drive(stop, [flat, flat]) == 600  # first evaluation with a value 500 steps back


def test_patience_equal_to_the_cap_only_stops_at_the_threshold():
    plateau = [0.01] * 30 + [1.0] * 10
    stop = StopWhenSettled(threshold=0.99, patience=100000, min_rise=0.02)
    assert drive(stop, [plateau, plateau]) == 3100
    assert stop.state_dict()["stopped_at"] == 3100
