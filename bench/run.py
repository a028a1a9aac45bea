"""`make bench`: mfnn training steps against hand-written PyTorch loops, same model, same data, same process.

The plain step runs inside an mfnn run (a callback calls it after every mfnn step), so both see the same
machine load at the same moments; mfnn's time is the fit loop's wall time minus the plain steps inside it.
It therefore includes everything Lightning does per step (hooks, logging, data, epoch ends, checkpoints).

    python bench/run.py [--steps 300] [--cases a,b,c] [--threads 1] [--compile]
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from bench import plain  # noqa: E402
from mfnn.cli import MFNNCLI, wandb_offline_unless_keyed  # noqa: E402


class Interleave(Callback):
    """Runs one plain step after each mfnn step and times both (after `warmup` steps)."""

    def __init__(self, make_plain: Callable, warmup: int):
        self.make_plain, self.warmup = make_plain, warmup
        self.plain_step, self.t0, self.plain_time, self.steps = None, None, 0.0, 0

    def on_train_start(self, trainer, pl_module):
        self.plain_step = self.make_plain(trainer, pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.t0 is None:
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        t = time.perf_counter()
        self.plain_step()
        if self.t0 is not None:
            self.plain_time += time.perf_counter() - t
            self.steps += 1

    def on_train_end(self, trainer, pl_module):
        self.total = time.perf_counter() - self.t0

    def rates(self) -> tuple[float, float]:
        return self.steps / (self.total - self.plain_time), self.steps / self.plain_time


@dataclass
class Case:
    key: str
    name: str
    args: list[str]                      # `mfnn fit` arguments (config + overrides)
    make_plain: Callable                  # (trainer, module) -> step()
    target: str


def cases() -> list[Case]:
    return [
        Case("b", "two-layer HardTanh mean-field (N=1024, 1024 fresh/step)",
             ["--config", str(ROOT / "configs/two_layer_xor.yaml")],
             lambda trainer, module: plain.two_layer_stepper(width=1024, batch=1024, lr=0.5),
             "ratio >= 0.9"),
        Case("o", "framework overhead: same net at N=8, batch 8 (almost no compute)",
             ["--config", str(ROOT / "configs/two_layer_xor.yaml"), "--model.init_args.width=8",
              "--data.init_args.batch_size=8"],
             lambda trainer, module: plain.two_layer_stepper(width=8, batch=8, lr=0.5),
             "report only"),
    ]


def bench_case(case: Case, steps: int, warmup: int, extra: list[str]) -> tuple[float, float]:
    timer = Interleave(case.make_plain, warmup)
    with tempfile.TemporaryDirectory() as tmp:
        wandb_offline_unless_keyed()
        args = [*case.args, f"--trainer.max_steps={steps + warmup}",
                f"--trainer.logger.init_args.save_dir={tmp}", "--trainer.limit_val_batches=0",
                "--trainer.enable_model_summary=false", "--trainer.enable_progress_bar=false", *extra]
        cli = MFNNCLI(args=args, run=False)
        cli.trainer.callbacks.append(timer)
        cli.trainer.fit(cli.model, cli.datamodule)
    return timer.rates()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cases", default="a,b,c")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="extra mfnn overrides, e.g. --model.init_args.compile=true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    rows = []
    for case in cases():
        if case.key not in args.cases.split(","):
            continue
        for _ in range(args.repeats):
            m, p = bench_case(case, args.steps, args.warmup, args.extra)
            rows.append((case, m, p))
            print(f"({case.key}) {case.name}: mfnn {m:.1f} steps/s  plain {p:.1f} steps/s  ratio {m / p:.2f}", flush=True)


if __name__ == "__main__":
    main()
