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


def gromov_curves(members: list[dict[str, list[float]]], snapshots: list[dict], p: int, path: Path,
                  title: str = "") -> Path:
    """Gromov Fig. 2 style, one line per seed: train/test accuracy with each seed's memorisation
    (train 100%) and generalisation (test 99%) steps, test loss, and the Fourier localisation (IPR, r = 2)
    of seed 0's W_in rows over training (median and quartiles)."""
    from mfnn.analysis.fourier import neuron_ipr
    from mfnn.analysis.phases import first_step_at_least
    fig, axes = subplots(1, 3, figsize=(15, 4.2))
    colours = colormaps["viridis"](np.linspace(0, 0.8, len(members)))
    for k, (h, c) in enumerate(zip(members, colours)):
        s = h["step"]
        axes[0].plot(s, h["train_acc"], color=c, ls="--", lw=1)
        axes[0].plot(s, h["test_acc"], color=c, label=f"seed {k}: test (train dashed)")
        axes[1].plot(s, h["test_loss"], color=c, label=f"seed {k}")
        t100, t99 = first_step_at_least(s, h["train_acc"], 1.0), first_step_at_least(s, h["test_acc"], 0.99)
        for x, ls in ((t100, ":"), (t99, "-.")):
            if not math.isnan(x):
                axes[0].axvline(x, color=c, ls=ls, lw=0.8)
    axes[0].set_ylabel("accuracy"), axes[0].set_title("delayed generalisation (dotted: train 100%, dash-dot: test 99%)",
                                                      fontsize=9)
    axes[1].set_yscale("log"), axes[1].set_ylabel("test MSE loss"), axes[1].set_title("test loss")
    for ax in axes[:2]:
        ax.set_xlabel("step"), ax.legend(fontsize=7)
    ax = axes[2]
    steps = [snap["step"] for snap in snapshots]
    ipr = np.stack([neuron_ipr(snap["W"], p).numpy() for snap in snapshots])  # (snapshots, N)
    q, mean = np.quantile(ipr, [0.25, 0.5, 0.75], axis=1), ipr.mean(1)
    ax.fill_between(steps, q[0], q[2], color="0.8", label="neuron quartiles")
    ax.plot(steps, q[1], color="k", lw=1, label="median")
    ax.plot(steps, mean, color="tab:red", label="mean")
    ax.set_ylim(0, 1.02), ax.set_xlabel("step"), ax.set_ylabel("IPR (r = 2)")
    ax.set_title("seed 0: Fourier localisation of W_in rows (1 = one frequency)", fontsize=9)
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
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
                   extent=(0, len(order), 0.5, power.shape[1] + 0.5), vmin=0, vmax=1)
    ax.set_xlabel("neuron (sorted by dominant frequency)"), ax.set_ylabel("frequency k")
    ax.set_title("share of each W_in row's power per frequency")
    ax.figure.colorbar(im, ax=ax, label="share of the row's power")

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
    ax.figure.colorbar(sc, ax=ax, label="trained row norm |W_in[i]|")
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
    sc = ax.scatter(wrap(ph["phi1"] + ph["phi2"]).numpy(), ph["phi3"].numpy(), s=6, c=share.numpy(), cmap="viridis",
                    vmin=0, vmax=1)  # the same 0-1 share scale as the top-left map
    ax.figure.colorbar(sc, ax=ax, label="share of the row's power at its dominant k")
    ax.plot([-math.pi, math.pi], [-math.pi, math.pi], color="k", lw=0.6, ls=":")
    ax.set_xlabel("phi1 + phi2 (wrapped)"), ax.set_ylabel("phi3"), ax.set_aspect("equal")
    ax.set_title("output phase vs input phases")
    fig.tight_layout()
    return save(fig, path)


