"""Bench case (c): mfnn's Nanda transformer step against a naive plain-PyTorch implementation of the
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
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the reference model lives in tests/reference

from tests.reference.naive_transformer import fit_interleaved  # noqa: E402


def bench_transformer(steps: int = 50, warmup: int = 5, accelerator: str | None = None, extra: tuple = ()) -> dict:
    """Steps/s of mfnn's Nanda transformer (through Lightning) and of the naive plain loop, at the
    paper's size (p=113, 3830 train pairs), on the GPU if there is one. Threads: the caller's.
    extra: more mfnn overrides (e.g. --trainer.precision=bf16-mixed; the naive loop stays float32)."""
    accelerator = accelerator or ("gpu" if torch.cuda.is_available() else "cpu")
    timer = fit_interleaved(steps, warmup, f"--trainer.accelerator={accelerator}", *extra)
    mfnn, plain = timer.steps / timer.mfnn_time, timer.steps / timer.plain_time
    return {"case": "Nanda one-layer transformer (p=113, 3830 train pairs, full batch)",
            "mfnn_steps_per_s": mfnn, "plain_steps_per_s": plain, "ratio": mfnn / plain, "steps": timer.steps,
            "accelerator": accelerator, "threads": torch.get_num_threads(), "target": "ratio >= 2",
            "passed": mfnn / plain >= 2}


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
    main()
