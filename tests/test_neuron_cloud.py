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
    # the checkpoint lists the snapshot files in the run folder (each written once), not the snapshots
    files = [Path(f) for f in states[0]["snapshot_files"]]
    assert len(files) == 3 and all(f.is_file() and Path(cli.trainer.log_dir) in f.parents for f in files)
    fresh = NeuronCloud()
    fresh.load_state_dict(states[0])
    assert [s["step"] for s in fresh.snapshots] == [0, 10, 20]
    torch.testing.assert_close(fresh.snapshots[-1]["W"], cli.model.net.W_in.detach())


def test_wandb_offline_logging(tiny_args, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    cli = run(*tiny_args("--wandb.enabled=true", "--trainer.max_steps=10"))
    from lightning.pytorch.loggers import WandbLogger
    assert any(isinstance(lg, WandbLogger) for lg in cli.trainer.loggers)
    assert list(tmp_path.rglob("*.wandb")), "an offline wandb run file is written"


def test_clouds_of_every_layer_of_a_deep_model(tmp_path):
    """Depth-3 DeepMLP: one NeuronCloud per hidden layer; middle-layer particles are (row of W_hidden[l-1],
    bias, column of W_hidden[l]); each layer keeps its own file, figure and checkpoint state."""
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    from mfnn.data.synthetic import SyntheticDataModule
    from mfnn.models.mlp import DeepMLP

    model = DeepMLP(input_dim=3, width=12, depth=3, activation="tanh",
                    optimizer=lambda p: torch.optim.SGD(p, lr=1e-3))  # (SGD needs its lr given)
    data = SyntheticDataModule(input_dim=3, target="xor", train_size=32, val_size=32, steps_per_epoch=5)
    clouds = [NeuronCloud(every_n_steps=5, layer=l) for l in (0, 1, 2)]
    trainer = L.Trainer(max_steps=10, callbacks=clouds, logger=CSVLogger(tmp_path), accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    out = Path(trainer.log_dir)
    net = model.net
    for layer, name, (fan_in, fan_out) in ((0, "clouds.pt", (3, 12)), (1, "clouds_layer1.pt", (12, 12)),
                                           (2, "clouds_layer2.pt", (12, 1))):
        last = torch.load(out / name)["snapshots"][-1]
        assert last["W"].shape == (12, fan_in) and last["a"].shape == (12, fan_out)
        assert (out / "figures" / f"cloud_layer{layer}.png").stat().st_size > 10_000
    mid = torch.load(out / "clouds_layer1.pt")["snapshots"][-1]
    torch.testing.assert_close(mid["W"], net.W_hidden[0].detach())  # incoming rows
    torch.testing.assert_close(mid["a"], net.W_hidden[1].detach().T)  # outgoing columns
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=False)
    states = [v for k, v in ckpt["callbacks"].items() if "NeuronCloud" in k]
    assert sorted(s["layer"] for s in states) == [0, 1, 2]
