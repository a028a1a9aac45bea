"""Mean-field self-consistency, the post's protocol: freeze a fully trained background, train 2048 fresh
neurons each alone and to convergence on its single-neuron objective, and compare their cloud and their
assembled network with the background. Mean-field vs lazy (NTK) two-layer HardTanh nets on continuous XOR.

    python replications/self_consistency/run.py [--out DIR] [--runs DIR] [--tiny] [--seed S]

1. Backgrounds: configs/self_consistency/mean_field_seeds.yaml (6 seeds without weight decay, the same 6
   with decay 0.01, one batched Ensemble; N = 512, 1500 steps at lr 0.5 then annealed to rest) and lazy_seeds.yaml
   (5 NTK seeds). The 10 seed-to-seed pairs of each group are the null every cloud distance is read against.
2. Foreground (mfnn.foreground.converge): for the first 3 seeds of each group, 2048 neurons from the initial
   law minimise V_s(theta) = -2 a <r phi> + s a^2 <phi^2> + wd/2 |theta|^2 (r = y - f_bg) by saddle-free
   Newton until |grad V_s| < tol: s = 0 (test particle, whose stationary points are the background's
   neurons) and s = 1/N (the residual fitted by one neuron at the background's scale).
3. Second view, "mean-field characteristic flow": configs/self_consistency/mean_field.yaml with
   ForegroundCheck(mode=trajectory), fresh neurons pushed through the recorded background velocity field.
4. The lazy reference: each background's empirical NTK and end function against the analytic infinite-width
   NTK (mfnn.theory.kernels) and its gradient flow from the background's own initial function.
Parts (--parts, in --jobs worker processes): "headline" (1-4 at N = 512) and "width" (1-2 at N = 256, 1024, 2048).
Distances: RBF MMD at a bandwidth resolving the cloud (median pairwise distance / 4) and the energy
distance, each as a z-score against the seed-to-seed null; placebos show both the pass and the fail.
"""
from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mfnn.analysis.clouds import (energy_distance, fourfold_order, median_bandwidth, mmd, null_score, particles,
                                  split_distance)
from mfnn.callbacks import ForegroundCheck
from mfnn.callbacks.foreground import AnnealLR, StateSnapshots
from mfnn.experiment import CONFIGS, ReplicationCLI, fit, positive_int, run_parts, staged_output
from mfnn.foreground import resampled_background_loss
from mfnn.foreground.converge import converge, gradient_norms
from mfnn.analysis.linearized import empirical_ntk, kernel_gd
from mfnn.theory.kernels import KernelSpec, ntk
from mfnn.plotting.self_consistency import figures, width_figure
from mfnn.report import Check, Report, worst

SEEDS = 5  # backgrounds per group: 10 seed-to-seed pairs for the null (plus one held-out seed for the placebos)
FG_SEEDS = 3  # backgrounds that get a converged foreground (the headline's seeds)
Z_ALIGN = 3.0  # "same law": the distance lies within 3 null standard deviations of the seed-to-seed mean
Z_APART = 3.0  # "different law": at least 3 null standard deviations above it
LOSS_FACTOR = 1.5  # FG network loss <= 1.5 x the loss of M neurons resampled from the BG (sampling floor)
CONVERGED = 0.99  # fraction of foreground neurons with |grad V| < tol
BANDWIDTH_DIVISOR = 4  # RBF bandwidth = median pairwise distance / 4: the median is set by the spread of a
TOL = 1e-4  # |grad V|: the sample objective's gradient jumps by ~|a r u| / n when a HardTanh kink crosses a point
EARLY_STEP = 500
DEAD = 0.1  # |theta| below which a neuron counts as sitting at the origin (init |theta| ~ 2)
TRAJECTORY_STEPS = 1500  # mean_field.yaml's length = the Ensemble's constant-lr phase
KERNEL_GRID = 24  # points per side of the grid the analytic NTK is evaluated on (576 points: ~15 s per law)
Z_KERNEL = 3.0  # "kernel stayed": the final NTK's distance to the analytic one within 3 sd of the init null
TINY = {"members": ["--trainer.max_steps=40", "--model.init_args.member.init_args.width=32",
                    "--data.init_args.batch_size=64", "--data.init_args.val_size=256",
                    "--trainer.check_val_every_n_epoch=1", "--data.init_args.steps_per_epoch=10"],
        "trajectory": ["--trainer.max_steps=40", "--model.init_args.width=32", "--data.init_args.batch_size=64",
                       "--data.init_args.val_size=256", "--trainer.check_val_every_n_epoch=1",
                       "--data.init_args.steps_per_epoch=10", "--trainer.callbacks.init_args.n_neurons=64"]}


