"""Nanda et al. 2023: the one-layer transformer that groks (a + b) mod 113, with progress measures.

GPU by default (configs/grokking/nanda_transformer.yaml); without a GPU it warns and runs on CPU
(slow: pass --steps to shorten, which makes the paper's late phases unreachable).

    python replications/grokking/run_transformer.py [--out DIR] [--steps N] [--tiny]
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mfnn.analysis.fourier import frequency_power, significant_components  # noqa: E402
from mfnn.callbacks.progress import ProgressMeasures  # noqa: E402
from mfnn.cli import run  # noqa: E402
from mfnn.data.modular import all_pairs  # noqa: E402
from mfnn.report import Check, Report  # noqa: E402

CONFIG = ROOT / "configs" / "grokking" / "nanda_transformer.yaml"
NANDA = "Nanda et al. 2023 (arXiv 2301.05217)"
TINY = ["--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.d_model=16",
        "--model.init_args.n_heads=2", "--model.init_args.d_head=8", "--model.init_args.d_mlp=32",
        "--trainer.max_steps=60", "--data.init_args.steps_per_epoch=10",
        "--trainer.callbacks.init_args.every_n_steps=20", "--trainer.callbacks.init_args.n_key_freqs=2"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "transformer"))
    parser.add_argument("--runs", default=str(ROOT / "runs" / "grokking_transformer"))
    parser.add_argument("--steps", type=int, default=None, help="override trainer.max_steps")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: the same code path in seconds")
    args = parser.parse_args(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or None
    if threads:
        torch.set_num_threads(threads)
    out, runs = Path(args.out), Path(args.runs)
    if runs.exists():
        shutil.rmtree(runs)
    extra = [f"--trainer.logger.init_args.save_dir={runs}"] + (TINY if args.tiny else [])
    if not torch.cuda.is_available():
        if not args.tiny:
            warnings.warn("No GPU: running the Nanda transformer on CPU. The full 40k-step run takes hours on "
                          "2 cores; use --steps N for a shorter (incomplete) run.", stacklevel=1)
        extra.append("--trainer.accelerator=cpu")
    if args.steps is not None:
        extra.append(f"--trainer.max_steps={args.steps}")

    t0 = time.time()
    cli = run("fit", "--config", str(CONFIG), *extra)
    wall = time.time() - t0
    model, progress = cli.model.cpu(), next(c for c in cli.trainer.callbacks if isinstance(c, ProgressMeasures))
    h, phases, key_freqs = progress.history, progress.phases, progress.key_freqs
    p = model.p
    a, b, y = all_pairs(p)
    with torch.no_grad():
        logits = model(a, b).reshape(p, p, p)
        n_components, _ = significant_components(logits.double())
        power = frequency_power(model.W_E[:p].detach(), dim=0).sum(0)[1:]
    key_share = float(power[[k - 1 for k in key_freqs]].sum() / power.sum())

    def at(step: float, key: str) -> float:
        if math.isnan(step):
            return math.nan
        i = min(range(len(h["step"])), key=lambda j: abs(h["step"][j] - step))
        return h[key][i]

    steps_run = int(cli.trainer.global_step)
    report = Report("Grokking: Nanda et al.'s one-layer transformer on (a + b) mod p, progress measures")
    report.add(
        Check("final test accuracy", h["test_acc"][-1], 0.99, kind="min", source=NANDA + ": ~100% by ~10k steps"),
        Check("memorisation ends (train acc 100%), step", phases["memorisation_end"], 1400, 0.5, kind="rel",
              source=NANDA + ": ~1.4k"),
        Check("circuit formation ends (test acc > 50%), step", phases["circuit_formation_end"], 9400, 0.5,
              kind="rel", source=NANDA + ": ~9.4k"),
        Check("cleanup ends (Gini of W_E at 95% of final), step", phases["cleanup_end"], 14000, 0.5, kind="rel",
              source=NANDA + ": ~14k"),
        Check(f"share of W_E's Fourier power in the {len(key_freqs)} key frequencies", key_share, 0.8, kind="min",
              source=NANDA + ": W_E sparse in the Fourier basis, 5 key frequencies"),
        Check("significant 2D Fourier components of the logits (>1% of the norm each)", n_components, 20, 8,
              source=NANDA + ": ~20"),
        Check("excluded loss rises during circuit formation (end / start)",
              at(phases["circuit_formation_end"], "excluded_loss") / at(phases["memorisation_end"], "excluded_loss"),
              1.0, kind="min", source=NANDA + ", Fig. 7"),
    )
    report.metrics = {"key_frequencies": key_freqs, "paper_key_frequencies": [14, 35, 41, 42, 52], "phases": phases,
                      "paper_phases": {"memorisation_end": 1400, "circuit_formation_end": 9400, "cleanup_end": 14000},
                      "significant_logit_components": n_components, "key_frequency_power_share": key_share,
                      "final": {k: v[-1] for k, v in h.items()}, "steps": steps_run, "wall_time_s": wall,
                      "device": str(cli.trainer.strategy.root_device), "torch_threads": torch.get_num_threads()}
    report.sections.append(
        f"p={p}, {steps_run} full-batch steps on {cli.trainer.strategy.root_device} in {wall:.0f} s. "
        f"Key frequencies (top {len(key_freqs)} by W_E Fourier norm): **{key_freqs}** (the paper's seed: "
        f"[14, 35, 41, 42, 52]; seed-dependent). Phase boundaries: {phases}.")
    fig_src = Path(cli.trainer.log_dir) / "figures" / "progress.png"
    out.mkdir(parents=True, exist_ok=True)
    if fig_src.exists():
        shutil.copy(fig_src, out / "progress.png")
        report.figures.append(("Progress measures with the three phase boundaries", "progress.png"))
    report.write(out)
    print(f"key frequencies: {key_freqs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
