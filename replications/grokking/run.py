"""Grokking on (a + b) mod p with Gromov's two-layer quadratic MLP (CPU route, the main job).

1. One run (configs/grokking/gromov_mlp.yaml): delayed generalisation, Fourier-localised neurons
   (IPR), and the phase relation phi1 + phi2 - phi3 = 0 of Gromov's analytic solution.
2. One batched run over train fractions (configs/grokking/gromov_sweep.yaml): the critical fraction
   (Gromov) and steps-to-99% vs fraction (Power et al. 2022).

    python replications/grokking/run.py [--out DIR] [--tiny]
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mfnn.analysis.fourier import neuron_ipr, neuron_phases  # noqa: E402
from mfnn.analysis.grokking_plots import gromov_curves, gromov_weights, sweep_figure  # noqa: E402
from mfnn.analysis.phases import critical_fraction, first_step_at_least  # noqa: E402
from mfnn.callbacks import NeuronCloud  # noqa: E402
from mfnn.cli import run  # noqa: E402
from mfnn.report import Check, Report  # noqa: E402

MLP_CONFIG = ROOT / "configs" / "grokking" / "gromov_mlp.yaml"
SWEEP_CONFIG = ROOT / "configs" / "grokking" / "gromov_sweep.yaml"
GROMOV, POWER = "Gromov 2023 (arXiv 2301.02679)", "Power et al. 2022 (arXiv 2201.02177)"
TINY = {  # the same code path in seconds, for the smoke test
    "main": ["--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.width=32",
             "--trainer.max_steps=60", "--data.init_args.steps_per_epoch=10",
             "--data.init_args.train_fractions=[0.5]", "--trainer.callbacks.init_args.every_n_steps=20"],
    "sweep": ["--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.width=16",
              "--model.init_args.members=2", "--data.init_args.train_fractions=[0.3, 0.7]",
              "--trainer.max_steps=40", "--data.init_args.steps_per_epoch=10"],
}


def val_history(cli) -> dict[str, list[float]]:
    """The validation rows of the run's metrics.csv as columns (step first)."""
    rows = [r for r in csv.DictReader(open(Path(cli.trainer.log_dir) / "metrics.csv")) if r.get("val/test_acc")]
    cols = {"step": [int(r["step"]) + 1 for r in rows]}  # logged at the last step of the eval "epoch"
    for key in rows[0]:
        if key.startswith("val/"):
            cols[key[4:]] = [float(r[key]) for r in rows]
    return cols


def fit(config: Path, runs: Path, extra: list[str]):
    return run("fit", "--config", str(config), f"--trainer.logger.init_args.save_dir={runs}", *extra)


