"""Every mfnn model trains under Lightning's `--trainer.precision=bf16-mixed` (CPU autocast here): the forward
matmuls run in bfloat16, the training loss the optimiser differentiates and every logged metric stay
float32/float64 and finite. (bf16 numerics of the results are compared in bench/precision.py, not here.)"""
from __future__ import annotations

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from mfnn.cli import MFNNCLI
from tests.helpers import ROOT

QUICK = ["--trainer.max_steps=3", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
         "--trainer.check_val_every_n_epoch=1", "--trainer.callbacks=[]", "--trainer.log_every_n_steps=1"]

# config(s), overrides that make it seconds-long (same model class and loss as the replication)
CASES = {
    "two_layer_mse": ("two_layer_xor.yaml", ["--model.init_args.width=16", "--data.init_args.batch_size=32",
                                             "--data.init_args.val_size=64", "--data.init_args.steps_per_epoch=3"]),
    "deep_mlp": ("deep/mean_field.yaml", ["--model.init_args.width=16", "--data.init_args.train_size=64",
                                          "--data.init_args.val_size=64", "--data.init_args.steps_per_epoch=3"]),
    "gromov_mse": ("grokking/gromov_mlp.yaml", ["--model.init_args.p=11", "--data.init_args.p=11",
                                                "--model.init_args.width=16", "--data.init_args.steps_per_epoch=3"]),
    "gromov_cross_entropy": ("grokking/gromov_mlp.yaml", [
        "--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.width=16",
        "--model.init_args.loss=cross_entropy", "--data.init_args.steps_per_epoch=3"]),
    "nanda_transformer": ("grokking/nanda_transformer.yaml", [
        "--trainer.accelerator=cpu", "--model.init_args.p=11", "--data.init_args.p=11",
        "--model.init_args.d_model=16", "--model.init_args.d_mlp=32", "--model.init_args.d_head=4",
        "--data.init_args.steps_per_epoch=3"]),
    "ensemble": ("ensemble/xor_seeds.yaml", ["--model.init_args.members=3", "--data.init_args.batch_size=32",
                                             "--data.init_args.val_size=64", "--data.init_args.steps_per_epoch=3"]),
    "attention": ("attention/attention.yaml", ["--data.init_args.dim=32", "--data.init_args.test_size=64",
                                               "--data.init_args.alphas=[1.0]", "--data.init_args.steps_per_epoch=3"]),
    "attention_linear": ("attention/linear.yaml", ["--data.init_args.dim=32", "--data.init_args.test_size=64",
                                                   "--data.init_args.alphas=[1.0]", "--data.init_args.steps_per_epoch=3"]),
    "teacher_student_langevin": ("first_order/rubin_cpu.yaml,first_order/rubin_tiny.yaml",
                                 ["--data.init_args.steps_per_epoch=3"]),
    "quadratic_modular_langevin": ("modular_posterior/tiny.yaml", ["--data.init_args.steps_per_epoch=3"]),
}


class LossDtypes(Callback):
    def __init__(self):
        self.train: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train.append(outputs["loss"] if isinstance(outputs, dict) else outputs)


@pytest.mark.parametrize("name", CASES)
def test_trains_under_bf16_mixed_with_full_precision_losses(name, tmp_path):
    config, overrides = CASES[name]
    configs = [a for c in config.split(",") for a in ("--config", str(ROOT / "configs" / c))]  # base, then overrides
    cli = MFNNCLI(args=[*configs, f"--trainer.logger.init_args.save_dir={tmp_path}",
                        *QUICK, "--trainer.precision=bf16-mixed", *overrides], run=False)
    seen = LossDtypes()
    cli.trainer.callbacks.append(seen)
    cli.trainer.fit(cli.model, cli.datamodule)
    assert cli.trainer.global_step == 3 and len(seen.train) == 3
    for loss in seen.train:
        assert loss.dtype in (torch.float32, torch.float64), f"training loss in {loss.dtype}"
        assert torch.isfinite(loss).all()
    logged = cli.trainer.logged_metrics
    assert any(k.startswith("val/") for k in logged), sorted(logged)
    for key, value in logged.items():
        assert value.dtype in (torch.float32, torch.float64), f"{key} logged in {value.dtype}"
        assert torch.isfinite(value).all(), key


def test_autocast_does_run_the_matmuls_in_bf16():
    """Placebo for the test above: under the same autocast the models' raw outputs are bf16, so the float32 losses
    are the casts in the loss code, not an autocast that did nothing."""
    from mfnn.models.transformer import ModularTransformer

    model = ModularTransformer(p=11, d_model=16, n_heads=4, d_head=4, d_mlp=32)
    a = torch.arange(11)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(a, a)
        loss = model.per_pair_loss(logits, a)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float64
