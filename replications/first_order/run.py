"""First-order (droplet) transition of a Bayesian two-layer erf network on a cubic teacher
(Rubin, Seroussi & Ringel, ICLR 2024, arXiv 2310.03789).

One batched Langevin run samples every noise variance sigma^2 x several chains at once
(configs/first_order/rubin_cpu.yaml, a scaled-down setting with the paper's u and g); PosteriorAverage collects
posterior means after burn-in. The report locates the sigma^2 below which droplets of specialised neurons
(a separate mode of the |cos(w, w*)| cloud) appear, checks it against the paper's sigma^2_c ~ 0.18, and the
kink of the test error there.

    python replications/first_order/run.py [--out DIR] [--config YAML] [--tiny]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from mfnn.analysis.first_order import (bin_centres, droplet_mode, invariants, onset, single_neuron_theory,
                                       slopes_around)
from mfnn.callbacks import PosteriorAverage
from mfnn.experiment import CONFIGS, ReplicationCLI, existing_file, fit, staged_output
from mfnn.models.teacher_student import teacher_overlaps
from mfnn.plotting.first_order import cloud_figure, sweep_figure
from mfnn.report import Check, Report

CONFIG = CONFIGS / "first_order" / "rubin_cpu.yaml"
TINY_CONFIG = CONFIGS / "first_order" / "rubin_tiny.yaml"
PAPER = "Rubin, Seroussi & Ringel 2024 (arXiv 2310.03789)"
PAPER_SIGMA2_C, WINDOW = 0.18, 0.20  # transition near sigma^2 ~ 0.18 (u ~ 30.2); accepted within +-20%
PAPER_SETTING = {"d": 150, "n": 3000, "N": 700, "sigma_a2": 8 / 700, "sigma_w2": 0.5}


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("first_order", __doc__.splitlines()[0])
    cli.add_argument("--config", type=existing_file, nargs="+", default=None,
                     help="sweep config(s), composed in order (default: rubin_cpu.yaml, + rubin_tiny.yaml with "
                          "--tiny; the paper's setting: rubin_cpu.yaml rubin_gpu.yaml)")
    args, extra = cli.parse(argv, known_only=True)  # the rest goes to the CLI, e.g. --trainer.max_steps=100
    config = args.config or ([CONFIG, TINY_CONFIG] if args.tiny else [CONFIG])
    extra += [f"--seed_everything={args.seed}"] if args.seed is not None else []
    t0 = time.time()
    run = fit(config, *extra, runs=args.runs)
    with staged_output(args.out) as out:
        analyse_and_report(run, out, t0)
    return 0


def analyse_and_report(run, out: Path, t0: float) -> None:
    cli, t_fit = run.cli, run.seconds
    model, dm = cli.model, cli.datamodule
    post = run.callback(PosteriorAverage)
    if post.count == 0:
        raise RuntimeError("PosteriorAverage collected no samples: max_steps must exceed burn_in")
    hp = model.hparams
    s2 = list(map(float, hp.noise_vars))
    P, k, d, N, n = len(s2), hp.chains_per_point, hp.input_dim, hp.width, dm.train_size
    thr = hp.specialised_cos

    # ---- posterior means per chain, grouped (points, chains) ----------------------------------
    mean = post.mean
    y_val = dm.splits["val"][1].cpu()
    test_err = (mean["val_pred"] - y_val).square().mean(-1)  # error of the posterior-mean predictor, (C,)
    hists = mean["cos_hist"].double().numpy().reshape(P, k, -1)
    pooled = hists.mean(1)  # (P, bins): the posterior cloud at each sigma^2, chains pooled
    centres = bin_centres(pooled.shape[1])
    per_chain = {"frac_specialised": mean["frac_specialised"].double().numpy().reshape(P, k),
                 "overlap": mean["overlap"].double().numpy().reshape(P, k),
                 "test_error": test_err.double().numpy().reshape(P, k)}
    drops = [droplet_mode(h) for h in pooled]
    bulk_cut = [dr["dip_cos"] if dr["present"] else 1.0 for dr in drops]
    per_chain["bulk_alignment"] = np.stack([
        (hists[i][:, centres <= bulk_cut[i]] * centres[centres <= bulk_cut[i]]).sum(-1)
        / hists[i][:, centres <= bulk_cut[i]].sum(-1) for i in range(P)])
    present = [dr["present"] for dr in drops]
    trans = onset(s2, present)
    s2c = trans["sigma2_c"]
    err_mean = per_chain["test_error"].mean(1)
    kink = slopes_around(s2, err_mean, s2c if not np.isnan(s2c) else PAPER_SIGMA2_C)
    order = np.argsort(s2)
    at_onset = drops[s2.index(trans["last_with"])] if present and any(present) else None

    # ---- the same problem in the single-neuron mean-field theory, at this d ---------------------
    theory = single_neuron_theory(sorted(s2), d, n, N, hp.sigma_a2, hp.sigma_w2, specialised_cos=thr,
                                  bins=pooled.shape[1])
    th_present = [t["droplet"]["present"] for t in theory]
    th_onset = onset([t["sigma2"] for t in theory], th_present)
    inv, inv_paper = invariants(d, n, N, hp.sigma_a2), invariants(**{k_: PAPER_SETTING[k_] for k_ in ("d", "n", "N", "sigma_a2")})

    # ---- checks --------------------------------------------------------------------------------
    report = Report("First-order transition: droplets of specialised neurons in a Bayesian erf network (cubic teacher)")
    report.add(
        Check("droplet mode (bimodal |cos| cloud) at the smallest sigma^2", bool(present[order[0]]), True, kind="true",
              source=PAPER + ": mixed phase below sigma^2_c"),
        Check("no droplet mode at the largest sigma^2", not present[order[-1]], True, kind="true",
              source=PAPER + ": GP-like phase above sigma^2_c"),
        Check("droplets switch on once as sigma^2 decreases (present below, absent above)", trans["clean"], True,
              kind="true", source=PAPER),
        Check("sigma^2_c: droplet onset (midpoint of the switch)", s2c, PAPER_SIGMA2_C, WINDOW, kind="rel",
              source=PAPER + ": transition near sigma^2 = 0.18 (u = 30.2); same u, g here so same sigma^2_c"),
        Check("discontinuous jump: mean |cos| of droplet neurons at onset", at_onset["alignment"] if at_onset else float("nan"),
              0.6, kind="min", source=PAPER + ": droplets carry a finite alignment, not a small continuous one"),
        Check("test-error kink: slope below sigma^2_c / slope above", kink["ratio"], 1.5, kind="min",
              source=PAPER + ": kink in the test error at the transition"),
    )
    report.metrics.update({
        "setting": {"d": d, "n": n, "N": N, "sigma_a2": hp.sigma_a2, "sigma_w2": hp.sigma_w2, "noise_vars": s2,
                    "chains_per_point": k, "steps": int(cli.trainer.global_step), "burn_in": post.burn_in,
                    "sample_every": post.every, "samples_per_chain": post.count, "specialised_cos": thr,
                    "invariants": inv, "paper_invariants": inv_paper, "paper_setting": PAPER_SETTING},
        "per_point": [{"sigma2": s2[i], "u": inv["u_sigma4"] / s2[i] ** 2, "g": inv["g_sigma2"] / s2[i],
                       "test_error_chains": per_chain["test_error"][i].tolist(),
                       "frac_specialised_chains": per_chain["frac_specialised"][i].tolist(),
                       "overlap_chains": per_chain["overlap"][i].tolist(),
                       "bulk_alignment": float(per_chain["bulk_alignment"][i].mean()),
                       "droplet": drops[i]} for i in range(P)],
        "transition": trans, "test_error_slopes": kink,
        "theory": {"onset": th_onset, "per_point": [{k_: v for k_, v in t.items() if k_ != "cos_hist"} for t in theory]},
    })

    # ---- figures -------------------------------------------------------------------------------
    srt = [s2[i] for i in order]
    sweep_figure(srt, {key: v[order] for key, v in per_chain.items()}, [drops[i]["alignment"] for i in order],
                 theory, s2c, PAPER_SIGMA2_C, WINDOW, out / "sweep.png")
    # clouds: deep in the mixed phase, either side of the measured switch, deep in the GP-like phase
    below = [i for i in order if present[i]]
    above = [i for i in order if not present[i]]
    picks = list(dict.fromkeys([order[0], *(below[-1:]), *(above[:1]), order[-1]]))
    W, a = model.W.detach().cpu(), model.a.detach().cpu()
    clouds = []
    for i in picks:
        _, cos = teacher_overlaps(W[i * k], model.w_star.cpu())
        clouds.append({"cos": cos.numpy(), "a": (N * a[i * k]).numpy(), "threshold": thr})
    cloud_figure(s2, pooled, picks, clouds, theory, out / "clouds.png")
    report.figures += [
        ("Order parameters and test error vs noise variance: chains (dots), their mean, the single-neuron theory at "
         "the same d (green), the paper's sigma^2_c with the +-20% window (grey) and the measured onset (red)",
         "sweep.png"),
        ("Neuron clouds on both sides of the transition: posterior |cos(w, w*)| histograms (top, log scale) and one "
         "chain's neurons at the last step (bottom)", "clouds.png")]

    # ---- prose ---------------------------------------------------------------------------------
    rows = "\n".join(
        f"| {s2[i]:.3f} | {inv['u_sigma4'] / s2[i] ** 2:.1f} | {per_chain['test_error'][i].mean():.3f} | "
        f"{per_chain['frac_specialised'][i].mean():.4f} | {per_chain['overlap'][i].mean():.3f} | "
        f"{'yes' if drops[i]['present'] else 'no'} | {drops[i]['mass']:.4f} | {drops[i]['alignment']:.2f} | "
        f"{drops[i]['contrast']:.1f} | {theory[list(order).index(i)]['test_error']:.3f} |" for i in order)
    wall = time.time() - t0
    report.sections += [
        f"**Setting.** d={d}, n={n}, N={N}, sigma_w^2={hp.sigma_w2}, sigma_a^2={hp.sigma_a2:.5g} (prior variance of a_i "
        f"is sigma_a^2/N), teacher y = He1(w*.x) - 0.3 He3(w*.x), {P} noise variances x {k} chains = {model.chains} "
        f"chains in one batched Langevin run of {int(cli.trainer.global_step)} full-batch steps; posterior averages "
        f"over {post.count} samples per chain (every {post.every} steps after a burn-in of {post.burn_in}). "
        f"u*sigma^4 = {inv['u_sigma4']:.4f} (paper {inv_paper['u_sigma4']:.4f}), g*sigma^2 = {inv['g_sigma2']:.4f} "
        f"(paper {inv_paper['g_sigma2']:.4f}): u = {inv['u_sigma4'] / 0.18**2:.1f} at sigma^2 = 0.18.",
        f"**Transition.** Droplet mode (a second mode of the |cos(w, w*)| histogram at >= 0.5, >= 2x above the gap) "
        f"present up to sigma^2 = {trans['last_with']:g}, absent from {trans['first_without']:g}: measured "
        f"sigma^2_c = {s2c:.3g} (paper {PAPER_SIGMA2_C}). Single-neuron theory at the same d: droplet mode up to "
        f"{th_onset['last_with']:g} (sigma^2_c = {th_onset['sigma2_c']:.3g} on this grid). Test-error slope "
        f"{kink['below']:.2f} below vs {kink['above']:.2f} above.",
        "| sigma^2 | u | test MSE | frac(abs cos > %.2g) | mean abs(w.w*) | droplets | droplet mass | droplet abs cos "
        "| peak/gap | theory test MSE |\n|---|---|---|---|---|---|---|---|---|---|\n" % thr + rows,
        f"Wall time: {wall:.0f} s ({t_fit:.0f} s sampling) with {torch.get_num_threads()} torch thread(s).",
    ]
    report.metrics["wall_time_s"] = {"fit": t_fit, "total": wall, "torch_threads": torch.get_num_threads()}
    report.write(out)


if __name__ == "__main__":
    sys.exit(main())
