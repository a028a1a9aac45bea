"""`make bench`: mfnn's training step against hand-written PyTorch loops, same model, same data, one process.

(a), (b): the plain step runs inside an mfnn run (a callback calls it after every mfnn step), so both see
the same machine load at the same moments; mfnn's time is the fit loop's wall time minus the plain steps
inside it, so it includes everything Lightning does per step (hooks, logging cadence, data, epoch ends,
checkpoints). Validation is off (it is evaluation on a cadence, not the training step).
(c): bench/transformer.py (mfnn's Nanda transformer against a naive implementation of the paper's).
(e): a batched Ensemble of 16 seeds against one single run of the same member, through Lightning.

    python bench/run.py [--steps 300] [--cases a,b,o,c,e,f] [--threads 1] [-- extra mfnn overrides]
"""
from __future__ import annotations

import argparse
import importlib
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

import lightning as L  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from bench import plain  # noqa: E402
from mfnn.cli import MFNNCLI, wandb_offline_unless_keyed  # noqa: E402
from mfnn.foreground.throughput import foreground_throughput  # noqa: E402


class Clock:
    """Wall time and this thread's CPU time. With one torch thread all of a step's work runs on this
    thread, so CPU time is what a step costs even while other processes share the cores."""

    @staticmethod
    def now() -> tuple[float, float]:
        return time.perf_counter(), time.thread_time()


