"""Reference implementation for tests: the paper's one-layer transformer written plainly (whole sequence, causal
attention at every position), its full-batch AdamW loop, and a callback that steps it right after each mfnn
step (same weights, same data, same machine load). `bench/transformer.py` times the same pair."""
from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import einsum
from lightning.pytorch.callbacks import Callback
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "grokking" / "nanda_transformer.yaml"


class NaiveTransformer(nn.Module):
    """The paper's one-layer transformer, written plainly (whole sequence, every position), starting from a
    copy of a mfnn.models.transformer.ModularTransformer's weights (same names and shapes)."""

    def __init__(self, source: nn.Module):
        super().__init__()
        self.p, self.d_head = source.p, source.d_head
        for name, t in source.named_parameters():  # the same initial weights, as independent copies
            self.register_parameter(name, nn.Parameter(t.detach().clone()))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, 3) -> logits (B, 3, p) at every position."""
        x = self.W_E[tokens] + self.W_pos  # (B, 3, d)
        q = einsum(x, self.W_Q, "b s d, h d e -> b h s e")
        k = einsum(x, self.W_K, "b s d, h d e -> b h s e")
        v = einsum(x, self.W_V, "b s d, h d e -> b h s e")
        scores = einsum(q, k, "b h s e, b h t e -> b h s t") / math.sqrt(self.d_head)
        causal = torch.ones(3, 3, dtype=torch.bool, device=x.device).tril()
        attn = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        z = einsum(attn, v, "b h s t, b h t e -> b h s e")
        x = x + einsum(z, self.W_O, "b h s e, h e d -> b s d")
        x = x + F.relu(x @ self.W_in + self.b_in) @ self.W_out + self.b_out
        return x @ self.W_U


def naive_stepper(model: NaiveTransformer, a, b, y, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), warmup=10):
    """Full-batch AdamW with linear warm-up on the float64 cross-entropy at the last position.
    Returns step() -> loss."""
    tokens = torch.stack([a, b, torch.full_like(a, model.p)], 1)  # (B, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))

    def step() -> torch.Tensor:
        logits = model(tokens)[:, -1]  # (B, p)
        loss = F.cross_entropy(logits.double(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return loss.detach()

    return step


class Interleave(Callback):
    """After each mfnn step, one naive step; times both after `warmup` steps and records both losses."""

    def __init__(self, warmup: int):
        self.warmup, self.step_plain = warmup, None
        self.mark, self.mfnn_time, self.plain_time, self.steps = None, 0.0, 0.0, 0
        self.mfnn_losses: list[float] = []
        self.plain_losses: list[float] = []

    def on_train_start(self, trainer, pl_module):
        dtype, device = pl_module.W_E.dtype, pl_module.device
        naive = NaiveTransformer(pl_module).to(device, dtype)
        a, b, y, w = (t[0] for t in trainer.datamodule.splits["train"])  # one member, no padding
        opt = trainer.optimizers[0].defaults  # the configured AdamW hyperparameters
        self.step_plain = naive_stepper(naive, a, b, y, opt["lr"], opt["weight_decay"], opt["betas"],
                                        max(1, pl_module.warmup_steps))
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.mark is None:
            self.sync()
            self.mark = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.sync()
        t = time.perf_counter()
        self.mfnn_losses.append(float(outputs["loss"]))
        self.plain_losses.append(float(self.step_plain()))
        self.sync()
        if self.mark is not None:
            t2 = time.perf_counter()
            self.mfnn_time += t - self.mark
            self.plain_time += t2 - t
            self.steps += 1
            self.mark = t2


def fit_interleaved(steps: int, warmup: int, *overrides: str) -> Interleave:
    from mfnn.callbacks.progress import ProgressMeasures
    from mfnn.cli import MFNNCLI, wandb_offline_unless_keyed

    wandb_offline_unless_keyed()
    timer = Interleave(warmup)
    with tempfile.TemporaryDirectory() as tmp:
        cli = MFNNCLI(args=["--config", str(CONFIG), f"--trainer.max_steps={steps + warmup}",
                            f"--trainer.logger.init_args.save_dir={tmp}", "--trainer.limit_val_batches=0",
                            "--checkpoint.save_last=false", *overrides], run=False)
        # The progress measures are analysis, not the training step: leave them out of the timing.
        cli.trainer.callbacks[:] = [c for c in cli.trainer.callbacks if not isinstance(c, ProgressMeasures)]
        cli.trainer.callbacks.append(timer)
        cli.trainer.fit(cli.model, cli.datamodule)
    return timer


TINY = ["--model.init_args.p=7", "--data.init_args.p=7", "--model.init_args.d_model=16",
        "--model.init_args.n_heads=2", "--model.init_args.d_head=8", "--model.init_args.d_mlp=32",
        "--data.init_args.steps_per_epoch=10", "--trainer.accelerator=cpu"]


def float64_curves(steps: int = 60) -> tuple[list[float], list[float]]:
    """Training losses of mfnn (Lightning, precision 64-true) and of the naive loop from the same
    initial weights, at tiny size (p=7)."""
    timer = fit_interleaved(steps, 0, *TINY, "--trainer.precision=64-true")
    return timer.mfnn_losses, timer.plain_losses
