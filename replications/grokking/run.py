"""Grokking on (a + b) mod p with Gromov's two-layer quadratic MLP (CPU route, the main job).

1. One run (configs/grokking/gromov_mlp.yaml): delayed generalisation, Fourier-localised neurons
   (IPR), and the phase relation phi1 + phi2 - phi3 = 0 of Gromov's analytic solution.
2. One batched run over train fractions (configs/grokking/gromov_sweep.yaml): the critical fraction
   (Gromov) and steps-to-99% vs fraction (Power et al. 2022).

    python replications/grokking/run.py [--out DIR] [--tiny]
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import torch

from mfnn.analysis.fourier import dominant_frequency, neuron_ipr, neuron_phases
from mfnn.analysis.phases import critical_fraction, first_step_at_least
from mfnn.callbacks import NeuronCloud
from mfnn.experiment import CONFIGS, ReplicationCLI, fit, staged_output
from mfnn.plotting.grokking import gromov_curves, gromov_weights, sweep_figure
from mfnn.report import Check, Report

MLP_CONFIG = CONFIGS / "grokking" / "gromov_mlp.yaml"
SWEEP_CONFIG = CONFIGS / "grokking" / "gromov_sweep.yaml"
GROMOV, POWER = "Gromov 2023 (arXiv 2301.02679)", "Power et al. 2022 (arXiv 2201.02177)"
TINY = {  # the same code path in seconds, for the smoke test (p = 23 is the smallest p that groks cleanly)
    "main": ["--model.init_args.p=23", "--data.init_args.p=23", "--model.init_args.width=64",
             "--trainer.max_steps=500", "--data.init_args.train_fractions=[0.6]",
             "--trainer.callbacks.init_args.every_n_steps=100"],
    "sweep": ["--model.init_args.p=23", "--data.init_args.p=23", "--model.init_args.width=64",
              "--model.init_args.members=2", "--data.init_args.train_fractions=[0.2, 0.6]",
              "--trainer.max_steps=500"],
}


def val_history(run) -> dict[str, list[float]]:
    """Validation metrics as columns; "step" counts the optimiser steps taken (Lightning logs a validation
    row at the last step of its evaluation "epoch", one before the step count)."""
    h = run.history("val/")
    h["step"] = [s + 1 for s in h["step"]]
    return h


def gromov_main(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    run = fit(MLP_CONFIG, *extra, runs=runs)
    cli = run.cli
    p, N = cli.model.net.p, cli.model.net.width
    h = val_history(run)
    train100 = first_step_at_least(h["step"], h["train_acc"], 1.0)
    test99 = first_step_at_least(h["step"], h["test_acc"], 0.99)
    test_at_memorised = h["test_acc"][h["step"].index(int(train100))] if not math.isnan(train100) else math.nan
    cloud = run.callback(NeuronCloud)
    ipr_steps = [s["step"] for s in cloud.snapshots]
    ipr_per_neuron = [neuron_ipr(s["W"], p) for s in cloud.snapshots]  # (N,) each
    ipr = [float(v.mean()) for v in ipr_per_neuron]
    W_in0, W_in, W_out = cloud.snapshots[0]["W"], cloud.snapshots[-1]["W"], cloud.snapshots[-1]["a"]
    ph, ph0 = neuron_phases(W_in, W_out, p), neuron_phases(W_in0, cloud.snapshots[0]["a"], p)
    near0 = float((ph["phase_sum"].abs() < math.pi / 8).float().mean())
    near0_init = float((ph0["phase_sum"].abs() < math.pi / 8).float().mean())
    resultant = float(torch.exp(1j * ph["phase_sum"].double()).mean().abs())
    freq, share = dominant_frequency(W_in, p)
    n_freqs = int(freq.unique().numel())

    delay = test99 / train100 if train100 > 0 else math.nan
    chance = 1 / p
    report.add(
        Check("Gromov: final test accuracy", h["test_acc"][-1], 0.99, kind="min",
              source=GROMOV + ": 100% test accuracy after grokking"),
        Check("Gromov: test accuracy when train first hits 100% (memorised, not generalised)", test_at_memorised,
              0.1, kind="max", source=GROMOV + f", Fig. 2: test near chance ({chance:.3f}) at memorisation"),
        Check("Gromov: delay step(test>=99%) / step(train=100%)", delay, 2.0, kind="min",
              source=GROMOV + ", Fig. 2: generalisation long after memorisation"),
        Check("Gromov: mean IPR (r=2) of W_in rows at the end", ipr[-1], 0.5, kind="min",
              source=GROMOV + ": one frequency per neuron (IPR 1; <= 2 effective frequencies)"),
        Check("Gromov: IPR rise, final / initial", ipr[-1] / ipr[0], 5.0, kind="min",
              source=GROMOV + ": random rows spread over (p-1)/2 frequencies (IPR ~ 4/(p-1))"),
        Check("Gromov: neurons with abs(phi1+phi2-phi3) < pi/8 (uniform phases: 0.125)", near0, 0.5, kind="min",
              source=GROMOV + ": phi1 + phi2 = phi3 (mod 2 pi) in the analytic solution"),
    )
    report.metrics["main"] = {
        "p": p, "width": N, "train_fraction": cli.datamodule.train_fractions[0],
        "steps": int(cli.trainer.global_step), "step_train_acc_100": train100, "step_test_acc_99": test99,
        "delay_ratio": delay, "test_acc_at_memorisation": test_at_memorised,
        "final_train_acc": h["train_acc"][-1], "final_test_acc": h["test_acc"][-1],
        "ipr_steps": ipr_steps, "ipr_mean": ipr, "ipr_initial": ipr[0], "ipr_final": ipr[-1],
        "dominant_share_median": float(share.median()), "phase_fraction_within_pi_8": near0,
        "phase_fraction_within_pi_8_init": near0_init, "phase_resultant_length": resultant,
        "distinct_neuron_frequencies": n_freqs, "frequencies_available": p // 2,
    }
    gromov_curves(h, train100, test99, ipr_steps, ipr_per_neuron, out / "gromov_curves.png")
    gromov_weights(W_in0, W_in, W_out, p, out / "gromov_weights.png")
    report.figures += [
        ("Accuracy and loss with the delay between memorisation (train 100%) and generalisation (test 99%) "
         "shaded; IPR (r=2) of W_in rows over training", "gromov_curves.png"),
        ("Learned weights vs Gromov's analytic solution: per-neuron Fourier power, a few spectra (grey: init), "
         "frequencies used, the neuron cloud in Fourier coordinates, the phase relation phi1+phi2-phi3, "
         "and phi3 against phi1+phi2", "gromov_weights.png")]
    report.sections.append(
        f"**Main run** (p={p}, N={N}, train fraction {cli.datamodule.train_fractions[0]}, AdamW, "
        f"{int(cli.trainer.global_step)} full-batch steps): train accuracy 100% at step {train100:g} "
        f"(test accuracy then {test_at_memorised:.3f}, chance {chance:.3f}), test accuracy >= 99% at step "
        f"{test99:g}: delay x{delay:.2f}. Mean IPR {ipr[0]:.3f} -> {ipr[-1]:.3f} (median share of a row's power "
        f"in its dominant frequency {float(share.median()):.2f}); {n_freqs} of {p // 2} frequencies used as a "
        f"neuron's dominant one. Phase relation: {near0:.2f} of neurons within pi/8 of 0 (init {near0_init:.2f}); "
        f"resultant length {resultant:.2f} (1 = all at phi1+phi2-phi3 = 0, 0 = uniform).")


def sweep(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    run = fit(SWEEP_CONFIG, *extra, runs=runs)
    cli = run.cli
    h = val_history(run)
    fractions = cli.datamodule.train_fractions
    K = len(fractions)
    key = (lambda name, k: f"{name}_k{k}") if K > 1 else (lambda name, k: name)
    final = [h[key("test_acc", k)][-1] for k in range(K)]
    final_train = [h[key("train_acc", k)][-1] for k in range(K)]
    steps99 = [first_step_at_least(h["step"], h[key("test_acc", k)], 0.99) for k in range(K)]
    crit = critical_fraction(fractions, final, 0.99)
    grokked = [(f, s) for f, s in zip(fractions, steps99) if not math.isnan(s)]
    ratio = grokked[0][1] / grokked[-1][1] if len(grokked) >= 2 else math.nan
    report.add(
        Check("Gromov: smallest fraction does not generalise (final test acc <= 0.5)", final[0], 0.5, kind="max",
              source=GROMOV + ": below a critical fraction the net memorises only"),
        Check("Gromov: every fraction above the critical one reaches >= 99% (critical fraction found)",
              bool(not math.isnan(crit) and crit > fractions[0]), True, kind="true", source=GROMOV),
        Check("Power: steps-to-99% at the smallest grokking fraction / at the largest", ratio, 3.0, kind="min",
              source=POWER + ", Fig. 1: time to generalise rises steeply as data shrinks"),
    )
    report.metrics["sweep"] = {"p": cli.model.net.p, "width": cli.model.net.width, "steps": int(cli.trainer.global_step),
                               "fractions": fractions, "final_train_acc": final_train, "final_test_acc": final,
                               "steps_to_test_acc_99": steps99, "critical_fraction": crit, "steps_ratio": ratio}
    sweep_figure(fractions, h, final_train, final, steps99, crit, out / "sweep.png")
    report.figures.append(("Final accuracy vs train fraction with the critical fraction (left), steps to 99% "
                           "test accuracy vs fraction (middle), test accuracy of every member (right)", "sweep.png"))
    rows = "\n".join(f"| {f:g} | {tr:.4f} | {a:.4f} | {s:g} |"
                     for f, tr, a, s in zip(fractions, final_train, final, steps99))
    report.sections.append(
        f"**Sweep** (one batched run of {K} independent MLPs, p={cli.model.net.p}, N={cli.model.net.width}, "
        f"{int(cli.trainer.global_step)} steps): critical fraction ~ {crit:.3g}; steps to 99% rise x{ratio:.2f} "
        f"from the largest to the smallest grokking fraction.\n\n"
        f"| train fraction | final train acc | final test acc | steps to 99% test |\n|---|---|---|---|\n{rows}"
        + "".join(f"\n\nFraction {f:g} was still mid-transition when the budget ended (test accuracy {a:.3f}): its "
                  "time to 99% is longer than the run, so the steepest end of Power's curve lies beyond it."
                  for f, a in zip(fractions, final) if 0.05 < a < 0.99))


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("grokking", __doc__.splitlines()[0])  # threads: one per core unless told
    args = cli.parse(argv)
    seed = [f"--seed_everything={args.seed}"] if args.seed is not None else []
    t0 = time.time()
    report = Report("Grokking: Gromov's quadratic MLP on (a + b) mod p, and the train-fraction sweep")
    with staged_output(args.out) as out:
        gromov_main(report, out, args.runs, (TINY["main"] if args.tiny else []) + seed)
        t_main = time.time() - t0
        sweep(report, out, args.runs, (TINY["sweep"] if args.tiny else []) + seed)
        wall = time.time() - t0
        report.metrics["wall_time_s"] = {"main": t_main, "sweep": wall - t_main, "total": wall,
                                         "torch_threads": torch.get_num_threads(),
                                         "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
        report.sections.append(f"Wall time: {wall:.0f} s ({t_main:.0f} s main run, {wall - t_main:.0f} s sweep) "
                               f"with {torch.get_num_threads()} torch thread(s).")
        report.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
