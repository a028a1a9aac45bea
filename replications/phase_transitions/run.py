"""Calibrating the phase-transition toolkit (mfnn.phases) on two exactly solved transitions.

2D Ising model (square lattice, periodic, J = 1): a non-mean-field transition, Onsager's T_c = 2/ln(1 + sqrt 2),
nu = 1, gamma/nu = 7/4, beta/nu = 1/8. Curie-Weiss model (fully connected, coupling J/N): the mean-field twin,
T_c = 1, chi(T_c) ~ N^(1/2), <|m|>(T_c) ~ N^(-1/4). Both are measured by the same code: bootstrap moments,
Binder crossings extrapolated in size, Houdayer-Hartmann collapses, finite-size scaling at T_c and the
first-order / continuous verdict. Then the same tools on neural transitions: the width threshold of Gromov's
modular-addition MLP (width_threshold.py) and positional -> semantic attention across d (attention_d.py).

    python replications/phase_transitions/run.py [--out DIR] [--runs DIR] [--config YAML] [--tiny] [--seed S]
        [--parts ising,curie_weiss,width,attention] [--jobs J]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]

from mfnn.phases import (binder_critical_point, collapse, diagnose, integrated_autocorrelation_time,
                         observables, power_law, quality, value_at)
from mfnn.phases.ising import (BINDER_CW_LIMIT, T_C_ONSAGER, curie_weiss_moments, sample_curie_weiss,
                               simulate_ising)
from mfnn.plotting.phases import collapse_figure, histogram_panel, observables_figure
from mfnn.phases.synthetic import first_order_samples
from mfnn.experiment import ReplicationCLI, existing_file, run_parts, staged_output
from mfnn.report import Check, Report
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the parts beside this script
from attention_d import run_attention_part  # noqa: E402  (part `attention`: Cui et al. 2024 in d)
from width_threshold import run_width  # noqa: E402

# plain YAML, not Lightning CLI configs (configs/ holds only those), so they live beside the script
CONFIGS = Path(__file__).resolve().parent / "configs"
ONSAGER = "Onsager 1944 (exact 2D Ising)"
MEAN_FIELD = "Curie-Weiss mean-field theory"
EXACT = {"ising": {"T_c": T_C_ONSAGER, "nu": 1.0, "gamma_nu": 1.75, "beta_nu": 0.125},
         # Curie-Weiss in powers of N: (T - 1) N^(1/2) scaling variable, chi ~ N^(1/2), <|m|> ~ N^(-1/4)
         "cw": {"T_c": 1.0, "nu": 2.0, "gamma_nu": 0.5, "beta_nu": 0.25}}
TOL = {"T_c_ising": 0.005, "nu": 0.10, "gamma_nu": 0.05, "beta_nu": 0.10, "T_c_cw": 0.01, "cw_exponents": 0.10}
S_MAX = 3.0  # a collapse is "good" when S (a reduced chi^2) <= 3: ~1 is ideal, corrections to scaling add a little
PLACEBO_RATIO = 10.0  # mean-field exponents must collapse the Ising data >= 10x worse than the best fit
RECORDS_PER_TAU = 50  # records per chain >= 50 tau_int: bias of the error bar and of tau itself ~ tau / records


def pilot_crossing(cfg: dict, seed: int, device) -> dict:
    """A coarse scan at the two smallest sizes finds where the dense production grid goes."""
    p = cfg["pilot"]
    temps = np.round(np.arange(p["t_min"], p["t_max"] + 1e-9, p["step"]), 6)
    obs = {}
    for L in p["sizes"]:
        run = simulate_ising(L, temps, p["chains"], sweeps=p["steps"], burn_in=p["steps"] // 5, seed=seed,
                             cluster=True, metropolis_per_step=0, device=device)
        obs[L] = observables(temps, run["m"], volume=L * L, n_boot=50, rng=np.random.default_rng(seed))
    res = binder_critical_point(obs)
    T_p = res["largest_pair"]["g"]
    if not np.isfinite(T_p):
        T_p = float(np.mean([p["t_min"], p["t_max"]]))
    return {"temperatures": temps.tolist(), "T_pilot": float(T_p)}


def autocorrelation(cfg: dict, T: float, seed: int, device) -> dict:
    """tau_int of |m| for checkerboard Metropolis alone and for Swendsen-Wang alone near T_c, per size, with the
    dynamic exponent z of tau ~ L^z for each."""
    t = cfg["tau"]
    out = {"T": T, "sizes": t["sizes"], "metropolis": [], "swendsen_wang": []}
    for L in t["sizes"]:
        metro = simulate_ising(L, [T], t["chains"], sweeps=t["metropolis_sweeps"], burn_in=t["metropolis_sweeps"] // 4,
                               seed=seed, cluster=False, metropolis_per_step=1, device=device)
        sw = simulate_ising(L, [T], t["chains"], sweeps=t["cluster_steps"], burn_in=50, seed=seed, cluster=True,
                            metropolis_per_step=0, device=device)
        out["metropolis"].append(integrated_autocorrelation_time(np.abs(metro["m"][0])))
        out["swendsen_wang"].append(integrated_autocorrelation_time(np.abs(sw["m"][0])))
    for k in ("metropolis", "swendsen_wang"):
        z = np.polyfit(np.log(t["sizes"]), np.log(out[k]), 1)
        out[f"z_{k}"], out[f"log_amplitude_{k}"] = float(z[0]), float(z[1])
    return out


def tau_at(tau: dict, L: int) -> float:
    """Swendsen-Wang tau_int extrapolated to size L from the measured power law."""
    return float(np.exp(tau["log_amplitude_swendsen_wang"]) * L ** tau["z_swendsen_wang"])


def analyse(samples: dict[int, np.ndarray], g: np.ndarray, volume, cfg: dict, rng, shift_exponent: float,
            systematic: tuple[float, ...], nu_start: float, n_boot_collapse: int) -> dict:
    """Everything the toolkit measures on one data set (one seed, or all seeds pooled)."""
    obs = {L: observables(g, x, volume=volume(L), n_boot=cfg["n_boot"], rng=rng) for L, x in samples.items()}
    bc = binder_critical_point(obs, shift_exponent=shift_exponent, systematic_exponents=systematic)
    T_c = bc["g_c"]
    sizes = sorted(obs)
    fss = {}
    for key in ("chi", "abs_m"):
        vals = []
        for L in sizes:
            v = value_at(obs[L], key, T_c)
            # the T_c error moves the value too: half the change across T_c +- err, in quadrature
            shift = 0.5 * abs(value_at(obs[L], key, T_c + bc["err"])["value"] - value_at(obs[L], key, T_c - bc["err"])["value"])
            vals.append((v["value"], float(np.hypot(v["err"], shift))))
        fss[key] = {"values": vals, **power_law(sizes, [v for v, _ in vals], [e for _, e in vals])}
    window = (T_c - cfg["collapse_half_width"], T_c + cfg["collapse_half_width"])
    kw = dict(n_boot=n_boot_collapse, max_evaluations=cfg.get("collapse_max_evaluations", 1500))
    u_fit = collapse(obs, "binder", (T_c, nu_start, 0.0), window, fix_kappa=0.0, **kw)
    chi_fit = collapse(obs, "chi", (T_c, u_fit["nu"], fss["chi"]["slope"]), window, **kw)
    m_fit = collapse(obs, "abs_m", (T_c, u_fit["nu"], fss["abs_m"]["slope"]), window, **kw)
    return {"obs": obs, "binder": bc, "fss": fss, "collapse": {"binder": u_fit, "chi": chi_fit, "abs_m": m_fit},
            "window": window}


def summary(a: dict) -> dict:
    """The headline numbers of one analysis (positive beta/nu)."""
    c = a["collapse"]
    return {"T_c": a["binder"]["g_c"], "T_c_err": a["binder"]["err"], "nu": c["binder"]["nu"],
            "nu_err": c["binder"]["nu_err"], "gamma_nu": c["chi"]["kappa"], "gamma_nu_err": c["chi"]["kappa_err"],
            "beta_nu": -c["abs_m"]["kappa"], "beta_nu_err": c["abs_m"]["kappa_err"],
            "gamma_nu_fss": a["fss"]["chi"]["slope"], "gamma_nu_fss_err": a["fss"]["chi"]["slope_err"],
            "beta_nu_fss": -a["fss"]["abs_m"]["slope"], "beta_nu_fss_err": a["fss"]["abs_m"]["slope_err"],
            "S": {k: v["S"] for k, v in c.items()}}


def pooled_samples(per_seed: list[dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    return {L: np.concatenate([s[L] for s in per_seed], axis=1) for L in per_seed[0]}


def seed_table(name: str, rows: list[tuple[str, str, float]], seeds: list[dict], pooled: dict) -> str:
    head = (f"**{name}: per seed and pooled.** Seeds: independent runs (own initial states and random numbers). "
            "Pooled: all chains of all seeds, bootstrap error over chains.\n\n"
            "| quantity | " + " | ".join(f"seed {i}" for i in range(len(seeds))) +
            " | seeds mean ± sd | pooled ± bootstrap | exact |\n|---|" + "---|" * (len(seeds) + 3))
    lines = [head]
    for label, key, exact in rows:
        vals = [s[key] for s in seeds]
        lines.append(f"| {label} | " + " | ".join(f"{v:.4f}" for v in vals) +
                     f" | {np.mean(vals):.4f} ± {np.std(vals, ddof=1):.4f} | {pooled[key]:.4f} ± {pooled[key + '_err']:.4f}"
                     f" | {exact:.4f} |")
    return "\n".join(lines)


def side_by_side(ising: dict, cw: dict, path: Path) -> None:
    """Mean-field vs non-mean-field, measured by the same code: Binder curves, and chi, <|m|> at T_c against the
    number of spins V (L^2 or N) with the fitted power laws."""
    fig = Figure(figsize=(16, 3.8), layout="constrained")
    ax = fig.subplots(1, 4)
    for a, title, lab, exact in ((ising, "2D Ising", "L", T_C_ONSAGER), (cw, "Curie-Weiss", "N", 1.0)):
        axis = ax[0] if a is ising else ax[1]
        for L, o in sorted(a["obs"].items()):
            axis.errorbar(o.g, o.mean["binder"], o.err["binder"], ms=2, marker="o", lw=0.8, label=f"{lab} = {L}")
        axis.axvline(exact, color="k", ls="--", lw=1)
        axis.axvspan(a["binder"]["g_c"] - a["binder"]["err"], a["binder"]["g_c"] + a["binder"]["err"], color="tab:red",
                     alpha=0.3, lw=0)
        axis.set_title(f"{title}: Binder U (dashed: exact $T_c$)", fontsize=9)
        axis.set_xlabel("T")
        axis.set_ylabel("U")
        axis.legend(fontsize=6, ncol=2)
    for axis, key, ylab in ((ax[2], "chi", r"$\chi(T_c)$"), (ax[3], "abs_m", r"$\langle|m|\rangle(T_c)$")):
        for a, name, power, colour in ((ising, "2D Ising", 2, "tab:blue"), (cw, "Curie-Weiss", 1, "tab:orange")):
            sizes = np.array(sorted(a["obs"]), dtype=float)
            V = sizes**power
            v, e = np.array(a["fss"][key]["values"]).T
            axis.errorbar(V, v, e, marker="o", ls="none", color=colour)
            slope_V = a["fss"][key]["slope"] / power  # exponent of V = L^power
            axis.plot(V, a["fss"][key]["amplitude"] * sizes ** a["fss"][key]["slope"], color=colour,
                      label=f"{name}: $V^{{{slope_V:.3f}}}$")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("number of spins V ($L^2$ or N)")
        axis.set_ylabel(ylab)
        axis.legend(fontsize=8)
    ax[2].set_title("exact: Ising $V^{0.875}$, mean field $V^{0.5}$", fontsize=9)
    ax[3].set_title("exact: Ising $V^{-0.0625}$, mean field $V^{-0.25}$", fontsize=9)
    fig.savefig(path, dpi=110)


def part_ising(cfg: dict, seeds: list[int], device, runs: Path, out: Path) -> dict:
    """2D Ising: pilot, autocorrelation, production, per-seed and pooled analysis, the collapse placebo, the
    first-order verdict (with the synthetic first-order placebo through the same code), figures and prose."""
    t0, times = time.time(), {}
    rng = np.random.default_rng(seeds[0])
    ic = cfg["ising"]
    pilot = pilot_crossing(ic, seeds[0], device)
    T_p = pilot["T_pilot"]
    dense = np.round(np.arange(T_p - ic["dense"]["half_width"], T_p + ic["dense"]["half_width"] + 1e-9,
                               ic["dense"]["step"]), 4)
    temps = np.array(sorted(set(dense.tolist()) | {float(t) for t in ic["coarse"]}))
    times["ising_pilot"] = time.time() - t0
    tau = autocorrelation(ic, T_p, seeds[0], device)
    times["ising_tau"] = time.time() - t0 - times["ising_pilot"]
    plan = {}
    for L in ic["sizes"]:
        t_L = tau_at(tau, L)
        plan[L] = {"tau_predicted": t_L,
                   "records": int(np.clip(np.ceil(2 * t_L * ic["independent_records_per_chain"]), ic["min_records"], ic["max_records"])),
                   "burn_in": int(max(50, np.ceil(ic["burn_in_tau"] * t_L)))}
    ising_seeds, tau_prod = [], {}
    t1 = time.time()
    for s in seeds:
        per_L = {}
        for L in ic["sizes"]:
            run = simulate_ising(L, temps, ic["chains"], sweeps=plan[L]["records"], burn_in=plan[L]["burn_in"],
                                 seed=1000 * s + L, cluster=True, metropolis_per_step=0, device=device)
            per_L[L] = run["m"]  # (T, chains, records)
            taus = [integrated_autocorrelation_time(np.abs(run["m"][i])) for i in range(len(temps))]
            tau_prod[L] = max(tau_prod.get(L, 0.0), max(taus))
        ising_seeds.append(per_L)
    times["ising_production"] = time.time() - t1
    np.savez_compressed(runs / "ising_samples.npz", temperatures=temps,
                        **{f"seed{s}_L{L}": x[L] for s, x in zip(seeds, ising_seeds) for L in x})

    # ---- analysis: per seed (collapse errors from the seed spread) and pooled (bootstrap) -------------------
    t3 = time.time()
    ising_kw = dict(g=temps, volume=lambda L: L * L, cfg=ic, shift_exponent=2.0, systematic=(1.0, 3.0), nu_start=1.0)
    ising_per_seed = [summary(analyse(x, rng=rng, n_boot_collapse=0, **ising_kw)) for x in ising_seeds]
    ising = analyse(pooled_samples(ising_seeds), rng=rng, n_boot_collapse=ic["collapse_boot"], **ising_kw)
    ising_sum = summary(ising)
    times["ising_analysis"] = time.time() - t3

    # placebo for the collapse: the same Ising data with mean-field exponents (nu = 1/2, gamma/nu = 2, beta/nu = 1)
    def data(key):
        w = ising["window"]
        return [(float(L), o.g[(o.g >= w[0]) & (o.g <= w[1])], o.mean[key][(o.g >= w[0]) & (o.g <= w[1])],
                 o.err[key][(o.g >= w[0]) & (o.g <= w[1])]) for L, o in sorted(ising["obs"].items())]
    Tc = ising_sum["T_c"]
    placebo = {"binder": quality(Tc, 0.5, 0.0, data("binder")), "chi": quality(Tc, 0.5, 2.0, data("chi")),
               "abs_m": quality(Tc, 0.5, -1.0, data("abs_m"))}
    placebo_ratio = min(placebo[k] / ising["collapse"][k]["S"] for k in placebo)

    # first-order verdicts: Ising, and a synthetic first-order placebo through the same code
    ising_pooled = pooled_samples(ising_seeds)
    ising_fo = diagnose(ising_pooled, ising["obs"], g_c=Tc, window=0.05)
    g_syn = np.linspace(-0.05, 0.05, 11)
    syn = first_order_samples((8, 16, 32), g_syn, chains=400, rng=np.random.default_rng(seeds[0]))
    syn_obs = {L: observables(g_syn, x, volume=L * L, n_boot=60, rng=rng) for L, x in syn.items()}
    syn_fo = diagnose(syn, syn_obs)

    ex = EXACT["ising"]
    min_records_tau = min(plan[L]["records"] / tau_prod[L] for L in ic["sizes"])
    checks = [
        Check("Ising T_c: Binder crossings extrapolated in L", ising_sum["T_c"], round(ex["T_c"], 5), TOL["T_c_ising"],
              "rel", f"{ONSAGER}; seeds: {per(ising_per_seed, 'T_c')}"),
        Check("Ising nu: collapse of U", ising_sum["nu"], ex["nu"], TOL["nu"], "rel",
              f"{ONSAGER}; seeds: {per(ising_per_seed, 'nu')}"),
        Check("Ising gamma/nu: collapse of chi", ising_sum["gamma_nu"], ex["gamma_nu"], TOL["gamma_nu"], "rel",
              f"{ONSAGER}; seeds: {per(ising_per_seed, 'gamma_nu')}"),
        Check("Ising beta/nu: collapse of <|m|>", ising_sum["beta_nu"], ex["beta_nu"], TOL["beta_nu"], "rel",
              f"{ONSAGER}; seeds: {per(ising_per_seed, 'beta_nu')}"),
        Check("Ising gamma/nu, second view: slope of log chi(T_c) vs log L", ising_sum["gamma_nu_fss"], ex["gamma_nu"],
              TOL["gamma_nu"], "rel", f"{ONSAGER}; seeds: {per(ising_per_seed, 'gamma_nu_fss')}"),
        Check("Ising beta/nu, second view: -slope of log <|m|>(T_c) vs log L", ising_sum["beta_nu_fss"], ex["beta_nu"],
              TOL["beta_nu"], "rel", f"{ONSAGER}; seeds: {per(ising_per_seed, 'beta_nu_fss')}"),
        Check("Ising collapses consistent with their error bars: max S", max(ising_sum["S"].values()), S_MAX, kind="max",
              source="Houdayer-Hartmann S is a reduced chi^2"),
        Check("placebo: mean-field exponents collapse the Ising data worse (min S_MF / S_best)", placebo_ratio,
              PLACEBO_RATIO, kind="min", source="the collapse must tell the two universality classes apart"),
        Check("Ising run length: records per chain / max tau_int(|m|) over T", min_records_tau, RECORDS_PER_TAU,
              kind="min", source="Swendsen-Wang steps; tau measured in the production run"),
        Check("Ising verdict: continuous", ising_fo["verdict"] == "continuous", True, kind="true", source=ONSAGER),
        Check("placebo: synthetic two-phase coexistence gets the verdict first-order", syn_fo["verdict"] == "first-order",
              True, kind="true", source="planted first-order data"),
    ]

    observables_figure(ising["obs"], "T", "L", (ising_sum["T_c"], ising_sum["T_c_err"]), T_C_ONSAGER).savefig(
        out / "ising_observables.png", dpi=110)
    collapse_figure(ising["obs"], list(ising["collapse"].values()), "T", "L").savefig(out / "ising_collapse.png", dpi=110)
    figures = [
        ("2D Ising: <|m|>, chi and the Binder cumulant against T per L (pooled seeds, bootstrap error bars); red band: "
         "measured T_c +- error, dashed: Onsager", "ising_observables.png"),
        ("2D Ising: Houdayer-Hartmann collapses of U, chi and <|m|> at the fitted (T_c, nu, exponent)", "ising_collapse.png"),
    ]
    times["ising_total"] = time.time() - t0
    metrics = {"ising": {"pilot": pilot, "temperatures": temps.tolist(), "autocorrelation": tau,
                         "plan": {str(L): v for L, v in plan.items()},
                         "tau_production_max": {str(L): v for L, v in tau_prod.items()},
                         "pooled": clean(ising), "summary": ising_sum, "per_seed": ising_per_seed,
                         "placebo_S_mean_field": placebo, "first_order": ising_fo},
               "synthetic_first_order": syn_fo}
    rows = [("T_c", "T_c", ex["T_c"]), ("nu (U collapse)", "nu", ex["nu"]), ("gamma/nu (chi collapse)", "gamma_nu", ex["gamma_nu"]),
            ("beta/nu (<\\|m\\|> collapse)", "beta_nu", ex["beta_nu"]), ("gamma/nu (chi(T_c) slope)", "gamma_nu_fss", ex["gamma_nu"]),
            ("beta/nu (<\\|m\\|>(T_c) slope)", "beta_nu_fss", ex["beta_nu"])]
    cross = " ".join(f"{a}/{b}: {c['g']:.4f} ± {c['err']:.4f};" for (a, b), c in zip(ising["binder"]["pairs"], ising["binder"]["crossings"]))
    taus = ", ".join(f"L={L}: Metropolis {m:.1f}, Swendsen-Wang {s:.2f}" for L, m, s in
                     zip(tau["sizes"], tau["metropolis"], tau["swendsen_wang"]))
    big_i = max(ising_fo["per_size"])
    sections = [
        f"**Ising run.** Pilot: Binder crossing of L = {ic['pilot']['sizes']} on T = {ic['pilot']['t_min']}...{ic['pilot']['t_max']} "
        f"(step {ic['pilot']['step']}) at T = {T_p:.4f}; production grid: {len(temps)} temperatures ({len(dense)} within "
        f"± {ic['dense']['half_width']} of the pilot crossing, step {ic['dense']['step']}, plus {ic['coarse']}). "
        f"{len(seeds)} seeds × {ic['chains']} chains per temperature, all temperatures and chains of one size and seed in "
        f"one tensor program, Swendsen-Wang updates.",
        f"**Autocorrelation (sizes the run).** tau_int of |m| at T = {T_p:.4f}: {taus} (in sweeps / cluster steps). "
        f"Dynamic exponents: Metropolis z = {tau['z_metropolis']:.2f} (literature 2.17), Swendsen-Wang z = "
        f"{tau['z_swendsen_wang']:.2f} (literature ~0.2-0.3): local moves alone would need "
        f"~{2 * np.exp(tau['log_amplitude_metropolis']) * max(ic['sizes']) ** tau['z_metropolis'] * ic['independent_records_per_chain']:.0f} "
        f"sweeps per chain at L = {max(ic['sizes'])}, so the run uses the cluster update. Records per chain = "
        f"{ic['independent_records_per_chain']} × 2 tau_int(L) (clipped to [{ic['min_records']}, {ic['max_records']}]), burn-in "
        f"{ic['burn_in_tau']} tau_int: " + ", ".join(f"L={L}: {p['records']} records after {p['burn_in']}" for L, p in plan.items())
        + ". Largest tau_int measured in production: " + ", ".join(f"L={L}: {t:.2f}" for L, t in tau_prod.items()) + ".",
        f"**Binder crossings (pooled).** {cross} extrapolated with g*(L) = T_c + a L^-w at w = 2 (1/nu + omega for a "
        f"generic omega ~ 1): T_c = {ising_sum['T_c']:.5f} ± {ising_sum['T_c_err']:.5f} (statistical "
        f"{ising['binder']['err_stat']:.5f}, systematic from w = 1 or 3 {ising['binder']['err_syst']:.5f}); Onsager {T_C_ONSAGER:.5f}.",
        seed_table("2D Ising", rows, ising_per_seed, ising_sum),
        f"Collapse quality S at the best fit: " + ", ".join(f"{k} {v:.2f}" for k, v in ising_sum["S"].items()) +
        "; with mean-field exponents: " + ", ".join(f"{k} {v:.1f}" for k, v in placebo.items()) +
        f". Collapse window |T - T_c| <= {ic['collapse_half_width']}, all sizes; collapse errors are bootstrap spreads "
        f"({ic['collapse_boot']} refits).",
        f"**First-order vs continuous, Ising.** Verdict {ising_fo['verdict']} ({evidence(ising_fo)}; Binder minimum at "
        f"L = {big_i}: {ising_fo['per_size'][big_i]['binder_min']:.3f}). Synthetic two-phase data: {syn_fo['verdict']} "
        f"({evidence(syn_fo)}; jump at L = 32: {syn_fo['per_size'][32]['jump']:.3f}, planted 0.6). Rules: |m| density "
        f"(Gaussian KDE) with two peaks whose valley is <= {ising_fo['rules']['valley_ratio_max']} of the lower peak; Binder "
        f"dip below {ising_fo['rules']['binder_dip_below']} in >= 95% of bootstrap replicates; jump kept "
        f">= {ising_fo['rules']['jump_keep']:.0%} from one size to the next.",
    ]
    # what the joint figures (side by side, histograms) need from this part
    shared = {"analysis": {k: ising[k] for k in ("obs", "binder", "fss")}, "pooled": ising_pooled, "g": temps,
              "T_c": Tc, "synthetic": syn, "synthetic_g": g_syn, "synthetic_fo": syn_fo}
    return {"checks": checks, "metrics": metrics, "sections": sections, "figures": figures, "times": times,
            "shared": shared}


def part_curie_weiss(cfg: dict, seeds: list[int], device, runs: Path, out: Path) -> dict:
    """Curie-Weiss: exact draws of m, per-seed and pooled analysis, the exact finite-N Binder check, the verdict."""
    t0, times = time.time(), {}
    rng = np.random.default_rng(seeds[0] + 1)
    cc = cfg["cw"]
    cw_T = np.round(np.linspace(cc["t_min"], cc["t_max"], cc["points"]), 6)
    cw_seeds = []
    for s in seeds:
        r = np.random.default_rng(10_000 + s)
        cw_seeds.append({N: sample_curie_weiss(N, cw_T, cc["draws"], r).reshape(len(cw_T), -1, 20) if cc["draws"] >= 40
                         else sample_curie_weiss(N, cw_T, cc["draws"], r).reshape(len(cw_T), -1, 1) for N in cc["sizes"]})
    times["cw_sampling"] = time.time() - t0
    cw_kw = dict(g=cw_T, volume=lambda N: N, cfg=cc, shift_exponent=1.0, systematic=(0.5, 2.0), nu_start=2.0)
    cw_per_seed = [summary(analyse(x, rng=rng, n_boot_collapse=0, **cw_kw)) for x in cw_seeds]
    cw_pooled = pooled_samples(cw_seeds)
    cw = analyse(cw_pooled, rng=rng, n_boot_collapse=cc["collapse_boot"], **cw_kw)
    cw_sum = summary(cw)
    # exact Curie-Weiss Binder at T = 1 vs the sampled one (sampler + estimator known-answer check)
    i1 = int(np.argmin(np.abs(cw_T - 1.0)))
    cw_exact = {N: curie_weiss_moments(N, float(cw_T[i1])) for N in cc["sizes"]}
    cw_z = [float((cw["obs"][N]["binder"][i1] - cw_exact[N]["binder"]) / cw["obs"][N].err["binder"][i1]) for N in cc["sizes"]]
    cw_fo = diagnose(cw_pooled, cw["obs"], g_c=cw_sum["T_c"], window=0.05)
    ecw = EXACT["cw"]
    checks = [
        Check("Curie-Weiss T_c: Binder crossings extrapolated in N", cw_sum["T_c"], ecw["T_c"], TOL["T_c_cw"], "rel",
              f"{MEAN_FIELD}; seeds: {per(cw_per_seed, 'T_c')}"),
        Check("Curie-Weiss chi(T_c) ~ N^x: x", cw_sum["gamma_nu_fss"], ecw["gamma_nu"], TOL["cw_exponents"], "rel",
              f"{MEAN_FIELD}; seeds: {per(cw_per_seed, 'gamma_nu_fss')}"),
        Check("Curie-Weiss <|m|>(T_c) ~ N^-x: x", cw_sum["beta_nu_fss"], ecw["beta_nu"], TOL["cw_exponents"], "rel",
              f"{MEAN_FIELD}; seeds: {per(cw_per_seed, 'beta_nu_fss')}"),
        Check("Curie-Weiss sampled U(T=1) vs exact finite-N sum: max |z| over N", float(np.max(np.abs(cw_z))), 4.0,
              kind="max", source="exact 1-D partition sum"),
        Check("Curie-Weiss verdict: continuous", cw_fo["verdict"] == "continuous", True, kind="true", source=MEAN_FIELD),
    ]
    observables_figure(cw["obs"], "T", "N", (cw_sum["T_c"], cw_sum["T_c_err"]), 1.0).savefig(out / "cw_observables.png", dpi=110)
    collapse_figure(cw["obs"], list(cw["collapse"].values()), "T", "N").savefig(out / "cw_collapse.png", dpi=110)
    figures = [("Curie-Weiss: <|m|>, chi, U against T per N", "cw_observables.png"),
               ("Curie-Weiss: collapses in N (expected nu_N = 2, gamma/nu_N = 1/2, beta/nu_N = 1/4)", "cw_collapse.png")]
    times["cw_total"] = time.time() - t0
    metrics = {"cw": {"temperatures": cw_T.tolist(), "pooled": clean(cw), "summary": cw_sum, "per_seed": cw_per_seed,
                      "binder_exact_T1": {str(N): v["binder"] for N, v in cw_exact.items()}, "binder_z_T1": cw_z,
                      "binder_limit": BINDER_CW_LIMIT, "first_order": cw_fo}}
    cw_rows = [("T_c", "T_c", ecw["T_c"]), ("x in chi(T_c) ~ N^x", "gamma_nu_fss", ecw["gamma_nu"]),
               ("x in <\\|m\\|>(T_c) ~ N^-x", "beta_nu_fss", ecw["beta_nu"]), ("nu_N (U collapse in N)", "nu", ecw["nu"]),
               ("gamma/nu_N (chi collapse)", "gamma_nu", ecw["gamma_nu"]), ("beta/nu_N (<\\|m\\|> collapse)", "beta_nu", ecw["beta_nu"])]
    cw_cross = " ".join(f"{a}/{b}: {c['g']:.4f} ± {c['err']:.4f};" for (a, b), c in zip(cw["binder"]["pairs"], cw["binder"]["crossings"]))
    sections = [
        f"**Curie-Weiss.** Exact independent draws of m from P(M) ~ binom(N, (N+M)/2) exp(M^2 / 2NT) (no Markov chain), "
        f"{cc['draws']} per temperature per seed, N = {cc['sizes']}, T = {cc['t_min']}...{cc['t_max']} ({cc['points']} points). "
        f"Crossings: {cw_cross} extrapolated with w = 1 in N. Exact finite-N U(T = 1): "
        + ", ".join(f"N={N}: {v['binder']:.4f}" for N, v in cw_exact.items()) + f" -> limit 1 - Gamma(1/4)^4 / 24 pi^2 = "
        f"{BINDER_CW_LIMIT:.4f}; sampled vs exact z = " + ", ".join(f"{z:.1f}" for z in cw_z) + ".",
        seed_table("Curie-Weiss", cw_rows, cw_per_seed, cw_sum),
        f"**First-order vs continuous, Curie-Weiss.** Verdict {cw_fo['verdict']} ({evidence(cw_fo)}).",
    ]
    shared = {"analysis": {k: cw[k] for k in ("obs", "binder", "fss")}, "pooled": cw_pooled, "g": cw_T, "i1": i1}
    return {"checks": checks, "metrics": metrics, "sections": sections, "figures": figures, "times": times,
            "shared": shared}


def part_width(cfg: dict, seeds: list[int], device, runs: Path, out: Path) -> dict:
    """The width threshold of Gromov's modular-addition MLP (width_threshold.py)."""
    t0 = time.time()
    res = run_width(cfg["width"], seeds[0], device, out, np.random.default_rng(seeds[0] + 2))
    return {**res, "metrics": {"width": res["metrics"]}, "times": {"width_total": time.time() - t0}, "shared": {}}


