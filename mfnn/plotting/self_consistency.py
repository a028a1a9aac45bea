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
    return [("Mean-field backgrounds coloured by the outgoing weight a: early, and at the end of training.",
             "clover_leaf.png"),
            ("Converged foreground (orange) vs background (blue), w in the plane; seed 0 of each group.",
             "clouds_fg_bg.png"),
            ("Every cloud distance as a z-score against the seed-to-seed null: foregrounds and placebos.",
             "null_scores.png")]