def gromov_main(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    cli = fit(MLP_CONFIG, runs, extra)
    p = cli.model.net.p
    h = val_history(cli)
    train100 = first_step_at_least(h["step"], h["train_acc"], 1.0)
    test99 = first_step_at_least(h["step"], h["test_acc"], 0.99)
    cloud = next(c for c in cli.trainer.callbacks if isinstance(c, NeuronCloud))
    ipr_steps = [s["step"] for s in cloud.snapshots]
    ipr = [float(neuron_ipr(s["W"], p).mean()) for s in cloud.snapshots]
    W_in, W_out = cloud.snapshots[-1]["W"], cloud.snapshots[-1]["a"]
    ph = neuron_phases(W_in, W_out, p)
    near0 = float((ph["phase_sum"].abs() < math.pi / 8).float().mean())
    resultant = float(torch.exp(1j * ph["phase_sum"].double()).mean().abs())
    n_freqs = int(ph["freq"].unique().numel())

    delay = test99 / train100 if train100 > 0 else math.nan
    report.add(
        Check("Gromov: final test accuracy", h["test_acc"][-1], 0.99, kind="min", source=GROMOV),
        Check("Gromov: step(test>=99%) / step(train=100%) (delayed generalisation)", delay, 2.0, kind="min",
              source=GROMOV + ", Fig. 2: train saturates long before test"),
        Check("Gromov: mean IPR (r=2) of W_in rows at the end", ipr[-1], 0.8, kind="min",
              source=GROMOV + ": one Fourier frequency per neuron (IPR -> 1)"),
        Check("Gromov: IPR rise, final / initial", ipr[-1] / ipr[0], 5.0, kind="min", source=GROMOV),
        Check("Gromov: fraction of neurons with abs(phi1+phi2-phi3) < pi/8 (uniform: 0.125)", near0, 0.5, kind="min",
              source=GROMOV + ": phi1 + phi2 = phi3 in the analytic solution"),
    )
    report.metrics.update({
        "main": {"p": p, "width": cli.model.net.width, "train_fraction": cli.datamodule.train_fractions[0],
                 "steps": int(cli.trainer.global_step), "step_train_acc_100": train100, "step_test_acc_99": test99,
                 "final_train_acc": h["train_acc"][-1], "final_test_acc": h["test_acc"][-1],
                 "ipr_initial": ipr[0], "ipr_final": ipr[-1], "phase_fraction_within_pi_8": near0,
                 "phase_resultant_length": resultant, "distinct_neuron_frequencies": n_freqs},
    })
    gromov_curves(h["step"], h["train_acc"], h["test_acc"], ipr_steps, ipr, out / "gromov_curves.png")
    gromov_weights(W_in, W_out, p, ph["phase_sum"], ph["freq"], out / "gromov_weights.png")
    report.figures += [("Train/test accuracy and mean IPR of W_in rows over training", "gromov_curves.png"),
                       ("Learned weights: Fourier power per neuron, W_in rows, phase relation histogram",
                        "gromov_weights.png")]
    report.sections.append(
        f"**Main run** (p={p}, N={cli.model.net.width}, train fraction {cli.datamodule.train_fractions[0]}, "
        f"AdamW, {int(cli.trainer.global_step)} full-batch steps): train accuracy 100% at step {train100:g}, "
        f"test accuracy >= 99% at step {test99:g}. Mean IPR {ipr[0]:.3f} -> {ipr[-1]:.3f}; "
        f"{n_freqs} distinct dominant frequencies across neurons; phase relation resultant length {resultant:.2f} "
        f"(1 = all neurons at phi1+phi2-phi3 = 0, 0 = uniform).")


def sweep(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    cli = fit(SWEEP_CONFIG, runs, extra)
    h = val_history(cli)
    fractions = cli.datamodule.train_fractions
    K = len(fractions)
    key = (lambda name, k: f"{name}_k{k}") if K > 1 else (lambda name, k: name)
    final = [h[key("test_acc", k)][-1] for k in range(K)]
    steps99 = [first_step_at_least(h["step"], h[key("test_acc", k)], 0.99) for k in range(K)]
    crit = critical_fraction(fractions, final, 0.99)
    grokked = [(f, s) for f, s in zip(fractions, steps99) if not math.isnan(s)]
    ratio = grokked[0][1] / grokked[-1][1] if len(grokked) >= 2 else math.nan
    report.add(
        Check("Gromov: a critical train fraction inside the sweep (smallest fraction fails, largest >= 99%)",
              bool(final[0] < 0.5 and final[-1] >= 0.99), True, kind="true", source=GROMOV),
        Check("Power: steps-to-99% at the smallest grokking fraction / at the largest", ratio, 2.0, kind="min",
              source=POWER + ", Fig. 1: time to generalise rises steeply as data shrinks"),
    )
    report.metrics["sweep"] = {"p": cli.model.net.p, "width": cli.model.net.width, "steps": int(cli.trainer.global_step),
                               "fractions": fractions, "final_test_acc": final, "steps_to_test_acc_99": steps99,
                               "critical_fraction": crit, "steps_ratio": ratio}
    sweep_figure(fractions, final, steps99, crit, out / "sweep.png")
    report.figures.append(("Critical train fraction (left) and steps to 99% test accuracy (right)", "sweep.png"))
    rows = "\n".join(f"| {f:.2f} | {a:.4f} | {s:g} |" for f, a, s in zip(fractions, final, steps99))
    report.sections.append(
        f"**Sweep** (one batched run of {K} independent MLPs, p={cli.model.net.p}, N={cli.model.net.width}, "
        f"{int(cli.trainer.global_step)} steps): critical fraction ~ {crit:.3g}.\n\n"
        f"| train fraction | final test acc | steps to 99% |\n|---|---|---|\n{rows}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--runs", default=str(ROOT / "runs" / "grokking"))
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: the same code path in seconds")
    args = parser.parse_args(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or None
    if threads:
        torch.set_num_threads(threads)
    out, runs = Path(args.out), Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    if runs.exists():
        shutil.rmtree(runs)  # every run starts fresh: versions do not pile up
    t0 = time.time()
    report = Report("Grokking: Gromov's quadratic MLP on (a + b) mod p, and the train-fraction sweep")
    gromov_main(report, out, runs, TINY["main"] if args.tiny else [])
    t_main = time.time() - t0
    sweep(report, out, runs, TINY["sweep"] if args.tiny else [])
    wall = time.time() - t0
    report.metrics["wall_time_s"] = {"main": t_main, "sweep": wall - t_main, "total": wall,
                                     "torch_threads": torch.get_num_threads()}
    report.sections.append(f"Wall time: {wall:.0f} s ({t_main:.0f} s main run, {wall - t_main:.0f} s sweep) with "
                           f"{torch.get_num_threads()} torch thread(s).")
    report.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
