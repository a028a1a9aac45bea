"""Figures of the deep-MLP replication: kernel-target alignment per layer, middle-layer clouds, test curves."""
from __future__ import annotations

from pathlib import Path

import torch

from mfnn.plotting import cloud_scatter, save, subplots

LABEL = {"mean_field": "mean-field (1/N)", "lazy": "lazy / NTK (1/sqrt N)", "lazy_wide": "lazy / NTK, 2N"}


def figures(m: dict, out: Path, gp_mse: float, seed: int = 0) -> list[tuple[str, str]]:
    """m: one seed's measurements per regime (the weights it holds: W_mid / W_in, trained and at init)."""
    mf, lz, wide = m["mean_field"], m["lazy"], m["lazy_wide"]
    depth = len(mf["kta_init"])
    # 1. KTA per layer, before/after, and its trajectory.
    fig, (ax, bx) = subplots(1, 2, figsize=(12, 4.3))
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
    for regime, style in (("mean_field", "-"), ("lazy", "--"), ("lazy_wide", ":")):
        kta = torch.tensor(m[regime]["kta"])
        for l in range(depth):
            bx.plot(m[regime]["steps"], kta[:, l], style, color=f"C{l}", label=f"{LABEL[regime]}, layer {l + 1}")
    bx.set_xlabel("step")
    bx.set_ylabel("KTA")
    bx.set_title("KTA during training (solid: mean-field, dashed: lazy, dotted: lazy 2N)")
    bx.set_yscale("log")
    bx.legend(fontsize=6, ncol=3)
    save(fig, out / "kta_layers.png")
    # 2. Middle-layer clouds (rows of W_hidden[0], top-2 PCs), coloured by each neuron's correlation with y;
    #    input-layer clouds in the (x1, x2) plane.
    fig, axes = subplots(2, 4, figsize=(22, 10), gridspec_kw={"wspace": 0.35})
    bg_W = mf["W_mid"]
    basis = torch.linalg.svd(bg_W - bg_W.mean(0), full_matrices=False).Vh[:2].T  # the trained BG's top-2 PCs
    nets = [("mean-field, init", mf["W_mid_init"], mf["W_in_init"], mf["middle_corr_init"]),
            ("mean-field, trained", mf["W_mid"], mf["W_in"], mf["middle_corr"]),
            ("lazy, trained", lz["W_mid"], lz["W_in"], lz["middle_corr"])]
    panels = [(t, W, c) for t, W, _, c in nets]
    if "fg_W" in mf:
        panels.append(("mean-field foreground", mf["fg_W"], mf["fg_corr"]))
    for ax, (title, W, corr) in zip(axes[0], panels):
        cloud_scatter(ax, W, None, f"layer 2 (middle): {title}", basis=basis, c=corr.numpy(), cmap="coolwarm",
                      vmin=-1, vmax=1)
        ax.figure.colorbar(ax.collections[-1], ax=ax, label="corr(activation, y)")
    plane = torch.eye(mf["input_dim"])[:, :2]
    for ax, (title, _, W_in, _) in zip(axes[1], nets):
        cloud_scatter(ax, W_in, None, f"W_in in the (x1, x2) plane: {title}", basis=plane, alpha=0.6)
    ax = axes[1][3]
    bins = torch.linspace(0, 1, 26).numpy()
    for (title, _, corr), colour in zip(panels, ("0.6", "tab:orange", "tab:blue", "tab:green")):
        ax.hist(corr.abs().numpy(), bins=bins, histtype="step", lw=1.5, color=colour, density=True, label=title)
    ax.set_xlabel("|corr(middle-layer activation, y)|")
    ax.set_title("middle-layer neurons: alignment with the target")
    ax.legend(fontsize=8)
    save(fig, out / "clouds.png")
    # 3. Held-out and training MSE.
    fig, ax = subplots(figsize=(6.5, 4.3))
    for regime, colour in (("mean_field", "tab:orange"), ("lazy", "tab:blue")):
        for key, style, what in (("val_curve", "-", "held-out"), ("train_curve", ":", "train")):
            s, v = zip(*m[regime][key]) if m[regime][key] else ((), ())
            ax.plot(s, v, style, color=colour, label=f"{LABEL[regime]}, {what}")
    ax.axhline(gp_mse, color="0.3", lw=1, ls="-.", label="GP reference (best-ridge kernel regression, init layer-3 kernel)")
    ax.axhline(mf["var_y"], color="0.6", lw=1, label="var(y)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.set_title(f"y = x1 x2 in d = {mf['input_dim']}, n = {mf['train_size']} (seed {seed})")
    ax.legend(fontsize=7)
    save(fig, out / "test_curves.png")
    return [(f"Seed {seed}. Centred kernel-target alignment of each hidden layer: init, lazy and mean-field after "
             "training (left); during training (right).", "kta_layers.png"),
            ("Top: middle-layer neuron clouds (incoming rows of W_hidden[0] projected on the trained mean-field "
             "background's top-2 principal components), coloured by the correlation of each neuron's activation with "
             "y; the last panel is the foreground (fresh neurons trained alone). Bottom: rows of W_in projected on the "
             "(x1, x2) plane, and the distribution of |corr| per middle-layer neuron.", "clouds.png"),
            ("Held-out (solid) and training (dotted) MSE; GP reference and var(y) as lines.", "test_curves.png")]
