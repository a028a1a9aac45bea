"""Tied dot-product attention ensemble, its linear baseline and data (Cui et al. 2024), and the replication's
tiny path."""
import json
import math
from pathlib import Path

import pytest
import torch

from mfnn.cli import run
from mfnn.data.attention import AttentionDataModule, attention_teacher_targets, positional_encodings
from mfnn.errors import ConfigError
from mfnn.models.attention import DotProductAttention, LinearPositional
from tests.helpers import load_script, run_tiny

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def built():
    dm = AttentionDataModule(dim=24, alphas=[0.5, 1.0], seeds=2, test_size=16)
    splits = dm.build(torch.Generator().manual_seed(0))
    model = DotProductAttention(inits=["positional", "semantic", "random"])
    model.build(dm.q_star, len(dm.alphas), torch.Generator().manual_seed(1))
    return dm, splits, model


def direct_risks(model, dm, batch):
    """sum over each member's samples of |y_hat - y|^2/(2d), from y_hat itself."""
    x = batch["x"]
    z = x - positional_encodings(dm.dim)
    y = attention_teacher_targets(z, dm.q_star, dm.omega, dm.A)
    ell = (model(x) - y[:, None, None]).square().sum((-1, -2)) / (2 * dm.dim)  # (S, A, I, n)
    return (ell * batch["weight"][None, :, None]).sum(-1)


def test_gram_risk_equals_direct_risk(built):
    dm, splits, model = built
    for split in ("train", "val"):
        assert torch.allclose(model.member_risks(splits[split]), direct_risks(model, dm, splits[split]), rtol=1e-4)


def test_initialisations_and_overlaps(built):
    dm, _, model = built
    ov = model.overlaps()  # (S, A, I)
    assert torch.allclose(ov["m"][:, :, 0], torch.tensor(1 / math.sqrt(dm.dim)))  # positional: Q = 1/sqrt(d)
    assert torch.allclose(ov["theta"][:, :, 1], (dm.q_star.square().sum(-1) / dm.dim)[:, None])  # semantic: Q = Q*


def test_a_random_start_is_not_the_teacher_when_the_global_and_data_seeds_agree():
    """seed_everything(0) with data seed 0: the random start must not reuse the teacher's draws (it did:
    W = 0.1 Q*, overlap 1); a random direction has |cos(W, Q*)| ~ 1/sqrt(d)."""
    import lightning as L

    d = 400
    L.seed_everything(0, verbose=False)
    dm = AttentionDataModule(dim=d, alphas=[1.0], seeds=3, test_size=8, seed=0)
    dm.build(torch.Generator().manual_seed(0))
    model = DotProductAttention(inits=["random"])
    model.build(dm.q_star, 1)
    W = model.W_Q.detach()[:, 0, 0, :, 0]  # (S, d)
    cos = torch.nn.functional.cosine_similarity(W, dm.q_star, dim=-1).abs()
    assert float(cos.max()) < 4 / math.sqrt(d), cos


def test_members_are_independent_and_see_their_own_samples(built):
    _, splits, model = built
    batch = splits["train"]
    before = model.member_risks(batch).detach()
    with torch.no_grad():
        model.W_Q[0, 1, 2] += 1.0
    after = model.member_risks(batch).detach()
    changed = (after != before)
    assert changed[0, 1, 2] and changed.sum() == 1
    # alpha = 0.5 members use the first 12 of the 24 samples only
    assert batch["weight"].sum(-1).tolist() == [12.0, 24.0]
    x2 = {k: v.clone() for k, v in batch.items()}
    x2["yy"][:, 12:] += 1.0
    delta = model.member_risks(x2) - model.member_risks(batch)
    assert torch.all(delta[:, 0].abs() < 1e-6) and torch.all(delta[:, 1] > 1)


def test_invalid_values_name_the_field():
    with pytest.raises(ConfigError, match="rank"):
        DotProductAttention(rank=0)
    with pytest.raises(ConfigError, match="inits"):
        DotProductAttention(inits=["clever"])
    with pytest.raises(ConfigError, match="omega"):
        AttentionDataModule(omega=1.5)
    with pytest.raises(ConfigError, match="A"):
        AttentionDataModule(A=[[1.0, 0.0]])
    with pytest.raises(ConfigError, match="weight_decay"):
        LinearPositional(weight_decay=-1.0)


def test_gd_through_the_cli_lowers_the_risk(tmp_path):
    args = ["fit", "--config", str(ROOT / "configs" / "attention" / "attention.yaml"), "--trainer.max_steps", "30",
            "--data.init_args.dim", "32", "--data.init_args.alphas", "[2.0]", "--data.init_args.seeds", "1",
            "--data.init_args.test_size", "64", "--data.init_args.steps_per_epoch", "10",
            "--trainer.logger.init_args.save_dir", str(tmp_path)]
    cli = run(*args)
    model, dm = cli.model, cli.datamodule
    trained = model.member_metrics(dm.splits["train"], dm.splits["val"])["train_loss"]
    fresh = DotProductAttention(inits=model.inits)
    fresh.build(dm.q_star, 1)
    start = fresh.member_metrics(dm.splits["train"], dm.splits["val"])["train_loss"]
    assert torch.all(trained < start)


def test_replication_tiny_path(tmp_path):
    """The whole replication at tiny size (d = 20, coarse theory): every output exists; numbers not expected to pass."""
    out = run_tiny(load_script("replications/attention/run.py"), tmp_path)
    metrics = json.loads((out / "metrics.json").read_text())
    names = [c["name"] for c in metrics["checks"]]
    assert any(n.startswith("alpha_c(omega=0.3)") for n in names) and len(names) >= 8
    m = metrics["metrics"]
    assert m["experiments"]["dim"] == 20 and len(m["theory"]["semantic"]["train_loss"]) == 2
    assert (out / "attention_phase_transition.png").stat().st_size > 10_000
    assert "| check |" in (out / "report.md").read_text()