class Interleave(Callback):
    """Runs one plain step after each mfnn step and times both (after `warmup` steps)."""

    def __init__(self, make_plain: Callable, warmup: int):
        self.make_plain, self.warmup = make_plain, warmup
        self.plain_step, self.start, self.end, self.steps = None, None, None, 0
        self.plain = [0.0, 0.0]  # wall, cpu seconds spent in plain steps

    def on_train_start(self, trainer, pl_module):
        self.plain_step = self.make_plain(trainer, pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.start is None:
            self.start = Clock.now()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        t = Clock.now()
        self.plain_step()
        if self.start is not None:
            self.end = Clock.now()
            for i in range(2):
                self.plain[i] += self.end[i] - t[i]
            self.steps += 1

    def rates(self) -> dict[str, float]:
        """steps/s of mfnn and plain, by wall time and by CPU time."""
        mfnn = [self.end[i] - self.start[i] - self.plain[i] for i in range(2)]
        return {"mfnn_wall": self.steps / mfnn[0], "plain_wall": self.steps / self.plain[0],
                "mfnn_cpu": self.steps / mfnn[1], "plain_cpu": self.steps / self.plain[1]}


@dataclass
class Case:
    key: str
    name: str
    args: list[str]                      # `mfnn fit` arguments (config + overrides)
    make_plain: Callable                  # (trainer, module) -> step()
    target: float | None                  # ratio mfnn / plain must be >= target (None: report only)


def gromov_plain(trainer, module):
    hp, opt = module.hparams, trainer.optimizers[0].defaults
    return plain.gromov_stepper(hp.p, hp.width, trainer.datamodule.train_fractions[0], opt["lr"],
                                opt["weight_decay"], opt["betas"])


def cases() -> list[Case]:
    return [
        Case("a", "(a) Gromov MLP, p=97, N=500, 2823 train pairs, AdamW",
             ["--config", str(ROOT / "configs/grokking/gromov_mlp.yaml")], gromov_plain, 0.9),
        Case("b", "(b) two-layer HardTanh mean-field, N=1024, 1024 fresh/step, SGD",
             ["--config", str(ROOT / "configs/two_layer_xor.yaml")],
             lambda trainer, module: plain.two_layer_stepper(width=1024, batch=1024, lr=0.5), 0.9),
        Case("o", "(o) overhead probe: same net at N=8, batch 8",
             ["--config", str(ROOT / "configs/two_layer_xor.yaml"), "--model.init_args.width=8",
              "--data.init_args.batch_size=8"],
             lambda trainer, module: plain.two_layer_stepper(width=8, batch=8, lr=0.5), None),
    ]


def bench_case(case: Case, steps: int, warmup: int, extra: list[str]) -> dict[str, float]:
    timer = Interleave(case.make_plain, warmup)
    with tempfile.TemporaryDirectory() as tmp:
        args = [*case.args, f"--trainer.max_steps={steps + warmup}",
                f"--trainer.logger.init_args.save_dir={tmp}", "--trainer.limit_val_batches=0",
                "--trainer.enable_model_summary=false", "--trainer.enable_progress_bar=false", *extra]
        cli = MFNNCLI(args=args, run=False)
        cli.trainer.callbacks.append(timer)
        cli.trainer.fit(cli.model, cli.datamodule)
    return timer.rates()


# ---- batched ensemble: 16 members vs one ------------------------------------------------------------
class StepTimer(Callback):
    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.steps = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.start is None:
            self.start = Clock.now()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.start is not None:
            self.end, self.steps = Clock.now(), self.steps + 1

    def rates(self) -> tuple[float, float]:
        return self.steps / (self.end[0] - self.start[0]), self.steps / (self.end[1] - self.start[1])


def ensemble_rates(width: int, batch: int, members: int, steps: int, warmup: int) -> dict[str, float]:
    """Steps/s of one TwoLayerMLP run and of an Ensemble of `members` of it, same Trainer settings."""
    from mfnn.data.synthetic import SyntheticDataModule
    from mfnn.models.ensemble import Ensemble
    from mfnn.models.mlp import TwoLayerMLP

    member = lambda: TwoLayerMLP(width=width, activation="hardtanh",  # noqa: E731
                                 optimizer=lambda p: torch.optim.SGD(p, lr=0.5))

    def rates(module) -> tuple[float, float]:
        timer = StepTimer(warmup)
        data = SyntheticDataModule(input_dim=2, target="xor", train_size=None, batch_size=batch, val_size=256,
                                   steps_per_epoch=100)
        L.Trainer(max_steps=steps + warmup, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                  enable_model_summary=False, limit_val_batches=0, callbacks=[timer], accelerator="cpu",
                  log_every_n_steps=50).fit(module, data)
        return timer.rates()

    before = rates(member())
    ensemble = rates(Ensemble(member, members=members))
    after = rates(member())  # before and after: the single run sees the load the ensemble saw, on average
    return {"ens_wall": ensemble[0], "ens_cpu": ensemble[1],
            "one_wall": (before[0] + after[0]) / 2, "one_cpu": (before[1] + after[1]) / 2}


# ---- cases owned by other modules --------------------------------------------------------------------
def external(module: str, function: str, **kwargs) -> dict | str:
    """Calls bench/<module>.py's function if it exists; says why not otherwise."""
    try:
        fn = getattr(importlib.import_module(f"bench.{module}"), function)
    except (ImportError, AttributeError) as err:
        return f"not available ({type(err).__name__}: {err})"
    return guarded(fn, **kwargs)


def guarded(fn: Callable, **kwargs) -> dict | str:
    """fn(**kwargs), or why it failed: one failing case must not hide the others."""
    try:
        return fn(**kwargs)
    except Exception as err:  # noqa: BLE001 (one failing case must not hide the others)
        return f"failed ({type(err).__name__}: {err})"


def verdict(ratio: float, target: float | None, at_most: bool = False) -> str:
    if target is None:
        return "report"
    return "PASS" if (ratio <= target if at_most else ratio >= target) else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cases", default="a,b,o,c,e,f")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--transformer-steps", type=int, default=30)
    parser.add_argument("extra", nargs="*", help="extra mfnn overrides for (a), (b), (o), e.g. --model.init_args.compile=true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    wandb_offline_unless_keyed()
    wanted = args.cases.split(",")
    started = time.time()
    # rows: (case, mfnn steps/s, reference steps/s, ratio, wall-clock ratio, target text, verdict)
    rows: list[tuple] = []

    def show(row):
        rows.append(row)
        print(" | ".join(map(str, row)), flush=True)

    for case in cases():
        if case.key in wanted:
            r = bench_case(case, args.steps, args.warmup, args.extra)
            ratio = r["mfnn_cpu"] / r["plain_cpu"]
            show((case.name, f"{r['mfnn_cpu']:.1f}", f"{r['plain_cpu']:.1f}", f"{ratio:.2f}",
                  f"{r['mfnn_wall'] / r['plain_wall']:.2f}",
                  f"mfnn/plain >= {case.target}" if case.target else "report only", verdict(ratio, case.target)))
    if "c" in wanted:
        r = external("transformer", "bench_transformer", steps=args.transformer_steps)
        if isinstance(r, dict):  # timed by wall clock (it may run on a GPU)
            show(("(c) " + r["case"] + f" [{r.get('accelerator', 'cpu')}]", f"{r['mfnn_steps_per_s']:.2f}",
                  f"{r['plain_steps_per_s']:.2f} (naive)", f"{r['ratio']:.2f}", f"{r['ratio']:.2f}",
                  "mfnn/naive >= 2", "PASS" if r["ratio"] >= 2 else "FAIL"))
        else:
            show(("(c) Nanda one-layer transformer", "-", "-", "-", "-", "mfnn/naive >= 2", r))
    if "e" in wanted:
        for width, batch in ((64, 256), (256, 256)):
            r = ensemble_rates(width, batch, 16, min(args.steps, 200), args.warmup)
            ratio = r["one_cpu"] / r["ens_cpu"]
            show((f"(e) Ensemble of 16 x two-layer N={width}, batch {batch} vs 1 run", f"{r['ens_cpu']:.1f} (16)",
                  f"{r['one_cpu']:.1f} (1)", f"{ratio:.2f}", f"{r['one_wall'] / r['ens_wall']:.2f}",
                  "time(16)/time(1) <= 4", verdict(ratio, 4, True)))
    if "f" in wanted:
        r = guarded(foreground_throughput, steps=20)
        if isinstance(r, dict):  # neuron-steps/s, wall clock
            show((f"(f) {r['neurons']} foreground neurons (N={r['width']}, batch {r['batch']}) batched vs "
                  f"loop [neuron-steps/s, {r['device']}]", f"{max(r['batched'].values()):.4g}",
                  f"{r['loop_rate']:.4g} (loop)", f"{r['speedup']:.0f}", f"{r['speedup']:.0f}", "report only",
                  "report"))
        else:
            show(("(f) foreground neurons, batched vs loop", "-", "-", "-", "-", "report only", r))

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmfnn bench, {when}, {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, "
          f"load avg {load:.1f}), torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{args.steps} timed steps per case, {time.time() - started:.0f} s")
    print("(a), (b), (o), (e): steps/s and ratio by this thread's CPU time (other processes may share the cores),"
          " wall-clock ratio beside it; (c), (f): wall clock (their own benchmarks)")
    header = ("case", "mfnn steps/s", "reference steps/s", "ratio", "wall ratio", "target", "result")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


if __name__ == "__main__":
    main()
