"""Figures of the self-consistency replication: the clover leaf at the end of training, converged
foreground vs background clouds, and every distance read against its seed-to-seed null."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfnn.plotting import BACKGROUND, FOREGROUND, cloud_scatter, save, subplots


def figures(res: dict, out: Path) -> list[tuple[str, str]]:
    mf0, mfd = res["mf_wd0"]["clouds"], res["mf_wd"]["clouds"]
    fig, axes = subplots(1, 3, figsize=(17, 5), squeeze=False, layout="constrained")
    for ax, (cloud, title) in zip(axes[0], [(mf0["early"], "no weight decay, step 500"),
                                            (mf0["bg"], "no weight decay, end (at rest)"),
                                            (mfd["bg"], "weight decay 0.01, end (at rest)")]):
        cloud_scatter(ax, cloud[:, :2], cloud[:, -1], title, s=4)
    fig.suptitle("Mean-field background neurons, w in the plane, coloured by the outgoing weight a")
    save(fig, out / "clover_leaf.png")

    panels = [(res["mf_wd"], "test_particle", "mean-field, wd 0.01: test particle"),
              (res["mf_wd0"], "own_term", "mean-field, wd 0: own-term fit"),
              (res["lazy"], "own_term", "lazy (NTK): own-term fit"),
              (res["flow"], None, "characteristic flow (trajectory replay)")]
    fig, axes = subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
    for ax, (g, obj, title) in zip(axes[0], panels):
        fg = g["clouds"]["fg"] if obj is None else g["clouds"][obj]
        o = None if obj is None else g["seeds"][0]["objectives"][obj]
        z = g["mmd"]["z"] if obj is None else o["mmd"]["z"]
        cloud_scatter(ax, fg[:, :2], None, "", s=3, color=FOREGROUND, alpha=0.5, label=f"foreground ({len(fg)})")
        cloud_scatter(ax, g["clouds"]["bg"][:, :2], None, title, s=3, color=BACKGROUND, alpha=0.5, label="background")
        note = f"z(MMD) vs seed-to-seed = {z:.1f}"
        if o is not None:
            note += f"\nat the origin: FG {o['dead']:.0%}, BG {o['bg_dead']:.0%}\nconverged {o['fraction_converged']:.0%}"
        ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=9, va="bottom",
                bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"))
        ax.legend(loc="upper right", fontsize=8, markerscale=3)
    save(fig, out / "clouds_fg_bg.png")

    fig, axes = subplots(1, 3, figsize=(16, 4.2), squeeze=False, layout="constrained")
    for ax, (key, title) in zip(axes[0], [("mf_wd", "mean-field, wd 0.01"), ("mf_wd0", "mean-field, wd 0"),
                                          ("lazy", "lazy (NTK)")]):
        g = res[key]
        ax.axvspan(-10, 3, color="0.92", zorder=0, label="z <= 3: same law")
        ax.axvline(3, color="0.5", lw=0.8, ls="--")
        rows = [(f"FG: {obj}", [s["objectives"][obj]["mmd"]["z"] for s in g["seeds"] if "mmd" in s["objectives"][obj]])
                for obj in g["seeds"][0]["objectives"]]
        rows += [(f"placebo: {p}", [s["placebo"][p]["mmd"]["z"] for s in g["seeds"]])
                 for p in ("heldout", "shuffled", "early")]
        rows = [(n, v) for n, v in rows if v]
        for i, (name, zs) in enumerate(rows):
            ax.scatter(np.clip(zs, -10, None), [i] * len(zs), s=25, color="k", zorder=3)
        ax.set_yticks(range(len(rows)), [n for n, _ in rows], fontsize=8)
        ax.set_xscale("symlog", linthresh=3)
        ax.set_xlim(-10, 100)
        ax.set_title(title)
    fig.supxlabel("z = (MMD - mean of the seed-to-seed null) / its sd; one dot per seed; shaded: within 3 sd (same law)")
    save(fig, out / "null_scores.png")
    figs = []
    if "kernel" in res:
        figs.append(kernel_reference_figure(res["kernel"], out / "kernel_reference.png"))
    return [("Mean-field backgrounds coloured by the outgoing weight a: early, and at the end of training.",
             "clover_leaf.png"),
            ("Converged foreground (orange) vs background (blue), w in the plane; seed 0 of each group.",
             "clouds_fg_bg.png"),
            ("Every cloud distance as a z-score against the seed-to-seed null: foregrounds and placebos.",
             "null_scores.png")] + figs


def kernel_reference_figure(kernel: dict, path: Path) -> tuple[str, str]:
    """Left: each background's empirical NTK against the analytic infinite-width NTK, at init (the null) and at
    the end. Right: the end function against the analytic-NTK flow from its own f_0 and from other seeds' f_0."""
    fig, axes = subplots(1, 2, figsize=(13, 3.6), squeeze=False, layout="constrained")
    groups = [("lazy", "lazy (NTK)"), ("mean_field", "mean-field, wd 0")]
    ax = axes[0, 0]
    for i, (key, name) in enumerate(groups):
        g = kernel[key]
        ax.scatter(g["null"], [i + 0.15] * len(g["null"]), color="0.6", s=25, label="at init (null)" if i == 0 else None)
        ax.scatter([s["kernel_end"] for s in g["seeds"]], [i - 0.15] * len(g["seeds"]), s=35,
                   color=BACKGROUND if key == "lazy" else FOREGROUND, label=f"{name}: at the end")
    ax.set_xscale("log"), ax.set_yticks(range(len(groups)), [n for _, n in groups]), ax.set_ylim(-0.6, 1.6)
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks]), ax.minorticks_off()
    ax.set_xlabel(r"$|K_{emp} - K_\infty| / |K_\infty|$ (analytic infinite-width NTK)")
    ax.set_title("kernel: the lazy background keeps it, the mean-field one leaves it", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    ax = axes[0, 1]
    for i, (key, name) in enumerate(groups):
        g = kernel[key]
        other = [v for s in g["seeds"] for v in s["function_vs_other_seeds"]]
        ax.scatter(other, [i + 0.15] * len(other), color="0.6", s=25, label="other seeds' f_0 (null)" if i == 0 else None)
        ax.scatter([s["function_vs_ntk"] for s in g["seeds"]], [i - 0.15] * len(g["seeds"]), s=35,
                   color=BACKGROUND if key == "lazy" else FOREGROUND, label=f"{name}: own f_0")
    ax.set_yticks(range(len(groups)), [n for _, n in groups]), ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel(r"$|f_{end} - f_{NTK}| / |y|$ (analytic-NTK gradient flow, the background's lr schedule)")
    ax.set_title("function: the NTK flow from the background's own init", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    save(fig, path)
    return ("The analytic infinite-width NTK as the lazy reference: kernel distance at init (null) and at the end; "
            "end function against the NTK flow from its own and from other seeds' initial functions.",
            path.name)


def width_figure(series: dict[str, dict[int, list[float]]], path: Path) -> tuple[str, str]:
    """The post's protocol against the background width N, one dot per seed (lines through the means).
    series[name][N]: per-seed values for the names "z_wd", "z_wd0", "z_heldout" (z of MMD against that width's
    seed-to-seed null), "loss_wd", "loss_wd0" (FG loss / resampled BG loss), "dead_fg", "dead_bg" (wd 0.01:
    fraction of neurons at the origin)."""
    fig, axes = subplots(1, 3, figsize=(16, 4.2), squeeze=False, layout="constrained")
    styles = {"z_wd": ("wd 0.01, test particle", FOREGROUND), "z_wd0": ("wd 0, own-term fit", "tab:red"),
              "z_heldout": ("placebo: held-out BG (wd 0)", "0.5"), "loss_wd": ("wd 0.01, test particle", FOREGROUND),
              "loss_wd0": ("wd 0, own-term fit", "tab:red"), "dead_fg": ("foreground", FOREGROUND),
              "dead_bg": ("background", BACKGROUND)}
    panels = [(("z_wd", "z_wd0", "z_heldout"), "z of MMD(FG, BG) against the seed-to-seed null", "symlog", 3.0),
              (("loss_wd", "loss_wd0"), "FG network loss / loss of M resampled BG neurons", "log", 1.5),
              (("dead_fg", "dead_bg"), "wd 0.01: fraction of neurons at the origin", "linear", None)]
    for ax, (names, title, scale, line) in zip(axes[0], panels):
        for name in names:
            label, colour = styles[name]
            widths = sorted(series[name])
            for n in widths:
                ax.scatter([n] * len(series[name][n]), series[name][n], color=colour, s=18, alpha=0.7)
            ax.plot(widths, [float(np.nanmean(series[name][n])) for n in widths], color=colour, label=label)
        if line is not None:
            ax.axhline(line, color="k", ls="--", lw=0.8, label=f"pass line ({line:g})")
        ax.set_xscale("log", base=2), ax.set_yscale(scale) if scale != "symlog" else ax.set_yscale("symlog", linthresh=3)
        widths = sorted(series[names[0]])
        ax.set_xticks(widths, [str(n) for n in widths]), ax.minorticks_off()
        ax.set_xlabel("background width N"), ax.set_title(title, fontsize=10), ax.legend(fontsize=8)
    save(fig, path)
    return ("The post's protocol across background widths: cloud distance, assembled loss and the origin's share, "
            "one dot per seed.", path.name)