def grid(n_side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Midpoint grid on [-1, 1]^2 and y = x1 x2: the expectation <.> over the uniform input law."""
    t = (torch.arange(n_side) + 0.5) / n_side * 2 - 1
    x = torch.cartesian_prod(t, t)
    return x, x[:, 0] * x[:, 1]


def callbacks_arg(steps: int, anneal_from: int, snapshots: list[int]) -> str:
    cbs = [{"class_path": "mfnn.callbacks.foreground.AnnealLR", "init_args": {"start": anneal_from, "end": steps}},
           {"class_path": "mfnn.callbacks.foreground.StateSnapshots", "init_args": {"steps": snapshots}}]
    return "--trainer.callbacks=" + json.dumps(cbs)


def fit_group(name: str, seeds: list[int], runs: Path, tiny: bool, width: int | None = None) -> dict:
    """Train one Ensemble config (at its own width, or `width`); return its members' nets, clouds (final and
    snapshots) and settings."""
    steps, anneal_from = (40, 20) if tiny else (2000, 1500)
    snaps = [0, 10, 20] if tiny else [0, EARLY_STEP, TRAJECTORY_STEPS]
    config = CONFIGS / "self_consistency" / f"{name}_seeds.yaml"
    args = [f"--model.init_args.seeds={json.dumps(seeds)}", f"--seed_everything={seeds[0]}",
            f"--data.init_args.seed={seeds[0]}", *(TINY["members"] if tiny else []),
            callbacks_arg(steps, anneal_from, snaps)]
    if width is not None:
        args.append(f"--model.init_args.member.init_args.width={width}")
    run = fit(config, *args, runs=runs)
    ens = run.model
    wds = ens.member_weight_decay.tolist() or [0.0] * ens.members
    snap = run.callback(StateSnapshots).states
    nets = [ens.member_module(k).net.eval() for k in range(ens.members)]
    # the per-parameter step (mean field: lr x N) that AnnealLR scaled; every member shares it
    base_lrs = {g.get("anneal_base_lr", g["lr"]) for g in run.cli.trainer.optimizers[0].param_groups}
    assert len(base_lrs) == 1, base_lrs
    lr = base_lrs.pop()

    def snap_cloud(step, k):
        sd = snap[step]
        get = lambda n: sd["stacked." + n][k]  # noqa: E731
        return torch.cat([get("net__W_in"), get("net__b_in")[:, None], get("net__a")], 1)

    return {"nets": nets, "wd": wds, "seconds": run.seconds, "clouds": [particles(n.neurons(0)) for n in nets],
            "init": [snap_cloud(snaps[0], k) for k in range(ens.members)],
            "early": [snap_cloud(snaps[1], k) for k in range(ens.members)],
            "mid": [snap_cloud(snaps[2], k) for k in range(ens.members)], "val": run.datamodule.splits["val"],
            "schedule": [lr * AnnealLR(anneal_from, steps).factor(t) for t in range(steps)]}


def null_of(clouds: list[torch.Tensor], stat) -> torch.Tensor:
    return torch.tensor([stat(clouds[j], clouds[k]) for j in range(len(clouds)) for k in range(j + 1, len(clouds))])


def assembled_loss(net, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """MSE of the M foreground neurons as a network in the background's parameterisation at width M."""
    with torch.no_grad():
        phi = net.neuron_features(x, theta[:, :2], theta[:, 2])  # (B, M)
        f = phi @ theta[:, 3] / len(theta) if net.parameterization == "mean_field" else phi @ theta[:, 3] / math.sqrt(len(theta))
    return float(F.mse_loss(f, y))


