"""Figures for the grokking replications (Gromov MLP, Nanda transformer, Power sweep)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from mfnn.plotting import BACKGROUND, FOREGROUND, colormaps, save, subplots

PHASE_COLOURS = {"memorisation_end": "tab:gray", "circuit_formation_end": "tab:purple", "cleanup_end": "tab:green"}


def mark_phases(ax, phases: dict[str, float]) -> None:
    for name, step in phases.items():
        if step is not None and not math.isnan(step):
            ax.axvline(step, color=PHASE_COLOURS.get(name, "k"), ls="--", lw=1, label=name.replace("_", " "))


def progress_figure(history: dict[str, list[float]], phases: dict[str, float], key_freqs: list[int], path: Path) -> Path:
    """Nanda et al. Fig. 7 style: losses, accuracy, Gini, weight norm, with the three phase boundaries."""
    s = history["step"]
    fig, axes = subplots(2, 2, figsize=(11, 7.5))
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


def gromov_curves(history: dict[str, list[float]], train100: float, test99: float, ipr_steps, ipr_per_neuron,
                  path: Path) -> Path:
    """Gromov Fig. 2 style: accuracy and loss with the memorisation -> generalisation delay marked,
    and the Fourier localisation (IPR, r = 2) of W_in rows over training (median and quartiles)."""
    s = history["step"]
    fig, axes = subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    ax.plot(s, history["train_acc"], color=BACKGROUND, label="train")
    ax.plot(s, history["test_acc"], color=FOREGROUND, label="test")
    ax.set_ylabel("accuracy"), ax.set_title("delayed generalisation")
    ax = axes[1]
    ax.plot(s, history["train_loss"], color=BACKGROUND, label="train")
    ax.plot(s, history["test_loss"], color=FOREGROUND, label="test")
    ax.set_yscale("log"), ax.set_ylabel("MSE loss"), ax.set_title("loss")
    for ax in axes[:2]:
        if not math.isnan(train100):
            ax.axvline(train100, color=BACKGROUND, ls="--", lw=1, label=f"train = 100% (step {train100:g})")
        if not math.isnan(test99):
            ax.axvline(test99, color=FOREGROUND, ls="--", lw=1, label=f"test >= 99% (step {test99:g})")
        if not (math.isnan(train100) or math.isnan(test99)):
            ax.axvspan(train100, test99, color="0.9", zorder=0, label=f"delay x{test99 / train100:.1f}")
        ax.set_xlabel("step"), ax.legend(fontsize=7)
    ax = axes[2]
    ipr = np.stack([torch.as_tensor(v).numpy() for v in ipr_per_neuron])  # (snapshots, N)
    q, mean = np.quantile(ipr, [0.25, 0.5, 0.75], axis=1), ipr.mean(1)
    ax.fill_between(ipr_steps, q[0], q[2], color="0.8", label="neuron quartiles")
    ax.plot(ipr_steps, q[1], color="k", lw=1, label="median")
    ax.plot(ipr_steps, mean, color="tab:red", label="mean")
    ax.set_ylim(0, 1.02), ax.set_xlabel("step"), ax.set_ylabel("IPR (r = 2)")
    ax.set_title("Fourier localisation of W_in rows (1 = one frequency)")
    for x, c in ((train100, BACKGROUND), (test99, FOREGROUND)):
        if not math.isnan(x):
            ax.axvline(x, color=c, ls="--", lw=1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def gromov_weights(W_in_init: torch.Tensor, W_in: torch.Tensor, W_out: torch.Tensor, p: int, path: Path,
                   n_examples: int = 4) -> Path:
    """The learned weights against Gromov's analytic solution (each neuron one frequency k, phases
    with phi1 + phi2 - phi3 = 0): spectra, the neuron cloud in Fourier coordinates, the phase relation."""
    from mfnn.analysis.fourier import coefficient_at, dominant_frequency, frequency_power, neuron_phases
    power = (frequency_power(W_in[:, :p]) + frequency_power(W_in[:, p:]))[:, 1:]
    power = power / power.sum(1, keepdim=True)  # (N, p//2) share of each frequency
    freq, share = dominant_frequency(W_in, p)
    order = torch.argsort(freq * 2 - share)  # by frequency, most localised first within one
    ph, ph0 = neuron_phases(W_in, W_out, p), neuron_phases(W_in_init, W_out, p)
    ks = np.arange(1, power.shape[1] + 1)
    fig, axes = subplots(2, 3, figsize=(16, 9))

    ax = axes[0, 0]
    im = ax.imshow(power[order].T.numpy(), aspect="auto", origin="lower", cmap="viridis",
                   extent=(0, len(order), 0.5, power.shape[1] + 0.5))
    ax.set_xlabel("neuron (sorted by dominant frequency)"), ax.set_ylabel("frequency k")
    ax.set_title("share of each W_in row's power per frequency")
    ax.figure.colorbar(im, ax=ax)

    ax = axes[0, 1]
    picks, seen = [], set()  # the strongest neurons (largest rows), one per frequency
    for i in torch.argsort(W_in.norm(dim=1), descending=True).tolist():
        if int(freq[i]) not in seen and len(picks) < n_examples:
            picks.append(i), seen.add(int(freq[i]))
    init_power = (frequency_power(W_in_init[:, :p]) + frequency_power(W_in_init[:, p:]))[:, 1:]
    init_power = init_power / init_power.sum(1, keepdim=True)
    for j, i in enumerate(sorted(picks, key=lambda i: int(freq[i]))):
        ax.plot(ks, power[i].numpy() + j, drawstyle="steps-mid", label=f"neuron {i}: k = {int(freq[i])}")
        ax.plot(ks, init_power[i].numpy() + j, color="0.6", lw=0.8, drawstyle="steps-mid")
    ax.set_xlabel("frequency k"), ax.set_ylabel("power share (offset per neuron)")
    ax.set_title("spectra of the strongest neurons (grey: same neuron at init)"), ax.legend(fontsize=7)

    ax = axes[0, 2]
    counts = torch.bincount(freq - 1, minlength=power.shape[1]).numpy()
    ax.bar(ks, counts, color=FOREGROUND, width=0.9)
    ax.set_xlabel("dominant frequency k"), ax.set_ylabel("neurons")
    ax.set_title(f"{int((counts > 0).sum())} of {power.shape[1]} frequencies used")

    ax = axes[1, 0]  # Fourier coordinates: A e^{i phi1} at each neuron's own frequency, over the row norm
    for W, colour, label in ((W_in_init, "0.6", "init"), (W_in, None, "trained (colour: row norm)")):
        k, _ = dominant_frequency(W, p)
        z = coefficient_at(W[:, :p], k) / (W[:, :p].double().norm(dim=1) * math.sqrt(2 / p))
        kw = {"color": colour} if colour else {"c": W.norm(dim=1).numpy(), "cmap": "viridis"}
        sc = ax.scatter(z.real.numpy(), z.imag.numpy(), s=6, label=label, **kw)
    ax.figure.colorbar(sc, ax=ax)
    t = np.linspace(0, 2 * math.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="k", lw=0.6, ls=":")
    ax.set_aspect("equal"), ax.set_xlabel("Re"), ax.set_ylabel("Im"), ax.legend(fontsize=7)
    ax.set_title("neuron cloud in Fourier coordinates:\nA e^{i phi1} / |row| at own k (unit circle = pure cosine)")

    ax = axes[1, 1]
    bins = np.linspace(-math.pi, math.pi, 37)
    ax.hist(ph0["phase_sum"].numpy(), bins=bins, color="0.7", label="init")
    ax.hist(ph["phase_sum"].numpy(), bins=bins, color=FOREGROUND, alpha=0.8, label="trained")
    ax.axvline(0, color="k", ls="--", lw=1)
    ax.set_xlabel("phi1 + phi2 - phi3 (wrapped)"), ax.set_ylabel("neurons"), ax.legend(fontsize=7)
    ax.set_title("phase relation (Gromov: 0)")

    ax = axes[1, 2]
    from mfnn.analysis.fourier import wrap
    ax.scatter(wrap(ph["phi1"] + ph["phi2"]).numpy(), ph["phi3"].numpy(), s=6, c=share.numpy(), cmap="viridis")
    ax.plot([-math.pi, math.pi], [-math.pi, math.pi], color="k", lw=0.6, ls=":")
    ax.set_xlabel("phi1 + phi2 (wrapped)"), ax.set_ylabel("phi3"), ax.set_aspect("equal")
    ax.set_title("output phase vs input phases (colour: dominant share)")
    fig.tight_layout()
    return save(fig, path)


def sweep_figure(fractions, history: dict[str, list[float]], final_train_acc, final_test_acc, steps_to_99,
                 critical: float, path: Path) -> Path:
    """Gromov: final test accuracy vs train fraction (critical fraction); Power et al.: steps to
    99% test accuracy vs fraction; and every member's test-accuracy curve."""
    fig, axes = subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    ax.plot(fractions, final_train_acc, "s--", color=BACKGROUND, label="train")
    ax.plot(fractions, final_test_acc, "o-", color=FOREGROUND, label="test")
    if not math.isnan(critical):
        ax.axvline(critical, color="k", ls="--", lw=1, label=f"critical fraction ~ {critical:.3g}")
    ax.set_xlabel("train fraction"), ax.set_ylabel("final accuracy"), ax.legend(fontsize=7)
    ax.set_title("Gromov: generalisation needs enough data")
    ax = axes[1]
    y = np.array(steps_to_99, dtype=float)
    ok = ~np.isnan(y)
    ax.plot(np.array(fractions)[ok], y[ok], "o-", color=FOREGROUND)
    for f in np.array(fractions)[~ok]:
        ax.axvline(f, color="0.8", lw=3, zorder=0)
    if not math.isnan(critical):
        ax.axvline(critical, color="k", ls="--", lw=1)
    if ok.any():
        ax.set_yscale("log")
    ax.set_xlabel("train fraction"), ax.set_ylabel("steps to 99% test accuracy")
    ax.set_title("Power et al.: time to generalise (grey: never)")
    ax = axes[2]
    colours = colormaps['viridis'](np.linspace(0, 1, len(fractions)))
    for k, (f, c) in enumerate(zip(fractions, colours)):
        ax.plot(history["step"], history[f"test_acc_k{k}"] if f"test_acc_k{k}" in history else history["test_acc"],
                color=c, label=f"{f:g}")
    ax.set_xlabel("step"), ax.set_ylabel("test accuracy"), ax.set_title("test accuracy per train fraction")
    ax.legend(fontsize=6, ncol=2, title="fraction", title_fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def fourier_figure(W_E_power: torch.Tensor, key_freqs: list[int], logit_norms: torch.Tensor, path):
    """Left: power of W_E at each frequency k >= 1 (key frequencies highlighted). Right: norms of the
    logits' 2D Fourier components (a-basis x b-basis, summed over classes; constant removed)."""
    k = torch.arange(1, len(W_E_power))
    fig, axes = subplots(1, 2, figsize=(12, 4.2))
    colours = [FOREGROUND if int(f) in key_freqs else BACKGROUND for f in k]
    axes[0].bar(k.numpy(), W_E_power[1:].float().numpy(), color=colours)
    axes[0].set_xlabel("frequency k"), axes[0].set_ylabel("power of W_E (over tokens)")
    axes[0].set_title(f"W_E in the Fourier basis; key frequencies {key_freqs}")
    from matplotlib.colors import LogNorm

    norms = logit_norms.float().clamp_min(1e-6 * float(logit_norms.max()))
    im = axes[1].imshow(norms.numpy(), cmap="viridis", origin="lower", norm=LogNorm())
    axes[1].set_xlabel("b basis index (const, cos 1, sin 1, ...)"), axes[1].set_ylabel("a basis index")
    axes[1].set_title("logits: 2D Fourier component norms (log colour)")
    axes[1].figure.colorbar(im, ax=axes[1])
    fig.tight_layout()
    return save(fig, path)