def sweep_figure(fractions, members: list[dict[str, list[float]]], final_train_acc, final_test_acc, steps_to_99,
                 critical: list[float], path: Path) -> Path:
    """Gromov: final test accuracy vs train fraction (each seed's critical fraction); Power et al.: steps to
    99% test accuracy vs fraction (every member, and the mean over seeds); every member's test curve."""
    fr = np.array(fractions, dtype=float)
    grid = np.unique(fr)
    fig, axes = subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot(fr, final_train_acc, "s", color=BACKGROUND, mfc="none", label="train (each seed)")
    ax.plot(fr, final_test_acc, "o", color=FOREGROUND, alpha=0.7, label="test (each seed)")
    ax.plot(grid, [np.mean(np.array(final_test_acc)[fr == f]) for f in grid], "-", color=FOREGROUND, label="test, mean")
    for j, c in enumerate(critical):
        if not math.isnan(c):
            ax.axvline(c, color="k", ls="--", lw=0.8, label="critical fraction, per seed" if j == 0 else None)
    ax.set_xlabel("train fraction"), ax.set_ylabel("final accuracy"), ax.legend(fontsize=7)
    ax.set_title("Gromov: generalisation needs enough data")
    ax = axes[1]
    y = np.array(steps_to_99, dtype=float)
    ok = ~np.isnan(y)
    ax.plot(fr[ok], y[ok], "o", color=FOREGROUND, alpha=0.7, label="each seed")
    full = [f for f in grid if np.all(ok[fr == f])]
    ax.plot(full, [y[fr == f].mean() for f in full], "-", color=FOREGROUND, label="mean (every seed grokked)")
    for f in grid:
        if not ok[fr == f].any():
            ax.axvline(f, color="0.85", lw=4, zorder=0)
    if ok.any():
        ax.set_yscale("log")
    ax.set_xlabel("train fraction"), ax.set_ylabel("steps to 99% test accuracy"), ax.legend(fontsize=7)
    ax.set_title("Power et al.: time to generalise (grey band: no seed grokked)", fontsize=9)
    ax = axes[2]
    colours = dict(zip(grid, colormaps["viridis"](np.linspace(0, 0.9, len(grid)))))
    seen = set()
    for f, h in zip(fr, members):
        ax.plot(h["step"], h["test_acc"], color=colours[f], lw=1, label=None if f in seen else f"{f:g}")
        seen.add(f)
    ax.set_xlabel("step"), ax.set_ylabel("test accuracy"), ax.set_title("test accuracy of every member")
    ax.legend(fontsize=7, title="fraction", title_fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def frequency_pair_power(logit_norms: torch.Tensor) -> torch.Tensor:
    """(p, p) norms of the logits' 2D Fourier components (basis order const, cos 1, sin 1, ...) -> squared
    norm per frequency pair (k_a, k_b), k = 0 .. (p-1)//2: the cos/sin variants of a pair summed."""
    sq = logit_norms.double().square()
    p = sq.shape[0]
    freq = torch.tensor([0] + [1 + i // 2 for i in range(p - 1)])  # basis index -> frequency
    K = int(freq.max()) + 1
    pairs = torch.zeros(K, K, dtype=sq.dtype)
    pairs.index_put_((freq[:, None].expand(p, p).reshape(-1), freq[None, :].expand(p, p).reshape(-1)),
                     sq.reshape(-1), accumulate=True)
    return pairs


def fourier_figure(W_E_power: torch.Tensor, key_freqs: list[int], logit_norms: torch.Tensor, path,
                   threshold: float = 0.01):
    """Left: power of W_E at each frequency k >= 1 (key frequencies highlighted). Middle: the logits' squared
    2D Fourier norm per frequency pair (k_a, k_b), as a share of the total (log colour, one shared floor).
    Right: the largest single components' shares, sorted, with the significance threshold."""
    k = torch.arange(1, len(W_E_power))
    fig, axes = subplots(1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1.1, 1.0, 1.0]})
    colours = [FOREGROUND if int(f) in key_freqs else BACKGROUND for f in k]
    axes[0].bar(k.numpy(), W_E_power[1:].float().numpy(), color=colours)
    axes[0].set_xlabel("frequency k"), axes[0].set_ylabel("power of W_E (over tokens)")
    axes[0].set_title(f"W_E in the Fourier basis (orange: key {key_freqs})")
    from matplotlib.colors import LogNorm

    sq = logit_norms.double().square()
    sq[0, 0] = 0.0
    total = float(sq.sum()) or 1.0
    pairs = (frequency_pair_power(sq.sqrt()) / total).numpy()
    floor = 1e-5
    im = axes[1].imshow(np.clip(pairs, floor, 1.0), cmap="magma", origin="lower", norm=LogNorm(floor, 1.0),
                        interpolation="nearest")
    for ax_set in (axes[1].set_xticks, axes[1].set_yticks):
        ax_set(sorted(key_freqs))  # the key frequencies label the axes; the rest is off-diagonal noise
    axes[1].set_xlabel("frequency of b"), axes[1].set_ylabel("frequency of a")
    axes[1].set_title("logits: 2D Fourier power per frequency pair")
    fig.colorbar(im, ax=axes[1], label="share of the non-constant power")
    shares = torch.sort((sq / total).reshape(-1), descending=True).values[:60].numpy()
    n_sig = int((shares > threshold).sum())
    axes[2].bar(np.arange(1, len(shares) + 1), shares, color=[FOREGROUND if v > threshold else BACKGROUND for v in shares])
    axes[2].axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}: {n_sig} components")
    axes[2].set_yscale("log"), axes[2].set_ylim(floor, 1.0)
    axes[2].set_xlabel("component rank"), axes[2].set_ylabel("share of the non-constant power")
    axes[2].set_title("largest single 2D Fourier components"), axes[2].legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def transformer_seeds_figure(histories: dict[int, dict[str, list[float]]], W_E_powers: dict[int, torch.Tensor],
                             key_freqs: dict[int, list[int]], phases: dict[int, dict[str, float]], path: Path) -> Path:
    """Nanda et al. over seeds, one colour per seed. Left: train (dashed) and test loss, each seed's phase
    boundaries as ticks on the top edge. Middle: excluded (solid) and restricted (dotted) loss. Right: W_E's
    Fourier power share per frequency, the counted key frequencies marked."""
    fig, axes = subplots(1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1.0, 1.0, 1.2]})
    colours = dict(zip(histories, colormaps["viridis"](np.linspace(0, 0.85, len(histories)))))
    markers = {"memorisation_end": "v", "circuit_formation_end": "s", "cleanup_end": "D"}
    for seed, h in histories.items():
        c, s = colours[seed], h["step"]
        axes[0].plot(s, h["train_loss"], color=c, ls="--", lw=1)
        axes[0].plot(s, h["test_loss"], color=c, lw=1.5, label=f"seed {seed}")
        axes[1].plot(s, h["excluded_loss"], color=c, lw=1.5, label=f"seed {seed}: excluded")
        axes[1].plot(s, h["restricted_loss"], color=c, ls=":", lw=1.5)
        for name, step in phases[seed].items():
            if step is not None and not math.isnan(step):
                axes[0].plot([step], [1.0], marker=markers.get(name, "o"), color=c, ms=7, ls="none",
                             transform=axes[0].get_xaxis_transform(), clip_on=False)
    for ax, title in ((axes[0], "test loss (train dashed); ticks: memorisation ▼, circuit ■, cleanup ◆ ends"),
                      (axes[1], "excluded loss (solid), restricted loss (dotted)")):
        ax.set_yscale("log"), ax.set_xlabel("epoch"), ax.set_ylabel("cross-entropy")
        ax.set_title(title, fontsize=9), ax.legend(fontsize=7)
    ax = axes[2]
    width = 0.8 / len(W_E_powers)
    for i, (seed, power) in enumerate(W_E_powers.items()):
        share = (power[1:] / power[1:].sum()).float().numpy()
        k = np.arange(1, len(power)) + (i - (len(W_E_powers) - 1) / 2) * width
        ax.bar(k, share, width=width, color=colours[seed], label=f"seed {seed}: key {sorted(key_freqs[seed])}")
        for f in key_freqs[seed]:
            ax.annotate(str(f), (k[f - 1], share[f - 1]), textcoords="offset points", xytext=(0, 2), ha="center",
                        fontsize=7, color=colours[seed])
    ax.axhline(0.05, color="k", ls="--", lw=0.8, label="5%: counted as key")
    ax.set_xlabel("frequency k"), ax.set_ylabel("share of W_E's non-constant Fourier power")
    ax.set_title("key frequencies per seed"), ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)
