"""Modular-addition posterior: the mean-field theory of Rubin, Seroussi & Ringel (ICLR 2024, arXiv 2310.03789, §3.2)
against Langevin-sampled quadratic networks.

Part 1 solves the theory at the paper's Fig. 3 parameters (N = 1000, P = 401, sigma_a^2 = 0.002/N, gamma = 1e-4) and
checks its thresholds and the Table 1 scaling. Part 2 samples f_p(x) = sum_i a_pi (w_i . x)^2 on (n + m) mod P by
Langevin dynamics (configs/modular_posterior/*.yaml; every sigma^2 x chain in one batched run), and compares the
discrepancy a, the Fourier order parameters and the phase relation with the same theory at the same P, N, sigma_a^2,
gamma; a held-out run shows generalisation.

    python replications/modular_posterior/run.py [--out DIR] [--runs DIR] [--tiny] [--reuse]
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mfnn.analysis.modular_posterior import (AWAY, JUMP_LEVEL, bimodality, chain_observables, cold_columns, grouped,
                                            network_jump, phase_relation, phi_histograms, readout_self_energy,
                                            theory_curves)
from mfnn.callbacks import PosteriorAverage
from mfnn.experiment import CONFIGS as ALL_CONFIGS, ReplicationCLI, fit, staged_output
from mfnn.plotting.modular_posterior import discrepancy_figure, histogram_figure, neurons_figure, theory_figure
from mfnn.report import Check, Report
from mfnn.theory.modular import ModularMeanField, coupling, crossing, network_design

CONFIGS = ALL_CONFIGS / "modular_posterior"
MAIN, EXTRA_VIEWS, HELDOUT = "p23.yaml", ["p31.yaml"], "p23_heldout.yaml"  # p23_n64 / p23_n256: the width views
TINY = "tiny.yaml"
PAPER = "Rubin, Seroussi & Ringel 2024 (arXiv 2310.03789)"
FIG3 = dict(P=401, N=1000, sigma_a2=0.002 / 1000, gamma=1e-4)  # Fig. 3 caption; sigma_a^2 read as 0.002/N (sheet §2)
PAPER_I, PAPER_II, PAPER_A_END = 0.227, 0.175, -0.7


# ---- part 1: the theory at the paper's parameters ---------------------------------------------------------------
def theory_part(report: Report, out: Path) -> dict:
    th = ModularMeanField(**FIG3, form="paper")
    s2 = np.linspace(0.15, 0.26, 441)
    sol = th.sweep(s2)
    a, p_on = np.array([x["a"] for x in sol]), np.array([x["p_on"] for x in sol])
    t = th.thresholds()
    onset_II = crossing(s2, p_on, 1 - 1 / th.P)  # the Phi = 0 saddle's weight falls below 1/P
    window = (crossing(s2, p_on, 0.5), crossing(s2, p_on, 1 / th.P))  # finite-P crossover of GMFL-I
    a_at_I, a_at_II = float(np.interp(t["sigma2_I"], s2, a)), float(np.interp(onset_II, s2, a))
    visible_I = crossing(s2, 1 + a, 0.05)  # where |a| has dropped by 0.05
    # Table 1 scaling: thresholds (closed forms) and the finite-P curves a(beta sigma^2)
    betas = (0.25, 1.0, 4.0, 16.0)
    drift = max(abs(b * th.scaled(b).thresholds()["sigma2_I"] / t["sigma2_I"] - 1) for b in betas)
    drift_II = max(abs(b * th.scaled(b).thresholds()["sigma2_II"] / t["sigma2_II"] - 1) for b in betas)
    x = np.linspace(0.15, 0.26, 111)
    curves = {b: (x, np.array([r["a"] for r in th.scaled(b).sweep(x / b)])) for b in (0.25, 1.0, 4.0)}
    d_small, d_large = (float(np.abs(curves[0.25][1] - curves[1.0][1]).max()),
                        float(np.abs(curves[1.0][1] - curves[4.0][1]).max()))
    wrong = ModularMeanField(P=th.P * 2, N=th.N * 4, sigma_a2=th.sigma_a2 / 4, gamma=th.gamma)  # beta=4 with N x beta
    wrong_shift = 4 * wrong.thresholds()["sigma2_I"] / t["sigma2_I"] - 1
    src = PAPER + " §3.2.1"
    report.add(
        Check("theory (Fig. 3 sizes): GMFL-II onset sigma^2 (Phi=0 weight < 1/P)", onset_II, PAPER_II, 0.05, "rel",
              src + ": GMFL-II from sigma^2 ~ 0.175 (read off a figure: +-5%)"),
        Check("theory: a at the GMFL-II onset", a_at_II, PAPER_A_END, 0.05, "abs", src + ": a ~ -0.7 at the end of GMFL-I"),
        Check("theory: a at the GMFL-I onset", a_at_I, -1.0, 0.05, "abs", src + ": a = -1 at the start of GMFL-I"),
        Check("theory: GMFL-I onset, P -> infinity closed form", t["sigma2_I"], PAPER_I, 0.05, "rel",
              src + ": 0.227; the P -> infinity onset sqrt(2 sigma_a^2 P^2/(N c*)) is 0.236"),
        Check("theory: paper's 0.227 inside the finite-P GMFL-I crossover [p_on = 1/2, p_on = 1/P]",
              bool(window[0] < PAPER_I < window[1]), True, kind="true",
              source=f"{src}; window here [{window[0]:.4f}, {window[1]:.4f}]"),
        Check("theory: Table 1 scaling, max relative drift of beta*sigma^2_I and beta*sigma^2_II (beta = 1/4..16)",
              max(drift, drift_II), 1e-9, kind="max", source=PAPER + " Table 1 (u and the thresholds are invariant)"),
        Check("theory: finite-P curves a(beta sigma^2) converge as beta grows (gap 1/4->1 > gap 1->4)",
              bool(d_small > d_large), True, kind="true", source=f"{PAPER} Claim III; gaps {d_small:.2e}, {d_large:.2e}"),
        Check("theory placebo: N -> beta N (not beta^2 N) moves beta*sigma^2_I by > 20%", abs(wrong_shift), 0.2,
              kind="min", source="the invariance is not by construction"),
    )
    actions = []
    for s in (0.25, 0.227, 0.20, 0.185, 0.175, 0.16):
        r = th.solve(s)
        actions.append((s, r["c"]))
    fig3 = {"P": th.P, "N": th.N, "gamma": th.gamma, "s2": s2, "a": a, "p_on": p_on, "sigma2_I": t["sigma2_I"],
            "onset_II": onset_II, "actions": actions, "beta_curves": curves}
    theory_figure(fig3, out / "theory_fig3.png")
    report.figures.append(("Theory at the paper's Fig. 3 parameters: (a) per-mode action along Φ = Ψ at the "
                           "self-consistent coupling for several σ² (the paper's Fig. 3a); (b) discrepancy a and the "
                           "fraction of Fourier modes against σ² with the paper's and our onsets; (c) a against β·σ² "
                           "under the Table 1 scaling", "theory_fig3.png"))
    table = "\n".join(f"| {s:.3f} | {np.interp(s, s2, a):.4f} | {np.interp(s, s2, p_on):.4f} | "
                      f"{coupling(th.P, th.N, th.sigma_a2, s):.5f} |" for s in (0.25, 0.236, 0.227, 0.20, 0.18, 0.176, 0.175, 0.16))
    report.sections.append(
        "## Part 1: the theory at the paper's Fig. 3 parameters\n\n"
        f"N = 1000, P = 401, sigma_a^2 = 0.002/N, gamma = 1e-4, per-mode weight 4 e^(-P S_hat(Phi_+)) (Eqs. 41-42), "
        f"lambda = sigma_a^2 <Phi Psi>, a = -sigma^2/(lambda + sigma^2) solved by bracketing (unique root).\n\n"
        f"- GMFL-I onset: P -> infinity closed form **{t['sigma2_I']:.4f}** (c = u a^2 reaches c* = 2 sqrt(gamma/3)); "
        f"finite-P kink of a(sigma^2) at the same place; the Fourier saddle carries 1/P of the modes at "
        f"{window[1]:.4f} and half of them at {window[0]:.4f}; |a| has dropped by 0.05 at {visible_I:.4f}. The paper's "
        f"0.227 lies in this crossover (it is where the saddle's action S_k is ~3); which criterion the paper used is not "
        f"stated.\n- GMFL-II onset (Phi = 0 weight below 1/P): **{onset_II:.4f}** (closed form {t['sigma2_II']:.4f}); "
        f"a there {a_at_II:.4f} (closed form {t['a_end']:.4f}; paper ~ -0.7).\n"
        f"- Table 1 scaling: thresholds drift by {max(drift, drift_II):.1e} in beta sigma^2; finite-P curves differ by "
        f"{d_small:.2e} (beta 1/4 vs 1) and {d_large:.2e} (1 vs 4); scaling N by beta instead of beta^2 moves the onset "
        f"by {100 * wrong_shift:+.0f}%.\n\n| sigma^2 | a | p_on | u |\n|---|---|---|---|\n" + table)
    return {"sigma2_I_closed": t["sigma2_I"], "sigma2_II_closed": t["sigma2_II"], "a_end_closed": t["a_end"],
            "onset_II_finite_P": onset_II, "gmfl1_window": window, "a_drop_0.05_at": visible_I,
            "a_at_I": a_at_I, "a_at_II": a_at_II, "beta_drift": max(drift, drift_II),
            "beta_curve_gaps": [d_small, d_large], "wrong_scaling_shift": wrong_shift}


# ---- part 2: Langevin-sampled networks ------------------------------------------------------------------------------
def analyse_sweep(r: dict, theory_points: int = 41, grid: int = 500) -> dict:
    obs = chain_observables(r)
    s2 = np.asarray(r["noise_vars"])
    cold = r["chains_per_point"] - r["hot_chains_per_point"]
    g = {k: grouped(v, r) for k, v in obs.items()}
    th = theory_curves(r, points=theory_points, grid=grid)
    hist, centres = phi_histograms(r)
    phi_star = math.sqrt(3 / r["gamma"])
    log_cut = math.log10(r["P"] * r["specialised_cut"])
    kappa = grouped(readout_self_energy(r["final"]["w"], r["final"]["v"], r["sigma_a2"],
                                        torch.tensor(s2).repeat_interleave(r["chains_per_point"])).numpy(), r)
    jumps = network_jump(s2, g["frac_on"][:, :cold])
    design = network_design(r["P"], r["N"], r["gamma"])
    return {**{k: r[k] for k in ("P", "N", "noise_vars", "sigma_a2", "gamma", "steps", "burn_in", "every", "samples",
                                 "chains_per_point", "hot_chains_per_point", "fit_s")},
            "grouped": g, "cold": cold, "theory": th, "phi_hist": hist, "phi_centres": centres, "phi_star": phi_star,
            "log_cut": log_cut, "kappa": kappa, "jumps": jumps, "jump_level": JUMP_LEVEL, "barrier": design["barrier"],
            "raw": r}


def fourier_example(sw: dict) -> dict:
    """One sigma^2 point: the phase relation over its cold chains, and one neuron of its first chain written as a sum
    of Gromov cosines over its Fourier modes. The point is the one whose Fourier fraction is nearest 0.2 (a couple of
    frequencies per neuron: the closest to Gromov's one-frequency neurons)."""
    r = sw["raw"]
    frac = sw["grouped"]["frac_on"][:, :sw["cold"]].mean(1)
    i = int(np.argmin(np.where(frac > 0.05, np.abs(frac - 0.2), np.inf)))
    k_chains = r["chains_per_point"]
    P, K, cut = r["P"], (r["P"] - 1) // 2, r["specialised_cut"]
    rows = [i * k_chains + j for j in range(sw["cold"])]
    pr = phase_relation(*(r["final"][k][rows] for k in ("w", "v", "a")), cut)
    w, v, a = (r["final"][k][i * k_chains] for k in ("w", "v", "a"))
    wk, vk, ak = (torch.fft.fft(t.double(), dim=-1)[:, 1:K + 1] for t in (w, v, a))
    phi, psi = wk.abs().square() / P**2, vk.abs().square() / P**2
    on = (phi > cut) & (psi > cut)  # (N, K)
    neuron = int(torch.where(on, phi * psi, torch.zeros_like(phi)).sum(-1).argmax())
    ks = (torch.nonzero(on[neuron]).flatten() + 1).tolist()
    n = torch.arange(P, dtype=torch.float64)
    fine = n  # integer positions only: a sum of near-Nyquist cosines between them would only show aliasing
    ex = {"sigma2_over_A": sw["noise_vars"][i] / sw["theory"]["thresholds"]["A"], "phi_map": phi[:40].numpy(),
          "phi_all": phi.flatten().numpy(), "psi_all": psi.flatten().numpy(), "cut": cut, "neuron": neuron, "ks": ks,
          "fine": fine.numpy(), "n": n.numpy(), "sigma2_index": i,
          **{k_: pr[k_] for k_ in ("R_fourier", "R_other", "R_shuffled", "delta_fourier", "delta_other",
                                  "delta_shuffled", "n_fourier", "n_other")}}
    phase = {"w": torch.angle(wk[neuron]), "v": torch.angle(vk[neuron])}
    phase["a"] = phase["w"] + phase["v"]  # Gromov: the readout's phase is the sum of the input phases (predicted)
    for key, coef, vec in (("w", wk, w), ("v", vk, v), ("a", ak, a)):
        amp = 2 * coef[neuron].abs() / P  # measured amplitudes; phases measured for w, v and predicted for a
        ex[key + "_raw"] = (vec[neuron] - vec[neuron].mean()).double().numpy()
        ex[key + "_gromov"] = sum(amp[k - 1] * torch.cos(2 * math.pi * k * fine / P + phase[key][k - 1]) for k in ks).numpy() \
            if ks else np.zeros(len(fine))
    return ex


def sweep_checks(report: Report, sw: dict, label: str, full: bool) -> dict:
    s2, th, g, cold = np.asarray(sw["noise_vars"]), sw["theory"], sw["grouped"], sw["cold"]
    A = th["thresholds"]["A"]
    a_net, on_net = g["a"][:, :cold].mean(1), g["frac_on"][:, :cold].mean(1)
    p_th = th["two_delta"]["p_on"]
    gp_side, fourier_side = p_th < AWAY, p_th > 1 - AWAY
    dev = np.abs(a_net - th["two_delta"]["a"])
    dev_gp = float(dev[gp_side].max()) if gp_side.any() else math.nan
    dev_fourier = float(dev[fourier_side].max()) if fourier_side.any() else math.nan
    jump_net, jump_th = float(np.nanmean(sw["jumps"])), th["two_delta"]["jump"]
    jump_sd = float(np.nanstd(sw["jumps"], ddof=1)) if np.isfinite(sw["jumps"]).sum() > 1 else math.nan
    src = PAPER + " (theory at the same P, N, sigma_a^2, gamma)"
    report.add(
        Check(f"{label}: sigma^2 of the jump (Fourier fraction crosses {JUMP_LEVEL}), mean of {cold} seeds",
              jump_net, round(jump_th, 7), 0.15, "rel", src + f"; two-delta theory {jump_th:.4g}, seeds sd {jump_sd:.2g}"),
        Check(f"{label}: max |a_net - a_theory| on the GP side (theory p_on < {AWAY})", dev_gp, 0.05, kind="max", source=src),
        Check(f"{label}: max |a_net - a_theory| on the Fourier side (theory p_on > {1 - AWAY})", dev_fourier, 0.05,
              kind="max", source=src),
    )
    hot_gap = (float(np.abs(g["frac_on"][:, cold:] - on_net[:, None]).max()) if sw["hot_chains_per_point"] else math.nan)
    hot_gap_a = (float(np.abs(g["a"][:, cold:] - a_net[:, None]).max()) if sw["hot_chains_per_point"] else math.nan)
    out = {"hot_vs_cold_frac": hot_gap, "hot_vs_cold_a": hot_gap_a, "jump_network_seeds": sw["jumps"].tolist(),
           "jump_network": jump_net, "jump_network_sd": jump_sd,
           "jump_two_delta": jump_th, "jump_exact": th["exact"]["jump"], "dev_gp": dev_gp, "dev_fourier": dev_fourier}
    if not full:
        return out
    lo, hi = int(np.argmin(s2)), int(np.argmax(s2))
    bim_lo = bimodality(sw["phi_hist"][lo], sw["phi_centres"], sw["log_cut"])
    bim_hi = bimodality(sw["phi_hist"][hi], sw["phi_centres"], sw["log_cut"])
    ex = fourier_example(sw)
    report.add(
        Check(f"{label}: Fourier modes at the smallest sigma^2 (fraction, cold chains)", float(on_net[lo]), 0.05,
              kind="min", source=PAPER + " Claim IV: Phi != 0 saddles dominate below the transition"),
        Check(f"{label}: placebo, no Fourier modes at the largest sigma^2", float(on_net[hi]), 1e-3, kind="max",
              source=PAPER + ": GFL phase, a single saddle at Phi = 0"),
        Check(f"{label}: Phi histogram bimodal at the smallest sigma^2 (dip / lower peak < 0.5)",
              bool(bim_lo["bimodal"]), True, kind="true", source=PAPER + ": mixture of Gaussians (droplets); "
              f"dip ratio {bim_lo['dip_ratio']:.3g}, mass above cut {bim_lo['mass_above']:.3f}"),
        Check(f"{label}: chains from the Fourier side agree with chains from the prior (max |d frac|)", hot_gap, 0.05,
              kind="max", source="equilibrium sampling has no memory of the start (no hysteresis within the run)"),
        Check(f"{label}: phase relation on Fourier modes at sigma^2 = {ex['sigma2_over_A']:.2f} A, R = |<exp(i Delta)>|",
              ex["R_fourier"], 0.9, kind="min",
              source=f"Gromov 2023 / {PAPER} §3.2.1: arg a_k = arg w_k + arg v_k; {ex['n_fourier']} modes"),
        Check(f"{label}: placebo, R with v_k taken from another neuron", ex["R_shuffled"],
              round(3 / math.sqrt(max(ex["n_fourier"], 1)), 4), kind="max",
              source=f"unpaired phases are uniform: R ~ 1/sqrt(n) (3 sd), n = {ex['n_fourier']}"),
    )
    out.update({"bimodality_smallest": bim_lo, "bimodality_largest": bim_hi, "R_fourier": ex["R_fourier"], "R_other": ex["R_other"],
                "R_shuffled": ex["R_shuffled"],
                "n_fourier": ex["n_fourier"], "n_other": ex["n_other"]})
    sw["example"] = ex
    return out


def sweep_table(sw: dict) -> str:
    s2, th, g, cold = np.asarray(sw["noise_vars"]), sw["theory"], sw["grouped"], sw["cold"]
    A = th["thresholds"]["A"]
    rows = []
    for i in np.argsort(s2):
        a_c, f_c = g["a"][i, :cold], g["frac_on"][i, :cold]
        hot = (f" {g['a'][i, cold:].mean():.3f} / {g['frac_on'][i, cold:].mean():.3f} |" if sw["hot_chains_per_point"]
               else " - |")
        rows.append(f"| {s2[i]:.4g} | {s2[i] / A:.2f} | {th['two_delta']['u'][i]:.3g} | {th['two_delta']['a'][i]:.3f} | "
                    f"{th['exact']['a'][i]:.3f} | {a_c.mean():.3f} ± {a_c.std(ddof=1) if cold > 1 else 0:.3f} "
                    f"({', '.join(f'{x:.3f}' for x in a_c)}) | {th['two_delta']['p_on'][i]:.3f} | {th['exact']['p_on'][i]:.3f} | "
                    f"{f_c.mean():.3f} ± {f_c.std(ddof=1) if cold > 1 else 0:.3f} |{hot} {sw['kappa'][i, :cold].mean():.2f} |")
    head = ("| sigma^2 | sigma^2/A | u | a theory (two-delta) | a theory (exact) | a network, mean ± sd (seeds) | "
            "Fourier fraction theory (two-delta) | (exact) | Fourier fraction network | hot chain a / fraction | "
            "readout self-energy kappa |\n|" + "---|" * 11)
    return head + "\n" + "\n".join(rows)


def heldout_part(report: Report, sw: dict) -> dict:
    s2, g, cold = np.asarray(sw["noise_vars"]), sw["grouped"], sw["cold"]
    lo, hi = int(np.argmin(s2)), int(np.argmax(s2))
    acc = g["test_acc"][:, :cold]
    P = sw["P"]
    report.add(
        Check("held-out (half the table): test accuracy of the posterior mean at the smallest sigma^2",
              float(acc[lo].mean()), 0.9, kind="min", source="Gromov 2023: the Fourier solution generalises; "
              f"seeds {', '.join(f'{x:.3f}' for x in acc[lo])}"),
        Check("held-out placebo: test accuracy at the largest sigma^2 (GP-like phase)", float(acc[hi].mean()), 3 / P,
              kind="max", source=PAPER + " App. B.1: the GP needs the full table (chance 1/P)"),
    )
    rows = "\n".join(
        f"| {s2[i]:.4g} | {s2[i] / sw['theory']['thresholds']['A']:.2f} | {g['a'][i, :cold].mean():.3f} | "
        f"{g['test_component'][i, :cold].mean():.3f} ({g['test_component_additive'][i, :cold].mean():.3f}) | "
        f"{g['train_acc'][i, :cold].mean():.3f} | "
        f"{acc[i].mean():.3f} ± {acc[i].std(ddof=1) if cold > 1 else 0:.3f} | {g['test_mse'][i, :cold].mean():.4f} | "
        f"{g['frac_on'][i, :cold].mean():.3f} |" for i in np.argsort(s2))
    summary = (f"At the smallest sigma^2 the posterior mean fits the training pairs (train accuracy "
               f"{g['train_acc'][lo, :cold].mean():.3f}, Fourier fraction {g['frac_on'][lo, :cold].mean():.2f}) but its "
               f"output on the held-out pairs is anti-correlated with the target (target component "
               f"{g['test_component'][lo, :cold].mean():.3f}, of which {g['test_component_additive'][lo, :cold].mean():.3f} "
               f"from functions of n alone plus m alone; test accuracy {acc[lo].mean():.3f}). For that additive part the "
               f"sign is forced (every row and column of the mean-removed table sums to zero, so a row average fitted "
               f"on part of a row has the opposite sign on the rest); the remaining output is anti-correlated too. At "
               f"these sizes the posterior memorises the training half instead of generalising.")
    return {"summary": summary, "table": "| sigma^2 | sigma^2/A | a (train pairs) | target component on test pairs (of which n-only + "
                     "m-only part) | train accuracy | "
                     "test accuracy (seeds mean ± sd) | test MSE per pair (zero predictor: %.4f) | Fourier fraction |\n|"
                     % (1 - 1 / P) + "---|" * 8 + "\n" + rows,
            "test_acc": acc.tolist(), "test_component": g["test_component"][:, :cold].tolist()}


def sample(config: Path, runs: Path, extra: list[str], reuse: bool = False, name: str | None = None) -> dict:
    """One batched Langevin sweep (all sigma^2 x chains in one run), reduced to what the analysis needs and cached
    in runs/<name>/samples.pt so figures and checks can be rebuilt (--reuse)."""
    name = name or config.stem
    cache = runs / name / "samples.pt"
    if reuse and cache.exists():
        return torch.load(cache)
    run = fit(config, *extra, runs=runs / name)
    cli = run.cli
    post = run.callback(PosteriorAverage)
    if post.count == 0:
        raise RuntimeError(f"{config.name}: PosteriorAverage collected no samples (max_steps must exceed burn_in)")
    model, dm = cli.model, cli.datamodule
    hp = model.hparams
    train_mask = dm.splits["val"][3][0].cpu()  # (P^2,) pairs the chains were trained on
    out = {"config": config.name, "P": hp.p, "N": hp.width, "noise_vars": [float(s) for s in hp.noise_vars],
           "chains_per_point": hp.chains_per_point, "hot_chains_per_point": hp.hot_chains_per_point,
           "sigma_a2": hp.sigma_a2, "gamma": hp.gamma, "steps": int(cli.trainer.global_step), "burn_in": post.burn_in,
           "every": post.every, "samples": post.count, "train_mask": train_mask, "mean": post.mean,
           "final": {k: getattr(model, k).detach().cpu() for k in ("w", "v", "a")}, "hot": model.hot.cpu(),
           "specialised_cut": model.specialised_cut, "fit_s": run.seconds}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, cache)
    return out


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("modular_posterior", __doc__.splitlines()[0])
    cli.add_argument("--reuse", action="store_true", help="reuse cached samples in --runs (re-analyse only)")
    cli.add_argument("--main", default=MAIN, help=f"the sweep that gets the full set of checks (default {MAIN}; "
                                                 "p61_gpu.yaml on a GPU)")
    cli.add_argument("--views", nargs="*", default=EXTRA_VIEWS,
                     help=f"further sweeps beside {MAIN} (configs/modular_posterior/*.yaml; default {EXTRA_VIEWS}; "
                          "p23_n64.yaml and p23_n256.yaml add the width views)")
    args, extra = cli.parse(argv, known_only=True)  # anything else goes to every sampling run
    names = [TINY] if args.tiny else [args.main, *args.views]
    held = TINY if args.tiny else HELDOUT
    for name in {*names, held}:
        if not (CONFIGS / name).exists():
            cli.error(f"argument --main/--views: missing config {CONFIGS / name}")
    if args.seed is not None:
        extra = [*extra, f"--seed_everything={args.seed}"]
    runs = args.runs
    with staged_output(args.out) as out:
        analyse(names, held, runs, extra, args.reuse, out, args.tiny)
    return 0


