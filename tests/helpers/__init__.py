"""Helpers shared by the tests: tiny configs, loading a replication script, running its --tiny path."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
XOR_CONFIG = str(ROOT / "configs" / "two_layer_xor.yaml")
REFERENCE = ROOT.parent / "shared" / "reference"  # the authors' published data, beside the repository


def tiny_xor_args(tmp_path, *extra: str) -> list[str]:
    """A seconds-long version of the XOR config writing into tmp_path."""
    return [
        "fit", "--config", XOR_CONFIG,
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.max_steps=40", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.check_val_every_n_epoch=1",
        "--model.init_args.width=32", "--data.init_args.batch_size=64", "--data.init_args.val_size=128",
        "--data.init_args.steps_per_epoch=10",
        "--trainer.callbacks.every_n_steps=10",
        *extra,
    ]


def fit_tiny_deep(tmp_path, config: str, width: int, kernel_alignment: dict, steps: int):
    """A seconds-long fit of a shipped deep config (d = 8, 32 train points) with one KernelAlignment
    callback (its init_args); returns (cli, that callback)."""
    import json

    from mfnn.callbacks import KernelAlignment
    from mfnn.cli import run

    callbacks = json.dumps([{"class_path": "mfnn.callbacks.KernelAlignment", "init_args": kernel_alignment}])
    cli = run("fit", "--config", str(ROOT / "configs" / "deep" / config), f"--trainer.logger.init_args.save_dir={tmp_path}",
              f"--trainer.max_steps={steps}", f"--model.init_args.width={width}", "--model.init_args.input_dim=8",
              "--data.init_args.input_dim=8", "--data.init_args.train_size=32", "--data.init_args.val_size=40",
              f"--data.init_args.steps_per_epoch={max(1, steps // 2)}", f"--trainer.callbacks={callbacks}")
    return cli, next(c for c in cli.trainer.callbacks if isinstance(c, KernelAlignment))


def offline_run(directory):
    """The single offline wandb run under `directory`, read back with wandb's own record schema (the run is
    finished first so it is complete): (records, run folder)."""
    import wandb

    from mfnn import dashboards

    wandb.finish()
    files = sorted(Path(directory).rglob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, files
    return dashboards.read_finished_run(files[0]), files[0].parent


def load_script(relative_path: str):
    """A replication or bench script (not a package module) imported by path."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem + "_" + path.parent.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tiny(script, tmp_path) -> Path:
    """Run a replication's real code path at --tiny size into tmp_path; return its output folder."""
    out = tmp_path / "out"
    assert script.main(["--tiny", "--out", str(out), "--runs", str(tmp_path / "runs")]) == 0
    return out
