"""`mfnn.lightning_log`: `self.log` skips Lightning's device move when the accumulator is already there, and
nothing that reaches a logger or a callback changes."""
from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.trainer.connectors.logger_connector.result import _Metadata, _ResultMetric

import mfnn.lightning_log as fast
from mfnn.cli import MFNNCLI
from tests.helpers import XOR_CONFIG

ARGS = ["fit", "--config", XOR_CONFIG, "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.max_steps=40", "--trainer.log_every_n_steps=5", "--trainer.check_val_every_n_epoch=1",
        "--model.init_args.width=16", "--data.init_args.batch_size=32", "--data.init_args.val_size=64",
        "--data.init_args.steps_per_epoch=20", "--trainer.callbacks=[]"]


def fit(save_dir: Path) -> tuple[str, dict]:
    cli = MFNNCLI(args=[*ARGS, f"--trainer.logger.init_args.save_dir={save_dir}"])
    csv = (Path(cli.trainer.logger.log_dir) / "metrics.csv").read_text()
    return csv, {k: float(v) for k, v in cli.trainer.callback_metrics.items()}


def test_logged_rows_and_callback_metrics_are_lightnings(tmp_path, monkeypatch):
    assert _ResultMetric.to is fast.to_unless_there  # installed by importing mfnn's modules
    with_fast = fit(tmp_path / "fast")
    monkeypatch.setattr(_ResultMetric, "to", fast.lightning_to)
    without = fit(tmp_path / "lightning")
    assert with_fast[0].count("\n") > 8 and "train/loss" in with_fast[0] and "val/loss" in with_fast[0]
    assert with_fast == without


def metric_holding(value: torch.Tensor) -> _ResultMetric:
    metric = _ResultMetric(_Metadata(fx="training_step", name="x", on_step=True, on_epoch=True), is_tensor=True)
    metric.value = value
    return metric


def test_a_metric_elsewhere_is_still_moved():
    # Placebo: a metric whose tensors are not on the target device takes Lightning's path and ends up there.
    # ("meta": a device every machine has; a move there keeps shapes and drops the data.)
    metric = metric_holding(torch.ones(()))
    value, meta = metric.value, metric.meta
    assert fast.to_unless_there(metric, torch.device("cpu")) is metric
    assert metric.value is value and metric.meta is meta  # already there: untouched, no copy of its metadata
    fast.to_unless_there(metric, torch.device("meta"))
    assert metric.value.device.type == "meta" and metric.cumulated_batch_size.device.type == "meta"
    assert metric.meta is not meta  # Lightning's path ran (it deep-copies the metadata)
    # A nested tensor on another device (a state default) also takes Lightning's path.
    metric = metric_holding(torch.ones(()))
    metric._defaults["value"] = torch.zeros((), device="meta")
    assert not fast._on(metric.__dict__.values(), torch.device("cpu"))


def test_a_reload_keeps_lightnings_method():
    import importlib

    importlib.reload(fast)
    assert fast.lightning_to is not fast.to_unless_there and fast.lightning_to.__module__.startswith("lightning")
    assert _ResultMetric.to is fast.to_unless_there