def analyse_group(group: dict, idx: list[int], objectives: dict, n_neurons: int, quad, fg_seeds: int, seed: int,
                  max_iter: int) -> dict:
    """Null, placebos and converged foregrounds for the members `idx` of one Ensemble (one wd / regime)."""
    clouds = [group["clouds"][k] for k in idx[:SEEDS]]  # the null's backgrounds
    heldout = group["clouds"][idx[SEEDS]]  # a further seed: same law, in no null pair
    sigma = median_bandwidth(clouds[0]) / BANDWIDTH_DIVISOR
    sigma_median = median_bandwidth(clouds[0])
    stats = {"mmd": lambda u, v: mmd(u, v, sigma), "energy": energy_distance,
             "mmd_median_bw": lambda u, v: mmd(u, v, sigma_median)}
    nulls = {k: null_of(clouds, f) for k, f in stats.items()}
    alive = lambda c: c[c.norm(dim=1) >= DEAD]  # noqa: E731  neurons away from the origin (recruited)
    alive_null = null_of([alive(c) for c in clouds], stats["mmd"])
    xq, yq = quad
    xv, yv = group["val"]
    out = {"bandwidth": sigma, "bandwidth_median": sigma_median, "null": {k: v.tolist() for k, v in nulls.items()},
           "wd": group["wd"][idx[0]], "seeds": [], "clouds": {"bg": clouds[0], "early": group["early"][idx[0]]}}
    score = lambda name, X, Y: null_score(split_distance(X, Y, stats[name]), nulls[name])  # noqa: E731
    for j, k in enumerate(idx[:fg_seeds]):
        net, bg, wd = group["nets"][k], clouds[j], group["wd"][k]
        g = torch.Generator().manual_seed(seed + 1000 + j)
        shuffled = heldout.clone()
        shuffled[:, -1] = heldout[torch.randperm(len(heldout), generator=g), -1]  # marginals kept, joint destroyed
        with torch.no_grad():
            r = yq - net(xq)
        rest = gradient_norms(bg, xq, r, 0.0, wd)  # how far the background is from rest
        res = {"seed": k, "bg_val_mse": float(F.mse_loss(net(xv), yv).detach()),
               "resampled_loss": resampled_background_loss(net, xv, yv, n_neurons, seed=seed + j),
               "bg_grad_median": float(rest.median()), "bg_grad_max": float(rest.max()),
               "fourfold_bg": fourfold_order(bg[:, :2]),
               "placebo": {"heldout": {s: score(s, heldout, bg) for s in stats},
                           "shuffled": {s: score(s, shuffled, bg) for s in stats},
                           # an early background of the held-out seed (the same seed's early cloud shares its init)
                           "early": {s: null_score(stats[s](group["early"][idx[SEEDS]], bg), nulls[s]) for s in stats}},
               "objectives": {}}
        W, b, a = net.initial_neurons(0, n_neurons, torch.Generator().manual_seed(seed + 12345 + j))
        theta0 = torch.cat([W, b[:, None], a], 1)
        for name, (s, iters) in objectives.items():
            c = converge(theta0, xq, r, s=s, wd=wd, tol=TOL, max_iter=iters or max_iter)
            fg = c.theta
            finite = bool(torch.isfinite(fg).all())
            res["objectives"][name] = {
                "s": s, "fraction_converged": c.fraction_converged, "iterations": c.iterations, "seconds": c.seconds,
                "grad_median": float(c.grad_norm.median()), "grad_max": float(c.grad_norm.max()),
                "mean_abs_a": float(fg[:, 3].abs().mean()), "bg_mean_abs_a": float(bg[:, 3].abs().mean()),
                "mean_abs_w": float(fg[:, :2].norm(dim=1).mean()), "bg_mean_abs_w": float(bg[:, :2].norm(dim=1).mean()),
                # neurons at the origin theta = 0 (a stationary point of V_0: phi(0) = 0), i.e. never recruited
                "dead": float((fg.norm(dim=1) < DEAD).double().mean()),
                "bg_dead": float((bg.norm(dim=1) < DEAD).double().mean()),
                "unconverged_mean_abs_a": float(fg[~c.converged, 3].abs().mean()) if not c.converged.all() else 0.0,
                "fg_loss": assembled_loss(net, fg, xv, yv) if finite else float("nan"),
                **({s_: score(s_, fg, bg) for s_ in stats} if finite else {}),
            }
            if finite and len(alive(fg)) >= 2:  # the recruited neurons only: do their positions match?
                res["objectives"][name]["alive_mmd"] = null_score(split_distance(alive(fg), alive(bg), stats["mmd"]),
                                                                  alive_null)
            if j == 0:
                out["clouds"][name] = fg
            print(f"  seed {k} {name}: converged {c.fraction_converged:.3f} in {c.iterations} it ({c.seconds:.0f} s), "
                  f"z(MMD) {res['objectives'][name].get('mmd', {}).get('z', float('nan')):.2f}, "
                  f"FG loss {res['objectives'][name]['fg_loss']:.3g} vs resampled {res['resampled_loss']:.3g}",
                  flush=True)
        out["seeds"].append(res)
    return out


def at_init(net, init: torch.Tensor):
    """A copy of a trained two-layer `net` with its initial neurons `init` (M, 4) = (w1, w2, b, a) put back."""
    net0 = copy.deepcopy(net)
    with torch.no_grad():
        net0.W_in.copy_(init[:, :2]), net0.b_in.copy_(init[:, 2]), net0.a.copy_(init[:, 3:])
    return net0


def kernel_reference(group: dict, idx: list[int], fg_seeds: int, n_side: int) -> dict:
    """The infinite-width (analytic) NTK as the lazy reference of one Ensemble group (wd 0 only: the kernel
    flow has no decay term). For every background, on an n_side^2 grid of the input law:
    - kernel: |K - K_inf| / |K_inf| for its empirical NTK at init and at the end; the null is the init values
      of the group's SEEDS backgrounds (the finite-width fluctuation), the end value is read against it.
    - function: |f_T - f_NTK| / |y|, f_NTK the analytic-NTK gradient flow from the background's own f_0 under
      its own lr schedule (the expected SGD step on fresh data is the population gradient, here the grid mean),
      and the same with each other seed's prediction (a prediction that ignores this background's init)."""
    xk, yk = grid(n_side)
    yk = yk.double()
    net = group["nets"][idx[0]]
    K_inf = ntk(KernelSpec.of(net), xk, width=net.width) / net.sgd_lr_scale  # the limit of empirical_ntk
    dist = lambda K: float((K - K_inf).norm() / K_inf.norm())  # noqa: E731
    out = {"seeds": [], "null": [], "grid": n_side}
    predictions, functions = [], []
    for j, k in enumerate(idx[:SEEDS]):
        net, net0 = group["nets"][k], at_init(group["nets"][k], group["init"][k])
        out["null"].append(dist(empirical_ntk(net0, xk, xk)))
        if j < fg_seeds:
            with torch.no_grad():
                f0, f = net0(xk).double(), net(xk).double()
            predictions.append(kernel_gd(K_inf, K_inf, f0, f0, yk, group["schedule"])["eval"])
            functions.append(f)
            out["seeds"].append({"seed": k, "kernel_init": out["null"][-1],
                                 "kernel_end": dist(empirical_ntk(net, xk, xk)),
                                 "function_vs_ntk": float((f - predictions[-1]).norm() / yk.norm()),
                                 "f_minus_y": float((f - yk).norm() / yk.norm()),
                                 "f0_size": float(f0.norm() / yk.norm())})
    null = torch.tensor(out["null"])
    for j, res in enumerate(out["seeds"]):
        res["kernel_z"] = float((res["kernel_end"] - null.mean()) / null.std())
        res["function_vs_other_seeds"] = [float((functions[j] - p).norm() / yk.norm())
                                          for i, p in enumerate(predictions) if i != j]
    return out


