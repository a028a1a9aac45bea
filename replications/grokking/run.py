"""Grokking on (a + b) mod p with Gromov's two-layer quadratic MLP (CPU route, the main job).

1. Gromov's headline protocol (configs/grokking/gromov_gd.yaml): plain full-batch gradient descent, MSE,
   no regularisation, three seeds in one batched program: does it grok, and when.
2. The AdamW view (configs/grokking/gromov_mlp.yaml): AdamW with weight decay, three seeds: delayed
   generalisation, Fourier-localised neurons (IPR), the phase relation phi1 + phi2 - phi3 = 0.
3. The train-fraction sweep (configs/grokking/gromov_sweep.yaml, AdamW, three seeds per fraction): the
   critical fraction with its seed spread (Gromov) and steps-to-99% vs fraction (Power et al. 2022), with
   a step budget set by the slowest grokking member.

    python replications/grokking/run.py [--out DIR] [--tiny]
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from mfnn.analysis.fourier import dominant_frequency, neuron_ipr, neuron_phases
from mfnn.analysis.phases import critical_fraction, critical_fraction_threshold, first_step_at_least
from mfnn.callbacks import NeuronCloud
from mfnn.callbacks.stop import StopWhenSettled
from mfnn.experiment import CONFIGS, ReplicationCLI, fit, run_parts, staged_output
from mfnn.plotting.grokking import gromov_curves, gromov_weights, sweep_figure
from mfnn.report import Check, Report, spread, worst

GD_CONFIG = CONFIGS / "grokking" / "gromov_gd.yaml"
MLP_CONFIG = CONFIGS / "grokking" / "gromov_mlp.yaml"
SWEEP_CONFIG = CONFIGS / "grokking" / "gromov_sweep.yaml"
GROMOV, POWER = "Gromov 2023 (arXiv 2301.02679)", "Power et al. 2022 (arXiv 2201.02177)"
TINY_P = ["--model.init_args.p=23", "--data.init_args.p=23", "--model.init_args.width=64"]
TINY = {  # the same code path in seconds, for the smoke test (p = 23 is the smallest p that groks cleanly)
    "gd": TINY_P + ["--trainer.max_steps=200", "--model.init_args.optimizer.init_args.lr=5",
                    "--data.init_args.train_fractions=[0.6, 0.6, 0.6]",
                    "--data.init_args.steps_per_epoch=25", "--trainer.callbacks.init_args.patience=200"],
    "main": TINY_P + ["--trainer.max_steps=500", "--data.init_args.train_fractions=[0.6, 0.6, 0.6]",
                      "--trainer.callbacks.init_args.every_n_steps=100"],
    "sweep": TINY_P + ["--model.init_args.members=4", "--data.init_args.train_fractions=[0.2, 0.2, 0.6, 0.6]",
                       "--trainer.max_steps=600", "--data.init_args.steps_per_epoch=25",
                       "--trainer.callbacks.init_args.min_steps=300", "--trainer.callbacks.init_args.patience=100"],
}


def val_history(run) -> dict[str, list[float]]:
    """Validation metrics as columns; "step" counts the optimiser steps taken (Lightning logs a validation
    row at the last step of its evaluation "epoch", one before the step count)."""
    h = run.history("val/")
    h["step"] = [s + 1 for s in h["step"]]
    return h


def member_history(h: dict, k: int, K: int) -> dict[str, list[float]]:
    """Member k's columns (the batched run logs train_acc_k, test_acc_k, test_loss_k when K > 1)."""
    if K == 1:
        return {name: h[name] for name in ("step", "train_acc", "test_acc", "test_loss")}
    return {"step": h["step"], **{name: h[f"{name}_k{k}"] for name in ("train_acc", "test_acc", "test_loss")}}


