"""The Nanda transformer's curves in float32 and under bf16-mixed on one figure, from two `mfnn fit` run
directories (configs/grokking/nanda_transformer.yaml with --trainer.accelerator=cpu and
--trainer.precision=32-true / bf16-mixed). Prints the values at the steps both runs logged.

    python bench/precision_curves.py RUN_FP32 RUN_BF16 [--out bench/results/precision_curves.png]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mfnn.plotting import save, subplots  # noqa: E402

SERIES = [("train/loss", "train loss"), ("val/test_loss", "test loss"), ("val/test_acc", "test accuracy")]


def read(run: Path) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {key: {} for key, _ in SERIES}
    with open(run / "metrics.csv") as f:
        for row in csv.DictReader(f):
            for key, _ in SERIES:
                if row.get(key):
                    out[key][int(row["step"])] = float(row[key])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32", type=Path)
    parser.add_argument("bf16", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "precision_curves.png")
    args = parser.parse_args()
    runs = {"float32": read(args.fp32), "bf16-mixed": read(args.bf16)}
    fig, axes = subplots(1, len(SERIES), figsize=(12, 3.6))
    for ax, (key, label) in zip(axes, SERIES):
        for (name, run), style in zip(runs.items(), [dict(color="C0", lw=1.5), dict(color="C3", lw=1.0, alpha=0.85)]):
            steps = sorted(run[key])
            ax.plot(steps, [run[key][s] for s in steps], label=f"{name} (logged to step {max(steps) if steps else 0})",
                    **style)
        ax.set_xlabel("step (full-batch epoch)")
        ax.set_title(label)
        if "loss" in key:
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Nanda transformer (p=113), CPU, the same seed: float32 vs bf16-mixed", fontsize=10)
    fig.tight_layout()
    save(fig, args.out)
    print(f"wrote {args.out}")
    for key, label in SERIES:
        common = sorted(set(runs["float32"][key]) & set(runs["bf16-mixed"][key]))
        for s in common:
            a, b = runs["float32"][key][s], runs["bf16-mixed"][key][s]
            print(f"{label} at step {s}: float32 {a:.6g}, bf16-mixed {b:.6g} (difference {b - a:+.3g})")


if __name__ == "__main__":
    main()