def characteristic_flow(runs: Path, seed: int, tiny: bool, group: dict, idx: list[int]) -> dict:
    """Second view: fresh neurons replay the recorded background velocity field (ForegroundCheck,
    trajectory mode). Read against the null of the Ensemble's same-seed backgrounds at the same step."""
    args = [f"--seed_everything={seed}", f"--data.init_args.seed={seed}", *(TINY["trajectory"] if tiny else [])]
    run = fit(CONFIGS / "self_consistency" / "mean_field.yaml", *args, runs=runs)
    check = run.callback(ForegroundCheck)
    fg, m = check.foregrounds[0]["same"], check.metrics[0]["same"]
    bg = particles(run.model.net.neurons(0))
    mids = [group["mid"][k] for k in idx[:SEEDS]]
    sigma = median_bandwidth(mids[0]) / BANDWIDTH_DIVISOR
    stats = {"mmd": lambda u, v: mmd(u, v, sigma), "energy": energy_distance}
    fgc = particles(fg.neurons())
    return {"seconds": run.seconds, "fg_loss": m["fg_loss"], "bg_loss": m["bg_loss"], "resampled_loss": m["resampled_loss"],
            "bg_equals_member": float((bg - mids[0]).abs().max()),
            **{s: null_score(split_distance(fgc, bg, f), null_of(mids, f)) for s, f in stats.items()},
            "clouds": {"bg": bg, "fg": fgc}}


def per_seed(values: list[float]) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    sd = float(t.std()) if len(t) > 1 else 0.0
    return f"{', '.join(f'{v:.3g}' for v in values)} (mean {float(t.mean()):.3g} ± {sd:.2g})"


def seed_check(report: Report, name: str, values: list[float], threshold: float, kind: str, source: str):
    """PASS when every seed passes; the measured value shown is the worst seed."""
    report.add(Check(f"{name} [worst of {len(values)} seeds]", worst(values, kind), threshold, kind=kind, source=source))