def analyse_member(hk: dict, W_in: torch.Tensor, W_out: torch.Tensor, p: int) -> dict:
    """Delay, final accuracy, Fourier localisation and phase relation of one trained net."""
    train100 = first_step_at_least(hk["step"], hk["train_acc"], 1.0)
    test99 = first_step_at_least(hk["step"], hk["test_acc"], 0.99)
    at_mem = hk["test_acc"][hk["step"].index(int(train100))] if not math.isnan(train100) else math.nan
    ph = neuron_phases(W_in, W_out, p)
    freq, share = dominant_frequency(W_in, p)
    ipr = neuron_ipr(W_in, p)
    return {"step_train_acc_100": train100, "step_test_acc_99": test99,
            "delay_ratio": test99 / train100 if train100 > 0 else math.nan, "test_acc_at_memorisation": at_mem,
            "final_train_acc": hk["train_acc"][-1], "final_test_acc": hk["test_acc"][-1],
            "ipr_mean": float(ipr.mean()), "ipr_median": float(ipr.median()),
            "dominant_share_median": float(share.median()),
            "phase_fraction_within_pi_8": float((ph["phase_sum"].abs() < math.pi / 8).float().mean()),
            "phase_resultant_length": float(torch.exp(1j * ph["phase_sum"].double()).mean().abs()),
            "distinct_neuron_frequencies": int(freq.unique().numel())}


SEED_COLUMNS = [("step_train_acc_100", "train = 100% at", "{:g}"), ("step_test_acc_99", "test >= 99% at", "{:g}"),
                ("delay_ratio", "delay", "{:.2f}"), ("test_acc_at_memorisation", "test acc at memorisation", "{:.3f}"),
                ("final_test_acc", "final test acc", "{:.4f}"), ("ipr_mean", "mean IPR", "{:.3f}"),
                ("ipr_median", "median IPR", "{:.3f}"),
                ("phase_fraction_within_pi_8", "phases within pi/8", "{:.2f}"),
                ("distinct_neuron_frequencies", "frequencies used", "{:d}")]


def seed_table(members: list[dict]) -> str:
    head = "| seed | " + " | ".join(c[1] for c in SEED_COLUMNS) + " |\n" + "|---" * (len(SEED_COLUMNS) + 1) + "|\n"
    rows = ["| " + str(k) + " | " + " | ".join(f.format(m[key]) if not (isinstance(m[key], float) and math.isnan(m[key]))
                                            else "never" for key, _, f in SEED_COLUMNS) + " |"
            for k, m in enumerate(members)]
    means = "| mean ± sd | " + " | ".join(spread([float(m[key]) for m in members]) for key, _, _ in SEED_COLUMNS) + " |"
    return head + "\n".join(rows + [means])


def trained_members(run) -> tuple[list[dict], dict]:
    """Analyse every member of a batched Gromov run; returns per-member results and the raw history."""
    net = run.model.net
    p, K = net.p, net.members
    h = val_history(run)
    members = [analyse_member(member_history(h, k, K), net.W_in[k].detach().float(), net.W_out[k].detach().float(), p)
               for k in range(K)]
    return members, h


def seed_checks(report: Report, members: list[dict], view: str, delay_min: float = 2.0) -> None:
    """The all-seeds checks of one view (the deciding seed's value is the one shown)."""
    col = lambda key: [float(m[key]) for m in members]  # noqa: E731
    n = len(members)
    report.add(
        Check(f"{view}: final test accuracy, every seed (lowest of {n})", worst(col("final_test_acc"), "min"), 0.99,
              kind="min", source=GROMOV + ": 100% test accuracy after grokking"),
        Check(f"{view}: test accuracy when train first hits 100%, every seed (highest of {n})",
              worst(col("test_acc_at_memorisation"), "max"), 0.1, kind="max",
              source=GROMOV + ", Fig. 2: test near chance (0.010) at memorisation"),
        Check(f"{view}: delay step(test>=99%) / step(train=100%), every seed (lowest of {n})",
              worst(col("delay_ratio"), "min"), delay_min, kind="min",
              source=GROMOV + ", Fig. 2: generalisation long after memorisation"),
        Check(f"{view}: mean IPR (r=2) of W_in rows at the end, every seed (lowest of {n}; init ~0.04)",
              worst(col("ipr_mean"), "min"), 0.5, kind="min",
              source=GROMOV + ": one frequency per neuron (IPR 1; <= 2 effective frequencies)"),
        Check(f"{view}: neurons with abs(phi1+phi2-phi3) < pi/8, every seed (lowest of {n}; uniform phases: 0.125)",
              worst(col("phase_fraction_within_pi_8"), "min"), 0.5, kind="min",
              source=GROMOV + ": phi1 + phi2 = phi3 (mod 2 pi) in the analytic solution"),
    )


