"""Positional -> semantic attention (Cui et al. 2024) as a finite-size transition in the token dimension d.

Full-batch GD (the attention replication's model and optimiser, configs/attention/attention.yaml) from a random
start at omega = 0.3, for sample ratios alpha around the theory's alpha_c(0.3) and several d; every (teacher,
alpha) member of one d is trained in one tensor program. Per run: it ends semantic when |theta| > |m|
(theta = Q.Q*/d, m = 1.Q/d). Order parameters: the fraction of runs that end semantic and |theta|, read through
mfnn.phases: crossings of successive d's curves, extrapolated in d, and a finite-size collapse
F((alpha - alpha_c) d^(1/nu)), both with bootstrap errors over teachers, against the theory's alpha_c(0.3); the
width of the transition against d. At alpha = 1.5 the positional and semantic starts are also trained at every d
and compared with the authors' d-scaling (results_scaling.csv).

Called by run.py as the part `attention`: run_attention_part(cfg, seeds, out, runs, tiny, device). Alone:

    python replications/phase_transitions/attention_d.py [--config YAML] [--tiny] [--out DIR] [--seed S]

writes attention_report.md, attention_metrics.json and the attention_*.png figures (only this part's files).
"""
from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from scipy.optimize import minimize

from mfnn.experiment import CONFIGS as LIGHTNING_CONFIGS, ReplicationCLI, existing_file, fit, staged_output
from mfnn.phases.binder import crossing, extrapolate
from mfnn.phases.collapse import collapse, power_law, scaled
from mfnn.phases.observables import Observables, observables
from mfnn.report import Check, Report

ROOT = Path(__file__).resolve().parents[2]
# the theory's alpha_c(omega) converged in quadrature (replications/attention/alpha_c_convergence.py)
THEORY_ALPHA_C = ROOT / "replications" / "attention" / "alpha_c_convergence.json"
# the authors' GD at alpha = 1.5, omega = 0.3 against d (their public repository, shipped beside this one)
AUTHORS_SCALING = ROOT / ".." / "shared" / "reference" / "cui2024" / "empirics" / "results_scaling.csv"
ATTENTION_CONFIG = LIGHTNING_CONFIGS / "attention" / "attention.yaml"
PART_CONFIGS = Path(__file__).resolve().parent / "configs"
PAPER = "Cui et al. 2024"
S_MAX = 3.0  # collapse quality S is a reduced chi^2: ~1 ideal, <= 3 as for the Ising collapses
MAX_ALPHA_C_ERR = 0.25  # an alpha_c located to worse than +-0.25 agrees with anything between 1 and 1.75: no test
PIN_RATIO = 2.0  # moving alpha_c by MAX_ALPHA_C_ERR must at least double S: Delta chi^2 ~ (points) x S, well above 1
NULL_QUANTILE = 0.95  # a distance to the authors' curve passes when it is inside 95% of the teacher-split null


# ---- theory and reference data ---------------------------------------------------------------------------
def theory_alpha_c(omega: float) -> dict:
    """alpha_c(omega) at the finest quadrature of the committed convergence table, with its resolution error
    (the same rule as replications/attention/run.py: last step x n_prev / (n_fine - n_prev) + linearisation)."""
    conv = json.loads(THEORY_ALPHA_C.read_text())["omegas"][str(omega)]
    fine, prev = conv["resolutions"][-1], conv["resolutions"][-2]
    step = abs(fine["alpha_c"] - prev["alpha_c"])
    lin = 0.5 * abs(conv["curvature"]) * (fine["alpha_c"] - conv["alpha_ref"]) ** 2 / abs(conv["slope"])
    return {"value": fine["alpha_c"], "error": step * prev["n_gh"] / (fine["n_gh"] - prev["n_gh"]) + lin,
            "n_gh": fine["n_gh"]}


def authors_scaling() -> dict:
    """The authors' d-scaling at alpha = 1.5, omega = 0.3, per start: d, m, theta, test error, train loss R/d."""
    with open(AUTHORS_SCALING) as f:
        rows = list(csv.DictReader(f))
    out = {}
    for informed, start in (("True", "semantic"), ("False", "positional")):
        sel = sorted((r for r in rows if r["informed"] == informed), key=lambda r: int(r["d"]))
        d = np.array([float(r["d"]) for r in sel])
        out[start] = {"d": d, "m": np.array([float(r["attention_mag_mean"]) for r in sel]),
                      "theta": np.array([float(r["attention_theta_mean"]) for r in sel]),
                      "test_error": np.array([float(r["attention_gen_error_mean"]) for r in sel]),
                      # their training error is the summed risk R: divide by d for R/d
                      "train_loss": np.array([float(r["attention_train_error_mean"]) for r in sel]) / d}
    out["alpha"] = float(rows[0]["alpha"])
    return out


# ---- GD -----------------------------------------------------------------------------------------------------
def train(dim: int, alphas, inits, teachers: int, ac: dict, seed: int, runs: Path, device, name: str) -> dict:
    """One tensor program: every (teacher, alpha, start) member at this d. Returns per member (S, A, I) arrays."""
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    run = fit(ATTENTION_CONFIG,
              f"--data.init_args.dim={dim}", f"--data.init_args.alphas={list(map(float, alphas))}",
              f"--data.init_args.seeds={teachers}", f"--data.init_args.test_size={ac['test_size']}",
              f"--data.init_args.omega={ac['omega']}", f"--data.init_args.seed={seed}",
              # the model's random start draws from the global generator: seeding it like the data generator
              # would make the start the teacher itself scaled by 0.1 (both draw randn(S, d) first)
              f"--seed_everything={seed + 7919}",
              f"--model.init_args.inits={list(inits)}", f"--trainer.max_steps={ac['steps']}",
              f"--trainer.accelerator={accelerator}", "--trainer.enable_progress_bar=false",
              f"--trainer.logger.init_args.name={name}", runs=runs)
    dm = run.datamodule
    metrics = run.model.member_metrics(dm.splits["train"], dm.splits["val"])
    return {k: v.detach().cpu().double().numpy() for k, v in metrics.items()} | {"seconds": run.seconds}