def checks(report: Report, res: dict) -> None:
    mf0, mfd, lz, flow = res["mf_wd0"], res["mf_wd"], res["lazy"], res["flow"]

    def vals(group, obj, key, sub="z"):
        return [s["objectives"][obj][key][sub] if sub else s["objectives"][obj][key] for s in group["seeds"]]

    def pvals(group, placebo, key):
        return [s["placebo"][placebo][key]["z"] for s in group["seeds"]]

    post = "the post: foreground cloud and loss match the trained background's"
    for g, label, obj in ((mfd, "wd 0.01, test particle", "test_particle"), (mf0, "wd 0, own-term fit", "own_term")):
        seed_check(report, f"mean-field {label}: fraction converged (|grad V| < {TOL:g})",
                   vals(g, obj, "fraction_converged", None), CONVERGED, "min", "converged foreground, not a step count")
        seed_check(report, f"mean-field {label}: z of MMD(FG, BG) vs seed-to-seed null",
                   vals(g, obj, "mmd"), Z_ALIGN, "max", post)
        seed_check(report, f"mean-field {label}: z of energy distance(FG, BG)", vals(g, obj, "energy"), Z_ALIGN, "max", post)
        seed_check(report, f"mean-field {label}: FG loss / loss of M neurons resampled from BG",
                   [s["objectives"][obj]["fg_loss"] / s["resampled_loss"] for s in g["seeds"]], LOSS_FACTOR, "max", post)
    seed_check(report, "mean-field wd 0: four-lobed order E[cos 4θ] of the trained BG",
               [s["fourfold_bg"] for s in mf0["seeds"]], -0.3, "max", "clover leaf on the diagonals")
    seed_check(report, "lazy: z of MMD(FG, BG) (own-term fit, s = 1/sqrt N)", vals(lz, "own_term", "mmd"),
               Z_APART, "min", "the post: a GP-like background's foreground does not align")
    kl, km = res["kernel"]["lazy"], res["kernel"]["mean_field"]
    seed_check(report, "lazy: z of |K_end - K_inf| (empirical NTK at the end vs the analytic infinite-width NTK) "
               "against the init null", [s["kernel_z"] for s in kl["seeds"]], Z_KERNEL, "max",
               "a GP-like (lazy) background keeps its kernel: it moves less than its finite-width fluctuation")
    seed_check(report, "mean-field wd 0 (the contrast): z of |K_end - K_inf| against the init null",
               [s["kernel_z"] for s in km["seeds"]], Z_KERNEL, "min",
               "a feature-learning background leaves its kernel: the lazy check above can fail")
    seed_check(report, "lazy: |f_end - f_NTK(own f_0)| / closest other-seed prediction's distance",
               [s["function_vs_ntk"] / min(s["function_vs_other_seeds"]) for s in kl["seeds"]], 1.0, "max",
               "the lazy background ends where the analytic NTK flow from its own initial function ends")
    for g, label in ((mf0, "wd 0"), (mfd, "wd 0.01"), (lz, "lazy")):
        seed_check(report, f"placebo {label}: BG of a held-out seed in place of FG, z(MMD)",
                   pvals(g, "heldout", "mmd"), Z_ALIGN, "max", "the alignment test accepts the same law"
                   + (" (the lazy test is not blind)" if g is lz else ""))
    for g, label in ((mf0, "wd 0"), (mfd, "wd 0.01")):  # lazy: a is independent of (w, b), shuffling keeps the law
        seed_check(report, f"placebo {label}: a shuffled against (w, b) in place of FG, z(MMD)",
                   pvals(g, "shuffled", "mmd"), Z_APART, "min", "the alignment test rejects a wrong joint law")
    seed_check(report, f"placebo wd 0: held-out seed's BG {EARLY_STEP} steps in, in place of FG, z(MMD)",
               pvals(mf0, "early", "mmd"), Z_APART, "min", "the kernel resolves the cloud's shape")
    report.add(Check("characteristic flow (trajectory replay): z of MMD(FG, BG)", flow["mmd"]["z"], Z_ALIGN, kind="max",
                     source="mean-field characteristic flow reproduces the recorded background"))


def sweep_rows(sweep: dict, headline: dict | None) -> dict[int, dict]:
    """Every width's two mean-field groups, the headline's width included when it ran."""
    rows = {int(n): w for n, w in sweep.items()}
    if headline is not None:
        rows[headline["width"]] = {"mf_wd": headline["mf_wd"], "mf_wd0": headline["mf_wd0"]}
    return dict(sorted(rows.items()))


WIDTH_COLUMNS = [  # (group, objective or None for a background quantity, key, label)
    ("mf_wd", "test_particle", "fraction_converged", "wd 0.01 test particle: fraction converged"),
    ("mf_wd", "test_particle", "mmd", "wd 0.01 test particle: z(MMD)"),
    ("mf_wd", "test_particle", "alive_mmd", "wd 0.01 test particle: z(MMD), off-origin neurons only"),
    ("mf_wd", "test_particle", "loss_ratio", "wd 0.01 test particle: FG loss / resampled BG loss"),
    ("mf_wd", "test_particle", "dead", "wd 0.01: FG fraction at the origin"),
    ("mf_wd", "test_particle", "bg_dead", "wd 0.01: BG fraction at the origin"),
    ("mf_wd", None, "bg_val_mse", "wd 0.01: BG held-out MSE"),
    ("mf_wd0", "own_term", "fraction_converged", "wd 0 own-term fit: fraction converged"),
    ("mf_wd0", "own_term", "mmd", "wd 0 own-term fit: z(MMD)"),
    ("mf_wd0", "own_term", "loss_ratio", "wd 0 own-term fit: FG loss / resampled BG loss"),
    ("mf_wd0", "own_term", "mean_abs_a", "wd 0 own-term fit: FG mean |a|"),
    ("mf_wd0", "own_term", "bg_mean_abs_a", "wd 0: BG mean |a|"),
    ("mf_wd0", None, "bg_val_mse", "wd 0: BG held-out MSE"),
    ("mf_wd0", None, "heldout", "wd 0 placebo: held-out BG, z(MMD)"),
]


def width_values(group: dict, objective: str | None, key: str) -> list[float]:
    """One number per foreground seed of a group: an objective's result or a background quantity."""
    out = []
    for s in group["seeds"]:
        if objective is None:
            out.append(s["placebo"]["heldout"]["mmd"]["z"] if key == "heldout" else s[key])
            continue
        o = s["objectives"][objective]
        if key == "loss_ratio":
            out.append(o["fg_loss"] / s["resampled_loss"])
        elif key in ("mmd", "alive_mmd"):
            out.append(o[key]["z"] if key in o else float("nan"))
        else:
            out.append(o[key])
    return out


