"""Several processes (Lightning DDP, gloo on CPU) train exactly like one: each rank gets an equal shard of
the full batch, no padding or duplicates, and the averaged gradient is the full-batch gradient."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mfnn.cli import run
from mfnn.data.base import shard_batch
from mfnn.errors import ConfigError
from tests.helpers import offline_run, tiny_xor_args

ROOT = Path(__file__).resolve().parents[1]


def test_shards_partition_the_batch():
    x, y = torch.randn(12, 3), torch.arange(12)
    shards = [shard_batch((x, y), r, 3) for r in range(3)]
    assert all(s[0].shape == (4, 3) for s in shards)
    assert torch.equal(torch.cat([s[1] for s in shards]), y)  # every sample once, none repeated
    assert shard_batch((x, y), 0, 1)[0] is x
    with pytest.raises(ConfigError, match="train_size"):
        shard_batch((x, y), 0, 5)


class FakeTrainer:
    def __init__(self, rank: int, world: int):
        self.global_rank, self.world_size, self.global_step = rank, world, 0
        self.strategy = type("S", (), {"root_device": torch.device("cpu")})()


def test_datamodule_gives_each_rank_its_share(monkeypatch):
    from mfnn.data import base
    from mfnn.data.synthetic import SyntheticDataModule

    def data(rank, world, **kw):
        dm = SyntheticDataModule(input_dim=2, val_size=32, seed=1, **kw)
        dm.trainer = FakeTrainer(rank, world)
        monkeypatch.setattr(base, "rank_and_world", lambda: (rank, world))
        dm.setup("fit")
        return dm

    full = data(0, 1, train_size=12)
    shards = [data(r, 2, train_size=12) for r in range(2)]
    assert torch.equal(torch.cat([s.splits["train"][0] for s in shards]), full.splits["train"][0])
    assert all(torch.equal(s.splits["val"][0], full.splits["val"][0]) for s in shards)  # val: whole set
    fresh_full = next(iter(data(0, 1, batch_size=8).train_dataloader()))
    fresh = [next(iter(data(r, 2, batch_size=8).train_dataloader())) for r in range(2)]
    assert fresh[0][0].shape == (4, 2)
    assert torch.equal(torch.cat([f[0] for f in fresh]), fresh_full[0])


def metrics(run_dir: Path) -> list[dict]:
    (version,) = (run_dir / "two_layer_xor").iterdir()
    return list(csv.DictReader(open(version / "metrics.csv")))


def final_weights(run_dir: Path) -> dict:
    (version,) = (run_dir / "two_layer_xor").iterdir()
    return torch.load(version / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def compare(tmp_path, *extra: str, ddp_extra: tuple[str, ...] = ()):
    args = tiny_xor_args(tmp_path / "one", "--trainer.log_every_n_steps=10", *extra)
    run(*args)
    two = [a.replace(str(tmp_path / "one"), str(tmp_path / "two")) for a in args] + list(ddp_extra)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    out = subprocess.run([sys.executable, "-m", "mfnn.cli", *two, "--trainer.devices=2", "--trainer.strategy=ddp",
                          "--trainer.accelerator=cpu"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    one_rows, two_rows = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert len(one_rows) == len(two_rows) > 4
    assert any(r["train/loss"] for r in one_rows) and any(r["val/mse"] for r in one_rows)
    for a, b in zip(one_rows, two_rows):
        assert a.keys() == b.keys() and (a["epoch"], a["step"]) == (b["epoch"], b["step"])
        for key in a:
            assert (a[key] == "") == (b[key] == ""), key
            if a[key]:
                assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-4, abs=1e-7), (key, a["step"])
    (version,) = (tmp_path / "two" / "two_layer_xor").iterdir()
    assert (version / "clouds.pt").exists()  # the neuron-cloud callback survives DDP (rank 0 writes)
    w1, w2 = final_weights(tmp_path / "one"), final_weights(tmp_path / "two")
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], rtol=1e-4, atol=1e-6)


def test_two_processes_equal_one_full_batch(tmp_path):
    # a fixed train set of 128 samples, used full batch: each rank holds 64 of them; the DDP run also logs to
    # wandb (offline), which must give one run, from rank 0, with the metrics and the neuron cloud
    compare(tmp_path, "--data.init_args.train_size=128", ddp_extra=("--wandb.enabled=true",))
    records, _ = offline_run(tmp_path / "two")
    keys = {k for row in records["history"] for k in row}
    assert {"train/loss", "val/mse"} <= keys and any(k.startswith("cloud/") for k in keys), sorted(keys)


@pytest.mark.slow
def test_two_processes_equal_one_fresh_samples(tmp_path):
    # fresh samples every step: both ranks draw the step's batch and keep their halves
    compare(tmp_path)