def part_attention(cfg: dict, seeds: list[int], device, runs: Path, out: Path) -> dict:
    """Positional -> semantic attention (Cui et al. 2024) from random starts across d (attention_d.py)."""
    t0 = time.time()
    res = run_attention_part(cfg, seeds, out, runs, False, device)
    return {"checks": res["checks"], "metrics": {"attention": res["metrics"]}, "sections": [res["section"]],
            "figures": res["figures"], "times": {"attention_total": time.time() - t0}, "shared": {}}


# One entry per part: name -> function(cfg, seeds, device, runs, out) returning checks, metrics, sections,
# figures, times and what the joint figures need ("shared"). Parts run in worker processes; the report lists
# them in this order.
PARTS = {"ising": part_ising, "curie_weiss": part_curie_weiss, "width": part_width, "attention": part_attention}


def run_part(name: str, cfg: dict, seeds: list[int], device: str, runs: Path, out: Path, threads: int | None) -> dict:
    """One part (a top-level function so that worker processes can run it)."""
    if threads:
        torch.set_num_threads(threads)
    return PARTS[name](cfg, seeds, torch.device(device), runs, out)


def per(rows: list[dict], key: str) -> str:
    """One estimate of every seed, for a check's source column."""
    return ", ".join(f"{r[key]:.4g}" for r in rows)


