from pathlib import Path

import torch

from mfnn.callbacks import NeuronCloud
from mfnn.cli import run


def test_cloud_files_and_snapshots(tiny_args):
    cli = run(*tiny_args())
    out = Path(cli.trainer.log_dir)
    saved = torch.load(out / "clouds.pt")
    steps = [s["step"] for s in saved["snapshots"]]
    assert steps[0] == 0 and steps[-1] == 40 and steps == sorted(set(steps))
    last = saved["snapshots"][-1]
    assert last["W"].shape == (32, 2) and last["b"].shape == (32,) and last["a"].shape == (32, 1)
    torch.testing.assert_close(last["W"], cli.model.net.W_in.detach())
    png = out / "figures" / "cloud_layer0.png"
    assert png.exists() and png.stat().st_size > 10_000


def test_cloud_state_survives_checkpoint(tiny_args):
    cli = run(*tiny_args("--trainer.max_steps=20"))
    ckpt = torch.load(Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt", weights_only=False)
    states = [v for k, v in ckpt["callbacks"].items() if "NeuronCloud" in k]
    assert states and [s["step"] for s in states[0]["snapshots"]] == [0, 10, 20]
    fresh = NeuronCloud()
    fresh.load_state_dict(states[0])
    assert len(fresh.snapshots) == 3


def test_wandb_offline_logging(tiny_args, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    cli = run(*tiny_args("--wandb.enabled=true", "--trainer.max_steps=10"))
    from lightning.pytorch.loggers import WandbLogger
    assert any(isinstance(lg, WandbLogger) for lg in cli.trainer.loggers)
    assert list(tmp_path.rglob("*.wandb")), "an offline wandb run file is written"
