"""The CLI path every experiment uses: configs parse, runs are deterministic and resumable,
bad values fail with one message naming the field."""
import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mfnn.cli import MFNNCLI, main, run

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(str(p) for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name != "sweeps")  # sweeps: wandb files
VARIANT = re.compile(r"variant of (\S+\.yaml)")  # a variant states only its differences from its base


def with_base(config: str) -> list[str]:
    """[base, variant] for a variant file (its first line names the base), else [config]."""
    first = Path(config).read_text().splitlines()[0]
    match = VARIANT.search(first)
    return [str(Path(config).parent / match.group(1)), config] if match else [config]


def val_metrics(cli) -> dict:
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items()}


def read_metrics(cli) -> list[dict]:
    return list(csv.DictReader(open(Path(cli.trainer.log_dir) / "metrics.csv")))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(Path(p).relative_to(ROOT / "configs")))
def test_every_config_prints(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        MFNNCLI(args=["fit", *[a for c in with_base(config) for a in ("--config", c)], "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "seed_everything:" in printed and "class_path:" in printed
    assert "seed_everything: null" not in printed  # every config pins a seed


def test_variant_configs_name_an_existing_base():
    variants = [c for c in CONFIGS if len(with_base(c)) == 2]
    assert len(variants) >= 3
    for c in variants:
        assert Path(with_base(c)[0]).is_file(), c


def test_override_reaches_model(tiny_args):
    cli = run(*tiny_args("--model.init_args.width=48", "--trainer.max_steps=1"))
    assert cli.model.net.W_in.shape == (48, 2)


def test_same_seed_same_metrics(tmp_path):
    from tests.helpers import tiny_xor_args
    a = run(*tiny_xor_args(tmp_path / "a"))
    b = run(*tiny_xor_args(tmp_path / "b"))
    assert val_metrics(a) == val_metrics(b)
    assert torch.equal(a.model.net.W_in, b.model.net.W_in)
    rows_a, rows_b = read_metrics(a), read_metrics(b)
    assert rows_a == rows_b and len(rows_a) > 3


def test_resume_equals_uninterrupted(tmp_path):
    from tests.helpers import tiny_xor_args
    full = run(*tiny_xor_args(tmp_path / "full"))
    half = run(*tiny_xor_args(tmp_path / "half", "--trainer.max_steps=20"))
    last = Path(half.trainer.log_dir) / "checkpoints" / "last.ckpt"
    assert last.exists()
    resumed = run(*tiny_xor_args(tmp_path / "resumed", f"--ckpt_path={last}"))
    assert resumed.trainer.global_step == full.trainer.global_step == 40
    for p_full, p_res in zip(full.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p_full, p_res, rtol=0, atol=0)
    assert val_metrics(full)["val/mse"] == val_metrics(resumed)["val/mse"]


BAD_VALUES = [
    ("--model.init_args.width=0", "width"),
    ("--model.init_args.width=-3", "width"),
    ("--model.class_path=mfnn.models.mlp.DeepMLP --model.init_args.depth=0", "depth"),
    ("--model.init_args.activation=softsign", "activation"),
    ("--model.init_args.parameterization=mup", "parameterization"),
    ("--data.init_args.target=parity7", "target"),
    ("--model.init_args.input_dim=0", "input_dim"),
    ("--data.init_args.input_dim=0", "input_dim"),
    ("--data.init_args.train_size=0", "train_size"),
    ("--model.init_args.widht=10", "widht"),
]


@pytest.mark.parametrize("bad,field", BAD_VALUES, ids=[b for b, _ in BAD_VALUES])
def test_bad_value_names_field(tiny_args, tmp_path, bad, field, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_args(*bad.split()))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    error_lines = [ln for ln in err.splitlines() if ln.startswith("mfnn: error:")]
    assert len(error_lines) == 1 and field in error_lines[0], err
    assert "Traceback" not in err and "Subtypes:" not in err
    assert not any(tmp_path.rglob("metrics.csv")), "no run output may be written for a bad config"


def test_nan_loss_stops_with_step(tiny_args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_args("--model.init_args.optimizer.init_args.lr=1e12"))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "training loss became" in err and "at step" in err


def test_console_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "mfnn.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "fit" in out.stdout


@pytest.mark.parametrize("min_seconds,expected", [(0, [10, 20, 30, 40]), (1000, [10, 40])])
def test_periodic_checkpoints_keep_a_time_floor(tmp_path, monkeypatch, min_seconds, expected):
    """Every period is saved with no floor; with one, only the fit's first period and the end."""
    from mfnn.cli import RunCheckpoint
    from tests.helpers import tiny_xor_args

    saved = []
    original = RunCheckpoint._save_checkpoint

    def recording(self, trainer, filepath):
        saved.append(trainer.global_step)
        original(self, trainer, filepath)

    monkeypatch.setattr(RunCheckpoint, "_save_checkpoint", recording)
    run(*tiny_xor_args(tmp_path, "--checkpoint.every_n_train_steps=10", f"--checkpoint.min_seconds={min_seconds}"))
    assert saved == expected