def analyse(names, held, runs, extra, reuse, out, tiny) -> None:
    t0 = time.time()

    report = Report("Modular-addition posterior: mean-field theory vs Langevin-sampled quadratic networks")
    report.metrics["theory_fig3"] = theory_part(report, out)
    t_theory = time.time() - t0

    sweeps, timings = [], {}
    for k, name in enumerate(names):
        r = sample(CONFIGS / name, runs, extra, reuse=reuse)
        timings[name] = r["fit_s"]
        sw = analyse_sweep(r, *((9, 150) if tiny else ()))
        label = f"P={sw['P']} N={sw['N']}"
        sw["label"] = label
        sw["checks"] = sweep_checks(report, sw, label, full=(k == 0))
        sweeps.append(sw)
    held_extra = [*extra, "--data.init_args.train_fractions=[0.6]"] if tiny else extra
    rh = sample(CONFIGS / held, runs, held_extra, reuse=reuse, name=("tiny_heldout" if tiny else None))
    timings["heldout"] = rh["fit_s"]
    hw = analyse_sweep(rh, 5, 100)  # the held-out view uses only the theory's scale A
    held_metrics = heldout_part(report, hw)

    main_sw = sweeps[0]
    discrepancy_figure(sweeps, out / "discrepancy.png")
    histogram_figure(main_sw, out / "phi_histograms.png")
    neurons_figure(main_sw, out / "fourier_neurons.png")
    report.figures += [
        ("Discrepancy a (top) and fraction of Fourier modes (bottom) against σ²/A for each sampled size: chains from "
         "the prior (dots; mean ± sd over seeds as error bars) and from the Fourier side (crosses), against the "
         "two-delta theory (solid) and the exact single-mode theory (dashed) at the same P, N, σ_a², γ", "discrepancy.png"),
        ("Posterior histograms of log10(P·Φ_k) over every (neuron, k ≠ 0) across σ²: one prior bulk in the GP-like "
         "phase, a second bump at the theory's Φ* below the transition", "phi_histograms.png"),
        ("Learned neurons in Fourier coordinates at the σ² where about 20% of the modes are Fourier modes (a couple "
         "of frequencies per neuron): (a) Φ_k per neuron of one chain, (b) the phase relation "
         "Δ = arg a_k − arg w_k − arg v_k on Fourier modes, on the other modes, and with v_k taken from another neuron "
         "(placebo), (c) Φ_k vs Ψ_k, (d-f) one neuron's w, v and readout a beside the sum of Gromov's cosines over its "
         "Fourier modes (measured amplitudes; phases measured for w, v and predicted as φ_w + φ_v for a, not fitted)",
         "fourier_neurons.png")]

    # ---- prose ------------------------------------------------------------------------------------------------
    d = network_design(main_sw["P"], main_sw["N"], main_sw["gamma"])
    report.sections.append(
        "## Part 2: Langevin-sampled networks\n\n"
        "**How the sizes were chosen.** The single-mode physics at finite P is set by the barrier of the per-mode action "
        "at the transition, B = P/(4 sqrt(gamma/3)) (the paper's Fig. 3 has B ~ 17 000, far beyond any Langevin run), "
        "and by the ratio of the all-Fourier eigenvalue 4 sigma_a^2 P^2 Phi*^2 to the transition scale "
        "A = sqrt(2 sigma_a^2 P^2/(N c*)). We take gamma = 11, so B = %.2f at P = 23 and grows with P (%s), and "
        "sigma_a^2 so that this ratio is 1/4 as in Fig. 3 (0.06/0.236); then A = %.4g for N = %d and the sigma^2 grid "
        "spans 0.5 A .. 1.5 A, across both onsets (two-delta theory: GMFL-I at %.3g A, GMFL-II at %.3g A). The "
        "likelihood is a sum over pairs with noise sigma^2 and priors w ~ N(0, 1), a ~ N(0, sigma_a^2/N) "
        "(fact sheet §2 convention), plus the sextic potential P (gamma/6) sum_k (|w_k|^6 + |v_k|^6)."
        % (d["barrier"], ", ".join(dict.fromkeys(f"P={s['P']}: B={s['barrier']:.2f}" for s in sweeps)), d["A"], d["N"],
           main_sw["theory"]["thresholds"]["sigma2_I"] / d["A"], main_sw["theory"]["thresholds"]["sigma2_II"] / d["A"]))
    for sw in sweeps:
        c = sw["checks"]
        report.sections.append(
            f"### {sw['label']}\n\n{len(sw['noise_vars'])} sigma^2 points x {sw['chains_per_point']} chains "
            f"({sw['hot_chains_per_point']} per point started from the Fourier side) in one batched run of {sw['steps']} "
            f"Langevin steps; posterior means over {sw['samples']} samples per chain (every {sw['every']} steps after "
            f"{sw['burn_in']}). Jump (Fourier fraction = {JUMP_LEVEL}): network {c['jump_network']:.4g} ± "
            f"{c['jump_network_sd']:.2g} (seeds {', '.join(f'{x:.4g}' for x in c['jump_network_seeds'])}), two-delta "
            f"theory {c['jump_two_delta']:.4g}, exact single-mode theory {c['jump_exact']:.4g} "
            f"({100 * (c['jump_network'] / c['jump_two_delta'] - 1):+.0f}% vs two-delta).\n\n" + sweep_table(sw))
    trend = "\n".join(
        f"| {sw['P']} | {sw['N']} | {sw['barrier']:.2f} | {sw['checks']['jump_network']:.4g} ± {sw['checks']['jump_network_sd']:.2g} | "
        f"{sw['checks']['jump_two_delta']:.4g} | {100 * (sw['checks']['jump_network'] / sw['checks']['jump_two_delta'] - 1):+.1f}% | "
        f"{sw['checks']['dev_gp']:.4f} | {sw['checks']['dev_fourier']:.3f} | "
        f"{sw['grouped']['frac_on'][int(np.argmin(sw['noise_vars'])), :sw['cold']].mean():.3f} | "
        f"{sw['kappa'][int(np.argmin(sw['noise_vars'])), :sw['cold']].mean():.2f} | "
        f"{sw['checks']['hot_vs_cold_frac']:.3f} |" for sw in sweeps)
    report.sections.append(
        "### How the agreement changes with P and N\n\n| P | N | barrier B | jump, network | jump, theory | "
        "jump error | max abs(a - theory), GP side | max abs(a - theory), Fourier side | Fourier fraction at 0.5 A "
        "(theory 1.00) | kappa at 0.5 A | max hot - cold gap in the fraction (nan: no hot chains) |\n|" + "---|" * 11 + "\n" + trend)
    report.sections.append(
        "**Why the networks fall short of the theory on the Fourier side.** Two measured reasons. (1) Finite width: "
        "the mean-field action integrates each neuron's readout against its prior only and drops the neuron's own data "
        "term, kappa = (sigma_a^2/(N sigma^2)) sum_pairs h_i^2 (O(1/N) at fixed u, and growing like P^2 at fixed N for "
        "this design). kappa is ~0.02 on the GP side, where network and theory agree to < 0.005 in a, and O(1) on the "
        "Fourier side, where the networks hold fewer Fourier modes than the theory (which puts every mode at Phi* below ~0.75 A). Across "
        "the widths sampled at P = 23 the deficit shrinks with N (table above); at fixed N = 128 it is larger at "
        "P = 31. (2) Sampling: below the transition, chains started from the Fourier side end with more Fourier modes "
        "than chains started from the prior (last column), so those points are not fully mixed within the run and "
        "the gap grows with N; the equilibrium values are expected between the cold and the hot chains. The scaling limit of the theory needs "
        "N >> P^2 and longer chains (GPU config configs/modular_posterior/p61_gpu.yaml, not run here).")
    report.sections.append("### Held-out view (P = 23, half the table used for training)\n\n"
                           "The theory uses the whole table; this run trains on a random half and tests on the rest. "
                           "Accuracy is the argmax of the posterior-mean output. " + held_metrics["summary"] + "\n\n"
                           + held_metrics["table"])
    wall = time.time() - t0
    report.sections.append(
        f"Wall time: {wall:.0f} s in all (theory {t_theory:.0f} s; sampling "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f") with {torch.get_num_threads()} torch thread(s)"
        + (" — cached samples reused (--reuse)." if reuse else "."))
    report.metrics.update({
        "sweeps": [{"label": sw["label"], "P": sw["P"], "N": sw["N"], "sigma_a2": sw["sigma_a2"], "gamma": sw["gamma"],
                    "barrier": sw["barrier"], "A": sw["theory"]["thresholds"]["A"], "noise_vars": sw["noise_vars"],
                    "steps": sw["steps"], "samples_per_chain": sw["samples"], "chains_per_point": sw["chains_per_point"],
                    "hot_chains_per_point": sw["hot_chains_per_point"],
                    "a_chains": sw["grouped"]["a"].tolist(), "frac_on_chains": sw["grouped"]["frac_on"].tolist(),
                    "kappa_chains": sw["kappa"].tolist(),
                    "theory_two_delta": {"a": sw["theory"]["two_delta"]["a"].tolist(),
                                         "p_on": sw["theory"]["two_delta"]["p_on"].tolist()},
                    "theory_exact": {"a": sw["theory"]["exact"]["a"].tolist(), "p_on": sw["theory"]["exact"]["p_on"].tolist()},
                    "thresholds": sw["theory"]["thresholds"], "checks": sw["checks"]} for sw in sweeps],
        "heldout": {"noise_vars": hw["noise_vars"], **{k: v for k, v in held_metrics.items() if k not in ("table",)}},
        "wall_time_s": {"total": wall, "theory": t_theory, "sampling": timings, "torch_threads": torch.get_num_threads(),
                        "reused_samples": reuse}})
    report.write(out)


if __name__ == "__main__":
    sys.exit(main())
