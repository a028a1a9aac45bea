"""Periodic snapshots reach checkpoints by reference: each is written once, a checkpoint's size does not grow
with the run, a resume restores them, and a checkpoint whose files are gone is refused with one clear line."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mfnn.callbacks import NeuronCloud
from mfnn.cli import run
from mfnn.errors import ConfigError


def fit(tiny_args, *extra):
    cli = run(*tiny_args("--trainer.max_steps=40", "--checkpoint.every_n_train_steps=10",
                         "--checkpoint.min_seconds=0", *extra))
    return cli, next(c for c in cli.trainer.callbacks if isinstance(c, NeuronCloud)), Path(cli.trainer.log_dir)


def test_each_snapshot_is_written_once(tiny_args, monkeypatch):
    saves = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: (saves.append(str(f)), real_save(obj, f, *a, **k))[1])
    cli, cloud, out = fit(tiny_args)
    files = sorted((out / "snapshots").rglob("*.pt"))
    assert [s["step"] for s in cloud.snapshots] == [0, 10, 20, 30, 40] and len(files) == 5
    # four periodic checkpoints and the last one re-wrote no snapshot
    assert sorted(str(Path(s).resolve()) for s in saves if "/snapshots/" in s) == [str(f.resolve()) for f in files]
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    state = next(v for k, v in ckpt["callbacks"].items() if "NeuronCloud" in k)
    assert "snapshots" not in state and state["snapshot_files"] == [str(f.resolve()) for f in files]


def test_resume_restores_them_and_missing_files_are_refused(tiny_args, tmp_path):
    first, _, out = fit(tiny_args, "--trainer.max_steps=20")
    ckpt = out / "checkpoints" / "last.ckpt"
    resumed, cloud, out2 = fit(tiny_args, f"--ckpt_path={ckpt}")
    _, straight, _ = fit(tiny_args)
    assert out2 != out  # a resumed fit writes its new snapshots in its own folder and lists the old ones
    assert [s["step"] for s in cloud.snapshots] == [s["step"] for s in straight.snapshots] == [0, 10, 20, 30, 40]
    for a, b in zip(cloud.snapshots, straight.snapshots):
        assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))
    # Placebo: with the first run's snapshot files gone, the same checkpoint no longer resumes.
    for f in (out / "snapshots").rglob("*.pt"):
        f.rename(f.with_suffix(".moved"))
    with pytest.raises((ConfigError, SystemExit)):
        fit(tiny_args, f"--ckpt_path={ckpt}")


def test_a_checkpoint_of_the_old_layout_still_loads():
    cloud = NeuronCloud()
    cloud.load_state_dict({"snapshots": [{"step": 0, "W": torch.ones(2, 2)}], "layer": 0})
    assert cloud.snapshots[0]["step"] == 0
