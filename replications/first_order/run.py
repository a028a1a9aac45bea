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

from mfnn.analysis.first_order import (bin_centres, binder_of_hist, droplet_mode, gaussian_cloud_hist,
                                       hermite_components, invariants, locate_break, onset, single_neuron_theory,
                                       smooth_placebo)
from mfnn.callbacks import PosteriorAverage
from mfnn.experiment import CONFIGS, ReplicationCLI, existing_file, fit, staged_output
from mfnn.models.teacher_student import teacher_overlaps
from mfnn.plotting.first_order import cloud_figure, sweep_figure
from mfnn.report import Check, Report

CONFIG = CONFIGS / "first_order" / "rubin_cpu.yaml"
TINY_CONFIG = CONFIGS / "first_order" / "rubin_tiny.yaml"
PAPER = "Rubin, Seroussi & Ringel 2024 (arXiv 2310.03789)"
PAPER_SIGMA2_C, WINDOW = 0.18, 0.20  # transition near sigma^2 ~ 0.18 (u ~ 30.2); accepted within +-20%
ALPHA = 0.05  # a kink counts when a smooth curve with the measured noise produces its size in < 5% of draws
U_COEXIST = -1.0  # a Gaussian cloud has U = 0 +- ~0.1 (350 neurons); one neuron in 500 at |cos| 0.8 gives U ~ -4
U_GAUSS = -0.5  # ... so a GP-like cloud stays above -0.5 (~5 sampling spreads)
PAPER_SETTING = {"d": 150, "n": 3000, "N": 700, "sigma_a2": 8 / 700, "sigma_w2": 0.5}


SEEDS = (0, 1, 2)  # data set + initial weights + Langevin noise: every headline number is read over these


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("first_order", __doc__.splitlines()[0])
    cli.add_argument("--config", type=existing_file, nargs="+", default=None,
                     help="sweep config(s), composed in order (default: rubin_cpu.yaml, + rubin_tiny.yaml with "
                          "--tiny; the paper's setting: rubin_cpu.yaml rubin_gpu.yaml)")
    cli.add_argument("--seeds", type=int, nargs="+", default=None,
                     help=f"seeds, each a new training set, initialisation and noise (default {' '.join(map(str, SEEDS))}; "
                          "--seed S runs S alone)")
    cli.add_argument("--samples", type=existing_file, nargs="+", default=None,
                     help="re-analyse saved per-seed samples (runs/first_order/samples_seed*.npz) instead of sampling")
    args, extra = cli.parse(argv, known_only=True)  # the rest goes to the CLI, e.g. --trainer.max_steps=100
    config = args.config or ([CONFIG, TINY_CONFIG] if args.tiny else [CONFIG])
    seeds = args.seeds if args.seeds is not None else ([args.seed] if args.seed is not None else
                                                     list(SEEDS[:2] if args.tiny else SEEDS))  # tiny: 2 keep it fast
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        cli.error(f"argument --seeds: distinct non-negative integers expected (got {seeds})")
    t0 = time.time()
    if args.samples:
        samples = [dict(np.load(p, allow_pickle=False)) for p in args.samples]
    else:
        samples = []
        for s in seeds:
            run = fit(config, *extra, f"--seed_everything={s}", f"--data.init_args.seed={s}", runs=args.runs)
            samples.append(collect(run, s))
            args.runs.mkdir(parents=True, exist_ok=True)
            np.savez(args.runs / f"samples_seed{s}.npz", **samples[-1])  # re-analyse later with --samples
            print(f"[seed {s}] {samples[-1]['seconds']:.0f} s", flush=True)
    with staged_output(args.out) as out:
        analyse_and_report(samples, out, t0)
    return 0


