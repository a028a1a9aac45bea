"""Batched ensembles: member k of an Ensemble trains exactly like its own single run."""
import csv
from pathlib import Path

import lightning as L
import pytest
import torch

from mfnn.cli import run
from mfnn.data.synthetic import SyntheticDataModule
from mfnn.models.ensemble import Ensemble
from mfnn.models.mlp import TwoLayerMLP

ROOT = Path(__file__).resolve().parents[1]
STEPS = 12


def trainer() -> L.Trainer:
    return L.Trainer(max_steps=STEPS, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, limit_val_batches=0, accelerator="cpu")


def data() -> SyntheticDataModule:
    # fresh samples every step: also checks that every member sees the single run's batches
    return SyntheticDataModule(input_dim=3, target="xor", train_size=None, batch_size=64, val_size=256,
                               steps_per_epoch=5, seed=3)


def make_member(opt: str, wd: float = 0.0):
    def optimizer(params):
        if opt == "sgd":
            return torch.optim.SGD(params, lr=0.3, momentum=0.9, weight_decay=wd)
        return torch.optim.AdamW(params, lr=1e-2, weight_decay=wd)
    return lambda: TwoLayerMLP(input_dim=3, width=16, activation="hardtanh", optimizer=optimizer)


def single_run(seed: int, opt: str, wd: float = 0.0):
    torch.manual_seed(seed)
    module = make_member(opt, wd)()
    dm = data()
    trainer().fit(module, dm)
    val = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
        module, dm, verbose=False)[0]
    return module, val


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_members_match_their_single_runs(opt):
    seeds, wds = [5, 9, 11], [0.0, 0.1, 1.0]
    ens = Ensemble(make_member(opt), members=3, seeds=seeds, weight_decays=wds)
    dm = data()
    trainer().fit(ens, dm)
    val = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
        ens, dm, verbose=False)[0]
    for k, (seed, wd) in enumerate(zip(seeds, wds)):
        solo, solo_val = single_run(seed, opt, wd)
        member = ens.member_module(k)
        assert not torch.equal(member.net.W_in, ens.member_module((k + 1) % 3).net.W_in)
        for name, p in solo.net.named_parameters():
            torch.testing.assert_close(getattr(member.net, name), p, rtol=1e-5, atol=1e-6, msg=f"member {k} {name}")
        assert val[f"val/mse_k{k}"] == pytest.approx(solo_val["val/mse"], rel=1e-5)
    assert val["val/loss"] == pytest.approx(sum(val[f"val/loss_k{k}"] for k in range(3)) / 3, rel=1e-6)


def test_building_members_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    Ensemble(make_member("sgd"), members=4)
    assert torch.equal(torch.rand(3), expected)


def test_yaml_config_logs_per_member_metrics(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs/ensemble/xor_seeds.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_steps=20",
              "--trainer.log_every_n_steps=10", "--trainer.check_val_every_n_epoch=1",
              "--trainer.enable_progress_bar=false", "--model.init_args.members=4",
              "--model.init_args.member.init_args.width=16", "--data.init_args.batch_size=32",
              "--data.init_args.val_size=64", "--data.init_args.steps_per_epoch=10")
    rows = list(csv.DictReader(open(Path(cli.trainer.log_dir) / "metrics.csv")))
    columns = set(rows[0])
    assert {f"train/mse_k{k}" for k in range(4)} <= columns and {f"val/mse_k{k}" for k in range(4)} <= columns
    last_train = [r for r in rows if r["train/loss"]][-1]
    members = [float(last_train[f"train/loss_k{k}"]) for k in range(4)]
    assert float(last_train["train/loss"]) == pytest.approx(sum(members) / 4, rel=1e-5)
    assert len(set(members)) == 4  # different seeds, different runs


def test_bad_member_count_names_field():
    from mfnn.errors import ConfigError
    with pytest.raises(ConfigError, match="seeds"):
        Ensemble(make_member("sgd"), members=3, seeds=[1, 2])
    with pytest.raises(ConfigError, match="weight_decays"):
        Ensemble(make_member("sgd"), members=2, weight_decays=[0.1])


def test_resume_equals_uninterrupted(tmp_path):
    base = ["fit", "--config", str(ROOT / "configs/ensemble/xor_seeds.yaml"), "--trainer.enable_progress_bar=false",
            "--model.init_args.members=3", "--model.init_args.member.init_args.width=16",
            "--model.init_args.weight_decays=[0.0,0.1,0.2]", "--data.init_args.batch_size=32",
            "--data.init_args.val_size=64", "--data.init_args.steps_per_epoch=10"]
    full = run(*base, f"--trainer.logger.init_args.save_dir={tmp_path / 'full'}", "--trainer.max_steps=30")
    half = run(*base, f"--trainer.logger.init_args.save_dir={tmp_path / 'half'}", "--trainer.max_steps=20")
    last = Path(half.trainer.log_dir) / "checkpoints" / "last.ckpt"
    resumed = run(*base, f"--trainer.logger.init_args.save_dir={tmp_path / 'resumed'}", "--trainer.max_steps=30",
                  f"--ckpt_path={last}")
    for (name, p_full), p_res in zip(full.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(p_full, p_res), name
