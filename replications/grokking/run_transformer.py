"""Nanda et al. 2023: the one-layer transformer that groks (a + b) mod 113, with progress measures, over seeds.

GPU by default (configs/grokking/nanda_transformer.yaml). Without a GPU it warns and runs the same
recipe on CPU (configs/grokking/nanda_transformer_cpu.yaml); the full 40k epochs take about half an hour per
seed there (one core each), so `--epochs N` shortens the run (one epoch = one full-batch step, as in the paper). Checks that
need more epochs than were run are reported as FAIL with the reason.

    python replications/grokking/run_transformer.py [--out DIR] [--seeds 3] [--seed 0] [--jobs J] [--epochs N] [--tiny]
    python replications/grokking/run_transformer.py --seeds 1 --seed S --resume CKPT     # continue one seed's run
    python replications/grokking/run_transformer.py --report-only                        # re-read the seed folders

Each seed (initialisation and train split, as in the paper's code) is one run, written to DIR/seed_<s>/
(its own report, progress and Fourier figures); DIR/report.md holds every check over all seeds (a check
passes when every seed passes), the per-seed table with mean ± sd, and the seeds' curves in one figure.
--resume continues one earlier run from its last.ckpt to --epochs (weights, optimiser, scheduler and progress
snapshots restored: the result equals one uninterrupted run); a run that already got there is only re-analysed.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import warnings
from pathlib import Path

import torch

from mfnn.analysis.fourier import count_key_frequencies, frequency_power, significant_components, top_frequencies
from mfnn.analysis.phases import first_step_at_least
from mfnn.callbacks import ProgressMeasures
from mfnn.data.modular import all_pairs
from mfnn.experiment import (CONFIGS as ALL_CONFIGS, ROOT, ReplicationCLI, existing_file, fit, nonnegative_int,
                             positive_int, run_parts, staged_output)
from mfnn.plotting.grokking import fourier_figure, transformer_seeds_figure
from mfnn.report import Check, Report, every_seed, seed_check_table, spread

CONFIGS = ALL_CONFIGS / "grokking"
NANDA = "Nanda et al. 2023 (arXiv 2301.05217)"
PAPER_KEY_FREQS = [14, 35, 41, 42, 52]  # the paper's mainline model; its other seeds use 3-4 key frequencies each
PAPER_N_KEYS = (3, 5)  # fewest and most key frequencies over the paper's seeds
PAPER_PHASES = {"memorisation_end": 1400, "circuit_formation_end": 9400, "cleanup_end": 14000}
TINY = ["--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.d_model=16",
        "--model.init_args.n_heads=2", "--model.init_args.d_head=8", "--model.init_args.d_mlp=32",
        "--trainer.max_steps=60", "--data.init_args.steps_per_epoch=10",
        "--trainer.callbacks.init_args.every_n_steps=20", "--trainer.callbacks.init_args.n_key_freqs=2"]


def share_moving(h: dict, key: str, start: float, end: float, sign: int) -> float:
    """Fraction of snapshot-to-snapshot changes of h[key] in [start, end] with the given sign
    (nan if the window holds fewer than two snapshots)."""
    v = [x for s, x in zip(h["step"], h[key]) if not math.isnan(start) and start <= s <= end]
    if len(v) < 2:
        return math.nan
    return sum(sign * (b - a) > 0 for a, b in zip(v, v[1:])) / (len(v) - 1)


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("grokking_transformer", __doc__.splitlines()[0],
                         out=ROOT / "replications" / "grokking" / "transformer")
    cli.add_argument("--epochs", "--steps", dest="epochs", type=nonnegative_int, default=None,
                     help="full-batch steps (default: the config's 40000)")
    cli.add_argument("--seeds", type=positive_int, default=3,
                     help="number of seeds, from --seed (default 0) on (default 3)")
    cli.add_argument("--jobs", type=positive_int, default=None,
                     help="worker processes for the seeds (default: one per seed, at most one per core; 1 with --tiny)")
    cli.add_argument("--resume", type=existing_file, default=None,
                     help="last.ckpt of an earlier run of this script to continue (with --seeds 1 and its --seed)")
    cli.add_argument("--precision", choices=["32-true", "bf16-mixed"], default=None,
                     help="Lightning precision (default: the config's 32-true; bf16-mixed: autocast, the loss in float64)")
    cli.add_argument("--report-only", action="store_true",
                     help="no training: the all-seeds report from the seed_<s>/ folders already in --out")
    args = cli.parse(argv)
    first = 0 if args.seed is None else args.seed
    seeds = list(range(first, first + args.seeds))
    if args.resume and args.seeds != 1:
        cli.error("argument --resume: continues one run; give --seeds 1 and that run's --seed")
    if args.report_only:
        missing = [s for s in seeds if not (args.out / f"seed_{s}" / "metrics.json").exists()]
        if missing:
            cli.error(f"argument --report-only: no seed_<s>/metrics.json in {args.out} for seed(s) {missing}")
    start_step = 0
    if args.resume:
        try:
            start_step = int(torch.load(args.resume, map_location="cpu", weights_only=False)["global_step"])
        except Exception as err:  # noqa: BLE001 (any unreadable file: one line, not a traceback)
            cli.error(f"argument --resume: {args.resume} is not a readable Lightning checkpoint "
                      f"({type(err).__name__}: {err})")
    if not args.report_only:
        if not torch.cuda.is_available() and not args.tiny:
            warnings.warn("No GPU: running the Nanda transformer on CPU (nanda_transformer_cpu.yaml). The full 40k "
                          "epochs take about half an hour per seed (~0.05 s/epoch measured on one core); --epochs N gives "
                          "a shorter run, in which the late phases (circuit formation end ~9.4k, cleanup ~14k) are "
                          "not reached; --resume CKPT continues one seed later.", stacklevel=1)
        jobs = 1 if args.tiny else (args.jobs or min(len(seeds), os.cpu_count() or 1))
        run_parts(train_seed, [(s, args.epochs, str(args.resume) if args.resume else None, start_step, args.tiny,
                                args.precision, str(args.runs), str(args.out / f"seed_{s}")) for s in seeds], jobs)
    if len(seeds) > 1 or args.report_only:
        with staged_output(args.out) as out:
            report_seeds(args.out, seeds, out)
    else:
        print(f"the all-seeds report: {Path(sys.argv[0]).name} --report-only (with the seeds of {args.out})")
    return 0


def train_seed(seed: int, epochs: int | None, resume: str | None, start_step: int, tiny: bool, precision: str | None,
               runs: str, out: str, threads: int | None) -> None:
    """Train (or continue) one seed and write its report to `out` (a top-level function: workers import it)."""
    if threads:
        torch.set_num_threads(threads)
    gpu = torch.cuda.is_available()
    config = [CONFIGS / "nanda_transformer.yaml"] + ([] if gpu else [CONFIGS / "nanda_transformer_cpu.yaml"])
    # a seed draws both the initialisation and the train split, as in the paper's code
    extra = (list(TINY) if tiny else []) + [f"--seed_everything={seed}", f"--data.init_args.seed={seed}"]
    if epochs is not None:
        extra.append(f"--trainer.max_steps={epochs}")
    if resume:
        extra.append(f"--ckpt_path={resume}")
    if precision:
        extra.append(f"--trainer.precision={precision}")
    run = fit(config, *extra, runs=runs)
    with staged_output(Path(out)) as staging:
        analyse_and_report(run, staging, start_step, seed)


def analyse_and_report(run, out: Path, start_step: int, seed: int) -> None:
    cli, wall = run.cli, run.seconds
    model = cli.model.cpu()
    progress = run.callback(ProgressMeasures)
    if not progress.history:  # resumed a run that had already finished: Lightning skips training, analyse only
        progress.on_train_end(cli.trainer, cli.model)
    h, phases, key_freqs = progress.history, progress.phases, progress.key_freqs
    p, steps_run = model.p, int(cli.trainer.global_step)
    trained = steps_run - start_step  # epochs trained by this invocation
    s_per_step = wall / trained if trained > 0 else math.nan
    a, b, _ = all_pairs(p)
    with torch.no_grad():
        logits = model(a, b).double().reshape(p, p, p)  # [a, b, class]
        n_components, logit_norms = significant_components(logits)
        power = frequency_power(model.W_E[:p].detach(), dim=0).sum(0)  # (p//2 + 1,)
    n_keys = count_key_frequencies(power)  # frequencies holding >= 5% of W_E's Fourier power each
    counted = top_frequencies(power, n_keys)
    key_share = float(power[counted].sum() / power[1:].sum())

    # Circuit formation runs from memorisation to the test-loss drop; a short run sees only its start.
    circuit = (phases["memorisation_end"], min(phases["circuit_formation_end"], h["step"][-1])
               if not math.isnan(phases["circuit_formation_end"]) else h["step"][-1])
    report = Report("Grokking: Nanda et al.'s one-layer transformer on (a + b) mod p, progress measures")
    report.add(
        Check("memorisation ends (excluded loss at its minimum), epoch", phases["memorisation_end"], 1400, 0.5,
              kind="rel", source=NANDA + ": ~1.4k"),
        Check("excluded loss rises during circuit formation (share of snapshot steps up)",
              share_moving(h, "excluded_loss", *circuit, +1), 0.9, kind="min", source=NANDA + ", Fig. 7"),
        Check("restricted loss falls during circuit formation (share of snapshot steps down)",
              share_moving(h, "restricted_loss", *circuit, -1), 0.9, kind="min", source=NANDA + ", Fig. 7"),
        Check("sum of squared weights falls during circuit formation (share of snapshot steps down)",
              share_moving(h, "sum_sq_weights", *circuit, -1), 0.9, kind="min", source=NANDA + ", Fig. 7"),
        Check("circuit formation ends (test acc > 50%), epoch", phases["circuit_formation_end"],
              9400, 0.5, kind="rel", source=NANDA + ": ~9.4k"),
        Check("final test accuracy", h["test_acc"][-1], 0.99, kind="min",
              source=NANDA + ": ~100% by ~10k"),
        Check("cleanup ends (Gini of W_E at 95% of final), epoch", phases["cleanup_end"], 14000,
              0.5, kind="rel", source=NANDA + ": ~14k"),
        Check("number of key frequencies (each >= 5% of W_E's Fourier power)", n_keys,
              sum(PAPER_N_KEYS) / 2, (PAPER_N_KEYS[1] - PAPER_N_KEYS[0]) / 2,
              source=NANDA + ": 5 key frequencies in the mainline model, 3-4 in each of its other seeds"),
        Check("share of W_E's Fourier power in the counted key frequencies", key_share, 0.8, kind="min",
              source=NANDA + ": W_E sparse in the Fourier basis (a random embedding: ~n_keys / (p//2))"),
        Check("significant 2D Fourier components of the logits (>1% of the norm each) minus 4 x the counted key "
              "frequencies", n_components - 4 * n_keys, 0, 2,
              source=NANDA + ": logits ~ sum over key k of cos(w_k(a+b-c)), 4 product terms per k (20 for 5)"),
    )
    # epochs each paper value needs (the paper's phase timings): a FAIL of a shorter run says so
    required_epochs = [0, 2000, 2000, 2000, 10000, 10000, 20000, 14000, 14000, 14000]
    for check, epochs in zip(report.checks, required_epochs):
        if not check.passed and steps_run < epochs:
            check.name += f" [needs ~{epochs // 1000}k+ epochs; this run: {steps_run}]"
    device = str(cli.trainer.strategy.root_device)
    report.metrics = {"key_frequencies": key_freqs, "paper_key_frequencies": PAPER_KEY_FREQS, "phases": phases,
                      "paper_phases": PAPER_PHASES, "significant_logit_components": n_components,
                      "key_frequency_power_share": key_share, "n_key_frequencies": n_keys,
                      "key_frequencies_counted": counted, "final": {k: v[-1] for k, v in h.items()},
                      "train_acc_100_epoch": first_step_at_least(h["step"], h["train_acc"], 1.0),
                      "test_loss_peak_epoch": float(h["step"][max(range(len(h["step"])), key=h["test_loss"].__getitem__)]),
                      "steps": steps_run, "resumed_from_step": start_step, "wall_time_s": wall,
                      "s_per_step": s_per_step,
                      "seed": seed, "precision": str(cli.trainer.precision),
                      "device": device, "torch_threads": torch.get_num_threads(), "p": p}
    timing = (f"this invocation trained epochs {start_step}-{steps_run} in {wall:.0f} s ({s_per_step:.3f} s/epoch "
              f"including evaluation and progress measures)" if trained > 0
              else "this invocation re-analysed the finished run (no training)")
    report.sections.append(
        f"p={p}, {steps_run} full-batch epochs on {device} ({torch.get_num_threads()} thread(s)); {timing}. "
        f"Key frequencies counted from W_E's Fourier power (>= 5% each): **{n_keys}: {counted}** (the paper's "
        f"mainline run: 5, {PAPER_KEY_FREQS}; its other seeds 3-4; which ones is seed-dependent). "
        f"Phase boundaries (epochs): {phases}; "
        f"paper: {PAPER_PHASES}. Train accuracy first reaches 100% at epoch "
        f"{report.metrics['train_acc_100_epoch']:.0f}; the test loss peaks at epoch "
        f"{report.metrics['test_loss_peak_epoch']:.0f}. Restricted and excluded losses use the progress "
        f"callback's top {len(key_freqs)} final frequencies {key_freqs}. Circuit-formation trends are read over epochs {circuit[0]:.0f}-{circuit[1]:.0f}.")
    fig_src = Path(cli.trainer.log_dir) / "figures" / "progress.png"
    if fig_src.exists():
        shutil.copy(fig_src, out / "progress.png")
        report.figures.append(("Progress measures with the three phase boundaries", "progress.png"))
    fourier_figure(power, counted, logit_norms, out / "fourier.png")
    report.figures.append(("Fourier power of W_E (key frequencies in orange) and 2D Fourier norms of the logits",
                           "fourier.png"))
    (out / "progress.json").write_text(json.dumps({"key_freqs": key_freqs, "phases": phases, "history": h,
                                                   "W_E_power": power.tolist(), "key_frequencies_counted": counted},
                                                  default=float))
    report.write(out)
    print(f"key frequencies: {key_freqs}")


SEED_COLUMNS = [("n_key_frequencies", "key frequencies (count)"), ("key_frequencies_counted", "which"),
                ("key_frequency_power_share", "their share of W_E's power"),
                ("significant_logit_components", "logit components"), ("memorisation_end", "memorisation ends"),
                ("circuit_formation_end", "circuit formation ends"), ("cleanup_end", "cleanup ends"),
                ("final_test_acc", "final test acc")]  # no wall time: a re-analysed seed's run trained elsewhere


def report_seeds(src: Path, seeds: list[int], out: Path) -> None:
    """The all-seeds report from the seed folders in `src` (each written by `analyse_and_report`)."""
    metrics, per_seed, progress = {}, {}, {}
    for s in seeds:
        saved = json.loads((src / f"seed_{s}" / "metrics.json").read_text())
        metrics[s] = saved["metrics"]
        per_seed[s] = [Check(**{k: v for k, v in c.items() if k != "passed"}) for c in saved["checks"]]
        progress[s] = json.loads((src / f"seed_{s}" / "progress.json").read_text())
    steps = {m["steps"] for m in metrics.values()}
    report = Report(f"Grokking: Nanda et al.'s one-layer transformer on (a + b) mod p, progress measures, "
                    f"{len(seeds)} seeds")
    report.add(*every_seed(per_seed))
    row = lambda s: {**metrics[s], **metrics[s]["phases"], "final_test_acc": metrics[s]["final"]["test_acc"]}  # noqa: E731
    table = ["| seed | " + " | ".join(name for _, name in SEED_COLUMNS) + " |", "|---" * (len(SEED_COLUMNS) + 1) + "|"]
    table += ["| " + str(s) + " | " + " | ".join(fmt_value(row(s)[key]) for key, _ in SEED_COLUMNS) + " |" for s in seeds]
    table.append("| mean ± sd | " + " | ".join(spread([float(row(s)[key]) for s in seeds])
                                               if isinstance(row(seeds[0])[key], (int, float)) else "–"
                                               for key, _ in SEED_COLUMNS) + " |")
    counts = [metrics[s]["n_key_frequencies"] for s in seeds]
    report.sections += [
        f"Seeds {seeds} (each seed draws the initialisation and the 30% train split), "
        f"{'/'.join(str(x) for x in sorted(steps))} full-batch epochs each; one run per seed, in `seed_<s>/` "
        f"(its own report, progress and Fourier figures). **Pass rule: every seed passes**; the check table shows the "
        f"deciding seed (the one farthest outside, or closest to, the criterion).",
        "Per seed:\n\n" + "\n".join(table),
        f"Key frequencies: {counts} per seed (the paper: 5 in the mainline run, 3-4 in each of its other seeds; "
        f"which frequencies is seed-dependent: here {[metrics[s]['key_frequencies_counted'] for s in seeds]}). "
        f"Phase boundaries, mean ± sd over seeds (epochs): memorisation ends "
        f"{spread([metrics[s]['phases']['memorisation_end'] for s in seeds])} (paper ~1.4k), circuit formation ends "
        f"{spread([metrics[s]['phases']['circuit_formation_end'] for s in seeds])} (~9.4k), cleanup ends "
        f"{spread([metrics[s]['phases']['cleanup_end'] for s in seeds])} (~14k).",
        "Every check on every seed:\n\n" + seed_check_table(per_seed)]
    report.metrics = {"seeds": seeds, "per_seed": {str(s): metrics[s] for s in seeds},
                      "n_key_frequencies": counts,
                      "phases_mean": {k: sum(metrics[s]["phases"][k] for s in seeds) / len(seeds)
                                      for k in PAPER_PHASES}, "paper_phases": PAPER_PHASES}
    transformer_seeds_figure({s: progress[s]["history"] for s in seeds},
                             {s: torch.tensor(progress[s]["W_E_power"]) for s in seeds},
                             {s: progress[s]["key_frequencies_counted"] for s in seeds},
                             {s: progress[s]["phases"] for s in seeds}, out / "seeds.png")
    report.figures.append(("Every seed: train and test loss with the phase boundaries, excluded and restricted loss, "
                           "and W_E's Fourier power (counted key frequencies marked)", "seeds.png"))
    report.write(out)


def fmt_value(v) -> str:
    if isinstance(v, float):
        return "never" if math.isnan(v) else f"{v:.4g}"
    return str(v).replace("|", "\\|")


if __name__ == "__main__":
    sys.exit(main())
