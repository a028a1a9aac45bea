"""k optimiser steps per training_step (`--steps_per_call=k`) give bit-for-bit the run of k = 1: weights,
optimiser and scheduler state, every logged row (train and validation, same step column), periodic
checkpoints, callback snapshots, and a resume from a mid-epoch checkpoint."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mfnn.cli import MFNNCLI
from mfnn.errors import ConfigError
from tests.helpers import XOR_CONFIG

# 60 steps, 20-step epochs (validation at each epoch end), logs every 10, checkpoints every 20, a 5-step
# warm-up schedule (stepped by hand under manual optimisation), neuron-cloud snapshots every 20.
BASE = ["--config", XOR_CONFIG, "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.check_val_every_n_epoch=1", "--trainer.log_every_n_steps=10", "--checkpoint.every_n_train_steps=20",
        "--model.init_args.width=16", "--model.init_args.warmup_steps=5", "--data.init_args.batch_size=32",
        "--data.init_args.val_size=64", "--data.init_args.steps_per_epoch=20",
        "--trainer.callbacks.every_n_steps=20", "--trainer.callbacks.plot=false"]


def fit(save_dir: Path, k: int, max_steps: int, *extra: str) -> MFNNCLI:
    cli = MFNNCLI(args=["fit", *BASE, f"--trainer.logger.init_args.save_dir={save_dir}",
                        f"--trainer.max_steps={max_steps}", f"--steps_per_call={k}", *extra])
    assert cli.trainer.global_step == max_steps
    return cli


def run_dir(cli: MFNNCLI) -> Path:
    return Path(cli.trainer.logger.log_dir)


def rows(cli: MFNNCLI, from_step: int = 0) -> list[str]:
    lines = (run_dir(cli) / "metrics.csv").read_text().splitlines()
    return [lines[0]] + [ln for ln in lines[1:] if int(ln.split(",")[1]) >= from_step]


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The k = 1 run (Lightning's automatic optimisation)."""
    return fit(tmp_path_factory.mktemp("k1"), 1, 60)


def test_k_steps_equal_k1_bit_for_bit(reference, tmp_path):
    cli = fit(tmp_path, 5, 60)
    assert not cli.model.automatic_optimization and reference.model.automatic_optimization
    assert_same_state(reference.model.state_dict(), cli.model.state_dict())
    ref_rows, k_rows = rows(reference), rows(cli)
    header = ref_rows[0].split(",")
    assert "train/loss" in header and "val/loss" in header and len(ref_rows) == 1 + 6 + 3  # 6 train, 3 val rows
    assert k_rows == ref_rows  # same steps, same epochs, same values, train and validation rows
    ref_ckpt = torch.load(run_dir(reference) / "checkpoints" / "last.ckpt", weights_only=False)
    k_ckpt = torch.load(run_dir(cli) / "checkpoints" / "last.ckpt", weights_only=False)
    assert ref_ckpt["global_step"] == k_ckpt["global_step"] == 60
    assert_same_state(ref_ckpt["state_dict"], k_ckpt["state_dict"])
    assert ref_ckpt["lr_schedulers"] == k_ckpt["lr_schedulers"]
    ref_clouds = torch.load(run_dir(reference) / "clouds.pt", weights_only=False)
    k_clouds = torch.load(run_dir(cli) / "clouds.pt", weights_only=False)
    assert [s["step"] for s in ref_clouds["snapshots"]] == [s["step"] for s in k_clouds["snapshots"]] == [0, 20, 40, 60]
    for s, t in zip(ref_clouds["snapshots"], k_clouds["snapshots"]):
        assert all(torch.equal(s[key], t[key]) for key in s if isinstance(s[key], torch.Tensor))


