"""Figures of the self-consistency replication: foreground vs background clouds, the clover leaf."""
from __future__ import annotations

from pathlib import Path

from mfnn.plotting import BACKGROUND, FOREGROUND, cloud_scatter, save, subplots


def figures(results: dict, out: Path) -> list[tuple[str, str]]:
    panels = [("mean_field", "same", "mean-field background"), ("lazy", "same", "lazy (NTK) background, NTK foreground"),
              ("lazy", "mean_field", "lazy background, mean-field probe")]
    panels = [p for p in panels if p[1] in results[p[0]]["clouds"]]
    fig, axes = subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
    for ax, (regime, probe, title) in zip(axes[0], panels):
        c = results[regime]["clouds"]
        cloud_scatter(ax, c[probe][:, :2], None, "", s=4, color=FOREGROUND, alpha=0.5, label=f"foreground ({len(c[probe])})")
        cloud_scatter(ax, c["bg"][:, :2], None, title, s=4, color=BACKGROUND, alpha=0.6, label="background")
        m = results[regime]["probes"][probe]
        ax.text(0.02, 0.02, f"MMD fg-bg {m['mmd']:.3f}\nseed-seed {results[regime]['mmd_seed']:.3f}",
                transform=ax.transAxes, fontsize=9, va="bottom")
        ax.legend(loc="upper right", fontsize=8, markerscale=3)
    save(fig, out / "clouds_fg_bg.png")
    fig, axes = subplots(1, 3, figsize=(15, 4.3), squeeze=False)
    mf = results["mean_field"]["clouds"]
    for ax, (key, title) in zip(axes[0], [("init", "initial cloud"), ("bg", "mean-field background (trained)"),
                                          ("same", "foreground neurons (trained alone)")]):
        cloud_scatter(ax, mf[key][:, :2], mf[key][:, -1], title)
    save(fig, out / "clover_leaf.png")
    return [("Background (blue) and foreground (orange) neuron clouds, w in the plane.", "clouds_fg_bg.png"),
            ("Mean-field clouds coloured by the outgoing weight a: init, trained background, foreground.",
             "clover_leaf.png")]
