"""The width threshold ("one more neuron") of Gromov's quadratic MLP on (a + b) mod p, as a finite-size transition.

At each modulus p and width N, `members` independent nets (own init draw, own train/test split) train as one
tensor program: the grokking replication's model (mfnn.models.modular.ModularMLPNet: two layers, quadratic
activation, no biases, mean-field 1/N readout, MSE on one-hot targets, full batch) and its AdamW view (lr 1e-2,
betas 0.9/0.98, weight decay 0.3). Order parameter: a net generalises when its test accuracy reaches 99% within the
step budget; the final test accuracy is the continuous one. P(generalise | N, p) -> the threshold N_c(p) with
mfnn.phases.threshold.success_threshold (logistic in log N, bootstrap over seeds), the law N_c ~ p^x, and the
neuron count of Gromov's analytic Fourier solution derived here (phase cancellation, `neurons_per_frequency`).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from mfnn.analysis.fourier import dominant_frequency
from mfnn.data.modular import all_pairs, split_masks
from mfnn.models.modular import ModularMLPNet, one_hot_mse
from mfnn.phases import power_law
from mfnn.phases.threshold import logistic, success_threshold
from mfnn.report import Check

GROMOV = "Gromov 2023 (arXiv 2301.02679)"
# Gromov's analytic neuron (one frequency k, theta = 2 pi k / p):
#     W_in[a] = cos(theta a + phi), W_in[p + b] = cos(theta b + psi), W_out[c] = cos(theta c + phi + psi).
# Squaring and multiplying out, its output is (1/2) cos(theta (a + b - c)) (the wanted term) plus seven unwanted
# terms cos(theta (m a + n b ...) + m phi + n psi); summed over a set of neurons at one frequency, each unwanted
# term vanishes for every (a, b, c) iff sum_i exp(i (m phi_i + n psi_i)) = 0 for these (m, n):
UNWANTED = [(1, 1),            # 1 x cos(theta c + chi)                   (the constant part of u^2 + v^2)
            (3, 1), (1, -1),   # cos(2 theta a + 2 phi) cos(theta c + chi): phases 2 phi +- chi
            (1, 3), (-1, 1),   # the same for b
            (2, 2),            # cos(theta (a + b) + phi + psi) cos(theta c + chi): the a + b + c term
            (2, 0), (0, 2)]    # cos(theta (a - b) + phi - psi) cos(theta c + chi): phases phi - psi +- chi
# An exact set of 6: phi_j = 2 pi j / 6, psi_j = 4 phi_j (every m + 4 n above is != 0 mod 6).
LATTICE = (6, 4)


def phase_residual(phi: np.ndarray, psi: np.ndarray) -> float:
    """sum over the unwanted (m, n) of |sum_i exp(i (m phi_i + n psi_i))|^2 (0: the set cancels exactly)."""
    return float(sum(abs(np.exp(1j * (m * phi + n * psi)).sum()) ** 2 for m, n in UNWANTED))


def neurons_per_frequency(n_max: int = 7, restarts: int = 256, steps: int = 1500, seed: int = 0) -> dict:
    """The fewest equal-amplitude neurons at one frequency whose unwanted terms cancel exactly: for each n, the
    smallest residual over `restarts` random starts, all minimised at once by Adam on the phases (a numerical
    lower bound: below the minimal n the residual stays of order 1 from every start)."""
    gen = torch.Generator().manual_seed(seed)
    mn = torch.tensor(UNWANTED, dtype=torch.float64)  # (U, 2)
    best = {}
    for n in range(1, n_max + 1):
        angles = (torch.rand(restarts, n, 2, generator=gen, dtype=torch.float64) * 2 * math.pi).requires_grad_()
        opt = torch.optim.Adam([angles], lr=0.05)
        for _ in range(steps):
            arg = torch.einsum("rnj,uj->run", angles, mn)  # m phi_i + n psi_i: (R, U, n)
            res = torch.cos(arg).sum(-1).square() + torch.sin(arg).sum(-1).square()  # |sum exp(i arg)|^2
            loss = res.sum(-1)  # (R,)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        best[n] = float(loss.detach().min())
    n_min = min((n for n, r in best.items() if r < 1e-8), default=n_max + 1)  # n_max + 1: none cancelled
    q, s = LATTICE
    j = np.arange(q)
    return {"min_residual": {str(n): r for n, r in best.items()}, "n_min": n_min,
            "lattice": {"n": q, "psi_over_phi": s, "residual": phase_residual(2 * math.pi * j / q, 2 * math.pi * s * j / q)},
            "restarts": restarts}


def analytic_net(p: int, frequencies: list[int]) -> ModularMLPNet:
    """Gromov's construction in the model class: 6 lattice-phase neurons per frequency (N = 6 x frequencies)."""
    q, s = LATTICE
    net = ModularMLPNet(p, q * len(frequencies), 1)
    n = torch.arange(p, dtype=torch.float64)
    rows_in, rows_out = [], []
    for k in frequencies:
        theta = 2 * math.pi * k / p
        for j in range(q):
            phi, psi = 2 * math.pi * j / q, 2 * math.pi * s * j / q
            rows_in.append(torch.cat([torch.cos(theta * n + phi), torch.cos(theta * n + psi)]))
            rows_out.append(torch.cos(theta * n + phi + psi))
    with torch.no_grad():
        net.W_in.copy_(torch.stack(rows_in)[None])
        net.W_out.copy_(torch.stack(rows_out)[None])
    return net


