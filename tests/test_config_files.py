"""Shipped configs resolve by name from any folder; a real file of that name wins; unknown names stay as written."""
import os

import pytest

import mfnn
from mfnn.config_files import resolve_config, resolve_config_args, shipped_configs
from tests.helpers import ROOT


def test_shipped_configs_resolve_by_name_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config("grokking/gromov_mlp.yaml") == ROOT / "configs" / "grokking" / "gromov_mlp.yaml"
    assert resolve_config("configs/two_layer_xor.yaml") == ROOT / "configs" / "two_layer_xor.yaml"
    names = shipped_configs()
    assert "two_layer_xor.yaml" in names and "attention/attention.yaml" in names
    assert len(names) == len(list((ROOT / "configs").rglob("*.yaml")))


def test_a_local_file_wins_and_unknown_names_are_left_for_the_cli_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two_layer_xor.yaml").write_text("seed_everything: 1\n")
    assert resolve_config("two_layer_xor.yaml").resolve() == (tmp_path / "two_layer_xor.yaml").resolve()
    with pytest.raises(FileNotFoundError, match="no shipped config"):
        resolve_config("nope/missing.yaml")
    args = ["fit", "--config", "nope.yaml", "--config=deep/lazy.yaml", "--trainer.max_steps=3"]
    assert resolve_config_args(args) == ["fit", "--config", "nope.yaml",
                                         f"--config={ROOT / 'configs' / 'deep' / 'lazy.yaml'}", "--trainer.max_steps=3"]


def test_the_cli_runs_a_shipped_config_by_name_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = mfnn.cli.run("fit", "--config", "two_layer_xor.yaml", f"--trainer.logger.init_args.save_dir={tmp_path}",
                       "--trainer.max_steps=2", "--trainer.enable_progress_bar=false",
                       "--trainer.enable_model_summary=false", "--model.init_args.width=8",
                       "--data.init_args.val_size=16", "--data.init_args.steps_per_epoch=2")
    assert cli.trainer.global_step == 2
    assert os.path.isfile(os.path.join(cli.trainer.log_dir, "config.yaml"))


def test_no_shipped_config_switches_the_progress_bar_off():
    """A long run from a shipped config shows its step bar (StepProgressBar is itself silent under CI)."""
    import yaml

    silent = [name for name in shipped_configs()
              if ((yaml.safe_load((ROOT / "configs" / name).read_text()) or {}).get("trainer") or {})
              .get("enable_progress_bar") is False]
    assert silent == []
