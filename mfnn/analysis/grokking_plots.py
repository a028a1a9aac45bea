"""Figures for the grokking replications (Gromov MLP, Nanda transformer, Power sweep)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from mfnn.plotting import BACKGROUND, FOREGROUND, plt, save

PHASE_COLOURS = {"memorisation_end": "tab:gray", "circuit_formation_end": "tab:purple", "cleanup_end": "tab:green"}


def mark_phases(ax, phases: dict[str, float]) -> None:
    for name, step in phases.items():
        if step is not None and not math.isnan(step):
            ax.axvline(step, color=PHASE_COLOURS.get(name, "k"), ls="--", lw=1, label=name.replace("_", " "))


def progress_figure(history: dict[str, list[float]], phases: dict[str, float], key_freqs: list[int], path: Path) -> Path:
    """Nanda et al. Fig. 7 style: losses, accuracy, Gini, weight norm, with the three phase boundaries."""
    s = history["step"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]
    for key, c in (("train_loss", BACKGROUND), ("test_loss", FOREGROUND), ("restricted_loss", "tab:green"),
                   ("excluded_loss", "tab:red")):
        ax.plot(s, history[key], color=c, label=key.replace("_", " "))
    ax.set_yscale("log"), ax.set_title(f"losses (key frequencies {key_freqs})")
    ax = axes[0, 1]
    ax.plot(s, history["train_acc"], color=BACKGROUND, label="train")
    ax.plot(s, history["test_acc"], color=FOREGROUND, label="test")
    ax.set_title("accuracy")
    ax = axes[1, 0]
    ax.plot(s, history["gini_W_E"], label="Gini of W_E Fourier norms")
    ax.plot(s, history["gini_W_U"], label="Gini of W_out W_U Fourier norms")
    ax.set_title("Fourier sparsity")
    ax = axes[1, 1]
    ax.plot(s, history["sum_sq_weights"], color="k")
    ax.set_title("sum of squared weights")
    for ax in axes.flat:
        mark_phases(ax, phases)
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def gromov_curves(steps, train_acc, test_acc, ipr_steps, ipr_values, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].plot(steps, train_acc, color=BACKGROUND, label="train")
    axes[0].plot(steps, test_acc, color=FOREGROUND, label="test")
    axes[0].set_xlabel("step"), axes[0].set_ylabel("accuracy"), axes[0].legend(), axes[0].set_title("grokking")
    axes[1].plot(ipr_steps, ipr_values, color="k")
    axes[1].set_xlabel("step"), axes[1].set_ylabel("mean IPR (r = 2)"), axes[1].set_title("Fourier localisation of W_in rows")
    fig.tight_layout()
    return save(fig, path)


def gromov_weights(W_in: torch.Tensor, W_out: torch.Tensor, p: int, phase_sum: torch.Tensor, freq: torch.Tensor,
                   path: Path) -> Path:
    """Fourier power of each neuron's W_in row (neurons sorted by dominant frequency) and the
    histogram of phi1 + phi2 - phi3."""
    from mfnn.analysis.fourier import frequency_power
    power = (frequency_power(W_in[:, :p]) + frequency_power(W_in[:, p:]))[:, 1:]
    power = power / power.sum(1, keepdim=True)
    order = torch.argsort(freq)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    im = axes[0].imshow(power[order].T.numpy(), aspect="auto", origin="lower", cmap="viridis",
                        extent=(0, len(order), 0.5, power.shape[1] + 0.5))
    axes[0].set_xlabel("neuron (sorted by frequency)"), axes[0].set_ylabel("frequency k")
    axes[0].set_title("Fourier power of W_in rows")
    plt.colorbar(im, ax=axes[0])
    axes[1].imshow(W_in[order][:, :p].numpy(), aspect="auto", cmap="coolwarm")
    axes[1].set_xlabel("a"), axes[1].set_ylabel("neuron (sorted)"), axes[1].set_title("W_in[:, a] (first half)")
    axes[2].hist(phase_sum.numpy(), bins=36, range=(-math.pi, math.pi), color=FOREGROUND)
    axes[2].set_xlabel("phi1 + phi2 - phi3 (mod 2 pi)"), axes[2].set_title("phase relation across neurons")
    fig.tight_layout()
    return save(fig, path)


def sweep_figure(fractions, final_test_acc, steps_to_99, critical: float, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].plot(fractions, final_test_acc, "o-", color=FOREGROUND)
    if not math.isnan(critical):
        axes[0].axvline(critical, color="k", ls="--", label=f"critical fraction ~ {critical:.2f}")
        axes[0].legend()
    axes[0].set_xlabel("train fraction"), axes[0].set_ylabel("final test accuracy"), axes[0].set_title("Gromov: critical fraction")
    y = np.array(steps_to_99, dtype=float)
    ok = ~np.isnan(y)
    axes[1].plot(np.array(fractions)[ok], y[ok], "o-", color=BACKGROUND)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("train fraction"), axes[1].set_ylabel("steps to 99% test accuracy")
    axes[1].set_title("Power et al.: optimisation time vs data")
    fig.tight_layout()
    return save(fig, path)