def semantic(theta: np.ndarray, m: np.ndarray) -> np.ndarray:
    """A run ends semantic when its attention follows the meaning more than the positions: |theta| > |m|
    (Q.Q*/d against 1.Q/d; the tied score is even in Q, so signs carry no information)."""
    return (np.abs(theta) > np.abs(m)).astype(float)


# ---- analysis -------------------------------------------------------------------------------------------
def fraction_observables(alphas, outcomes: np.ndarray, dim: int, n_boot: int, rng) -> Observables:
    """Fraction semantic (abs_m of 0/1 outcomes, (G, teachers)) with bootstrap errors over teachers, the error
    floored at the binomial error of the rule-of-succession estimate (k + 1)/(T + 2): a bootstrap of 0 or T
    successes out of T has no spread, but a probability read off T runs is uncertain by ~1/T there, and a zero
    error would let those points dominate a collapse."""
    obs = observables(alphas, outcomes, volume=dim, n_boot=n_boot, rng=rng)
    T = outcomes.shape[1]
    p = (outcomes.sum(1) + 1.0) / (T + 2.0)
    obs.err["abs_m"] = np.maximum(obs.err["abs_m"], np.sqrt(p * (1 - p) / T))
    return obs


def crossings_extrapolated(obs: dict[int, Observables], key: str, shift_exponent: float,
                           systematic: tuple[float, ...], half_width: int) -> dict:
    """Crossings of successive sizes' `key` curves (mfnn.phases.crossing) extrapolated with g*(d) = g_c + a d^-w
    (mfnn.phases.extrapolate), the error combining the bootstrap and the spread over other shift exponents, as
    mfnn.phases.binder_critical_point does for the Binder cumulant."""
    sizes = sorted(obs)
    pairs = list(zip(sizes[:-1], sizes[1:]))
    cross = [crossing(obs[a], obs[b], half_width=half_width, key=key) for a, b in pairs]
    ok = [k for k, c in enumerate(cross) if np.isfinite(c["g"])]
    rows = [{"pair": list(p), "g": c["g"], "err": c["err"]} for p, c in zip(pairs, cross)]
    if not ok:
        return {"crossings": rows, "g_c": float("nan"), "err": float("nan"), "found": 0}
    Lp = [float(np.sqrt(pairs[k][0] * pairs[k][1])) for k in ok]
    gs, boots = [cross[k]["g"] for k in ok], [cross[k]["boot"] for k in ok]
    main = extrapolate(Lp, gs, boots, shift_exponent)
    others = [extrapolate(Lp, gs, boots, w)["g_c"] for w in systematic]
    syst = float(max(abs(o - main["g_c"]) for o in others)) if len(ok) > 1 else 0.0
    return {"crossings": rows, "g_c": main["g_c"], "err_stat": main["err"], "err_syst": syst,
            "err": float(np.hypot(main["err"], syst)), "found": len(ok), "shift_exponent": shift_exponent}


def bounded(fit: dict, alphas, nu_range=(0.1, 20.0)) -> dict:
    """The collapse as found, or marked as not found (nan) when its alpha_c left the grid or nu left nu_range:
    collapse() is unbounded, and curves that drift rather than sharpen are fitted best by nu -> infinity (no
    scaling) with any alpha_c."""
    ok = min(alphas) <= fit["g_c"] <= max(alphas) and nu_range[0] <= fit["nu"] <= nu_range[1]
    out = dict(fit, found=bool(ok), g_c_fitted=fit["g_c"], nu_fitted=fit["nu"])
    if not ok:
        out.update(g_c=float("nan"), g_c_err=float("nan"), nu=float("nan"), nu_err=float("nan"))
    return out


def profile_ratio(obs: dict[int, Observables], fit: dict, delta: float, max_evaluations: int) -> float:
    """How well the data pin alpha_c: the collapse quality with alpha_c held delta away from the best fit (on the
    better side, nu refitted) over the best quality. ~1 when the data do not care where alpha_c is (a flat
    curve collapses anywhere); the bootstrap error alone can miss that, since each refit starts at the best fit."""
    g_c, nu = fit.get("g_c_fitted", fit["g_c"]), fit.get("nu_fitted", fit["nu"])
    moved = [collapse(obs, fit["key"], (g_c + s * delta, nu, 0.0), fix_g_c=g_c + s * delta,
                      fix_kappa=0.0, n_boot=0, max_evaluations=max_evaluations)["S"] for s in (-1.0, 1.0)]
    return float(min(moved) / max(fit["S"], 1e-12))