def gromov_gd(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    run = fit(GD_CONFIG, *extra, runs=runs)
    members, h = trained_members(run)
    net, steps = run.model.net, int(run.trainer.global_step)
    stop = run.callback(StopWhenSettled)
    seed_checks(report, members, "Gromov GD (headline)")
    report.metrics["gd"] = {"p": net.p, "width": net.width, "train_fraction": run.datamodule.train_fractions[0],
                            "lr": run.model.optimizer_settings["lr"], "steps": steps,
                            "stopped_early_at": stop.stopped_at, "cap": int(run.trainer.max_steps),
                            "seeds": members, "history": h}
    cloud = run.callback(NeuronCloud)
    curves = [member_history(h, k, net.members) for k in range(net.members)]
    gromov_curves(curves, cloud.snapshots, net.p, out / "gromov_gd_curves.png",
                  title=f"plain GD, MSE, no regularisation (N={net.width}, fraction {run.datamodule.train_fractions[0]})")
    report.figures.append(("Gromov's headline protocol (plain full-batch GD, MSE, no regularisation), three seeds: "
                           "accuracy, test loss, and the IPR of seed 0's W_in rows", "gromov_gd_curves.png"))
    ended = (f"stopped at step {steps} (every seed settled)" if stop.stopped_at else f"ran to the {steps}-step cap")
    report.sections.append(
        f"**Gromov's headline protocol** (plain full-batch GD, lr {run.model.optimizer_settings['lr']:g} x N, MSE, "
        f"no weight decay, no momentum; p={net.p}, N={net.width}, train fraction "
        f"{run.datamodule.train_fractions[0]}, {net.members} seeds; {ended}):\n\n" + seed_table(members))


def gromov_adamw(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    run = fit(MLP_CONFIG, *extra, runs=runs)
    members, h = trained_members(run)
    net, steps = run.model.net, int(run.trainer.global_step)
    seed_checks(report, members, "Gromov AdamW")
    cloud = run.callback(NeuronCloud)  # seed 0's neurons over training
    first, last = cloud.snapshots[0], cloud.snapshots[-1]
    init = {"ipr_mean": float(neuron_ipr(first["W"], net.p).mean()),
            "phase_fraction_within_pi_8": float((neuron_phases(first["W"], first["a"], net.p)["phase_sum"].abs()
                                                 < math.pi / 8).float().mean())}
    report.metrics["adamw"] = {"p": net.p, "width": net.width, "train_fraction": run.datamodule.train_fractions[0],
                               "steps": steps, "seeds": members, "seed0_at_init": init,
                               "ipr_steps": [s["step"] for s in cloud.snapshots],
                               "ipr_mean_seed0": [float(neuron_ipr(s["W"], net.p).mean()) for s in cloud.snapshots]}
    curves = [member_history(h, k, net.members) for k in range(net.members)]
    gromov_curves(curves, cloud.snapshots, net.p, out / "gromov_curves.png",
                  title=f"AdamW, weight decay 0.3 (N={net.width}, fraction {run.datamodule.train_fractions[0]})")
    gromov_weights(first["W"], last["W"], last["a"], net.p, out / "gromov_weights.png")
    report.figures += [
        ("AdamW view, three seeds: accuracy, test loss, and the IPR (r=2) of seed 0's W_in rows over training",
         "gromov_curves.png"),
        ("AdamW view, seed 0: learned weights vs Gromov's analytic solution: per-neuron Fourier power, a few "
         "spectra (grey: init), frequencies used, the neuron cloud in Fourier coordinates, the phase relation "
         "phi1+phi2-phi3, and phi3 against phi1+phi2", "gromov_weights.png")]
    report.sections.append(
        f"**AdamW view** (AdamW lr 1e-2, weight decay 0.3; p={net.p}, N={net.width}, train fraction "
        f"{run.datamodule.train_fractions[0]}, {steps} full-batch steps, {net.members} seeds). At init (seed 0): "
        f"mean IPR {init['ipr_mean']:.3f}, phases within pi/8 {init['phase_fraction_within_pi_8']:.2f} "
        f"(the null the IPR and phase thresholds are read against).\n\n" + seed_table(members))


def sweep(report: Report, out: Path, runs: Path, extra: list[str]) -> None:
    run = fit(SWEEP_CONFIG, *extra, runs=runs)
    net, steps = run.model.net, int(run.trainer.global_step)
    stop = run.callback(StopWhenSettled)
    h = val_history(run)
    fractions = run.datamodule.train_fractions
    K = len(fractions)
    grid = sorted(set(fractions))
    seeds_of = {f: [k for k in range(K) if fractions[k] == f] for f in grid}  # member indices per fraction
    n_seeds = min(len(v) for v in seeds_of.values())
    hk = [member_history(h, k, K) for k in range(K)]
    final = [m["test_acc"][-1] for m in hk]
    final_train = [m["train_acc"][-1] for m in hk]
    steps99 = [first_step_at_least(m["step"], m["test_acc"], 0.99) for m in hk]
    # seed j of every fraction: the j-th member at that fraction; its critical fraction from its own curve
    crit = [critical_fraction(grid, [final[seeds_of[f][j]] for f in grid], 0.99) for j in range(n_seeds)]
    crit_ok = [c for c in crit if not math.isnan(c)]
    crit_sd = statistics.stdev(crit_ok) if len(crit_ok) > 1 else math.nan
    half_step = min(b - a for a, b in zip(grid, grid[1:])) / 2 if len(grid) > 1 else math.nan
    # the reported value: where the success probability across seeds (final test acc >= 99%) crosses 1/2
    located = critical_fraction_threshold(fractions, final, 0.99) if len(grid) > 1 else None
    # Power: steps to 99% at the smallest fraction where every seed groks, over those at the largest fraction
    all_grok = [f for f in grid if all(not math.isnan(steps99[k]) for k in seeds_of[f])]
    mean_steps = {f: statistics.mean(steps99[k] for k in seeds_of[f]) for f in all_grok}
    ratio = mean_steps[all_grok[0]] / mean_steps[all_grok[-1]] if len(all_grok) >= 2 else math.nan
    ratio_per_seed = ([steps99[seeds_of[all_grok[0]][j]] / steps99[seeds_of[all_grok[-1]][j]] for j in range(n_seeds)]
                      if len(all_grok) >= 2 else [])
    capped = stop.stopped_at is None
    report.add(
        Check(f"Gromov: smallest fraction ({grid[0]:g}) does not generalise, every seed (highest final test acc of "
              f"{n_seeds})", max(final[k] for k in seeds_of[grid[0]]), 0.5, kind="max",
              source=GROMOV + ": below a critical fraction the net memorises only"),
        Check(f"Gromov: critical fraction agrees across seeds (sd of {len(crit_ok)} seeds; grid half-step "
              f"{half_step:.3g})", crit_sd if len(crit_ok) == n_seeds else math.nan, round(half_step, 6), kind="max",
              source=GROMOV + ": a data threshold of the task and budget, not of the draw"),
        Check("Power: mean steps-to-99% at the smallest fraction where every seed groks / at the largest"
              + (" [run hit the step cap]" if capped else ""), ratio, 3.0, kind="min",
              source=POWER + ", Fig. 1: time to generalise rises steeply as data shrinks"),
    )
    report.metrics["sweep"] = {
        "p": net.p, "width": net.width, "steps": steps, "cap": int(run.trainer.max_steps),
        "stopped_early_at": stop.stopped_at, "fractions": fractions, "final_train_acc": final_train,
        "final_test_acc": final, "steps_to_test_acc_99": steps99, "critical_fraction_per_seed": crit,
        "critical_fraction_mean": statistics.mean(crit_ok) if crit_ok else math.nan, "critical_fraction_sd": crit_sd,
        "critical_fraction_threshold": located, "grid_half_step": half_step, "steps_ratio": ratio, "steps_ratio_per_seed": ratio_per_seed,
        "smallest_fraction_all_seeds_grok": all_grok[0] if all_grok else math.nan}
    sweep_figure(fractions, hk, final_train, final, steps99, crit, out / "sweep.png")
    report.figures.append(("Sweep, three seeds per fraction: final accuracy vs train fraction with each seed's "
                           "critical fraction (left), steps to 99% test accuracy (middle), every member's test "
                           "accuracy (right)", "sweep.png"))
    rows = []
    for f in grid:
        ks = seeds_of[f]
        fmt_steps = ", ".join("never" if math.isnan(steps99[k]) else f"{steps99[k]:g}" for k in ks)
        rows.append(f"| {f:g} | {', '.join(f'{final_train[k]:.3f}' for k in ks)} | "
                    f"{', '.join(f'{final[k]:.4f}' for k in ks)} | {fmt_steps} | {spread([steps99[k] for k in ks])} |")
    mean_crit = statistics.mean(crit_ok) if crit_ok else math.nan
    ended = (f"every member settled at step {steps}" if not capped else f"the {steps}-step cap was reached")
    report.sections.append(
        f"**Sweep** (one batched run of {K} independent MLPs, {n_seeds} seeds per fraction, p={net.p}, N={net.width}, "
        f"AdamW; {ended}): critical fraction {where(located)}; per seed (grid midpoints) "
        f"{', '.join(f'{c:.3g}' for c in crit)}, {mean_crit:.3g} ± {crit_sd:.2g} (mean ± sd over seeds). "
        + (f"Steps to 99% rise x{ratio:.2f} (per seed: {', '.join(f'{r:.2f}' for r in ratio_per_seed)}) from "
           f"fraction {all_grok[-1]:g} to {all_grok[0]:g}, the smallest at which every seed groks.\n\n"
           if len(all_grok) >= 2 else "Fewer than two fractions grok in every seed: no steps ratio.\n\n")
        + "| train fraction | final train acc (per seed) | final test acc (per seed) | steps to 99% test (per seed) "
        "| mean ± sd |\n|---|---|---|---|---|\n" + "\n".join(rows))


def where(located: dict | None) -> str:
    """The toolkit's critical fraction in words, with its error bar and where the error comes from."""
    if located is None or not located["bracketed"]:
        return "not bracketed by the grid (the success rate is not below 1/2 at the smallest fraction and above it at the largest)"
    how = ("every seed jumps between the same two fractions, so the error is the grid's resolution" if not located["resolved"]
           else f"statistical ± {located['err_stat']:.2g} from a bootstrap over seeds")
    return (f"**{located['x_c']:.3g} ± {located['err']:.2g}** (the fraction where the success probability across seeds, "
            f"final test acc >= 99%, crosses 1/2: logistic fit, mfnn.phases.threshold; {how})")


PARTS = {"gd": gromov_gd, "adamw": gromov_adamw, "sweep": sweep}


def run_part(name: str, out: Path, runs: Path, extra: list[str], threads: int | None = None):
    """One part into its own Report (its checks, metrics, sections, figures) and its wall time. A top-level
    function so that --jobs can run parts in worker processes."""
    if threads:
        torch.set_num_threads(threads)
    start = time.time()
    part = Report("")
    PARTS[name](part, out, runs, extra)
    return part.checks, part.metrics, part.sections, part.figures, time.time() - start


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("grokking", __doc__.splitlines()[0])  # threads: one per core unless told
    cli.add_parts(PARTS)
    args = cli.parse(argv)
    parts = args.parts
    seed = [f"--seed_everything={args.seed}", f"--data.init_args.seed={args.seed}"] if args.seed is not None else []
    t0 = time.time()
    report = Report("Grokking: Gromov's quadratic MLP on (a + b) mod p (plain GD and AdamW), and the "
                    "train-fraction sweep")
    with staged_output(args.out) as out:
        jobs = [(name, out, args.runs, (TINY[{"adamw": "main"}.get(name, name)] if args.tiny else []) + seed)
                for name in parts]
        results = run_parts(run_part, jobs, args.jobs)
        wall = {}
        for name, (checks, metrics, sections, figures, seconds) in zip(parts, results):
            report.add(*checks)
            report.metrics.update(metrics)
            report.sections += sections
            report.figures += figures
            wall[name] = seconds
        total = time.time() - t0
        report.metrics["wall_time_s"] = {**wall, "total": total, "jobs": args.jobs,
                                         "torch_threads": torch.get_num_threads(),
                                         "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
        label = {"gd": "plain GD", "adamw": "AdamW", "sweep": "sweep"}
        report.sections.append(f"Wall time: {total:.0f} s ("
                               + ", ".join(f"{wall[n]:.0f} s {label[n]}" for n in parts)
                               + f"; {args.jobs} worker process(es), {torch.get_num_threads()} torch thread(s) in all).")
        report.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