def test_resume_mid_epoch_equals_k1_resume(reference, tmp_path):
    """Stop at step 30 (mid-epoch) and resume to 60, with k = 5 and with k = 1: same checkpoint, same rows after
    the resume, and the weights of the uninterrupted run (also for a k = 1 checkpoint resumed with k = 5).
    (The epoch column after a resume is Lightning's, the same for both k: it counts the stopped epoch as done.)"""
    ckpt = {}
    for k in (1, 5):
        first = fit(tmp_path / f"k{k}", k, 30)
        ckpt[k] = run_dir(first) / "checkpoints" / "last.ckpt"
    saved = [torch.load(ckpt[k], weights_only=False) for k in (1, 5)]
    assert saved[0]["global_step"] == saved[1]["global_step"] == 30
    assert_same_state(saved[0]["state_dict"], saved[1]["state_dict"])
    assert saved[0]["loops"]["fit_loop"]["epoch_loop.state_dict"] == saved[1]["loops"]["fit_loop"]["epoch_loop.state_dict"]
    resumed = {k: fit(tmp_path / f"k{k}", k, 60, f"--ckpt_path={ckpt[k]}") for k in (1, 5)}
    assert_same_state(reference.model.state_dict(), resumed[5].model.state_dict())
    assert rows(resumed[5]) == rows(resumed[1]) and len(rows(resumed[5])) == 1 + 3 + 2  # steps 39, 49, 59; val 40, 60
    crossed = fit(tmp_path / "k1", 5, 60, f"--ckpt_path={ckpt[1]}")
    assert_same_state(reference.model.state_dict(), crossed.model.state_dict())


def test_placebo_k_steps_on_one_batch_differ(reference, tmp_path):
    """The exactness test can fail: k steps on the same batch (instead of k consecutive batches) differ."""
    cli = MFNNCLI(args=[*BASE, f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_steps=60",
                        "--steps_per_call=5"], run=False)
    groups = type(cli.datamodule).train_dataloader

    class SameBatchKTimes:
        def __init__(self, groups):
            self.groups = groups

        def __iter__(self):
            return ([group[0]] * len(group) for group in self.groups)

        def __len__(self):
            return len(self.groups)
    cli.datamodule.train_dataloader = lambda: SameBatchKTimes(groups(cli.datamodule))
    cli.trainer.fit(cli.model, cli.datamodule)
    assert cli.trainer.global_step == 60
    assert not torch.equal(reference.model.state_dict()["net.W_in"], cli.model.state_dict()["net.W_in"])


@pytest.mark.parametrize("override, field", [
    ("--trainer.log_every_n_steps=12", "log_every_n_steps"),
    ("--trainer.max_steps=62", "max_steps"),
    ("--checkpoint.every_n_train_steps=12", "every_n_train_steps"),
    ("--data.init_args.steps_per_epoch=22", "steps_per_epoch"),
])
def test_cadence_not_a_multiple_of_k_is_refused(tmp_path, override, field):
    with pytest.raises(ConfigError, match=field):
        MFNNCLI(args=["fit", *BASE, f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_steps=60",
                      "--steps_per_call=5", override])


def test_steps_per_call_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="steps_per_call"):
        MFNNCLI(args=["fit", *BASE, f"--trainer.logger.init_args.save_dir={tmp_path}", "--steps_per_call=0"])


def test_ensemble_with_member_weight_decays_equals_k1(tmp_path):
    """The Ensemble's per-member weight decay runs in on_before_optimizer_step: k > 1 must still call it every step."""
    args = ["--config", str(XOR_CONFIG).replace("two_layer_xor.yaml", "ensemble/xor_seeds.yaml"),
            "--trainer.enable_progress_bar=false", "--trainer.max_steps=20", "--trainer.log_every_n_steps=5",
            "--trainer.check_val_every_n_epoch=1", "--model.init_args.members=3",
            "--model.init_args.weight_decays=[0.0,0.01,0.1]", "--model.init_args.member.init_args.width=8",
            "--data.init_args.batch_size=16", "--data.init_args.val_size=32", "--data.init_args.steps_per_epoch=10"]
    runs = [MFNNCLI(args=["fit", *args, f"--trainer.logger.init_args.save_dir={tmp_path / str(k)}", f"--steps_per_call={k}"])
            for k in (1, 5)]
    assert_same_state(runs[0].model.state_dict(), runs[1].model.state_dict())
    assert rows(runs[0]) == rows(runs[1])
