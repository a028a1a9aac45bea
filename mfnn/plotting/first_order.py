"""Figures for the first-order (droplet) transition replication."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import FuncFormatter

from mfnn.analysis.first_order import bin_centres
from mfnn.plotting import BACKGROUND, save, subplots


SEED_COLOURS = ("tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")


def sweep_figure(s2: list[float], seeds: list[int], grid: dict[str, np.ndarray], U: np.ndarray, U_placebo: list[float],
                 theory: list[dict] | None, cubic: dict, err: dict, paper: float, window: float, path: Path) -> Path:
    """Observables vs sigma^2 for every seed. grid[name]: (seeds, chains, points); U: (seeds, points).
    cubic / err: locate_break results (break, its 95% interval, the fitted two-segment line)."""
    x = np.asarray(s2)
    fig, axes = subplots(2, 3, figsize=(16, 8.5), layout="constrained")
    theory_of = {"c3": lambda t: -0.3 - t["r3"], "c1": lambda t: 1 - t["r1"], "test_error": lambda t: t["test_error"],
                 "frac_specialised": lambda t: t["frac_specialised"]}
    panels = [("c3", "cubic component c3 of the mean output\n(teacher: -0.3)", cubic),
              ("c1", "linear component c1 (teacher: 1)", None),
              ("test_error", "test MSE of the posterior mean", err),
              ("rest", "test MSE outside (1, He1, He3):\nfitted sample noise", None),
              ("U", "coexistence cumulant U = 1 - <c^4>/(3<c^2>^2)", None),
              ("frac_specialised", "fraction of neurons with |cos(w, w*)| > threshold", None)]
    xf = np.linspace(x[0], x[-1], 200)
    for ax, (key, title, brk) in zip(axes.flat, panels):
        for s, seed in enumerate(seeds):
            colour = SEED_COLOURS[s % len(SEED_COLOURS)]
            if key == "U":
                ax.plot(x, U[s], "o-", color=colour, ms=4, label=f"seed {seed}")
                continue
            v = grid[key][s]  # (chains, points)
            for c in range(v.shape[0]):
                ax.plot(x, v[c], ".", color=colour, alpha=0.35, ms=4)
            ax.plot(x, v.mean(0), "-", color=colour, lw=1.2, label=f"seed {seed}")
        if key == "U":
            ax.axhspan(min(U_placebo), max(U_placebo), color="tab:cyan", alpha=0.3,
                       label="placebo: Gaussian cloud as wide\nas the smallest-$\\sigma^2$ cloud (20 draws)")
            ax.axhline(0, color="k", lw=0.6)
            if np.min(U) < -1:  # droplets drive U far below zero: a log scale beyond |U| = 1
                ax.set_yscale("symlog", linthresh=1.0)
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        if theory is not None and key in theory_of:
            ax.plot([t["sigma2"] for t in theory], [theory_of[key](t) for t in theory], "-", color="tab:green", lw=1,
                    label="single-neuron theory (same d)")
        if brk is not None:
            c0, c1, c2 = brk["coef"]
            ax.plot(xf, c0 + c1 * xf + c2 * np.maximum(0, brk["break"] - xf), "k-", lw=1.5, label="two-segment fit")
            ax.axvspan(*brk["ci95"], color="tab:red", alpha=0.15)
            ax.axvline(brk["break"], color="tab:red", ls="--", lw=1.2, label=f"break {brk['break']:.3f}")
        ax.axvline(paper, color="k", ls=":", lw=1, label=f"paper $\\sigma^2_c$ = {paper:g}")
        ax.axvspan(paper * (1 - window), paper * (1 + window), color="k", alpha=0.06)
        ax.set_xlabel("$\\sigma^2$ (noise variance)")
        ax.set_title(title, fontsize=10)
        if key in ("c3", "U"):  # the other panels share these colours and lines
            ax.legend(fontsize=7)
    return save(fig, path)


def cloud_figure(s2: list[float], hists: np.ndarray, picks: list[int], clouds: list[dict], theory: list[dict] | None,
                 path: Path) -> Path:
    """Top: posterior |cos(w, w*)| histograms (log scale) at the picked sigma^2 points; bottom: one chain's neurons
    at the end, overlap with w* against the readout weight N a_i (droplets sit apart from the bulk)."""
    fig, axes = subplots(2, len(picks), figsize=(4.6 * len(picks), 8.5), squeeze=False, layout="constrained")
    c = bin_centres(hists.shape[1])
    width = 1.0 / hists.shape[1]
    for k, i in enumerate(picks):
        ax = axes[0, k]
        ax.bar(c, np.maximum(hists[i], 1e-6), width=width, color=BACKGROUND, alpha=0.8, label="Langevin posterior")
        if theory is not None:
            t = min(theory, key=lambda t: abs(t["sigma2"] - s2[i]))
            ax.step(c, np.maximum(t["cos_hist"], 1e-6), where="mid", color="tab:green", lw=1, label="theory")
        ax.set_yscale("log")
        ax.set_ylim(1e-5, 1)
        ax.set_title(f"$\\sigma^2$ = {s2[i]:g}: |cos(w, w*)| histogram")
        ax.set_xlabel("|cos(w, w*)|")
        ax.legend(fontsize=7)
        ax = axes[1, k]
        cl = clouds[k]
        ax.scatter(cl["cos"], cl["a"], s=8, c=np.where(np.abs(cl["cos"]) > cl["threshold"], 1, 0), cmap="coolwarm",
                   vmin=0, vmax=1)
        ax.axvline(cl["threshold"], color="k", ls=":", lw=0.8)
        ax.axvline(-cl["threshold"], color="k", ls=":", lw=0.8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("cos(w_i, w*)")
        ax.set_ylabel("N a_i")
        ax.set_title(f"$\\sigma^2$ = {s2[i]:g}: one chain's neurons (last step)")
    return save(fig, path)




def scales_figure(s2: list[float], scales: list[dict], tool: dict, calib: dict, eq13: float, paper: float,
                  neuron_obs: dict, verdict: dict, i_c: int, i_co: int, eq13_curves: list, path: Path) -> Path:
    """The paper's observable and the toolkit's readings across Table 1 scales. scales: per scale (small to
    large) {d, obs_c3 (Observables), grid (c1 ...), theory_c3, cubic (locate_break), theory_break, neuron_cos};
    tool / calib: extrapolated_break of the data's / the theory's breaks; neuron_obs: d -> Observables of the
    neurons' |cos|; i_c / i_co: the sigma^2 indices nearest sigma^2_c and where the toolkit finds coexistence;
    eq13_curves: [(sigma^2, q, S(q)/d)] of the theory."""
    x = np.asarray(s2)
    fig, axes = subplots(2, 3, figsize=(17, 9.5), layout="constrained")
    colours = colormaps["Blues"](np.linspace(0.45, 1.0, len(scales)))  # light (small d) -> dark (large d)

    def marks(ax, legend=False):
        ax.set_xlim(x[0] - 0.01, x[-1] + 0.01)  # the sweep's range, even when an error band is wider
        ax.axvspan(tool["sigma2_c"] - tool["err"], tool["sigma2_c"] + tool["err"], color="tab:red", alpha=0.12)
        ax.axvline(tool["sigma2_c"], color="tab:red", ls="--", lw=1.2,
                   label=f"toolkit $\\sigma^2_c$ = {tool['sigma2_c']:.3f} ± {tool['err']:.3f}" if legend else None)
        ax.axvline(eq13, color="tab:green", ls="-.", lw=1, label=f"Eq. 13 theory {eq13:.4f}" if legend else None)
        ax.axvline(paper, color="k", ls=":", lw=1, label=f"paper {paper:g}" if legend else None)

    ax = axes[0, 0]
    for sc, col in zip(scales, colours):
        o = sc["obs_c3"]
        ax.errorbar(x, o["c3"], yerr=o.err["c3"], fmt="o-", ms=4, color=col, capsize=2, label=f"d = {sc['d']} (N = {sc['N']})")
        ax.plot(x, sc["theory_c3"], "--", color=col, lw=1)
        ax.plot([sc["cubic"]["break"]] * 2, [0.0, 0.004], "-", color=col, lw=3)  # the scale's break, on the axis
    marks(ax, legend=True)
    ax.set_title("cubic component c3 of the posterior-mean output\n(teacher -0.3; dashed: finite-d theory; ticks: breaks)",
                 fontsize=10)
    ax.set_xlabel("$\\sigma^2$ (noise variance)")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    for sc, col in zip(scales, colours):
        c1 = sc["grid"]["c1"]  # (seeds, chains, points)
        ax.plot(x, c1.mean((0, 1)), "o-", ms=4, color=col, label=f"d = {sc['d']}")
    marks(ax)
    ax.set_title("linear component c1 (teacher 1)", fontsize=10)
    ax.set_xlabel("$\\sigma^2$ (noise variance)")
    ax.legend(fontsize=7)

    ax = axes[0, 2]
    inv_d = np.array([1.0 / sc["d"] for sc in scales])
    xs = np.linspace(0, inv_d.max() * 1.1, 50)
    for sc, col, xd in zip(scales, colours, inv_d):
        ax.errorbar(xd, sc["cubic"]["break"], yerr=sc["cubic"]["boot_std"], fmt="o", color=col, capsize=3, ms=6)
        ax.plot(xd, sc["theory_break"], "o", mfc="none", color=col, ms=8)
    w = tool["shift_exponent"]
    ax.plot(xs, tool["sigma2_c"] + tool["slope"] * xs ** w, "-", color="tab:red", lw=1.2,
            label="data: break = $\\sigma^2_c$ + a/d")
    ax.errorbar([0], [tool["sigma2_c"]], yerr=[tool["err"]], fmt="s", color="tab:red", capsize=4,
                label=f"toolkit $\\sigma^2_c$ = {tool['sigma2_c']:.3f} ± {tool['err']:.3f}")
    ax.plot(xs, calib["sigma2_c"] + calib["slope"] * xs ** w, "--", color="tab:gray", lw=1,
            label=f"theory curves, same estimator: {calib['sigma2_c']:.3f}")
    ax.axhline(eq13, color="tab:green", ls="-.", lw=1, label=f"Eq. 13 ($d\\to\\infty$) {eq13:.4f}")
    ax.axhline(paper, color="k", ls=":", lw=1, label=f"paper {paper:g}")
    ax.set_xlabel("1 / d")
    ax.set_ylabel("break of c3($\\sigma^2$)")
    ax.set_title("per-scale breaks (filled: data ± bootstrap s.d.; open: theory)\nextrapolated to $d\\to\\infty$",
                 fontsize=10)
    ax.legend(fontsize=7)

    ax = axes[1, 0]
    for sc, col in zip(scales, colours):
        o = neuron_obs[sc["d"]]
        ax.errorbar(x, o["binder"], yerr=o.err["binder"], fmt="o-", ms=4, color=col, capsize=2, label=f"d = {sc['d']}")
    ax.axhline(0, color="k", lw=0.6)
    marks(ax)
    if min(np.min(neuron_obs[sc["d"]]["binder"]) for sc in scales) < -1:
        ax.set_yscale("symlog", linthresh=1.0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_title(f"Binder cumulant of the neurons' |cos(w, w*)|\n(0: Gaussian cloud; < 0: coexistence); "
                 f"verdict: {verdict['verdict']}", fontsize=10)
    ax.set_xlabel("$\\sigma^2$ (noise variance)")
    ax.legend(fontsize=7)

    edges = np.linspace(0, 1, 41)
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax = axes[1, 1]
    for sc, col in zip(scales, colours):
        for i, ls in ((i_co, "-"), (i_c, ":")):
            h, _ = np.histogram(sc["neuron_cos"][i].ravel(), bins=edges, density=True)
            ax.step(centres, np.maximum(h, 1e-5), where="mid", color=col, ls=ls,
                    label=f"d = {sc['d']}, $\\sigma^2$ = {s2[i]:g}")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, None)
    ax.set_xlabel("|cos(w, w*)| of a neuron")
    ax.set_ylabel("density over neurons, chains and steps")
    ax.set_title(f"neurons' |cos| where the toolkit finds coexistence ($\\sigma^2$ = {s2[i_co]:g}, solid)\n"
                 f"and nearest $\\sigma^2_c$ ({s2[i_c]:g}, dotted)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)

    ax = axes[1, 2]
    for k, (v, q, S) in enumerate(eq13_curves):
        ax.plot(q, S, "-", color=colormaps["Greens"](0.4 + 0.6 * k / max(1, len(eq13_curves) - 1)),
                label=f"$\\sigma^2$ = {v:.4g}" + (" ($\\sigma^2_c$)" if abs(v - eq13) < 1e-9 else ""))
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlim(0, 1.3)
    ax.set_ylim(-0.06, 0.08)  # the droplet minimum and its barrier are O(0.01) per d
    ax.set_xlabel("q = w . w*")
    ax.set_ylabel("S(q) / d")
    ax.set_title("Eq. 13 single-neuron action (GP-phase b, c = -0.3):\nthe droplet minimum reaches S(0) at $\\sigma^2_c$",
                 fontsize=10)
    ax.legend(fontsize=7)
    return save(fig, path)