def collect(run, seed: int) -> dict[str, np.ndarray]:
    """Everything the analysis reads from one seed's sweep, as arrays (points P, chains k, neurons N)."""
    cli, model, dm = run.cli, run.cli.model, run.cli.datamodule
    post = run.callback(PosteriorAverage)
    if post.count == 0:
        raise RuntimeError("PosteriorAverage collected no samples: max_steps must exceed burn_in")
    hp = model.hparams
    s2 = np.asarray(list(map(float, hp.noise_vars)))
    P, k, N = len(s2), hp.chains_per_point, hp.width
    mean = post.mean
    x_val, y_val = (t.cpu() for t in dm.splits["val"])
    pred = mean["val_pred"].double().numpy()  # (C, B): posterior-mean predictor of every chain
    herm = hermite_components(pred, (x_val @ model.w_star.cpu()).double().numpy())
    _, cos = teacher_overlaps(model.W.detach().cpu(), model.w_star.cpu())
    grid = lambda v: np.asarray(v, float).reshape(P, k)  # noqa: E731
    return {
        "seed": np.int64(seed), "noise_vars": s2, "hists": mean["cos_hist"].double().numpy().reshape(P, k, -1),
        "test_error": grid(((pred - y_val.double().numpy()) ** 2).mean(-1)),
        "frac_specialised": grid(mean["frac_specialised"].double().numpy()),
        "overlap": grid(mean["overlap"].double().numpy()),
        "c1": grid(herm["c1"]), "c3": grid(herm["c3"]), "rest": grid(herm["rest"]),
        "final_cos": cos.double().numpy().reshape(P, k, N), "final_Na": (N * model.a.detach().cpu()).double().numpy().reshape(P, k, N),
        "d": np.int64(hp.input_dim), "N": np.int64(N), "n": np.int64(dm.train_size), "sigma_a2": np.float64(hp.sigma_a2),
        "sigma_w2": np.float64(hp.sigma_w2), "specialised_cos": np.float64(hp.specialised_cos),
        "steps": np.int64(cli.trainer.global_step), "burn_in": np.int64(post.burn_in), "every": np.int64(post.every),
        "count": np.int64(post.count), "seconds": np.float64(run.seconds), "var_y": np.float64(y_val.var()),
        "threads": np.int64(torch.get_num_threads()),
    }


