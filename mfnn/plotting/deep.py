"""Figures of the deep-MLP replication: kernel-target alignment per layer, middle-layer clouds, test curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.lines import Line2D

from mfnn.plotting import cloud_scatter, save, subplots

LABEL = {"mean_field": "mean-field (1/N)", "lazy": "lazy / NTK (1/sqrt N)", "lazy_wide": "lazy / NTK, 2N"}
STYLE = {"mean_field": "-", "lazy": "--", "lazy_wide": ":"}


def _shared_limits(axes, points: list[np.ndarray], pad: float = 0.05) -> None:
    """One square window holding every panel's points: panels in one projection basis read on one scale."""
    allp = np.concatenate(points)
    lo, hi = allp.min(0), allp.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + pad)
    for ax in axes:
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal", adjustable="box")


def figures(m: dict, out: Path, analytic: dict, seed: int = 0) -> list[tuple[str, str]]:
    """m: one seed's measurements per regime (the weights it holds: W_mid / W_in, trained and at init);
    analytic: that seed's infinite-width references (run.analytic_references)."""
    mf, lz, wide = m["mean_field"], m["lazy"], m["lazy_wide"]
    depth = len(mf["kta_init"])
    # 1. KTA per layer, before/after, and its trajectory.
    fig, (ax, bx) = subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    layers = torch.arange(depth).float()
    bars = [(mf["kta_init"], f"init (N = {mf['width']})", "0.6"), (lz["kta_final"], f"{LABEL['lazy']}, trained", "tab:blue"),
            (wide["kta_final"], f"lazy, N = {wide['width']}, trained", "tab:cyan"),
            (mf["kta_final"], f"{LABEL['mean_field']}, trained", "tab:orange")]
    for i, (vals, lab, colour) in enumerate(bars):
        ax.bar(layers + (i - 1.5) * 0.2, vals, width=0.2, label=lab, color=colour)
    ax.set_xticks(layers, [f"hidden layer {l + 1}" for l in range(depth)])
    ax.set_ylabel("centred KTA  A(K_l, y yᵀ)")
    ax.set_title(f"kernel-target alignment per layer (seed {seed})")
    ax.legend(fontsize=8)
    for regime in ("mean_field", "lazy", "lazy_wide"):
        kta = torch.tensor(m[regime]["kta"])
        for l in range(depth):
            bx.plot(m[regime]["steps"], kta[:, l], STYLE[regime], color=f"C{l}")
    bx.set_xlabel("step")
    bx.set_ylabel("centred KTA (log scale)")
    bx.set_title("KTA during training")
    bx.set_yscale("log")
    regimes = [Line2D([], [], color="k", ls=STYLE[r], label=f"{LABEL[r]}, N = {m[r]['width']}") for r in STYLE]
    colours = [Line2D([], [], color=f"C{l}", label=f"hidden layer {l + 1}") for l in range(depth)]
    # outside the axes, where constrained layout makes room for them
    fig.legend(handles=regimes, fontsize=8, loc="outside right upper", title="line style: regime", title_fontsize=8)
    fig.legend(handles=colours, fontsize=8, loc="outside right lower", title="colour: layer", title_fontsize=8)
    save(fig, out / "kta_layers.png")
    # 2. Middle-layer clouds (rows of W_hidden[0] on the trained background's top-2 PCs), coloured by each neuron's
    #    correlation with y on one shared scale; input-layer clouds in the (x1, x2) plane, on one shared window.
    fig, axes = subplots(2, 4, figsize=(20, 10), layout="constrained")
    bg_W = mf["W_mid"]
    basis = torch.linalg.svd(bg_W - bg_W.mean(0), full_matrices=False).Vh[:2].T  # the trained BG's top-2 PCs
    nets = [("mean-field, init", mf["W_mid_init"], mf["W_in_init"], mf["middle_corr_init"]),
            ("mean-field, trained", mf["W_mid"], mf["W_in"], mf["middle_corr"]),
            ("lazy, trained", lz["W_mid"], lz["W_in"], lz["middle_corr"])]
    panels = [(t, W, c) for t, W, _, c in nets]
    if "fg_W" in mf:
        panels.append(("mean-field foreground", mf["fg_W"], mf["fg_corr"]))
    lim = max(float(c.abs().max()) for _, _, c in panels) or 1.0
    points, scatter = [], None
    for ax, (title, W, corr) in zip(axes[0], panels):
        points.append(cloud_scatter(ax, W, None, f"middle layer: {title}", basis=basis, c=corr.numpy(), cmap="coolwarm",
                                    vmin=-lim, vmax=lim))
        scatter = ax.collections[-1]
        ax.set_xlabel("PC1 of the trained middle layer")
        ax.set_ylabel("PC2 of the trained middle layer")
    for ax in axes[0][len(panels):]:
        ax.set_visible(False)
    _shared_limits(axes[0][:len(panels)], points)
    fig.colorbar(scatter, ax=list(axes[0]), label="corr(neuron's activation, y)", shrink=0.9, pad=0.01)
    plane = torch.eye(mf["input_dim"])[:, :2]
    points = []
    for ax, (title, _, W_in, _) in zip(axes[1], nets):
        points.append(cloud_scatter(ax, W_in, None, f"input layer W_in: {title}", basis=plane, alpha=0.6))
        ax.set_xlabel("w·e1")
        ax.set_ylabel("w·e2")
    _shared_limits(axes[1][:len(nets)], points)
    ax = axes[1][3]
    bins = np.linspace(0, lim * 1.02, 26)  # the colour scale's range: the same |corr| axis as the top row
    for (title, _, corr), colour in zip(panels, ("0.6", "tab:orange", "tab:blue", "tab:green")):
        ax.hist(corr.abs().numpy(), bins=bins, histtype="step", lw=1.5, color=colour, density=True, label=title)
    ax.set_xlabel("|corr(middle-layer activation, y)|")
    ax.set_ylabel("density")
    ax.set_title("middle-layer neurons: alignment with the target")
    ax.legend(fontsize=8)
    save(fig, out / "clouds.png")
    # 3. Held-out and training MSE against the infinite-width references.
    fig, ax = subplots(figsize=(8.5, 4.6), layout="constrained")
    for regime, colour in (("mean_field", "tab:orange"), ("lazy", "tab:blue"), ("lazy_wide", "tab:cyan")):
        for key, style, what in (("val_curve", "-", "held-out"), ("train_curve", ":", "train")):
            s, v = zip(*m[regime][key]) if m[regime][key] else ((), ())
            ax.plot(s, v, style, color=colour, label=f"{LABEL[regime]}, {what}")
    s, v = zip(*lz["inf_curve"])
    ax.plot(s, v, "o-", ms=3, color="k", lw=1, label="analytic NTK (N = oo) from the lazy net's f_0, held-out")
    var_a = analytic["var_y"]
    ax.axhline(analytic["best"]["nngp"], color="tab:purple", lw=1, ls="-.", label="analytic NNGP readout (best ridge)")
    ax.axhline(analytic["best"]["ntk"], color="tab:green", lw=1, ls="-.",
               label="analytic NTK trained to convergence (best ridge)")
    ax.axhline(analytic["prediction"]["nngp"]["mse_over_var"] * var_a, color="tab:purple", lw=3, alpha=0.3,
               label="degree-2 prediction for the NNGP")
    ax.axhline(mf["var_y"], color="0.6", lw=1, label="var(y): learns nothing")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.set_title(f"y = x1 x2 in d = {mf['input_dim']}, n = {mf['train_size']} (seed {seed})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, out / "test_curves.png")
    return [(f"Seed {seed}. Centred kernel-target alignment of each hidden layer: init, lazy and mean-field after "
             "training (left); during training (right; colour: layer, line style: regime).", "kta_layers.png"),
            (f"Seed {seed}. Top: middle-layer neurons (incoming rows of W_hidden[0]) projected on the trained mean-field "
             "middle layer's top-2 principal components, every panel on the same axes and colour scale (the neuron's "
             "correlation with y); the last panel is the foreground (fresh neurons trained alone). Bottom: input-layer "
             "rows of W_in projected on e1 and e2 (the target's plane), on shared axes; and the distribution of |corr| "
             "per middle-layer neuron.", "clouds.png"),
            (f"Seed {seed}. Held-out (solid) and training (dotted) MSE; the analytic NTK predictor of the lazy net at "
             "the same steps; the infinite-width references and var(y) as lines.", "test_curves.png")]