def analytic_check(p: int) -> dict:
    """The construction at every frequency (Gromov's full solution, N = 3 (p - 1)) and at one frequency (N = 6):
    test accuracy on the whole table, and how far the output is from the wanted (N / 12) sum_k cos(theta_k (a+b-c))
    (in units of the wanted term's peak)."""
    a, b, y = all_pairs(p)
    c = torch.arange(p)
    out = {}
    for name, freqs in (("all_frequencies", list(range(1, (p - 1) // 2 + 1))), ("one_frequency", [1])):
        net = analytic_net(p, freqs)
        with torch.no_grad():
            f = net(a, b)[0].double() * net.width  # undo the 1/N readout: sum over neurons
        wanted = sum(3.0 * torch.cos(2 * math.pi * k * ((a + b)[:, None] - c[None]) / p) for k in freqs)
        out[name] = {"width": net.width, "accuracy": float((f.argmax(-1) == y).double().mean()),
                     "max_deviation": float((f - wanted).abs().max() / (3.0 * len(freqs)))}
    return out


def train_width(p: int, width: int, fraction: float, members: int, seed: int, max_steps: int, eval_every: int,
                lr: float, weight_decay: float, betas: tuple[float, float], device) -> dict:
    """`members` independent nets of width N on (a + b) mod p, one tensor program; each member's gradient and AdamW
    step are its solo run's (the loss is the sum of the members' own mean losses). Stops when every member has
    reached 99% test accuracy, else at max_steps."""
    torch.manual_seed(10_000 * seed + 100 * p + width)
    net = ModularMLPNet(p, width, members).to(device)
    a, b, y = (t.to(device) for t in all_pairs(p))
    mask = split_masks(p, [fraction] * members, [10_000 * seed + k for k in range(members)]).to(device)  # (K, p^2)
    M = int(mask.sum(1).max())
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :M]  # each member's train pairs first
    ta, tb, ty = a[order], b[order], y[order]  # (K, M)
    weight = torch.gather(mask, 1, order).float() / mask.sum(1, keepdim=True)  # 1/n_k on train pairs, 0 on padding
    test = (~mask).float()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    first99 = torch.full((members,), -1, dtype=torch.long)
    steps, accs = [], []
    step = 0
    while step < max_steps:
        loss = (one_hot_mse(net(ta, tb), ty) * weight).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % eval_every == 0 or step == max_steps:
            with torch.no_grad():
                correct = (net(a, b).argmax(-1) == y).float()  # (K, p^2)
                acc = ((correct * test).sum(1) / test.sum(1)).cpu()
            first99[(first99 < 0) & (acc >= 0.99)] = step
            steps.append(step)
            accs.append(acc)
            if (first99 >= 0).all():
                break
    W_in, W_out = net.W_in.detach().cpu(), net.W_out.detach().cpu()
    generalised = (first99 >= 0).tolist()
    # frequencies a generalising net uses: distinct dominant frequencies of its active neurons (weight decay
    # switches neurons off: active = contribution |W_out| |W_in|^2 >= 1% of the member's largest)
    used, active = [], []
    for k in range(members):
        size = W_out[k].norm(dim=1) * W_in[k].norm(dim=1) ** 2
        on = size >= 0.01 * size.max()
        freq, _ = dominant_frequency(W_in[k][on], p)
        used.append(int(freq.unique().numel()))
        active.append(int(on.sum()))
    return {"p": p, "width": width, "fraction": fraction, "steps": step, "generalised": generalised,
            "first_step_99": first99.tolist(), "final_test_acc": accs[-1].tolist(),
            "frequencies_used": used, "active_neurons": active,
            "history": {"step": steps, "test_acc": torch.stack(accs).T.tolist()}}


def run_width(cfg: dict, seed: int, device, out: Path, rng: np.random.Generator) -> dict:
    """Every (p, N) of the config, the thresholds, the law, the analytic count, checks, figure and prose."""
    t0 = time.time()
    opt = dict(lr=cfg["lr"], weight_decay=cfg["weight_decay"], betas=tuple(cfg["betas"]))
    runs = {}
    for p, widths in cfg["widths"].items():
        p = int(p)
        for N in widths:
            runs[(p, N)] = train_width(p, N, cfg["train_fraction"], cfg["members"], seed, cfg["max_steps"],
                                       cfg["eval_every"], device=device, **opt)
    t_train = time.time() - t0
    primes = sorted({p for p, _ in runs})
    located = {}
    for p in primes:
        Ns = sorted(N for q, N in runs if q == p)
        located[p] = success_threshold(Ns, [runs[(p, N)]["generalised"] for N in Ns], log=True, n_boot=cfg["n_boot"],
                                       rng=rng)
    ok = [p for p in primes if located[p]["bracketed"]]
    law = (power_law(ok, [located[p]["x_c"] for p in ok], [located[p]["err"] for p in ok]) if len(ok) >= 2
           else {"slope": math.nan, "slope_err": math.nan, "amplitude": math.nan, "chi2_dof": math.nan})
    phases = neurons_per_frequency(restarts=cfg["phase_restarts"], steps=cfg["phase_steps"])
    analytic = {p: analytic_check(p) for p in primes}
    n6 = phases["n_min"]
    full = {p: n6 * (p - 1) // 2 for p in primes}  # the full solution: n_min neurons at each of (p - 1)/2 frequencies
    # the nets at the smallest width where most generalise: frequencies they use, neurons per used frequency
    at_threshold = {}
    for p in primes:
        Ns = sorted(N for q, N in runs if q == p)
        above = [N for N in Ns if np.mean(runs[(p, N)]["generalised"]) >= 0.5]
        if above:
            r = runs[(p, above[0])]
            good = [k for k, g in enumerate(r["generalised"]) if g]
            fu = [r["frequencies_used"][k] for k in good]
            act = [r["active_neurons"][k] for k in good]
            at_threshold[p] = {"width": above[0], "frequencies_used": fu, "active_neurons": act,
                               "neurons_per_frequency": [a_ / f for a_, f in zip(act, fu)]}
    rel_width = {p: (located[p]["span_10_90"][1] - located[p]["span_10_90"][0]) / located[p]["x_c"] for p in ok}
    wall = {"training": t_train, "total": time.time() - t0}

    # ---- checks ------------------------------------------------------------------------------------------
    worst_rel = max((located[p]["err"] / located[p]["x_c"] for p in ok), default=math.nan)
    x, x_err = law["slope"], law["slope_err"]
    ratio_full = max((located[p]["x_c"] / full[p] for p in ok), default=math.nan)
    checks = [
        Check(f"width: the N grid brackets the threshold at every p (P < 1/2 at the smallest N, > 1/2 at the largest; "
              f"{len(ok)} of {len(primes)})", len(ok) == len(primes), True, kind="true",
              source="N_c is interpolated, never extrapolated"),
        Check("width: N_c located, every p (largest relative error)", worst_rel, 0.1, kind="max",
              source="a threshold known to < 10% can be compared across p (grid steps are ~15-25%)"),
        Check(f"width: phase cancellation needs {n6} neurons per frequency: best residual with {n6 - 1} "
              f"({phases['restarts']} random starts; {n6} reach < 1e-8)", phases["min_residual"].get(str(n6 - 1), math.nan), 0.5,
              kind="min", source="derived here: fewer neurons leave an unwanted term (a residual of order 1)"),
        Check(f"width: Gromov's analytic net with {n6} lattice-phase neurons per frequency, every frequency: lowest test "
              "accuracy over p", min(analytic[p]["all_frequencies"]["accuracy"] for p in primes), 1.0, kind="min",
              source=GROMOV + ": the analytic solution is exact"),
        Check("width: N_c below the analytic full-solution count 3(p-1), every p (largest N_c / 3(p-1))", ratio_full,
              1.0, kind="max", source=GROMOV + ": the construction is sufficient, so training should not need more"),
        Check(f"width: N_c ~ p^x, x = {x:.2f} ± {x_err:.2f}: consistent with the full solution's x = 1 "
              "(|x - 1| / error)", abs(x - 1) / x_err if x_err > 0 else math.nan, 3.0, kind="max",
              source=GROMOV + ": 6 neurons at each of (p-1)/2 frequencies"),
        Check("width: the threshold sharpens with p (10-90% span / N_c at the largest p over the smallest; nan unless "
              "the grid resolves both widths)", rel_width[ok[-1]] / rel_width[ok[0]]
              if len(ok) >= 2 and located[ok[0]]["width_resolved"] and located[ok[-1]]["width_resolved"] else math.nan,
              1.0, kind="max", source="finite-size rounding shrinks as the system grows"),
    ]
    # ---- figure ------------------------------------------------------------------------------------------
    figure(runs, located, law, full, primes, out / "width_threshold.png")
    # ---- prose -------------------------------------------------------------------------------------------
    rows = []
    for p in primes:
        for N in sorted(N for q, N in runs if q == p):
            r = runs[(p, N)]
            acc = np.array(r["final_test_acc"])
            g = np.array(r["generalised"])
            st = [s for s in r["first_step_99"] if s >= 0]
            i = located[p]["per_size"]["sizes"].index(float(N))
            lo, hi = located[p]["per_size"]["rate_lo"][i], located[p]["per_size"]["rate_hi"][i]
            fu = [f for f, ok_ in zip(r["frequencies_used"], g) if ok_]
            rows.append(f"| {p} | {N} | {g.sum()}/{len(g)} | {g.mean():.2f} [{lo:.2f}, {hi:.2f}] | "
                        f"{acc.mean():.3f} ± {acc.std(ddof=1):.3f} | {acc.min():.3f} | "
                        f"{(f'{np.median(st):.0f}' if st else 'never')} | {r['steps']} | "
                        f"{(f'{np.mean(fu):.1f}' if fu else '-')} |")
    table = ("| p | N | generalised | P [68% Wilson] | final test acc (mean ± sd) | min | median step to 99% | steps run "
             "| frequencies used (generalised nets, mean) |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    nc_rows = "\n".join(
        f"| {p} | {located[p]['x_c']:.2f} ± {located[p]['err']:.2f} (bootstrap {located[p]['err_stat']:.2f}, grid "
        f"{located[p]['err_grid']:.2f}, profile {located[p]['err_profile']:.2f}) | "
        f"[{located[p]['profile68'][0]:.2f}, {located[p]['profile68'][1]:.2f}] | "
        f"{located[p]['width']:.3f} ± {located[p]['width_err']:.3f}"
        f"{'' if located[p]['width_resolved'] else ' (not resolved: at most one width on the slope)'} | "
        f"{located[p]['span_10_90'][0]:.1f} - {located[p]['span_10_90'][1]:.1f} | {full[p]} | "
        f"{located[p]['x_c'] / full[p]:.2f} |" if located[p]["bracketed"] else f"| {p} | not bracketed | | | | {full[p]} | |"
        for p in primes)
    thr = "; ".join(f"p = {p}: N = {v['width']}, {np.mean(v['frequencies_used']):.1f} frequencies, "
                    f"{np.mean(v['active_neurons']):.1f} active neurons, {np.mean(v['neurons_per_frequency']):.1f} per "
                    "frequency" for p, v in at_threshold.items())
    res = phases["min_residual"]
    sections = [
        f"**Width threshold.** Gromov's quadratic MLP on (a + b) mod p, AdamW (lr {cfg['lr']:g}, weight decay "
        f"{cfg['weight_decay']:g}, betas {tuple(cfg['betas'])}), train fraction {cfg['train_fraction']}, "
        f"{cfg['members']} seeds per (p, N) as the members of one tensor program, at most {cfg['max_steps']} full-batch "
        f"steps (a program stops early once every member has reached 99% test accuracy). Generalised: test accuracy "
        f">= 99% at some evaluation (every {cfg['eval_every']} steps) within the budget.\n\n" + table,
        "**Thresholds** (mfnn.phases.threshold: logistic in log N by binomial maximum likelihood, "
        f"{cfg['n_boot']} bootstrap resamples of the seeds; the error is the larger of the bootstrap (with the grid's "
        "resolution when no width has an intermediate rate) and half the 68% profile-likelihood interval; width w "
        "in log N: P goes from 10% to 90% between N_c e^(-2.2 w) and N_c e^(2.2 w)):\n\n"
        "| p | N_c ± error | 68% profile-likelihood interval | width w (log N) | 10-90% span of N | full analytic count 3(p-1) | "
        "N_c / 3(p-1) |\n|---|---|---|---|---|---|---|\n" + nc_rows +
        f"\n\nLaw: N_c ~ p^x with **x = {x:.3f} ± {x_err:.3f}** (weighted fit over p = {ok}, chi^2/dof "
        f"{law['chi2_dof']:.2f}).",
        f"**The analytic neuron count.** In Gromov's solution a neuron at frequency k carries, besides the wanted "
        "(1/2) cos(theta (a + b - c)), eight unwanted Fourier terms whose phases are m phi + n psi for (m, n) in "
        f"{[tuple(u) for u in UNWANTED]}; a set of neurons at one frequency cancels them all iff each sum of "
        "exp(i (m phi_i + n psi_i)) vanishes. Best residual over random starts: "
        + ", ".join(f"n = {n}: {float(v):.3g}" for n, v in res.items()) +
        f" -> the fewest is **{n6} neurons per frequency**, e.g. phi_j = 2 pi j / 6, psi_j = 4 phi_j (residual "
        f"{phases['lattice']['residual']:.1g}). The full solution (every frequency 1..(p-1)/2) needs {n6} (p - 1)/2 = "
        f"3 (p - 1) neurons: " + ", ".join(f"p = {p}: {full[p]}" for p in primes) + "; built in the model class it is "
        "exact (test accuracy " + ", ".join(f"{analytic[p]['all_frequencies']['accuracy']:.3f}" for p in primes) +
        ", largest deviation from the wanted output " + ", ".join(f"{analytic[p]['all_frequencies']['max_deviation']:.1g}"
                                                                  for p in primes) +
        f"). Accuracy alone needs only one frequency (argmax of cos(theta (a + b - c)) is c = a + b for any k): "
        f"{n6} neurons reach test accuracy " + ", ".join(f"{analytic[p]['one_frequency']['accuracy']:.3f}" for p in primes)
        + ", with a margin (1 - cos(2 pi / p)) / 2 that vanishes as p grows, so trained nets do not find it. "
        f"Nets at the smallest width with P >= 1/2: {thr}.",
        "Width-part wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in wall.items()) + ".",
    ]
    metrics = {"config": {k: v for k, v in cfg.items() if k != "widths"}, "widths": {str(p): w for p, w in cfg["widths"].items()},
               "thresholds": {str(p): v for p, v in located.items()}, "law": law, "phase_cancellation": phases,
               "analytic": {str(p): v for p, v in analytic.items()}, "full_solution_count": {str(p): v for p, v in full.items()},
               "at_threshold": {str(p): v for p, v in at_threshold.items()},
               "relative_10_90_span": {str(p): v for p, v in rel_width.items()},
               "runs": {f"p{p}_N{N}": r for (p, N), r in runs.items()}, "wall_time_s": wall}
    figures = [("Width threshold: P(generalise) against N per p (68% Wilson bars, logistic fits, N_c ± error as bands), "
                "the same against N / p, the final test accuracy, and N_c(p) with the fitted law and the analytic "
                "counts", "width_threshold.png")]
    return {"checks": checks, "metrics": metrics, "sections": sections, "figures": figures}


def figure(runs, located, law, full, primes, path: Path) -> None:
    fig = Figure(figsize=(17, 4.0), layout="constrained")
    ax = fig.subplots(1, 4)
    colours = {p: c for p, c in zip(primes, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"))}
    for p in primes:
        c = colours[p]
        ps = located[p]["per_size"]
        N = np.array(ps["sizes"])
        rate = np.array(ps["rate"])
        yerr = [rate - np.array(ps["rate_lo"]), np.array(ps["rate_hi"]) - rate]
        ax[0].errorbar(N, rate, yerr, marker="o", ls="none", color=c, capsize=2, label=f"p = {p}")
        ax[1].errorbar(N / p, rate, yerr, marker="o", ls="none", color=c, capsize=2, label=f"p = {p}")
        accs = np.array([runs[(p, int(n))]["final_test_acc"] for n in N])  # (sizes, members)
        med, q16, q84 = np.percentile(accs, [50, 16, 84], axis=1)  # accuracy is bounded: quantiles, not mean ± sd
        ax[2].errorbar(N, med, [med - q16, q84 - med], marker="o", color=c, capsize=2, label=f"p = {p}")
        if located[p]["bracketed"]:
            grid = np.geomspace(N[0], N[-1], 200)
            fit = logistic(grid, located[p]["x_c"], located[p]["width"])
            ax[0].plot(grid, fit, color=c, lw=1)
            ax[1].plot(grid / p, fit, color=c, lw=1)
            ax[0].axvspan(located[p]["x_c"] - located[p]["err"], located[p]["x_c"] + located[p]["err"], color=c,
                          alpha=0.15, lw=0)
    ax[0].set_xscale("log")
    ax[0].set_xlabel("width N")
    ax[0].set_ylabel("P(test acc reaches 99%)")
    ax[0].set_title("success probability vs width (bands: N_c ± error)", fontsize=9)
    ax[1].set_xlabel("N / p")
    ax[1].set_title("the same against N / p (N_c ~ p would collapse)", fontsize=9)
    ax[2].set_xscale("log")
    ax[2].set_xlabel("width N")
    ax[2].set_ylabel("final test accuracy (median, 16-84% of seeds)")
    ax[2].set_title("continuous order parameter", fontsize=9)
    all_N = sorted({n for _, n in runs})
    ticks = [n for n in (4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160) if all_N[0] <= n <= all_N[-1]]
    for a in (ax[0], ax[2]):
        a.set_xticks(ticks, [str(n) for n in ticks])
        a.xaxis.set_minor_formatter(NullFormatter())
    for a in ax[:3]:
        a.legend(fontsize=8)
    ok = [p for p in primes if located[p]["bracketed"]]
    P = np.array(primes, dtype=float)
    if ok:
        ax[3].errorbar(ok, [located[p]["x_c"] for p in ok], [located[p]["err"] for p in ok], marker="o", ls="none",
                       color="k", capsize=3, label="measured N_c")
    if np.isfinite(law["slope"]):
        pp = np.geomspace(P[0] * 0.9, P[-1] * 1.1, 50)
        ax[3].plot(pp, law["amplitude"] * pp ** law["slope"], color="k", lw=1,
                   label=f"fit: p^({law['slope']:.2f} ± {law['slope_err']:.2f})")
    ax[3].plot(P, [full[p] for p in primes], "s--", color="tab:gray", label="full analytic solution 3(p-1)")
    ax[3].axhline(6, color="tab:gray", ls=":", label="one frequency: 6 neurons")
    ax[3].set_xscale("log")
    ax[3].set_yscale("log")
    ax[3].set_xticks(P, [str(p) for p in primes])
    ax[3].xaxis.set_minor_formatter(NullFormatter())
    ax[3].set_xlabel("modulus p")
    ax[3].set_ylabel("neurons")
    ax[3].set_title("threshold width N_c against p", fontsize=9)
    ax[3].legend(fontsize=7)
    fig.savefig(path, dpi=110)
