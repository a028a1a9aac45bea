"""Figures for the first-order (droplet) transition replication."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mfnn.analysis.first_order import bin_centres
from mfnn.plotting import BACKGROUND, FOREGROUND, save, subplots


def mark(ax, sigma2_c: float, paper: float | None, window: float | None) -> None:
    if paper is not None:
        ax.axvline(paper, color="k", ls=":", lw=1, label=f"paper $\\sigma^2_c$ = {paper:g}")
        if window:
            ax.axvspan(paper * (1 - window), paper * (1 + window), color="k", alpha=0.06)
    if not math.isnan(sigma2_c):
        ax.axvline(sigma2_c, color="tab:red", ls="--", lw=1.2, label=f"measured $\\sigma^2_c$ = {sigma2_c:.3g}")


def sweep_figure(s2: list[float], per_chain: dict[str, np.ndarray], droplet_alignment: list[float],
                 theory: list[dict] | None, sigma2_c: float, paper: float, window: float, path: Path) -> Path:
    """Order parameters and test error vs sigma^2. per_chain[name]: (points, chains) posterior means."""
    s2 = np.asarray(s2)
    fig, axes = subplots(1, 4, figsize=(18, 4.2), layout="constrained")
    panels = [("frac_specialised", "fraction of specialised neurons"), ("droplet_alignment", "droplet alignment"),
              ("overlap", "mean |w . w*| (all neurons)"), ("test_error", "test MSE of the posterior mean")]
    for ax, (key, title) in zip(axes, panels):
        if key == "droplet_alignment":
            ax.plot(s2, droplet_alignment, "o-", color=FOREGROUND, label="mean |cos| beyond the gap")
            ax.plot(s2, per_chain["bulk_alignment"].mean(1), "s-", color=BACKGROUND, label="mean |cos| of the bulk")
            ax.set_ylim(0, 1)
        else:
            v = per_chain[key]
            for c in range(v.shape[1]):
                ax.plot(s2, v[:, c], ".", color=BACKGROUND, alpha=0.5, label="chains" if c == 0 else None)
            ax.plot(s2, v.mean(1), "o-", color=FOREGROUND, label="mean over chains")
            if theory is not None:
                ax.plot([t["sigma2"] for t in theory], [t[key] for t in theory], "-", color="tab:green", lw=1,
                        label="single-neuron theory (same d)")
        mark(ax, sigma2_c, paper, window)
        ax.set_xlabel("$\\sigma^2$ (noise variance)")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
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