def logistic_threshold(alphas, outcomes: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood P(semantic) = 1 / (1 + exp(-(alpha - alpha_50) / w)) on 0/1 outcomes (G, T): the
    midpoint alpha_50 and the width w. Bounded (|alpha_50| within 3 grid spans of the grid, w >= 1% of the
    span) so a curve that never reaches 1/2 on the grid gives an edge value instead of running off."""
    a = np.repeat(np.asarray(alphas, float)[:, None], outcomes.shape[1], 1).ravel()
    y = outcomes.ravel()
    span = float(np.ptp(alphas))
    lo, hi = float(np.min(alphas)) - 3 * span, float(np.max(alphas)) + 3 * span

    def nll(p):
        a50 = np.clip(p[0], lo, hi)
        w = max(np.exp(p[1]), 0.01 * span)
        z = (a - a50) / w
        return float(np.sum(np.logaddexp(0, -z) * y + np.logaddexp(0, z) * (1 - y)))

    start = np.array([float(np.clip(np.interp(0.5, np.sort(outcomes.mean(1)), np.sort(alphas)), lo, hi)),
                      np.log(0.25 * span)])
    res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxfev": 800})
    return float(np.clip(res.x[0], lo, hi)), float(max(np.exp(res.x[1]), 0.01 * span))


def thresholds(alphas, outcomes: np.ndarray, n_boot: int, rng) -> dict:
    """alpha_50 and width per d with bootstrap errors over teachers."""
    a50, w = logistic_threshold(alphas, outcomes)
    T = outcomes.shape[1]
    reps = np.array([logistic_threshold(alphas, outcomes[:, rng.integers(0, T, T)]) for _ in range(n_boot)])
    # half the 16-84% range: with few teachers a replicate with all outcomes equal fits a step of width ~0 or a
    # huge one, and the standard deviation would report that outlier instead of the spread
    q = np.percentile(reps, [16, 84], axis=0)
    return {"alpha_50": a50, "alpha_50_err": float(0.5 * (q[1, 0] - q[0, 0])), "width": w,
            "width_err": float(0.5 * (q[1, 1] - q[0, 1]))}


def grid_side(alphas, alpha_50: float) -> str:
    """Where a logistic midpoint lies against the alpha grid: "on", "below" or "above" it (off the grid the
    midpoint is only a one-sided bound)."""
    return "below" if alpha_50 < min(alphas) else "above" if alpha_50 > max(alphas) else "on"


def off_grid_label(alphas, thr_d: dict, fraction: list[float]) -> str:
    """A table cell for a midpoint off the grid: the bound on its side, the logistic's value and the observed
    fraction semantic at the nearest end of the grid."""
    below = thr_d["alpha_50"] < min(alphas)
    end, f_end = (min(alphas), fraction[0]) if below else (max(alphas), fraction[-1])
    return (f"{'<' if below else '>'} {end:g} (off the grid; logistic {thr_d['alpha_50']:.2f} ± "
            f"{thr_d['alpha_50_err']:.2f}, fraction {f_end:.2f} at α = {end:g})")


def teacher_split_null(values: np.ndarray, n_split: int, rng) -> np.ndarray:
    """Null distribution of the RMS over d of (mean of one random half of the teachers - mean of the other).
    values: (D, T). Our mean against the authors' mean has variance s^2/T + s^2/T_authors, the half-split
    difference 4 s^2 / T: the null is the wider one when the authors averaged >= T/3 runs."""
    D, T = values.shape
    out = []
    for _ in range(n_split):
        perm = rng.permutation(T)
        a, b = values[:, perm[: T // 2]].mean(1), values[:, perm[T // 2:]].mean(1)
        out.append(np.sqrt(np.mean((a - b) ** 2)))
    return np.asarray(out)


# ---- the part -------------------------------------------------------------------------------------------
def run_attention_part(cfg: dict, seeds, out: Path, runs: Path, tiny: bool, device) -> dict:
    """GD from random starts across (alpha, d), read through mfnn.phases. Returns checks, metrics, the report
    section (markdown), and the figures (caption, file name) written to `out`."""
    gd = train_all(cfg["attention"], seeds, runs, device)
    return analyse(cfg["attention"], gd, seeds, out, device)


def train_all(ac: dict, seeds, runs: Path, device) -> dict:
    """GD: one program per d from random starts over the alpha grid; the two informed starts at alpha = 1.5.
    Per d: raw (T, A) and informed (T, starts) arrays of theta, m, test error, train loss."""
    times = {}
    dims, alphas = list(ac["dims"]), [float(a) for a in ac["alphas"]]
    teachers = ac["teachers_per_seed"] * len(seeds)  # teacher k belongs to seed group k // teachers_per_seed
    a_scale = float(ac["scaling_alpha"])
    raw, informed = {}, {}
    for d in dims:
        t, cpu = time.time(), time.process_time()  # CPU time too: wall time on a shared machine says little
        r = train(d, alphas, ["random"], teachers, ac, seeds[0] + d, runs, device, f"attention_d{d}")
        raw[d] = {k: r[k][:, :, 0] for k in ("theta", "m", "test_error", "train_loss")}  # (T, A)
        i = train(d, [a_scale], ["positional", "semantic"], teachers, ac, seeds[0] + d, runs, device,
                  f"attention_d{d}_alpha{a_scale:g}")
        informed[d] = {k: i[k][:, 0, :] for k in ("theta", "m", "test_error", "train_loss")}  # (T, 2)
        if a_scale in alphas:  # the random start at alpha = 1.5 is a member of the grid's program
            j = alphas.index(a_scale)
            informed[d] = {k: np.concatenate([v, raw[d][k][:, j:j + 1]], 1) for k, v in informed[d].items()}
        times[f"gd_d{d}"] = time.time() - t
        times[f"cpu_d{d}"] = time.process_time() - cpu
        print(f"[attention] d={d}: {times[f'gd_d{d}']:.0f} s; fraction semantic "
              f"{semantic(raw[d]['theta'], raw[d]['m']).mean(0).round(2).tolist()} at alpha = {alphas}", flush=True)
    return {"raw": raw, "informed": informed, "times": times}


def analyse(ac: dict, gd: dict, seeds, out: Path, device) -> dict:
    """The toolkit on the GD end states: order parameters, crossings, collapse, widths, the authors' d-scaling."""
    t0 = time.time()
    raw, informed, times = gd["raw"], gd["informed"], dict(gd["times"])
    rng = np.random.default_rng(seeds[0])
    dims, alphas = list(ac["dims"]), [float(a) for a in ac["alphas"]]
    per_seed = ac["teachers_per_seed"]
    teachers = per_seed * len(seeds)
    a_scale = float(ac["scaling_alpha"])
    theory = theory_alpha_c(ac["omega"])

    # ---- toolkit: fraction semantic and |theta| per (alpha, d), crossings, collapse, widths ------------------
    t = time.time()
    outcomes = {d: semantic(raw[d]["theta"], raw[d]["m"]).T for d in dims}  # (G, T)
    obs_frac = {d: fraction_observables(alphas, outcomes[d], d, ac["n_boot"], rng) for d in dims}
    obs_theta = {d: observables(alphas, np.abs(raw[d]["theta"]).T, volume=d, n_boot=ac["n_boot"], rng=rng) for d in dims}
    kw = dict(shift_exponent=ac["shift_exponent"], systematic=tuple(ac["systematic_exponents"]), half_width=2)
    cross_frac = crossings_extrapolated(obs_frac, "abs_m", **kw)
    cross_theta = crossings_extrapolated(obs_theta, "abs_m", **kw)
    start = (float(np.mean(alphas)), 2.0, 0.0)
    fit_frac = bounded(collapse(obs_frac, "abs_m", start, fix_kappa=0.0, n_boot=ac["collapse_boot"],
                                max_evaluations=ac.get("collapse_max_evaluations", 1500)), alphas)
    # placebo: outcomes shuffled over alpha within each d keep each d's overall fraction but lose its alpha
    # dependence; the collapse must then fail to locate alpha_c (a flat curve collapses for any alpha_c)
    shuffled = {d: fraction_observables(alphas, rng.permuted(outcomes[d], axis=0), d, ac["n_boot"], rng) for d in dims}
    fit_shuffled = bounded(collapse(shuffled, "abs_m", start, fix_kappa=0.0, n_boot=0,
                                    max_evaluations=ac.get("collapse_max_evaluations", 1500)), alphas)
    evals = ac.get("collapse_max_evaluations", 1500)
    pin = profile_ratio(obs_frac, fit_frac, MAX_ALPHA_C_ERR, evals)
    fit_frac["pin_ratio"] = pin
    pin_shuffled = profile_ratio(shuffled, fit_shuffled, MAX_ALPHA_C_ERR, evals)
    thr = {d: thresholds(alphas, outcomes[d], ac["threshold_boot"], rng) for d in dims}
    # fits over the d whose midpoint lies on the grid: elsewhere the logistic only bounds alpha_50 from one side
    inside = [d for d in dims if min(alphas) <= thr[d]["alpha_50"] <= max(alphas)]
    for d in dims:
        thr[d]["on_grid"] = d in inside
        thr[d]["side"] = grid_side(alphas, thr[d]["alpha_50"])
    nan_law = {"slope": float("nan"), "slope_err": float("nan"), "amplitude": float("nan"), "chi2_dof": float("nan")}
    width_law = power_law(inside, [thr[d]["width"] for d in inside], [max(thr[d]["width_err"], 1e-6) for d in inside]) \
        if len(inside) >= 2 else nan_law
    # where the random-start curves sit: alpha_50(d) ~ d^y (y = 0 if they converge on a fixed alpha_c)
    midpoint_law = power_law(inside, [thr[d]["alpha_50"] for d in inside],
                             [max(thr[d]["alpha_50_err"], 1e-6) for d in inside]) if len(inside) >= 2 else nan_law
    width_law["dims"] = midpoint_law["dims"] = inside
    # per seed group: each group's own teachers through the same estimators (no bootstrap)
    groups = []
    for s in range(len(seeds)):
        sl = slice(s * per_seed, (s + 1) * per_seed)
        o = {d: fraction_observables(alphas, outcomes[d][:, sl], d, 2 * per_seed, rng) for d in dims}
        g_fit = bounded(collapse(o, "abs_m", start, fix_kappa=0.0, n_boot=0,
                                 max_evaluations=ac.get("collapse_max_evaluations", 1500)), alphas)
        groups.append({"seed": seeds[s], "collapse_alpha_c": g_fit["g_c"], "collapse_nu": g_fit["nu"],
                       "alpha_50": {d: logistic_threshold(alphas, outcomes[d][:, sl])[0] for d in dims},
                       "crossings_alpha_c": crossings_extrapolated(o, "abs_m", **kw)["g_c"]})
    times["analysis"] = time.time() - t

    # ---- d-scaling at alpha = 1.5 against the authors' --------------------------------------------------------
    ref = authors_scaling()
    starts = ["positional", "semantic", "random"][:informed[dims[0]]["theta"].shape[1]]
    scaling = {}
    for j, st in enumerate(starts):
        scaling[st] = {k: {"mean": [float(np.abs(informed[d][k][:, j]).mean()) if k in ("theta", "m")
                                    else float(informed[d][k][:, j].mean()) for d in dims],
                           "std": [float(np.abs(informed[d][k][:, j]).std(ddof=1)) if k in ("theta", "m")
                                   else float(informed[d][k][:, j].std(ddof=1)) for d in dims]}
                       for k in ("theta", "m", "test_error", "train_loss")}
    comparisons = {}
    for name, st, key, ref_st in (("semantic start, theta", "semantic", "theta", "semantic"),
                                  ("positional start, m", "positional", "m", "positional"),
                                  ("positional start, theta", "positional", "theta", "positional"),
                                  ("semantic start, m", "semantic", "m", "semantic"),
                                  ("positional start, test error", "positional", "test_error", "positional"),
                                  ("semantic start, test error", "semantic", "test_error", "semantic"),
                                  # placebo: our semantic start against the authors' positional start
                                  ("placebo: our semantic start vs their positional start, theta", "semantic", "theta",
                                   "positional")):
        j = starts.index(st)
        have = [d for d in dims if d in ref[ref_st]["d"]]
        ours = np.stack([np.abs(informed[d][key][:, j]) for d in have])  # (D, T); |.|: the sign of Q is free
        theirs = np.array([ref[ref_st][key][list(ref[ref_st]["d"]).index(d)] for d in have])
        dist = float(np.sqrt(np.mean((ours.mean(1) - theirs) ** 2)))
        null = teacher_split_null(ours, ac["null_splits"], rng)
        comparisons[name] = {"d": have, "distance": dist, "null_q": float(np.quantile(null, NULL_QUANTILE)),
                             "null_median": float(np.median(null)), "ours": ours.mean(1).tolist(),
                             "theirs": theirs.tolist()}

    # ---- checks ----------------------------------------------------------------------------------------------
    th, th_err = theory["value"], theory["error"]
    # 2 sigma (estimate and theory errors combined), capped at 2 x MAX_ALPHA_C_ERR: an estimate with a wider error
    # bar would pass against any alpha_c on the grid
    collapse_tol = float(min(2 * np.hypot(fit_frac["g_c_err"], th_err), 2 * MAX_ALPHA_C_ERR)) \
        if np.isfinite(fit_frac["g_c_err"]) else 0.0
    cross_tol = float(min(2 * np.hypot(cross_frac["err"], th_err), 2 * MAX_ALPHA_C_ERR)) \
        if np.isfinite(cross_frac["err"]) else 0.0
    per = lambda key: ", ".join(f"{g[key]:.3g}" for g in groups)  # noqa: E731
    checks = [
        Check("attention: GD from random starts, alpha_c from the collapse of the fraction semantic vs theory "
              f"alpha_c(0.3) (2 sigma, at most {2 * MAX_ALPHA_C_ERR:g})", round(fit_frac["g_c"], 4), round(th, 4),
              round(collapse_tol, 4), "abs",
              f"mfnn.theory.attention ({theory['n_gh']}^4 nodes); teacher groups: {per('collapse_alpha_c')}"),
        Check("attention: the collapse locates alpha_c: its bootstrap error", round(fit_frac["g_c_err"], 4), MAX_ALPHA_C_ERR,
              kind="max", source="an error above this cannot tell alpha_c(0.3) from a value a third of the way up the grid"),
        Check("attention: crossings of successive d's fraction-semantic curves, extrapolated in d, vs theory "
              f"alpha_c(0.3) (2 sigma, at most {2 * MAX_ALPHA_C_ERR:g})", round(cross_frac["g_c"], 4), round(th, 4),
              round(cross_tol, 4), "abs",
              f"{cross_frac['found']}/{len(dims) - 1} pairs cross; teacher groups: {per('crossings_alpha_c')}"),
        Check("attention: collapse of the fraction semantic consistent with its error bars: S", round(fit_frac["S"], 3),
              S_MAX, kind="max", source="Houdayer-Hartmann S is a reduced chi^2"),
        Check(f"attention: the data pin alpha_c: collapse quality with alpha_c moved by ±{MAX_ALPHA_C_ERR} / best",
              round(pin, 3), PIN_RATIO, kind="min", source="S is a reduced chi^2 over the collapse's points"),
        Check("attention placebo: alpha-shuffled outcomes do not pin alpha_c (the same ratio)", round(pin_shuffled, 3),
              PIN_RATIO, kind="max", source="shuffling alpha within each d keeps each d's fraction, not its alpha dependence"),
        Check("attention: the transition sharpens with d (width ~ d^x: x + 2 sigma < 0)",
              round(width_law["slope"] + 2 * width_law["slope_err"], 4), 0.0, kind="max",
              source=f"logistic widths per d; x = {width_law['slope']:.3f} ± {width_law['slope_err']:.3f}"),
    ]
    for name, c in comparisons.items():
        placebo = name.startswith("placebo")
        checks.append(Check(f"attention d-scaling at alpha={a_scale:g}, {name}: RMS distance to the authors "
                            f"({'must exceed' if placebo else 'within'} the {NULL_QUANTILE:.0%} teacher-split null)",
                            float(f"{c['distance']:.4g}"), float(f"{c['null_q']:.4g}"), kind="min" if placebo else "max",
                            source=f"{PAPER}, results_scaling.csv, d = {c['d']}"))
    times["analysis_total"] = time.time() - t0
    times["total"] = sum(v for k, v in times.items() if k.startswith("gd_")) + times["analysis_total"]

    # ---- figures, metrics, section -----------------------------------------------------------------------
    figures = [
        (order_parameter_figure(obs_frac, obs_theta, alphas, theory, fit_frac, cross_frac, out / "attention_order_parameters.png"),
         "Attention, GD from random starts: fraction of runs ending semantic and |theta| against alpha per d (bootstrap "
         "errors over teachers); band: the theory's alpha_c(0.3) ± error, dotted: the collapse's alpha_c"),
        (collapse_width_figure(obs_frac, fit_frac, thr, width_law, midpoint_law, dims, out / "attention_collapse.png"),
         "Attention: collapse of the fraction semantic, (alpha - alpha_c) d^(1/nu), and the logistic midpoint and width "
         "of the transition against d"),
        (scaling_figure(scaling, ref, dims, a_scale, out / "attention_d_scaling.png"),
         f"Attention at alpha = {a_scale:g}: |theta|, |m| and the test error against d from the positional, semantic and "
         "random starts (mean ± sd over teachers) with the authors' GD (crosses)"),
        (overlap_figure(raw, dims, alphas, out / "attention_overlaps.png"),
         "Attention: every run's end state, |m| against |theta| (one panel per d, colour = alpha); the diagonal is the "
         "semantic / positional rule"),
    ]
    metrics = {"theory_alpha_c": theory, "dims": dims, "alphas": alphas, "teachers": teachers,
               "teachers_per_seed": per_seed, "steps": ac["steps"], "seeds": list(seeds),
               "fraction_semantic": {str(d): {"mean": obs_frac[d].mean["abs_m"].tolist(), "err": obs_frac[d].err["abs_m"].tolist()} for d in dims},
               "abs_theta": {str(d): {"mean": obs_theta[d].mean["abs_m"].tolist(), "err": obs_theta[d].err["abs_m"].tolist()} for d in dims},
               "crossings_fraction": cross_frac, "crossings_theta": cross_theta, "collapse_fraction": fit_frac,
               "collapse_shuffled_placebo": fit_shuffled,
               "pin_ratio": pin, "pin_ratio_shuffled": pin_shuffled, "thresholds": {str(d): v for d, v in thr.items()},
               "width_law": width_law, "midpoint_law": midpoint_law, "seed_groups": [{**g, "alpha_50": {str(k): v for k, v in g["alpha_50"].items()}} for g in groups],
               "d_scaling": {"alpha": a_scale, "ours": scaling, "comparisons": comparisons},
               "per_run": {str(d): {k: raw[d][k].tolist() for k in ("theta", "m")} for d in dims},
               "wall_time_s": times, "device": str(device)}
    section = markdown(metrics, comparisons, groups, thr, dims, alphas, theory, a_scale, ref)
    return {"checks": checks, "metrics": metrics, "section": section,
            "figures": [(caption, path.name) for path, caption in figures]}


def markdown(m, comparisons, groups, thr, dims, alphas, theory, a_scale, ref) -> str:
    fr, th = m["fraction_semantic"], m["abs_theta"]
    head = "| d | " + " | ".join(f"α={a:g}" for a in alphas) + " | α_50 ± err | width ± err |\n|---|" + "---|" * (len(alphas) + 2)
    rows = [f"| {d} | " + " | ".join(f"{f:.2f} / {t:.2f}" for f, t in zip(fr[str(d)]["mean"], th[str(d)]["mean"]))
            + (f" | {thr[d]['alpha_50']:.2f} ± {thr[d]['alpha_50_err']:.2f} | {thr[d]['width']:.2f} ± {thr[d]['width_err']:.2f} |"
               if thr[d]["on_grid"] else f" | {off_grid_label(alphas, thr[d], fr[str(d)]['mean'])} | - |")
            for d in dims]
    cf, ct, fc = m["crossings_fraction"], m["crossings_theta"], m["collapse_fraction"]
    cross = "; ".join(f"{c['pair'][0]}/{c['pair'][1]}: {c['g']:.3f} ± {c['err']:.3f}" for c in cf["crossings"])
    cross_t = "; ".join(f"{c['pair'][0]}/{c['pair'][1]}: {c['g']:.3f} ± {c['err']:.3f}" for c in ct["crossings"])
    g_rows = "\n".join(f"| {g['seed']} | {g['collapse_alpha_c']:.3f} | {g['collapse_nu']:.2f} | {g['crossings_alpha_c']:.3f} | "
                       + ", ".join(f"{g['alpha_50'][d]:.2f}" for d in dims) + " |" for g in groups)
    comp = "\n".join(f"| {k} | {', '.join(f'{x:.4g}' for x in c['ours'])} | {', '.join(f'{x:.4g}' for x in c['theirs'])} | "
                     f"{c['distance']:.3g} | {c['null_median']:.3g} / {c['null_q']:.3g} |" for k, c in comparisons.items())
    return (
        f"## Attention: positional -> semantic as a finite-size transition in d ({PAPER})\n\n"
        f"GD from a random start (configs/attention/attention.yaml: lr 0.15, weight decay 0.01; {m['steps']} full-batch "
        f"steps) at omega = 0.3, d = {dims}, alpha = {alphas}, {m['teachers']} teachers per point ({len(groups)} groups "
        f"of {m['teachers_per_seed']}; one data seed per d, seeds[0] + d). A run ends semantic when |theta| > |m|. Theory: alpha_c(0.3) = "
        f"{theory['value']:.4f} ± {theory['error']:.4f} ({theory['n_gh']}^4 Gauss-Hermite nodes, "
        "replications/attention/alpha_c_convergence.json).\n\n"
        "Fraction semantic / mean |theta| per (d, alpha), and the logistic midpoint and width of the fraction "
        "(bootstrap over teachers):\n\n" + head + "\n" + "\n".join(rows) + "\n\n"
        f"Crossings of successive d (fraction semantic): {cross}; extrapolated with alpha*(d) = alpha_c + a d^-"
        f"{cf.get('shift_exponent', float('nan')):g}: {cf['g_c']:.3f} ± {cf['err']:.3f}. Crossings of |theta|: {cross_t}; "
        f"extrapolated: {ct['g_c']:.3f} ± {ct['err']:.3f}.\n\n"
        + ("" if fc["found"] else f"No finite-size collapse at a fixed alpha_c inside the grid: the best fit ran to alpha_c = "
           f"{fc['g_c_fitted']:.3g}, nu = {fc['nu_fitted']:.3g} (no scaling in d). ") +
        f"Collapse of the fraction semantic: alpha_c = {fc['g_c']:.3f} ± {fc['g_c_err']:.3f}, nu = {fc['nu']:.2f} ± "
        f"{fc['nu_err']:.2f}, S = {fc['S']:.2f} (moving alpha_c by ±{MAX_ALPHA_C_ERR} multiplies S by "
        f"{m['pin_ratio']:.2f}; on alpha-shuffled outcomes by {m['pin_ratio_shuffled']:.2f}). "
        f"Fits over d = {m['width_law']['dims']} (midpoint on the grid). Width of the transition ~ d^{m['width_law']['slope']:.3f} ± {m['width_law']['slope_err']:.3f}; its midpoint "
        f"alpha_50 ~ d^{m['midpoint_law']['slope']:.3f} ± {m['midpoint_law']['slope_err']:.3f} (chi^2/dof "
        f"{m['midpoint_law']['chi2_dof']:.2f}).\n\n"
        f"Per teacher group (teachers {m['teachers_per_seed']}k ... {m['teachers_per_seed']}k + {m['teachers_per_seed'] - 1} "
        "of each d, labelled by the config's seeds; the same estimators):\n\n"
        "| group | collapse alpha_c | collapse nu | crossings alpha_c | alpha_50 per d |\n|---|---|---|---|---|\n" + g_rows + "\n\n"
        f"d-scaling at alpha = {a_scale:g} against the authors' GD (d = {', '.join(str(int(x)) for x in ref['semantic']['d'])}); "
        "distance: RMS over d of our teacher mean minus theirs; null: the same distance between two random halves of "
        "our teachers (median / 95% quantile):\n\n"
        "| curve | ours per d | authors per d | distance | null median / 95% |\n|---|---|---|---|---|\n" + comp + "\n\n"
        "Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in m["wall_time_s"].items()) + "."
    )


# ---- figures -------------------------------------------------------------------------------------------------
def located(fit: dict) -> bool:
    """A collapse worth drawing: inside the grid, a tight error bar, consistent with its error bars (S), and
    pinned (moving alpha_c by MAX_ALPHA_C_ERR at least doubles S)."""
    return bool(fit["found"] and fit["g_c_err"] <= MAX_ALPHA_C_ERR and fit["S"] <= S_MAX
                and fit.get("pin_ratio", 0.0) >= PIN_RATIO)


def order_parameter_figure(obs_frac, obs_theta, alphas, theory, fit_frac, cross_frac, path: Path) -> Path:
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, obs, label in ((axes[0], obs_frac, "fraction of runs ending semantic"), (axes[1], obs_theta, r"$|\theta| = |Q\cdot Q^*|/d$")):
        for d, o in sorted(obs.items()):
            ax.errorbar(o.g, o.mean["abs_m"], o.err["abs_m"], marker="o", ms=3, lw=1, capsize=2, label=f"d = {d}")
        ax.axvspan(theory["value"] - theory["error"], theory["value"] + theory["error"], color="k", alpha=0.15, lw=0,
                   label=r"theory $\alpha_c(0.3)$")
        if located(fit_frac):  # only a located alpha_c
            ax.axvline(fit_frac["g_c"], color="tab:red", ls=":", label=r"collapse $\alpha_c$")
        ax.set(xlabel=r"$\alpha = n/d$", ylabel=label)
    axes[0].set_ylim(-0.05, 1.05)
    axes[1].legend(fontsize=7, loc="upper left")  # the right panel's upper left is empty
    axes[0].set_title(r"GD from random starts, $\omega = 0.3$", fontsize=9)
    fig.savefig(path, dpi=110)
    return path


def collapse_width_figure(obs_frac, fit_frac, thr, width_law, midpoint_law, dims, path: Path) -> Path:
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    ax = axes[0]
    if located(fit_frac):
        for d, (x, Y, dY) in scaled(obs_frac, "abs_m", fit_frac["g_c"], fit_frac["nu"], 0.0).items():
            ax.errorbar(x, Y, dY, marker="o", ms=3, lw=0.8, capsize=2, label=f"d = {d}")
        ax.set(xlabel=r"$(\alpha - \alpha_c)\, d^{1/\nu}$",
               title=rf"collapse: $\alpha_c$ = {fit_frac['g_c']:.3f} ± {fit_frac['g_c_err']:.3f}, $\nu$ = "
                     f"{fit_frac['nu']:.2f}, S = {fit_frac['S']:.2f}")
    else:  # no collapse at a fixed alpha_c: show each d's curve against its own midpoint instead
        for d, o in sorted(obs_frac.items()):
            if thr[d]["on_grid"]:  # an off-grid midpoint is only a bound
                ax.errorbar(o.g - thr[d]["alpha_50"], o.mean["abs_m"], o.err["abs_m"], marker="o", ms=3, lw=0.8,
                            capsize=2, label=f"d = {d}")
        ax.set(xlabel=r"$\alpha - \alpha_{50}(d)$",
               title=rf"no collapse at a fixed $\alpha_c$ (best S = {fit_frac['S']:.2f}, $\alpha_c$ error "
                     rf"{fit_frac.get('g_c_err', float('nan')):.2f}): each d against its own midpoint")
    ax.set_ylabel("fraction semantic")
    ax.title.set_fontsize(9)
    if ax.get_legend_handles_labels()[0]:  # empty when no d has its midpoint on the grid
        ax.legend(fontsize=7)
    ax = axes[1]
    on = [k for k in dims if thr[k]["on_grid"]]  # off-grid midpoints are only bounds: drawn as arrows at the edge
    d = np.array(on, float)
    w, we = np.array([thr[k]["width"] for k in on]), np.array([thr[k]["width_err"] for k in on])
    a5, a5e = np.array([thr[k]["alpha_50"] for k in on]), np.array([thr[k]["alpha_50_err"] for k in on])
    grid = obs_frac[dims[0]].g
    for side, edge, sign in (("above", max(grid), 1), ("below", min(grid), -1)):
        off = [k for k in dims if not thr[k]["on_grid"] and thr[k].get("side", "above") == side]
        if off:  # a one-sided bound: an arrow from the grid's edge, pointing off the grid
            ax.errorbar(off, [edge] * len(off), yerr=[[0.3 * edge if sign < 0 else 0] * len(off),
                                                      [0.3 * edge if sign > 0 else 0] * len(off)],
                        lolims=sign > 0, uplims=sign < 0, ls="none", color="tab:orange", marker="_",
                        label=rf"$\alpha_{{50}}$ {'>' if sign > 0 else '<'} {edge:g} (off the grid)")
    ax.errorbar(d, w, we, marker="o", color="tab:blue", capsize=2, ls="none", label="logistic width w")
    if len(on) >= 2:
        ax.plot(d, width_law["amplitude"] * d ** width_law["slope"], color="tab:blue", lw=1,
                label=rf"fit $w \propto d^{{{width_law['slope']:.2f} \pm {width_law['slope_err']:.2f}}}$")
    ax.errorbar(d, a5, a5e, marker="s", color="tab:orange", capsize=2, ls="none", label=r"midpoint $\alpha_{50}$")
    if len(on) >= 2:
        ax.plot(d, midpoint_law["amplitude"] * d ** midpoint_law["slope"], color="tab:orange", lw=1,
                label=rf"fit $\alpha_{{50}} \propto d^{{{midpoint_law['slope']:.2f} \pm {midpoint_law['slope_err']:.2f}}}$")
    ax.set(xscale="log", yscale="log")
    ax.set_xticks(dims, [str(k) for k in dims])  # plain numbers at the sizes run, not 10^1 ...
    ax.set_yticks([0.2, 0.3, 0.5, 1, 2, 3, 5], ["0.2", "0.3", "0.5", "1", "2", "3", "5"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="d", ylabel=r"$w$, $\alpha_{50}$ (bootstrap 16-84% half-range)",
           title="transition midpoint and width vs d (random starts)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


def scaling_figure(scaling, ref, dims, a_scale, path: Path) -> Path:
    fig = Figure(figsize=(14, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    colours = {"positional": "tab:blue", "semantic": "tab:red", "random": "tab:gray"}
    for ax, key, label in ((axes[0], "theta", r"$|\theta|$"), (axes[1], "m", r"$|m|$"), (axes[2], "test_error", r"test error $\epsilon_g$")):
        for st, c in colours.items():
            if st not in scaling:
                continue
            s = scaling[st][key]
            ax.errorbar(dims, s["mean"], s["std"], marker="o", ms=4, capsize=2, color=c, label=f"ours, {st} start")
            if st in ref:
                ax.plot(ref[st]["d"], ref[st][key], "x--", color=c, lw=0.8, alpha=0.7, label=f"authors, {st} start")
        ax.set(xscale="log", xlabel="d", ylabel=label)
    axes[0].legend(fontsize=7)
    axes[0].set_title(rf"$\alpha$ = {a_scale:g}, $\omega$ = 0.3", fontsize=9)
    fig.savefig(path, dpi=110)
    return path


def overlap_figure(raw, dims, alphas, path: Path) -> Path:
    fig = Figure(figsize=(3.0 * len(dims), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(dims), sharex=True, sharey=True))
    for ax, d in zip(axes, dims):
        A = np.broadcast_to(np.asarray(alphas)[None, :], raw[d]["theta"].shape)
        sc = ax.scatter(np.abs(raw[d]["theta"]).ravel(), np.abs(raw[d]["m"]).ravel(), c=A.ravel(), s=10, cmap="viridis")
        top = 1.05 * max(np.abs(raw[k]["m"]).max() for k in dims)
        ax.plot([0, top], [0, top], "k--", lw=0.8)  # the rule: semantic below the diagonal
        ax.set_ylim(0, top)
        ax.set(title=f"d = {d}", xlabel=r"$|\theta|$")
    axes[0].set_ylabel(r"$|m|$")
    fig.colorbar(sc, ax=axes[-1], label=r"$\alpha$")
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> int:
    """This part alone: its checks, section and figures, as attention_report.md / attention_metrics.json."""
    import yaml

    cli = ReplicationCLI("phase_transitions", "Positional -> semantic attention as a finite-size transition in d",
                         threads=1)
    cli.add_argument("--config", type=existing_file, default=None,
                     help="default: configs/cpu.yaml beside this script (tiny.yaml with --tiny)")
    args = cli.parse(argv)
    config = args.config or PART_CONFIGS / ("tiny.yaml" if args.tiny else "cpu.yaml")
    cfg = yaml.safe_load(config.read_text())
    if "attention" not in cfg:
        cli.error(f"argument --config: {config} has no attention section")
    seeds = [s + (args.seed or 0) for s in cfg["seeds"]]
    device = torch.device(cfg.get("device", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("warning: config asks for cuda but none is available; running on the CPU")
        device = torch.device("cpu")
    args.runs.mkdir(parents=True, exist_ok=True)
    with staged_output(args.out) as out:
        write_part(run_attention_part(cfg, seeds, out, args.runs, args.tiny, device), config.name, out)
    return 0


def write_part(part: dict, config_name: str, out: Path) -> None:
    """attention_report.md and attention_metrics.json (the phase-transition run's own report.md and metrics.json
    stay untouched)."""
    report = Report("Positional -> semantic attention as a finite-size transition in d", checks=part["checks"],
                    sections=[part["section"]], figures=part["figures"],
                    metrics={"config": config_name, "attention": part["metrics"]})
    with tempfile.TemporaryDirectory() as tmp:
        report.write(tmp)
        for name in ("report.md", "metrics.json"):
            (out / f"attention_{name}").write_text((Path(tmp) / name).read_text())


if __name__ == "__main__":
    sys.exit(main())