def clean(a):
    return {"binder": a["binder"], "fss": a["fss"], "collapse": a["collapse"], "window": list(a["window"])}


def evidence(fo: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')}: {'yes' if v else 'no'}" for k, v in fo["evidence"].items())


def joint_figures(shared: dict, out: Path) -> list[tuple[str, str]]:
    """The figures that need both calibration models: mean field vs not side by side, and the histograms."""
    if not ("ising" in shared and "curie_weiss" in shared):
        return []
    ising, cw = shared["ising"], shared["curie_weiss"]
    side_by_side(ising["analysis"], cw["analysis"], out / "side_by_side.png")
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax = fig.subplots(1, 3)
    temps, Tc = ising["g"], ising["T_c"]
    i_c = int(np.argmin(np.abs(temps - Tc)))
    histogram_panel(ax[0], ising["pooled"], {L: i_c for L in ising["pooled"]}, 0.125, "L",
                    f"2D Ising at T = {temps[i_c]:.3f}: m L^(1/8)")
    histogram_panel(ax[1], cw["pooled"], {N: cw["i1"] for N in cw["pooled"]}, 0.25, "N",
                    f"Curie-Weiss at T = {cw['g'][cw['i1']]:.3f}: m N^(1/4)")
    syn, g_syn, syn_fo = ising["synthetic"], ising["synthetic_g"], ising["synthetic_fo"]
    idx = {L: int(np.argmin(np.abs(g_syn - syn_fo["per_size"][L]["coexistence_g"]))) if syn_fo["per_size"][L]["bimodal"]
           else len(g_syn) // 2 for L in syn}
    histogram_panel(ax[2], syn, idx, 0.0, "L", "placebo: synthetic first-order, at coexistence")
    fig.savefig(out / "histograms.png", dpi=110)
    return [("Mean-field vs non-mean-field by the same code: Binder curves, and chi, <|m|> at the measured T_c against the "
             "number of spins with the fitted power laws", "side_by_side.png"),
            ("Order-parameter histograms at the transition: Ising and Curie-Weiss (one peak pair that scales, continuous) "
             "and the synthetic first-order placebo (a third peak at m = 0)", "histograms.png")]


def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("phase_transitions", __doc__.splitlines()[0])
    cli.add_argument("--config", type=existing_file, default=None,
                     help="default: configs/cpu.yaml beside this script (tiny.yaml with --tiny)")
    cli.add_parts(PARTS)
    args = cli.parse(argv)
    parts = args.parts
    config = args.config or CONFIGS / ("tiny.yaml" if args.tiny else "cpu.yaml")
    cfg = yaml.safe_load(config.read_text())
    missing = [name for name in parts if {"curie_weiss": "cw"}.get(name, name) not in cfg]
    if missing:
        cli.error(f"argument --config: {config} has no section for part(s) {missing}")
    seeds = [s + (args.seed or 0) for s in cfg["seeds"]]
    if len(seeds) < 2:
        cli.error(f"argument --config: {config} lists {len(seeds)} seed(s); at least two are needed for a spread")
    device = torch.device(cfg.get("device", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("warning: config asks for cuda but none is available; running on the CPU")
        device = torch.device("cpu")
    runs = args.runs
    runs.mkdir(parents=True, exist_ok=True)
    with staged_output(args.out) as out:
        return calibrate(cfg, config, seeds, device, runs, out, parts, args.jobs)


def calibrate(cfg, config, seeds, device, runs, out, parts: list[str], jobs: int) -> int:
    t0 = time.time()
    jobs_args = [(name, cfg, seeds, str(device), runs, out) for name in parts]
    results = run_parts(run_part, jobs_args, jobs)
    results = dict(zip(parts, results))
    title = ("Phase-transition toolkit calibrated on the 2D Ising and Curie-Weiss models"
             + (", and the width threshold of a modular-addition MLP" if "width" in parts else "")
             + (", and positional -> semantic attention across d" if "attention" in parts else ""))
    report = Report(title)
    times = {}
    for name in parts:
        r = results[name]
        report.add(*r["checks"])
        report.metrics.update(r["metrics"])
        report.sections += r["sections"]
        report.figures += r["figures"]
        times.update(r["times"])
    report.figures += joint_figures({name: r["shared"] for name, r in results.items()}, out)
    times["total"] = time.time() - t0
    report.metrics.update({
        "config": str(config.resolve().relative_to(ROOT)) if config.resolve().is_relative_to(ROOT) else str(config),
        "seeds": seeds, "device": str(device), "torch_threads": torch.get_num_threads(), "parts": parts, "jobs": jobs,
        "wall_time_s": times})
    report.sections.append("Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()) +
                           f" ({jobs} worker process(es), {torch.get_num_threads()} torch thread(s) in all, {device}).")
    report.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
