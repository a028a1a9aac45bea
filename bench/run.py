"""`make bench`: mfnn's training step against hand-written PyTorch loops, same model, same data, one process.

(a), (b): the plain step runs inside an mfnn run (a callback calls it after every mfnn step), so both see
the same machine load at the same moments; mfnn's time is the fit loop's wall time minus the plain steps
inside it, so it includes everything Lightning does per step (hooks, logging cadence, data, epoch ends,
checkpoints). Validation is off (it is evaluation on a cadence, not the training step).
(c): bench/transformer.py (mfnn's Nanda transformer against a naive implementation of the paper's).
(e): a batched Ensemble of 16 seeds against one single run of the same member, through Lightning.
(k): the overhead probe (o) with 50 optimiser steps per training_step (`--steps_per_call=50`); (k0): the same with
logging, checkpoints and epoch ends every 1000 steps, so that what is left of the gap is per-step cost.
(p): peers: TransformerLens' HookedTransformer in its grokking demo's setting against (c); a Python loop
over 16 seeds of the plain PyTorch step against (e)'s Ensemble of 16.
bf16 rows: (a), (b), (c) again under `--trainer.precision=bf16-mixed` (CPU autocast), speed-up against fp32.
Roofline columns (bench/roofline.py): FLOPs and bytes per step counted on the step itself, achieved rates
against the matmul peak and copy bandwidth measured in the same run, and which bound each case is against.
Every case runs at each thread count of --threads (OMP_WAIT_POLICY=PASSIVE).

    python bench/run.py [--steps 100] [--cases a,b,o,k,k0,c,e,f,p,bf16] [--threads 1,2] [-- extra mfnn overrides]
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
# Waiting OpenMP threads sleep instead of spinning (set before torch starts its thread pool): on a shared
# CPU spinning threads made small steps 10-100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightning as L  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from bench import plain  # noqa: E402
from bench import roofline as rl  # noqa: E402
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
        if trainer.global_step >= self.warmup and self.start is None:
            self.start = Clock.now()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        k = pl_module.steps_per_call  # optimiser steps this batch ran (--steps_per_call)
        t = Clock.now()
        for _ in range(k):
            self.plain_step()
        if self.start is not None:
            self.end = Clock.now()
            for i in range(2):
                self.plain[i] += self.end[i] - t[i]
            self.steps += k

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
    counted: Callable                     # () -> a step function with the same FLOPs and bytes (for the roofline)
    min_steps: int = 0                    # timed steps at least (the probes' steps take ~0.1 ms: 100 would be 2 calls)


def gromov_plain(trainer, module):
    hp, opt = module.hparams, trainer.optimizers[0].defaults
    return plain.gromov_stepper(hp.p, hp.width, trainer.datamodule.train_fractions[0], opt["lr"],
                                opt["weight_decay"], opt["betas"])


def cases() -> list[Case]:
    return [
        Case("a", "(a) Gromov MLP, p=97, N=500, 2823 train pairs, AdamW",
             ["--config", str(ROOT / "configs/grokking/gromov_mlp.yaml"),  # one net, like the plain loop
              "--model.init_args.members=1", "--data.init_args.train_fractions=[0.3]",
              "--model.init_args.width=500"], gromov_plain, 0.9,
             lambda: plain.gromov_stepper(97, 500, 0.3, 0.01, 0.3, (0.9, 0.98))),
        Case("b", "(b) two-layer HardTanh mean-field, N=1024, 1024 fresh/step, SGD",
             ["--config", str(ROOT / "configs/two_layer_xor.yaml")],
             lambda trainer, module: plain.two_layer_stepper(width=1024, batch=1024, lr=0.5), 0.9,
             lambda: plain.two_layer_stepper(width=1024, batch=1024, lr=0.5)),
        Case("o", "(o) overhead probe: same net at N=8, batch 8",
             [*PROBE], lambda trainer, module: probe_plain(), None, probe_plain, PROBE_STEPS),
        Case("k", f"(k) overhead probe, {K} steps per training_step (--steps_per_call={K})",
             [*PROBE, f"--steps_per_call={K}"], lambda trainer, module: probe_plain(), 0.9, probe_plain, PROBE_STEPS),
        # (k) again with the cadences' work moved out of the timed window: what is left is per-step cost.
        Case("k0", f"(k) without cadence work (log, checkpoint, epoch end every 1000 steps), {K} steps per training_step",
             [*PROBE, f"--steps_per_call={K}", *SPARSE_CADENCES], lambda trainer, module: probe_plain(), None,
             probe_plain, PROBE_STEPS),
    ]


K = 50  # divides the config's cadences (log every 50, checkpoint every 100, clouds every 500)
PROBE_STEPS = 5000  # ~1 s per probe: 100 calls of k = 50, 100 log steps, 50 epoch ends
SPARSE_CADENCES = ["--trainer.log_every_n_steps=1000", "--checkpoint.every_n_train_steps=1000",
                   "--data.init_args.steps_per_epoch=1000"]
def probe_plain():
    """The plain step the overhead probes are read against: the same 8-neuron net, batch 8."""
    return plain.two_layer_stepper(width=8, batch=8, lr=0.5)


PROBE = ["--config", str(ROOT / "configs/two_layer_xor.yaml"), "--model.init_args.width=8", "--data.init_args.batch_size=8"]


def bench_case(case: Case, steps: int, warmup: int, extra: list[str]) -> dict[str, float]:
    k = K if f"--steps_per_call={K}" in case.args else 1
    warmup, steps = -(-warmup // k) * k, -(-steps // k) * k  # whole training_steps of k optimiser steps
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


# ---- what each step costs (FLOPs, bytes) -------------------------------------------------------------
def transformer_step():
    """One full-batch step of mfnn's Nanda transformer (p=113, 3830 train pairs), outside Lightning."""
    from mfnn.data.modular import ModularAdditionDataModule
    from mfnn.models.transformer import ModularTransformer

    data = ModularAdditionDataModule(p=113, train_fractions=[0.3])
    data.setup("fit")
    model = ModularTransformer()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))

    def step():
        loss, _ = model.loss_and_metrics(data.splits["train"], "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def ensemble_step(width: int, batch: int, members: int = 16):
    from mfnn.data.synthetic import SyntheticDataModule
    from mfnn.models.ensemble import Ensemble
    from mfnn.models.mlp import TwoLayerMLP

    module = Ensemble(lambda: TwoLayerMLP(width=width, activation="hardtanh"), members=members)
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    data = SyntheticDataModule(input_dim=2, target="xor", batch_size=batch)
    gen = torch.Generator().manual_seed(0)

    def step():
        loss, _ = module.loss_and_metrics(data.sample(batch, gen), "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def foreground_cost(neurons: int, width: int = 1024, batch: int = 512) -> tuple[float, float]:
    """(FLOPs, bytes) per neuron-step of the batched foreground program (bench case (f)'s defaults)."""
    from mfnn.data.synthetic import SyntheticDataModule
    from mfnn.foreground.train import train_foreground
    from mfnn.models.mlp import MLPNet

    torch.manual_seed(0)
    net = MLPNet(2, width, activation="hardtanh", parameterization="mean_field")
    data = SyntheticDataModule(input_dim=2, target="xor", input_distribution="uniform")
    flops, nbytes = rl.count_step(lambda: train_foreground(net, lambda g: data.sample(batch, g), steps=1,
                                                            n_neurons=neurons, chunk=None))
    return flops / neurons, nbytes / neurons


# ---- peers ---------------------------------------------------------------------------------------------
def transformer_lens_rate(steps: int, warmup: int = 3) -> dict | str:
    """Steps/s of TransformerLens' HookedTransformer in its grokking demo's setting (1 layer, d_model 128, 4 heads
    of 32, d_mlp 512, ReLU, no LayerNorm, p=113, full batch of 3830 pairs, AdamW lr 1e-3 wd 1 betas (0.9, 0.98),
    float64 log-softmax at the last position), or why it was not run."""
    import importlib.util

    if importlib.util.find_spec("transformer_lens") is None:
        return "skipped: TransformerLens is not installed (pip install -e '.[tl]')"
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from mfnn.data.modular import ModularAdditionDataModule

    p = 113
    cfg = HookedTransformerConfig(n_layers=1, n_heads=4, d_model=128, d_head=32, d_mlp=512, act_fn="relu",
                                  normalization_type=None, d_vocab=p + 1, d_vocab_out=p, n_ctx=3, seed=0, device="cpu")
    model = HookedTransformer(cfg)
    model.set_use_attn_result(False)
    data = ModularAdditionDataModule(p=p, train_fractions=[0.3])
    data.setup("fit")
    a, b, y, w = (t[0] for t in data.splits["train"])
    tokens = torch.stack([a, b, torch.full_like(a, p)], 1)  # (M, 3): [a, b, =]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))

    def step():
        logits = model(tokens)[:, -1]  # (M, p)
        loss = -logits.double().log_softmax(-1).gather(-1, y[:, None]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for _ in range(warmup):
        step()
    start = time.thread_time()
    for _ in range(steps):
        step()
    return {"rate": steps / (time.thread_time() - start), "step": step}


def seed_loop_rate(width: int, batch: int, seeds: int, steps: int) -> float:
    """Member-steps/s of a Python loop over `seeds` plain-PyTorch runs (bench/plain.py), one step of each per round."""
    steppers = [plain.two_layer_stepper(width=width, batch=batch, lr=0.5, seed=s) for s in range(seeds)]
    for step in steppers:
        step()
    start = time.thread_time()
    for _ in range(steps):
        for step in steppers:
            step()
    return seeds * steps / (time.thread_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cases", default="a,b,o,k,k0,c,e,f,p,bf16")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts; every case runs at each")
    parser.add_argument("--transformer-steps", type=int, default=20)
    parser.add_argument("extra", nargs="*", help="extra mfnn overrides for (a), (b), (o), e.g. --model.init_args.compile=true")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    wanted = args.cases.split(",")
    known = {"a", "b", "o", "k", "k0", "c", "e", "f", "p", "bf16"}
    if not set(wanted) <= known or min(thread_counts) < 1:
        parser.error(f"--cases must be among {sorted(known)}, --threads positive integers")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    wandb_offline_unless_keyed()
    started = time.time()
    torch.set_num_threads(1)
    bf16_hw = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())

    # FLOPs and bytes per step: counted once on each case's step (they do not depend on threads or timing).
    cost: dict[str, tuple[float, float]] = {}
    for case in cases():
        if case.key in wanted:
            cost[case.key] = rl.count_step(case.counted())
    if "c" in wanted or "bf16" in wanted:
        cost["c"] = rl.count_step(transformer_step())
    for width in (64, 256):
        if "e" in wanted or "p" in wanted:
            cost[f"e{width}"] = rl.count_step(ensemble_step(width, 256))
            one = rl.count_step(plain.two_layer_stepper(width=width, batch=256, lr=0.5))
            cost[f"loop{width}"] = (16 * one[0], 16 * one[1])
    if "f" in wanted:
        cost["f"] = foreground_cost(2048)

    rows: list[tuple] = []
    limits: dict[int, dict] = {}

    def show(key, threads, name, mfnn_rate, ref, ratio, wall, target, result, rate_for_roofline=None, peak="fp32"):
        """One table row; the roofline columns from cost[key] at `rate_for_roofline` steps/s (mfnn's)."""
        cols = ["-"] * 7
        if key in cost and isinstance(rate_for_roofline, float):
            lim = limits[threads]
            r = rl.roofline(*cost[key], rate_for_roofline, lim["peak"], lim["bw"])
            bound_share = r["bf16_share"] if (peak == "bf16" and r["bound"] == "compute") else r["bound_share"]
            cols = [f"{cost[key][0] / 1e6:.3g}", f"{r['gflops']:.3g}", f"{100 * r['fp32_share']:.0f}%",
                    f"{100 * r['bf16_share']:.0f}%", f"{r['gbs']:.3g}", f"{100 * r['bw_share']:.0f}%",
                    f"{r['bound']} ({100 * bound_share:.0f}%)"]
        row = (name, threads, mfnn_rate, ref, ratio, wall, target, result, *cols)
        rows.append(row)
        print(" | ".join(map(str, row)), flush=True)

    fp32_rates: dict[str, float] = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        limits[threads] = {"peak": {"fp32": rl.matmul_gflops(torch.float32), "bf16": rl.matmul_gflops(torch.bfloat16)},
                           "bw": rl.copy_gbs()}
        lim = limits[threads]
        print(f"[{threads} thread(s)] matmul 1024^2: fp32 {lim['peak']['fp32']:.1f} GFLOP/s, bf16 "
              f"{lim['peak']['bf16']:.1f} GFLOP/s; copy {lim['bw']:.1f} GB/s", flush=True)
        for case in cases():
            if case.key in wanted:
                r = guarded(bench_case, case=case, steps=max(args.steps, case.min_steps), warmup=args.warmup,
                            extra=args.extra)
                if isinstance(r, str):
                    show(case.key, threads, case.name, "-", "-", "-", "-", "-", r)
                    continue
                ratio = r["mfnn_cpu"] / r["plain_cpu"]
                fp32_rates[f"{case.key}{threads}"] = r["mfnn_cpu"]
                show(case.key, threads, case.name, f"{r['mfnn_cpu']:.1f}", f"{r['plain_cpu']:.1f}", f"{ratio:.2f}",
                     f"{r['mfnn_wall'] / r['plain_wall']:.2f}",
                     f"mfnn/plain >= {case.target}" if case.target else "report only", verdict(ratio, case.target),
                     r["mfnn_cpu"])
        if "c" in wanted:
            r = external("transformer", "bench_transformer", steps=args.transformer_steps)
            if isinstance(r, dict):  # timed by wall clock (it may run on a GPU)
                fp32_rates[f"c{threads}"] = r["mfnn_steps_per_s"]
                show("c", threads, "(c) " + r["case"] + f" [{r.get('accelerator', 'cpu')}]",
                     f"{r['mfnn_steps_per_s']:.2f}", f"{r['plain_steps_per_s']:.2f} (naive)", f"{r['ratio']:.2f}",
                     f"{r['ratio']:.2f}", "mfnn/naive >= 2", "PASS" if r["ratio"] >= 2 else "FAIL", r["mfnn_steps_per_s"])
            else:
                show("c", threads, "(c) Nanda one-layer transformer", "-", "-", "-", "-", "mfnn/naive >= 2", r)
        if "e" in wanted or "p" in wanted:
            for width, batch in ((64, 256), (256, 256)):
                r = guarded(ensemble_rates, width=width, batch=batch, members=16, steps=min(args.steps, 200),
                            warmup=args.warmup)
                if isinstance(r, str):
                    show(f"e{width}", threads, f"(e) Ensemble of 16, N={width}", "-", "-", "-", "-", "-", r)
                    continue
                ratio = r["one_cpu"] / r["ens_cpu"]
                if "e" in wanted:
                    show(f"e{width}", threads, f"(e) Ensemble of 16 x two-layer N={width}, batch {batch} vs 1 run",
                         f"{r['ens_cpu']:.1f} (16)", f"{r['one_cpu']:.1f} (1)", f"{ratio:.2f}",
                         f"{r['one_wall'] / r['ens_wall']:.2f}", "time(16)/time(1) <= 4", verdict(ratio, 4, True),
                         r["ens_cpu"])
                if "p" in wanted:
                    loop = seed_loop_rate(width, batch, 16, min(args.steps, 100))  # member-steps/s
                    show(f"loop{width}", threads, f"(p) mfnn Ensemble of 16 vs Python loop over 16 plain-PyTorch "
                         f"seeds, N={width} [member-steps/s]", f"{16 * r['ens_cpu']:.1f}", f"{loop:.1f} (loop)",
                         f"{16 * r['ens_cpu'] / loop:.2f}", "-", "report only", "report", loop / 16)
        if "p" in wanted:
            r = guarded(transformer_lens_rate, steps=args.transformer_steps)
            if isinstance(r, dict):
                mfnn_rate = fp32_rates.get(f"c{threads}")
                cost.setdefault("tl", rl.count_step(r["step"]))
                show("tl", threads, "(p) mfnn ModularTransformer vs TransformerLens HookedTransformer (grokking demo)",
                     f"{mfnn_rate:.2f}" if mfnn_rate else "- (run c)", f"{r['rate']:.2f} (TL)",
                     f"{mfnn_rate / r['rate']:.2f}" if mfnn_rate else "-", "-", "report only", "report", r["rate"])
            else:
                show("tl", threads, "(p) mfnn ModularTransformer vs TransformerLens HookedTransformer", "-", "-", "-",
                     "-", "report only", r)
        if "f" in wanted:
            r = guarded(foreground_throughput, steps=20)
            if isinstance(r, dict):  # neuron-steps/s, wall clock
                best = max(r["batched"].values())
                show("f", threads, f"(f) {r['neurons']} foreground neurons (N={r['width']}, batch {r['batch']}) batched "
                     f"vs loop [neuron-steps/s, {r['device']}]", f"{best:.4g}", f"{r['loop_rate']:.4g} (loop)",
                     f"{r['speedup']:.0f}", f"{r['speedup']:.0f}", "report only", "report", best)
            else:
                show("f", threads, "(f) foreground neurons, batched vs loop", "-", "-", "-", "-", "report only", r)

    if "bf16" in wanted:  # at the first thread count; speed-up against that count's fp32 rows
        threads = thread_counts[0]
        torch.set_num_threads(threads)
        for case in cases():
            if case.key in ("a", "b"):
                r = guarded(bench_case, case=case, steps=max(20, args.steps // 4), warmup=5,
                            extra=[*args.extra, "--trainer.precision=bf16-mixed"])
                if isinstance(r, str):
                    show(case.key, threads, f"{case.name} [bf16-mixed]", "-", "-", "-", "-", "-", r)
                    continue
                base = fp32_rates.get(f"{case.key}{threads}")
                show(case.key, threads, f"{case.name} [bf16-mixed vs fp32]", f"{r['mfnn_cpu']:.1f}",
                     f"{base:.1f} (fp32)" if base else "- (fp32 not run)", f"{r['mfnn_cpu'] / base:.2f}" if base else "-",
                     "-", "bf16/fp32 speed-up (report)", "report", r["mfnn_cpu"], peak="bf16")
        r = guarded(bench_transformer_bf16, steps=max(5, args.transformer_steps // 4))
        base = fp32_rates.get(f"c{threads}")
        if isinstance(r, dict):
            show("c", threads, "(c) Nanda transformer [bf16-mixed vs fp32]", f"{r['mfnn_steps_per_s']:.3g}",
                 f"{base:.2f} (fp32)" if base else "- (fp32 not run)",
                 f"{r['mfnn_steps_per_s'] / base:.2f}" if base else "-", "-", "bf16/fp32 speed-up (report)", "report",
                 r["mfnn_steps_per_s"], peak="bf16")
        else:
            show("c", threads, "(c) Nanda transformer [bf16-mixed]", "-", "-", "-", "-", "-", r)

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmfnn bench, {when}, {platform.node()} ({platform.machine()}, {platform.processor() or 'cpu'}, "
          f"{os.cpu_count()} cores, torch CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"bf16 matmul hardware: {'yes' if bf16_hw else 'no'}), load avg {load:.1f} at the end, torch {torch.__version__}, "
          f"threads {args.threads} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), {args.steps} timed steps per "
          f"case, {time.time() - started:.0f} s")
    for threads, lim in limits.items():
        print(f"limits at {threads} thread(s): matmul 1024^2 fp32 {lim['peak']['fp32']:.1f} GFLOP/s, bf16 "
              f"{lim['peak']['bf16']:.1f} GFLOP/s, copy {lim['bw']:.1f} GB/s (ridge {lim['peak']['fp32'] / lim['bw']:.1f} "
              f"FLOP/byte)")
    print("(a), (b), (o), (k), (e): steps/s and ratio by this thread's CPU time (other processes may share the cores),"
          " wall-clock ratio beside it; (c), (f): wall clock (their own benchmarks). With 2 threads CPU time adds"
          " both threads' work only for the main thread: under load, thread comparisons are unreliable.")
    print("MFLOP/step: matmul-like FLOPs (FlopCounterMode) of one step; GB/s: bytes of every op's inputs and outputs"
          " (no reuse: an upper estimate); bound: compute if FLOPs/byte >= ridge, else memory, with the share of it.")
    header = ("case", "threads", "mfnn steps/s", "reference steps/s", "ratio", "wall ratio", "target", "result",
              "MFLOP/step", "GFLOP/s", "of fp32 peak", "of bf16 peak", "GB/s", "of copy BW", "bound (share)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def bench_transformer_bf16(steps: int) -> dict:
    from bench.transformer import bench_transformer

    return bench_transformer(steps=steps, warmup=2, extra=("--trainer.precision=bf16-mixed",))


if __name__ == "__main__":
    main()
