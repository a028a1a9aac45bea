"""Mean-field self-consistency: does a fresh neuron trained alone against the background land in the
background's own neuron cloud? Mean-field vs lazy (NTK) two-layer HardTanh nets on continuous XOR.

    python replications/self_consistency/run.py [--out DIR] [--runs DIR] [--tiny]

Per regime (configs/self_consistency/{mean_field,lazy}.yaml): background seed 0 with ForegroundCheck
(2048 foreground neurons replaying the recorded background trajectory), background seed 1 as the
seed-to-seed reference. Distances: RBF-kernel MMD on particles (w1, w2, b, a), bandwidth = median
pairwise distance of the seed-0 background cloud (one kernel per regime). Then a short throughput
benchmark (bench/foreground.py: 2048 batched neurons vs a loop over 4, extrapolated).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from mfnn.analysis.clouds import (fourfold_order, median_bandwidth, mmd, particles, permutation_null,
                                  sliced_wasserstein, split_distance)
from mfnn.callbacks import ForegroundCheck, NeuronCloud
from mfnn.experiment import CONFIGS, ReplicationCLI, fit as fit_config, positive_int, staged_output
from mfnn.foreground.throughput import foreground_throughput
from mfnn.plotting.self_consistency import figures
from mfnn.report import Check, Report

REGIMES = ("mean_field", "lazy")
BAND = 2.0  # mean-field: FG-vs-BG distance <= BAND x seed-to-seed distance
OUTSIDE = 5.0  # lazy: distance >= OUTSIDE x seed-to-seed distance
LOSS_FACTOR = 1.5  # mean-field: FG loss <= LOSS_FACTOR x BG loss (and x the loss of 2048 neurons resampled from BG)
TINY = ["--trainer.max_steps=40", "--model.init_args.width=32", "--data.init_args.batch_size=64",
        "--data.init_args.val_size=128", "--trainer.check_val_every_n_epoch=1", "--data.init_args.steps_per_epoch=10"]


def fit(config: str, save_dir: Path, seed: int, extra: list[str], foreground: bool, fg_neurons: int | None):
    args = [f"--seed_everything={seed}", f"--data.init_args.seed={seed}", *extra]
    if not foreground:  # the seed-to-seed reference needs only the cloud
        args.append('--trainer.callbacks=[{"class_path": "mfnn.callbacks.NeuronCloud", '
                    '"init_args": {"every_n_steps": 500, "layer": 0}}]')
    elif fg_neurons:
        args.append(f"--trainer.callbacks.init_args.n_neurons={fg_neurons}")
    run = fit_config(config, *args, runs=save_dir)
    check = run.callback(ForegroundCheck) if foreground else None
    return run.cli, check, run.callback(NeuronCloud), run.seconds


def analyse(regime: str, config: str, save_dir: Path, extra: list[str], fg_neurons: int | None,
            seed: int = 0) -> dict:
    cli0, check, clouds0, t0 = fit(config, save_dir, seed, extra, True, fg_neurons)
    cli1, _, _, t1 = fit(config, save_dir, seed + 1, extra, False, fg_neurons)
    net0, net1 = cli0.model.net, cli1.model.net
    bg0, bg1 = particles(net0.neurons(0)).cpu(), particles(net1.neurons(0)).cpu()
    init0 = torch.cat([clouds0.snapshots[0][k].reshape(len(bg0), -1) for k in ("W", "b", "a")], 1)
    sigma = median_bandwidth(bg0)
    dist = lambda u, v: mmd(u, v, sigma)  # noqa: E731
    res = {
        "config": config, "bandwidth": sigma, "seconds_fg": sum(fg.seconds for fg in check.foregrounds[0].values()),
        "seconds_total": t0 + t1,
        "mmd_seed": dist(bg0, bg1), "sw_seed": sliced_wasserstein(bg0, bg1),
        "mmd_perm_mean": float(permutation_null(bg0, bg1, dist, n_perm=10).mean()),
        "mmd_moved": dist(init0, bg0),  # how far training moved the background from its initial cloud
        "fourfold_bg": fourfold_order(bg0[:, :2]), "fourfold_init": fourfold_order(init0[:, :2]),
        "bg_val_mse": float(cli0.trainer.callback_metrics["val/mse"]), "probes": {},
        "clouds": {"bg": bg0, "init": init0},
    }
    for probe, fg in check.foregrounds[0].items():
        m = dict(check.metrics[0][probe])
        fgc = particles(fg.neurons()).cpu()
        m.update(mmd=split_distance(fgc, bg0, dist), sw=split_distance(fgc, bg0, sliced_wasserstein),
                 fourfold=fourfold_order(fgc[:, :2]), seconds=fg.seconds)
        res["probes"][probe] = m
        res["clouds"][probe] = fgc
    print(f"[{regime}] seed-to-seed MMD {res['mmd_seed']:.4g}, moved {res['mmd_moved']:.4g}, "
          + ", ".join(f"{p}: MMD {m['mmd']:.4g} fg_loss {m['fg_loss']:.3g} bg_loss {m['bg_loss']:.3g}"
                      for p, m in res["probes"].items()), flush=True)
    return res


def checks(report: Report, mf: dict, lz: dict) -> None:
    mfs, lzs, lzm = mf["probes"]["same"], lz["probes"]["same"], lz["probes"].get("mean_field")
    src = "mean-field self-consistency"
    M = len(mf["clouds"]["same"])
    report.add(
        Check("mean-field: cloud moved from init (MMD / seed-to-seed)", mf["mmd_moved"] / mf["mmd_seed"], 5.0,
              kind="min", source="shaped cloud, not the init blob"),
        Check("mean-field: four-lobed order E[cos 4θ] of the BG cloud", mf["fourfold_bg"], -0.3, kind="max",
              source="clover-leaf on the diagonals"),
        Check("mean-field: MMD(FG, BG) / MMD(seed 0, seed 1)", mfs["mmd"] / mf["mmd_seed"], BAND, kind="max",
              source=f"{src}: within the seed-to-seed band (<= {BAND}x)"),
        Check("mean-field: FG network loss / BG loss (held-out MSE)", mfs["fg_loss"] / mfs["bg_loss"], LOSS_FACTOR,
              kind="max", source=f"{src}: FG loss within a stated factor ({LOSS_FACTOR}x) of the BG's"),
        Check(f"mean-field: FG loss / loss of {M} neurons resampled from BG", mfs["fg_loss"] / mfs["resampled_loss"],
              LOSS_FACTOR, kind="max", source=f"FG = as good as {M} i.i.d. draws of the BG law"),
        Check("mean-field: FG network R^2 on held-out data", 1 - mfs["fg_loss"] / mfs["target_var"], 0.9, kind="min",
              source="FG network computes the BG's function"),
        Check("lazy: four-lobed order |E[cos 4θ]| of the BG cloud", abs(lz["fourfold_bg"]), 0.1, kind="max",
              source="lazy: no shaped cloud"),
        Check("lazy: FG loss / BG loss (NTK foreground)", lzs["fg_loss"] / lzs["bg_loss"], 10.0, kind="min",
              source=f"{src}: lazy foreground fails"),
    )
    if lzm is not None:
        report.add(Check("lazy: MMD(mean-field probe FG, BG) / MMD(seed 0, seed 1)", lzm["mmd"] / lz["mmd_seed"],
                         OUTSIDE, kind="min", source=f"{src}: lazy distance clearly outside (>= {OUTSIDE}x)"))


def measurements(mf: dict, lz: dict) -> str:
    M = len(mf["clouds"]["same"])
    rows = ["| quantity | mean-field | lazy (NTK) |", "|---|---|---|"]
    def row(name, f):  # noqa: E306
        rows.append(f"| {name} | {f(mf)} | {f(lz)} |")
    row("kernel bandwidth σ (median pairwise distance of BG cloud)", lambda r: f"{r['bandwidth']:.3f}")
    row("MMD seed 0 vs seed 1 (reference)", lambda r: f"{r['mmd_seed']:.4f}")
    row("MMD permutation null (pooled BGs, mean of 10)", lambda r: f"{r['mmd_perm_mean']:.4f}")
    row("MMD BG init vs BG trained", lambda r: f"{r['mmd_moved']:.4f}")
    row("MMD FG (same parameterisation) vs BG", lambda r: f"{r['probes']['same']['mmd']:.4f}")
    row("MMD FG (mean-field probe) vs BG", lambda r: f"{r['probes']['mean_field']['mmd']:.4f}"
        if "mean_field" in r["probes"] else "= row above")
    row("sliced W2 seed vs seed / FG vs BG", lambda r: f"{r['sw_seed']:.3f} / {r['probes']['same']['sw']:.3f}")
    row("E[cos 4θ]: init / BG / FG", lambda r: f"{r['fourfold_init']:.2f} / {r['fourfold_bg']:.2f} / "
        f"{r['probes']['same']['fourfold']:.2f}")
    row("held-out MSE: BG", lambda r: f"{r['probes']['same']['bg_loss']:.3g}")
    row(f"held-out MSE: FG network ({M} neurons)", lambda r: f"{r['probes']['same']['fg_loss']:.3g}")
    row(f"held-out MSE: {M} neurons resampled from BG", lambda r: f"{r['probes']['same']['resampled_loss']:.3g}")
    row("target variance", lambda r: f"{r['probes']['same']['target_var']:.3g}")
    row("FG training throughput (neuron-steps/s)", lambda r: f"{r['probes']['same']['fg_neurons_per_s']:.3g}")
    row("MMD ratio FG / seed-to-seed (same; mean-field probe)", lambda r: " ; ".join(
        f"{m['mmd'] / r['mmd_seed']:.2f}" for m in r["probes"].values()))
    row("wall time: 2 BG fits + FG (s); of which FG training (s)",
        lambda r: f"{r['seconds_total']:.0f}; {r['seconds_fg']:.0f}")
    return "## Measurements\n\n" + "\n".join(rows)


def throughput_section(tiny: bool) -> tuple[str, dict]:
    bench = foreground_throughput(neurons=2048 if not tiny else 64, loop=4 if not tiny else 2,
                                  steps=30 if not tiny else 3)
    return (
        "## Foreground throughput (bench/foreground.py)\n\n"
        f"{bench['neurons']} neurons as one batched program vs a Python loop over {bench['loop_neurons']} single "
        f"neurons, background N={bench['width']}, batch {bench['batch']}, {bench['steps']} steps, {bench['device']}, "
        f"{bench['threads']} thread(s): batched {max(bench['batched'].values()):.3g} neuron-steps/s, loop "
        f"{bench['loop_rate']:.3g} neuron-steps/s ({bench['speedup']:.0f}x). A loop over all {bench['neurons']} "
        f"neurons would take {bench['loop_extrapolated_s'] / bench['steps']:.2f} s per step "
        f"(extrapolated) against {bench['batched_s'] / bench['steps']:.3f} s batched."), bench


def main(argv=None) -> int:
    cli = ReplicationCLI("self_consistency", __doc__, threads=1)  # tiny ops: one thread is fastest
    cli.add_argument("--width", type=positive_int, default=None, help="background width N (config: 1024)")
    cli.add_argument("--steps", type=positive_int, default=None, help="training steps (config: 2000)")
    cli.add_argument("--neurons", type=positive_int, default=None, help="foreground neurons M (config: 2048)")
    args = cli.parse(argv)
    start = time.perf_counter()
    extra = list(TINY) if args.tiny else []
    extra += [f"--model.init_args.width={args.width}"] if args.width else []
    extra += [f"--trainer.max_steps={args.steps}"] if args.steps else []
    fg_neurons = args.neurons or (64 if args.tiny else None)
    seed = args.seed or 0
    results = {regime: analyse(regime, str(CONFIGS / "self_consistency" / f"{regime}.yaml"), args.runs, extra,
                               fg_neurons, seed) for regime in REGIMES}
    report = Report("Mean-field self-consistency: foreground neurons vs the background cloud")
    checks(report, results["mean_field"], results["lazy"])
    report.sections.append(measurements(results["mean_field"], results["lazy"]))
    section, bench = throughput_section(args.tiny)
    report.sections.append(section)
    total = time.perf_counter() - start
    report.sections.append(f"Total wall time {total:.0f} s ({'tiny' if args.tiny else 'full'} run, "
                           f"torch threads {torch.get_num_threads()}).")
    with staged_output(args.out) as out:
        report.figures = figures(results, out)
        report.metrics = {r: {k: v for k, v in res.items() if k != "clouds"} for r, res in results.items()}
        report.metrics["seconds"] = total
        report.metrics["throughput"] = bench
        report.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