def analyse_and_report(samples: list[dict], out: Path, t0: float) -> None:
    first = samples[0]
    s2 = [float(v) for v in first["noise_vars"]]
    if any(list(map(float, sm["noise_vars"])) != s2 for sm in samples):
        raise ValueError("every seed must sweep the same noise variances")
    if s2 != sorted(s2):
        raise ValueError("noise_vars must be increasing")
    S, P, k = len(samples), len(s2), first["test_error"].shape[1]
    d, N, n = int(first["d"]), int(first["N"]), int(first["n"])
    sigma_a2, sigma_w2, thr = float(first["sigma_a2"]), float(first["sigma_w2"]), float(first["specialised_cos"])
    seeds = [int(sm["seed"]) for sm in samples]
    # (seeds, chains, points): the layout locate_break bootstraps over (data sets, then chains within one)
    grid = {key: np.stack([sm[key].T for sm in samples]) for key in ("c1", "c3", "test_error", "rest",
                                                                     "frac_specialised", "overlap")}
    pooled = np.stack([sm["hists"].mean(1) for sm in samples])  # (S, P, bins): each seed's cloud, chains pooled

    # ---- droplets (second view, per seed) and the coexistence cumulant ----------------------------
    drops = [[droplet_mode(h) for h in pooled[s]] for s in range(S)]
    onsets = [onset(s2, [dr["present"] for dr in drops[s]]) for s in range(S)]
    drop_c = np.array([o["sigma2_c"] for o in onsets])
    U = np.array([[binder_of_hist(h) for h in pooled[s]] for s in range(S)])  # (S, P)
    rng = np.random.default_rng(0)
    m2_low = float((pooled[:, 0] * bin_centres(pooled.shape[-1]) ** 2).sum(-1).mean())
    U_placebo = [binder_of_hist(gaussian_cloud_hist(m2_low, k * N, pooled.shape[-1], rng)) for _ in range(20)]

    # ---- the paper's observable: the cubic component of the posterior-mean output ------------------
    cubic = locate_break(s2, grid["c3"], seed=0)
    cubic_placebo = locate_break(s2, smooth_placebo(s2, grid["c3"]), seed=1)
    err = locate_break(s2, grid["test_error"], seed=2)
    err_placebo = locate_break(s2, smooth_placebo(s2, grid["test_error"]), seed=3)

    theory = single_neuron_theory(s2, d, n, N, sigma_a2, sigma_w2, specialised_cos=thr, bins=pooled.shape[-1])
    th_onset = onset(s2, [t["droplet"]["present"] for t in theory])
    inv, inv_paper = invariants(d, n, N, sigma_a2), invariants(**{k_: PAPER_SETTING[k_] for k_ in ("d", "n", "N", "sigma_a2")})
    finite = drop_c[np.isfinite(drop_c)]
    drop_mean = float(finite.mean()) if len(finite) == S else float("nan")

    # ---- checks --------------------------------------------------------------------------------
    report = Report("First-order transition: droplets of specialised neurons in a Bayesian erf network (cubic teacher)")
    seeds_txt = f"{S} seeds"
    report.add(
        Check(f"sigma^2_c: break of the cubic component c3(sigma^2), two-segment fit, {seeds_txt} x {k} chains",
              cubic["break"] if cubic["p_smooth"] <= ALPHA else float("nan"), PAPER_SIGMA2_C, WINDOW, kind="rel",
              source=PAPER + ": the cubic component of the mean output starts moving to the teacher's -0.3 below 0.18"),
        Check("sigma^2_c resolved: half-width of its 95% bootstrap interval (data sets, then chains)",
              cubic["half_width"], round(WINDOW * PAPER_SIGMA2_C, 4), kind="max",
              source="an error bar wider than the tolerance cannot confirm or refute the paper's value"),
        Check("cubic-component kink is significant: p against a smooth (quadratic) curve", cubic["p_smooth"], ALPHA,
              kind="max", source=PAPER + ": a sharp transition, not a smooth crossover"),
        Check("placebo: the same noise on a smooth curve gives no significant kink (p)", cubic_placebo["p_smooth"],
              ALPHA, kind="min", source="the kink test must fail where there is no kink"),
        Check("droplet onset (second view): mean over seeds of the midpoint of the switch", drop_mean,
              PAPER_SIGMA2_C, WINDOW, kind="rel", source=PAPER + ": droplets appear below sigma^2_c ~ 0.18"),
        Check("droplet mode at the smallest sigma^2, every seed", all(dr[0]["present"] for dr in drops), True,
              kind="true", source=PAPER + ": mixed phase below sigma^2_c"),
        Check("no droplet mode at the largest sigma^2, every seed", not any(dr[-1]["present"] for dr in drops), True,
              kind="true", source=PAPER + ": GP-like phase above sigma^2_c"),
        Check("droplets switch on once as sigma^2 decreases, every seed", all(o["clean"] for o in onsets), True,
              kind="true", source=PAPER),
        Check("coexistence: cumulant U of the neuron overlaps at the smallest sigma^2, largest over seeds",
              float(U[:, 0].max()), U_COEXIST, kind="max",
              source=PAPER + ": a Gaussian bulk plus droplets at finite alignment (U << 0), not a widened bulk"),
        Check("no coexistence at the largest sigma^2: U, smallest over seeds", float(U[:, -1].min()), U_GAUSS,
              kind="min", source=PAPER + ": a single Gaussian saddle above sigma^2_c (U ~ 0)"),
        Check("placebo: a Gaussian cloud as wide as the smallest-sigma^2 cloud, U (lowest of 20 draws)",
              float(min(U_placebo)), U_COEXIST, kind="min", source="the coexistence check must fail on a cloud that only widens"),
        Check("test-error kink is significant: p against a smooth (quadratic) curve", err["p_smooth"], ALPHA, kind="max",
              source=PAPER + ": kink in the test error at the transition"),
        Check("placebo: test errors on a smooth curve with the same noise give no significant kink (p)",
              err_placebo["p_smooth"], ALPHA, kind="min", source="the kink test must fail where there is no kink"),
        Check("test-error break (two-segment fit; only read when the kink is significant)",
              err["break"] if err["p_smooth"] <= ALPHA else float("nan"), PAPER_SIGMA2_C, WINDOW, kind="rel",
              source=PAPER + ": the test error bends at sigma^2_c"),
    )
    per_seed_rows = []
    for s in range(S):
        per_seed_rows.append({"seed": seeds[s], "cubic_break": cubic["per_seed"][s], "test_error_break": err["per_seed"][s],
                              "droplet_onset": float(drop_c[s]), "droplet_clean": onsets[s]["clean"],
                              "U_smallest": float(U[s, 0]), "U_largest": float(U[s, -1]),
                              "test_error_mean": float(grid["test_error"][s].mean())})
    report.metrics.update({
        "setting": {"d": d, "n": n, "N": N, "sigma_a2": sigma_a2, "sigma_w2": sigma_w2, "noise_vars": s2, "seeds": seeds,
                    "chains_per_point": k, "steps": int(first["steps"]), "burn_in": int(first["burn_in"]),
                    "sample_every": int(first["every"]), "samples_per_chain": int(first["count"]),
                    "specialised_cos": thr, "invariants": inv, "paper_invariants": inv_paper, "paper_setting": PAPER_SETTING},
        "per_seed": per_seed_rows,
        "per_point": [{"sigma2": s2[i], "u": inv["u_sigma4"] / s2[i] ** 2, "g": inv["g_sigma2"] / s2[i],
                       **{f"{key}_seed_chain": grid[key][:, :, i].tolist() for key in grid},
                       "U_seeds": U[:, i].tolist(), "droplet_seeds": [drops[s][i] for s in range(S)]} for i in range(P)],
        "cubic_break": cubic, "cubic_break_placebo": cubic_placebo, "test_error_break": err,
        "test_error_break_placebo": err_placebo, "droplet_onsets": onsets, "U_placebo": U_placebo,
        "theory": {"onset": th_onset, "per_point": [{k_: v for k_, v in t.items() if k_ != "cos_hist"} for t in theory]},
    })

    # ---- figures -------------------------------------------------------------------------------
    sweep_figure(s2, seeds, grid, U, U_placebo, theory, cubic, err, PAPER_SIGMA2_C, WINDOW, out / "sweep.png")
    present0 = [dr["present"] for dr in drops[0]]
    below = [i for i in range(P) if present0[i]]
    above = [i for i in range(P) if not present0[i]]
    picks = list(dict.fromkeys([0, *(below[-1:]), *(above[:1]), P - 1]))
    clouds = [{"cos": first["final_cos"][i, 0], "a": first["final_Na"][i, 0], "threshold": thr} for i in picks]
    cloud_figure(s2, pooled[0], picks, clouds, theory, out / "clouds.png")
    report.figures += [
        ("Across seeds (colours; dots are chains, lines seed means): the cubic and linear components of the "
         "posterior-mean output, its test MSE and the part of it outside the teacher's directions, the coexistence "
         "cumulant U and the fraction of specialised neurons; the two-segment fit of the mean over seeds (black) with "
         "its break and 95% interval (red band), the paper's sigma^2_c with the +-20% window (grey), the single-neuron "
         "theory at the same d (green)", "sweep.png"),
        (f"Neuron clouds on both sides of the transition, seed {seeds[0]}: posterior |cos(w, w*)| histograms (top, "
         "log scale) and one chain's neurons at the last step (bottom)", "clouds.png")]

    # ---- prose ---------------------------------------------------------------------------------
    def ms(v):  # mean ± spread (sample std over seeds)
        v = np.asarray(v, float)
        return f"{v.mean():.3g} ± {v.std(ddof=1):.2g}" if len(v) > 1 else f"{v.mean():.3g}"
    seed_table = "\n".join(
        f"| {r['seed']} | {r['cubic_break']:.3f} | {r['test_error_break']:.3f} | {r['droplet_onset']:.3f} | "
        f"{'yes' if r['droplet_clean'] else 'no'} | {r['U_smallest']:.2f} | {r['U_largest']:.2f} | {r['test_error_mean']:.3f} |"
        for r in per_seed_rows)
    seed_table += (f"\n| mean ± spread | {ms(cubic['per_seed'])} | {ms(err['per_seed'])} | {ms(drop_c)} | – | "
                   f"{ms(U[:, 0])} | {ms(U[:, -1])} | {ms(grid['test_error'].mean((1, 2)))} |")
    point_rows = []
    for i in range(P):
        th = theory[i]
        point_rows.append(
            f"| {s2[i]:.3f} | {inv['u_sigma4'] / s2[i] ** 2:.1f} | "
            + " / ".join(f"{v:.3f}" for v in grid["c3"][:, :, i].mean(1)) + f" | {-0.3 - th['r3']:.3f} | "
            + " / ".join(f"{v:.3f}" for v in grid["c1"][:, :, i].mean(1)) + f" | {1 - th['r1']:.3f} | "
            + " / ".join(f"{v:.3f}" for v in grid["test_error"][:, :, i].mean(1)) + f" | {th['test_error']:.3f} | "
            + " / ".join(f"{v:.3f}" for v in grid["rest"][:, :, i].mean(1)) + " | "
            + " / ".join(f"{v:.4f}" for v in grid["frac_specialised"][:, :, i].mean(1)) + " | "
            + " / ".join("yes" if drops[s][i]["present"] else "no" for s in range(S)) + " | "
            + " / ".join(f"{v:.1f}" for v in U[:, i]) + " |")
    wall = time.time() - t0
    fit_s = [float(sm["seconds"]) for sm in samples]
    report.sections += [
        f"**Setting.** d={d}, n={n}, N={N}, sigma_w^2={sigma_w2}, sigma_a^2={sigma_a2:.5g} (prior variance of a_i "
        f"is sigma_a^2/N), teacher y = He1(w*.x) - 0.3 He3(w*.x). Seeds {', '.join(map(str, seeds))}: each a new "
        f"training set, initialisation and Langevin noise; per seed {P} noise variances x {k} chains in one batched "
        f"Langevin run of {int(first['steps'])} full-batch steps, posterior averages over {int(first['count'])} "
        f"samples per chain (every {int(first['every'])} steps after a burn-in of {int(first['burn_in'])}). "
        f"u*sigma^4 = {inv['u_sigma4']:.4f} (paper {inv_paper['u_sigma4']:.4f}), g*sigma^2 = {inv['g_sigma2']:.4f} "
        f"(paper {inv_paper['g_sigma2']:.4f}).",
        f"**Transition (the paper's observable).** c3 = He3 coefficient of the posterior-mean output (least squares "
        f"on (1, He1, He3) over the held-out set; the teacher's is -0.3). Two-segment fit of the mean over seeds: "
        f"break at sigma^2 = {cubic['break']:.3f}, 95% interval [{cubic['ci95'][0]:.3f}, {cubic['ci95'][1]:.3f}] "
        f"(bootstrap over data sets, then chains); slope {cubic['slope_below']:.2f} below vs {cubic['slope_above']:.2f} "
        f"above; p = {cubic['p_smooth']:.3f} against a smooth curve (placebo p = {cubic_placebo['p_smooth']:.3f}). "
        f"Test error: break {err['break']:.3f} [{err['ci95'][0]:.3f}, {err['ci95'][1]:.3f}], p = {err['p_smooth']:.3f} "
        f"(placebo {err_placebo['p_smooth']:.3f}). Single-neuron theory at the same d: droplet mode up to "
        f"sigma^2 = {th_onset['last_with']:g} on this grid.",
        "**Per seed** (breaks of each seed's own mean curve; droplet onset = midpoint of the switch of the droplet "
        "detector; U = 1 - <c^4>/(3<c^2>^2) of the neuron overlaps; test MSE averaged over the sweep):\n\n"
        "| seed | cubic break | test-error break | droplet onset | clean switch | U at smallest sigma^2 | "
        "U at largest | mean test MSE |\n|---|---|---|---|---|---|---|---|\n" + seed_table,
        "**Per noise variance** (values for seeds " + " / ".join(map(str, seeds)) + ", each the mean over its chains; "
        "theory = single-neuron mean field at the same d; rest = mean square of the posterior-mean output outside "
        "(1, He1, He3)):\n\n| sigma^2 | u | c3 | c3 theory | c1 | c1 theory | test MSE | theory | rest | "
        f"frac(abs cos > {thr:.2g}) | droplets | U |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(point_rows),
        f"Wall time: {wall:.0f} s in this process; sampling per seed "
        + ", ".join(f"{v:.0f} s" for v in fit_s) + f" with {int(first['threads'])} torch thread(s).",
    ]
    report.metrics["wall_time_s"] = {"fit_per_seed": fit_s, "total": wall, "torch_threads": int(first["threads"])}
    report.write(out)


if __name__ == "__main__":
    sys.exit(main())
