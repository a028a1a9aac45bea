"""Issue 7 (c): mfnn's Nanda transformer step against a naive plain-PyTorch implementation of the
paper's architecture (p=113, 3830 train pairs, full batch, AdamW).

naive: what one writes from the paper: the whole [a, b, =] sequence, causal attention with an explicit
    softmax, the MLP and the unembed at every position, logits read at the last position.
mfnn: `mfnn fit` with configs/grokking/nanda_transformer.yaml (ModularTransformer: only the last
    position's query, MLP and unembed; keys/values of the input tokens as (p, H, d_head) tables).

Both start from the same weights and train on the same data; the plain step runs inside the mfnn run
right after each mfnn step, so both see the same machine load. mfnn's time is everything Lightning
does between plain steps (hooks, logging, scheduler, the step itself).

    python bench/transformer.py [--steps 50] [--threads 1]      (bench/run.py calls bench_transformer)
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import einsum
from lightning.pytorch.callbacks import Callback
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
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


def bench_transformer(steps: int = 50, warmup: int = 5, accelerator: str | None = None) -> dict:
    """Steps/s of mfnn's Nanda transformer (through Lightning) and of the naive plain loop, at the
    paper's size (p=113, 3830 train pairs), on the GPU if there is one. Threads: the caller's."""
    accelerator = accelerator or ("gpu" if torch.cuda.is_available() else "cpu")
    timer = fit_interleaved(steps, warmup, f"--trainer.accelerator={accelerator}")
    mfnn, plain = timer.steps / timer.mfnn_time, timer.steps / timer.plain_time
    return {"case": "Nanda one-layer transformer (p=113, 3830 train pairs, full batch)",
            "mfnn_steps_per_s": mfnn, "plain_steps_per_s": plain, "ratio": mfnn / plain, "steps": timer.steps,
            "accelerator": accelerator, "threads": torch.get_num_threads(), "target": "ratio >= 2",
            "passed": mfnn / plain >= 2}


TINY = ["--model.init_args.p=7", "--data.init_args.p=7", "--model.init_args.d_model=16",
        "--model.init_args.n_heads=2", "--model.init_args.d_head=8", "--model.init_args.d_mlp=32",
        "--data.init_args.steps_per_epoch=10", "--trainer.accelerator=cpu"]


def float64_curves(steps: int = 60) -> tuple[list[float], list[float]]:
    """Training losses of mfnn (Lightning, precision 64-true) and of the naive loop from the same
    initial weights, at tiny size (p=7)."""
    timer = fit_interleaved(steps, 0, *TINY, "--trainer.precision=64-true")
    return timer.mfnn_losses, timer.plain_losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    r = bench_transformer(args.steps)
    print(f"(c) {r['case']}: mfnn {r['mfnn_steps_per_s']:.2f} steps/s  plain {r['plain_steps_per_s']:.2f} steps/s"
          f"  ratio {r['ratio']:.2f} ({r['target']}: {'PASS' if r['passed'] else 'FAIL'}; {r['accelerator']},"
          f" {r['threads']} thread(s), {r['steps']} timed steps)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