def width_checks(report: Report, sweep: dict, headline: dict | None) -> None:
    """The post's claim at the widest background run (the sweep's other widths are in its table)."""
    rows = sweep_rows(sweep, headline)
    n = max(rows)
    w = rows[n]
    post = f"the post: foreground cloud and loss match the trained background's (at the widest N = {n})"
    for group, obj, label in (("mf_wd", "test_particle", "wd 0.01, test particle"), ("mf_wd0", "own_term", "wd 0, own-term fit")):
        seed_check(report, f"width {n}, mean-field {label}: z of MMD(FG, BG)", width_values(w[group], obj, "mmd"),
                   Z_ALIGN, "max", post)
        seed_check(report, f"width {n}, mean-field {label}: FG loss / loss of M neurons resampled from BG",
                   width_values(w[group], obj, "loss_ratio"), LOSS_FACTOR, "max", post)
    seed_check(report, f"width {n}, placebo wd 0: BG of a held-out seed in place of FG, z(MMD)",
               width_values(w["mf_wd0"], None, "heldout"), Z_ALIGN, "max", "the null is right at this width too")


def width_table(sweep: dict, headline: dict | None) -> str:
    rows = sweep_rows(sweep, headline)
    lines = ["## The post's protocol across background widths", "",
             f"Backgrounds as in the headline ({SEEDS} + 1 seeds per group, the same schedule) at N = "
             f"{', '.join(str(n) for n in rows)}; {FG_SEEDS} converged foregrounds per group; every z against that "
             "width's own seed-to-seed null. Per seed, then mean ± sd.", "",
             "| quantity | " + " | ".join(f"N = {n}" for n in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for group, obj, key, label in WIDTH_COLUMNS:
        lines.append(f"| {label} | " + " | ".join(per_seed(width_values(w[group], obj, key)) for w in rows.values()) + " |")
    return "\n".join(lines) + "\n"


def tables(res: dict) -> str:
    lines = ["## Per seed (headline: foreground trained to convergence against the frozen background)", ""]
    for key, title in (("mf_wd", "mean-field, weight decay 0.01"), ("mf_wd0", "mean-field, no weight decay"),
                       ("lazy", "lazy (NTK), no weight decay")):
        g = res[key]
        lines += [f"### {title}", "", f"RBF bandwidth σ = {g['bandwidth']:.3f} (median pairwise distance "
                  f"{g['bandwidth_median']:.3f} / {BANDWIDTH_DIVISOR}); null: {len(g['null']['mmd'])} seed-to-seed pairs, "
                  f"MMD {torch.tensor(g['null']['mmd']).mean():.4f} ± {torch.tensor(g['null']['mmd']).std():.4f}, "
                  f"energy {torch.tensor(g['null']['energy']).mean():.4f} ± {torch.tensor(g['null']['energy']).std():.4f}.", "",
                  "| quantity | per seed (mean ± sd) |", "|---|---|"]
        S = g["seeds"]
        row = lambda name, v: lines.append(f"| {name} | {per_seed(v)} |")  # noqa: E731
        row("BG held-out MSE", [s["bg_val_mse"] for s in S])
        row("MSE of M neurons resampled from BG", [s["resampled_loss"] for s in S])
        row("BG at rest: median / max |grad V_0| at its own neurons",
            [s["bg_grad_median"] for s in S])
        row("  (max)", [s["bg_grad_max"] for s in S])
        row("E[cos 4θ] of BG", [s["fourfold_bg"] for s in S])
        for obj in S[0]["objectives"]:
            O = [s["objectives"][obj] for s in S]
            lines.append(f"| **{obj}** (s = {O[0]['s']:.3g}) | |")
            row("  fraction converged", [o["fraction_converged"] for o in O])
            row("  iterations", [o["iterations"] for o in O])
            row("  median / max |grad V_s|", [o["grad_median"] for o in O])
            row("  (max)", [o["grad_max"] for o in O])
            row("  mean |w|: FG", [o["mean_abs_w"] for o in O])
            row("  mean |w|: BG", [o["bg_mean_abs_w"] for o in O])
            row("  mean |a|: FG", [o["mean_abs_a"] for o in O])
            row("  mean |a|: BG", [o["bg_mean_abs_a"] for o in O])
            row(f"  fraction at the origin (|θ| < {DEAD}): FG", [o["dead"] for o in O])
            row(f"  fraction at the origin (|θ| < {DEAD}): BG", [o["bg_dead"] for o in O])
            row("  mean |a| of the unconverged FG neurons", [o["unconverged_mean_abs_a"] for o in O])
            row("  FG network held-out MSE", [o["fg_loss"] for o in O])
            if "mmd" in O[0]:
                row("  MMD(FG, BG)", [o["mmd"]["value"] for o in O])
                row("  z(MMD)", [o["mmd"]["z"] for o in O])
                row("  z(energy)", [o["energy"]["z"] for o in O])
                row("  z(MMD at the median bandwidth)", [o["mmd_median_bw"]["z"] for o in O])
            if all("alive_mmd" in o for o in O):
                row(f"  z(MMD) of the neurons away from the origin only (|θ| >= {DEAD})", [o["alive_mmd"]["z"] for o in O])
        for p, name in (("heldout", "BG of a held-out seed"), ("shuffled", "shuffled a"),
                        ("early", f"BG at step {EARLY_STEP}")):
            row(f"placebo {name}: z(MMD) ", [s["placebo"][p]["mmd"]["z"] for s in S])
            row(f"placebo {name}: z(energy)", [s["placebo"][p]["energy"]["z"] for s in S])
            row(f"placebo {name}: z(MMD, median bandwidth)", [s["placebo"][p]["mmd_median_bw"]["z"] for s in S])
        lines.append("")
    lines += ["### The infinite-width (analytic) NTK as the lazy reference", "",
              f"Empirical NTK of each background on a {res['kernel']['lazy']['grid']}² grid against the analytic "
              "infinite-width NTK of its law (`mfnn.theory.kernels.ntk`), relative Frobenius distance; the null is the "
              f"init distance of the group's {SEEDS} backgrounds (finite-width fluctuation). f_NTK: the analytic-NTK "
              "gradient flow from the background's own f_0 under its lr schedule (`mfnn.analysis.linearized.kernel_gd`), "
              "distances relative to |y|.", "", "| quantity | lazy (NTK), per seed | mean-field wd 0, per seed |",
              "|---|---|---|"]
    kl, km = res["kernel"]["lazy"], res["kernel"]["mean_field"]
    for key, name in (("kernel_init", "|K_init - K_inf| / |K_inf|"), ("kernel_end", "|K_end - K_inf| / |K_inf|"),
                      ("kernel_z", "z of the end distance against the init null"),
                      ("function_vs_ntk", "|f_end - f_NTK(own f_0)| / |y|"),
                      ("f_minus_y", "|f_end - y| / |y|"), ("f0_size", "|f_0| / |y|")):
        lines.append(f"| {name} | {per_seed([s[key] for s in kl['seeds']])} | {per_seed([s[key] for s in km['seeds']])} |")
    lines.append("| closest other seed's f_NTK: distance / own | "
                 + " | ".join(per_seed([min(s["function_vs_other_seeds"]) / s["function_vs_ntk"] for s in g["seeds"]])
                              for g in (kl, km)) + " |")
    lines.append(f"| init null: mean ± sd | {torch.tensor(kl['null']).mean():.4f} ± {torch.tensor(kl['null']).std():.4f} | "
                 f"{torch.tensor(km['null']).mean():.4f} ± {torch.tensor(km['null']).std():.4f} |")
    lines.append("")
    f = res["flow"]
    lines += ["### Second view: mean-field characteristic flow (trajectory replay, weight decay 0.01, seed "
              f"{res['seed']})", "",
              f"MMD(FG, BG) z = {f['mmd']['z']:.2f}, energy z = {f['energy']['z']:.2f} (null: the Ensemble's "
              f"backgrounds at step {TRAJECTORY_STEPS}; the replayed background equals Ensemble member 0 to "
              f"{f['bg_equals_member']:.1e}); FG loss {f['fg_loss']:.3g}, BG loss {f['bg_loss']:.3g}, "
              f"resampled {f['resampled_loss']:.3g}.", ""]
    return "\n".join(lines)


def headline(cfg: dict, runs: Path) -> dict:
    """The post's protocol at the configs' width: backgrounds, converged foregrounds, the analytic-NTK reference
    and the characteristic flow (second view)."""
    seed, seeds, tiny, timings = cfg["seed"], cfg["seeds"], cfg["tiny"], {}
    analyse = lambda group, idx, objectives: analyse_group(group, idx, objectives, cfg["n_neurons"], cfg["quad"],  # noqa: E731
                                                           cfg["fg_seeds"], seed, cfg["max_iter"])
    t = time.perf_counter()
    mf = fit_group("mean_field", seeds + seeds, runs, tiny)
    lazy = fit_group("lazy", seeds, runs, tiny)
    timings["backgrounds"] = time.perf_counter() - t
    width = mf["nets"][0].width
    res = {"seed": seed, "width": width, "neurons": cfg["n_neurons"]}
    t = time.perf_counter()
    print("[mean-field, wd 0.01]", flush=True)
    res["mf_wd"] = analyse(mf, list(range(SEEDS + 1, 2 * SEEDS + 2)), {"test_particle": (0.0, None)})
    print("[mean-field, wd 0]", flush=True)
    res["mf_wd0"] = analyse(mf, list(range(SEEDS + 1)), {"own_term": (1 / width, None), "test_particle": (0.0, 10)})
    print("[lazy]", flush=True)
    res["lazy"] = analyse(lazy, list(range(SEEDS + 1)), {"own_term": (lazy["nets"][0].readout_scale, None)})
    timings["foregrounds"] = time.perf_counter() - t
    t = time.perf_counter()
    n_side = 8 if tiny else KERNEL_GRID
    res["kernel"] = {"lazy": kernel_reference(lazy, list(range(SEEDS + 1)), cfg["fg_seeds"], n_side),
                     "mean_field": kernel_reference(mf, list(range(SEEDS + 1)), cfg["fg_seeds"], n_side)}
    timings["kernel_reference"] = time.perf_counter() - t
    torch.save(res, Path(runs) / "self_consistency_results.pt")  # the numbers, should a figure fail
    t = time.perf_counter()
    res["flow"] = characteristic_flow(runs, seed, tiny, mf, list(range(SEEDS + 1, 2 * SEEDS + 2)))
    timings["characteristic_flow"] = time.perf_counter() - t
    res["seconds"] = timings
    return res


WIDTHS = (256, 1024, 2048)  # the sweep beside the headline's 512 (the Ensemble's cost grows ~linearly in N)


def width_sweep(cfg: dict, runs: Path) -> dict:
    """The post's protocol (both mean-field objectives, null and placebos) at other background widths: does the
    mismatch of the converged foreground depend on N?"""
    out = {}
    for width in ((16, 64) if cfg["tiny"] else WIDTHS):
        t = time.perf_counter()
        group = fit_group("mean_field", cfg["seeds"] + cfg["seeds"], runs, cfg["tiny"], width=width)
        fit_s = time.perf_counter() - t
        analyse = lambda idx, objectives: analyse_group(group, idx, objectives, cfg["n_neurons"], cfg["quad"],  # noqa: E731
                                                        cfg["fg_seeds"], cfg["seed"], cfg["max_iter"])
        print(f"[width {width}: mean-field, wd 0.01]", flush=True)
        wd = analyse(list(range(SEEDS + 1, 2 * SEEDS + 2)), {"test_particle": (0.0, None)})
        print(f"[width {width}: mean-field, wd 0]", flush=True)
        wd0 = analyse(list(range(SEEDS + 1)), {"own_term": (1 / width, None)})
        out[width] = {"mf_wd": wd, "mf_wd0": wd0, "seconds": {"backgrounds": fit_s, "total": time.perf_counter() - t}}
    return out


PARTS = {"headline": headline, "width": width_sweep}


def run_part(name: str, cfg: dict, runs: Path, threads: int | None) -> dict:
    """One part (a top-level function so that worker processes can run it)."""
    if threads:
        torch.set_num_threads(threads)
    return PARTS[name](cfg, runs)


def main(argv=None) -> int:
    cli = ReplicationCLI("self_consistency", __doc__, threads=1)  # tiny ops: one thread is fastest
    cli.add_argument("--neurons", type=positive_int, default=None, help="foreground neurons M (default 2048)")
    cli.add_parts(list(PARTS))
    args = cli.parse(argv)
    start = time.perf_counter()
    seed = args.seed or 0
    cfg = {"seed": seed, "tiny": args.tiny, "n_neurons": args.neurons or (64 if args.tiny else 2048),
           "quad": grid(16 if args.tiny else 48), "max_iter": 8 if args.tiny else 150,
           # the last seed is held out of the null
           "seeds": list(range(seed, seed + SEEDS + 1)), "fg_seeds": 2 if args.tiny else FG_SEEDS}
    results = dict(zip(args.parts, run_parts(run_part, [(name, cfg, args.runs) for name in args.parts], args.jobs)))
    report = Report("Mean-field self-consistency: converged foreground neurons vs the trained background")
    res = results.get("headline")
    if res is not None:
        checks(report, res)
        report.sections.append(tables(res))
    if "width" in results:
        width_checks(report, results["width"], res)
        report.sections.append(width_table(results["width"], res))
    timings = {**(res["seconds"] if res else {}), **{f"width {n}": w["seconds"]["total"]
                                                       for n, w in results.get("width", {}).items()}}
    timings["total"] = time.perf_counter() - start
    report.sections.append("Wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
                           + f" ({'tiny' if args.tiny else 'full'} run, parts {', '.join(args.parts)} in {args.jobs} "
                           f"worker(s), torch threads {torch.get_num_threads()} shared out).")
    with staged_output(args.out) as out:
        report.figures = figures(res, out) if res is not None else []
        if "width" in results:
            rows = sweep_rows(results["width"], res)
            keys = {"z_wd": ("mf_wd", "test_particle", "mmd"), "z_wd0": ("mf_wd0", "own_term", "mmd"),
                    "z_heldout": ("mf_wd0", None, "heldout"), "loss_wd": ("mf_wd", "test_particle", "loss_ratio"),
                    "loss_wd0": ("mf_wd0", "own_term", "loss_ratio"), "dead_fg": ("mf_wd", "test_particle", "dead"),
                    "dead_bg": ("mf_wd", "test_particle", "bg_dead")}
            series = {name: {n: width_values(w[g], obj, key) for n, w in rows.items()} for name, (g, obj, key) in keys.items()}
            report.figures.append(width_figure(series, out / "width_sweep.png"))
        strip = lambda d: {k: strip(v) for k, v in d.items() if k != "clouds"} if isinstance(d, dict) else (  # noqa: E731
            [strip(v) for v in d] if isinstance(d, list) else d)
        report.metrics = {**strip({k: v for k, v in (res or {}).items() if k != "seconds"}),
                          "width_sweep": {str(n): strip(w) for n, w in results.get("width", {}).items()},
                          "parts": args.parts, "jobs": args.jobs, "seconds": timings}
        report.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
