"""Figures for the first-order (droplet) transition replication."""
from __future__ import annotations

from pathlib import Path

import numpy as np
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
