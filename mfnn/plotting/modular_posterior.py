"""Figures of the modular-posterior replication (matplotlib Figure objects, no global backend)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mfnn.plotting import save
from mfnn.theory.modular import mode_action



def theory_figure(fig3: dict, path: Path) -> Path:
    """(a) per-mode action P S_hat(Phi) at the self-consistent c, several sigma^2; (b) a and p_on vs sigma^2;
    (c) a against beta sigma^2 under the Table 1 scaling."""
    fig = Figure(figsize=(15, 4.2))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    P, g = fig3["P"], fig3["gamma"]
    phi = np.linspace(0, 260, 800)
    inset = ax1.inset_axes([0.55, 0.47, 0.42, 0.36])
    near = np.linspace(150, 200, 400)
    for s2, c in fig3["actions"]:
        ax1.plot(phi, mode_action(phi, c, g), label=f"σ²={s2:g}")
        inset.plot(near, P * mode_action(near, c, g))
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_ylim(-15, 35)
    ax1.set_xlabel("Φ = |w_k|² = |v_k|² = Ψ")
    ax1.set_ylabel("scaled action Ŝ(Φ) = S_k / P")
    ax1.set_title(f"(a) per-mode action, P={P}, N={fig3['N']}, γ={g:g}")
    ax1.legend(fontsize=8, loc="lower left")
    inset.axhline(0, color="k", lw=0.5)
    inset.set_ylim(-12, 12)
    inset.set_title("S_k = P·Ŝ near Φ*: O(1) differences", fontsize=7)
    inset.tick_params(labelsize=6)
    s2, a, p_on = fig3["s2"], fig3["a"], fig3["p_on"]
    ax2.plot(s2, a, color="tab:blue", label="a (self-consistent)")
    ax2.set_xlabel("σ²")
    ax2.set_ylabel("discrepancy a", color="tab:blue")
    for x, lab, ls, col in ((0.227, "paper GMFL-I 0.227", ":", "tab:green"), (0.175, "paper GMFL-II 0.175", ":", "tab:purple"),
                            (fig3["sigma2_I"], f"P→∞ GMFL-I {fig3['sigma2_I']:.3f}", "--", "tab:green"),
                            (fig3["onset_II"], f"finite-P GMFL-II {fig3['onset_II']:.3f}", "--", "tab:purple")):
        ax2.axvline(x, color=col, ls=ls, lw=1.2, label=lab)
    twin = ax2.twinx()
    twin.plot(s2, p_on, color="tab:red", lw=1, label="p_on (right axis)")
    twin.set_ylabel("fraction of Fourier modes p_on", color="tab:red")
    ax2.legend(fontsize=7, loc="lower left")
    ax2.set_title("(b) Fig. 3 parameters: a(σ²) and p_on(σ²)")
    for (beta, (x, y)), ls, lw in zip(fig3["beta_curves"].items(), ("-", "--", ":"), (4, 2.5, 1.5)):
        ax3.plot(x, y, ls=ls, lw=lw, label=f"β={beta:g} (P={P * beta ** 0.5:.0f})")
    ax3.set_xlabel("β·σ²")
    ax3.set_ylabel("a")
    ax3.set_title("(c) Table 1 scaling: N→β²N, P→√β P, σ_a²→σ_a²/β")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def discrepancy_figure(sweeps: list[dict], path: Path) -> Path:
    """Per sweep: a(σ²) and the Fourier-mode fraction, chains (cold dots, hot crosses) vs the two theories."""
    fig = Figure(figsize=(5 * len(sweeps), 8))
    axes = fig.subplots(2, len(sweeps), squeeze=False)
    for j, sw in enumerate(sweeps):
        th, s2 = sw["theory"], np.asarray(sw["noise_vars"])
        A = th["thresholds"]["A"]
        for row, (key, tkey, label) in enumerate((("a", "a_fine", "discrepancy a (train pairs)"),
                                                  ("frac_on", "p_fine", "fraction of Fourier modes"))):
            ax = axes[row, j]
            ax.plot(th["fine"] / A, th["two_delta"][tkey], color="k", label="theory, two-delta")
            ax.plot(th["fine"] / A, th["exact"][tkey], color="k", ls="--", label="theory, exact single-mode")
            vals, cold = sw["grouped"][key], sw["cold"]
            for c in range(vals.shape[1]):
                hot = c >= cold
                ax.scatter(s2 / A, vals[:, c], marker="x" if hot else "o", s=18, color="tab:red" if hot else "tab:blue",
                           label=("chain from the Fourier side" if hot else "chain from the prior") if c in (0, cold) else None)
            m, sd = vals[:, :cold].mean(1), vals[:, :cold].std(1, ddof=1) if cold > 1 else np.zeros(len(s2))
            ax.errorbar(s2 / A, m, yerr=sd, color="tab:blue", lw=1, capsize=3)
            if row == 1:
                ax.axhline(sw["jump_level"], color="grey", lw=0.8, ls=":")
                ax.set_xlabel(f"σ² / A   (A = {A:.3g})")
            ax.set_ylabel(label)
            ax.set_title(f"P={sw['P']}, N={sw['N']}, barrier B={sw['barrier']:.2f}")
            if j == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def histogram_figure(sw: dict, path: Path) -> Path:
    """Posterior histograms of log10(P Φ_k) at every σ² (cold chains pooled)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    hist, centres, s2, A = sw["phi_hist"], sw["phi_centres"], np.asarray(sw["noise_vars"]), sw["theory"]["thresholds"]["A"]
    colours = [(0.1 + 0.8 * i / max(len(s2) - 1, 1), 0.3, 0.9 - 0.8 * i / max(len(s2) - 1, 1)) for i in range(len(s2))]
    for i in np.argsort(s2):
        ax.semilogy(centres, np.clip(hist[i], 1e-6, None), color=colours[i], label=f"σ²={s2[i] / A:.2f} A")
    ax.axvline(sw["log_cut"], color="k", ls=":", lw=1)
    ax.text(sw["log_cut"], 2e-6, " cut Φ*/2", fontsize=8)
    ax.axvline(np.log10(sw["P"] * sw["phi_star"]), color="grey", ls="--", lw=1)
    ax.text(np.log10(sw["P"] * sw["phi_star"]), 2e-5, " Φ* (theory)", fontsize=8)
    ax.set_ylim(1e-6, 1)
    ax.set_xlabel("log10(P·Φ_k)   (prior: P·Φ ~ Exp(1); the first bin holds everything below −3)")
    ax.set_ylabel("fraction of (neuron, k) modes per bin")
    ax.set_title(f"Fourier order parameter Φ_k = |w_k|² across the transition, P={sw['P']}, N={sw['N']}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return save(fig, path)


def neurons_figure(sw: dict, path: Path) -> Path:
    """Learned neurons in Fourier coordinates beside Gromov's analytic solution, at one σ² below the transition."""
    ex = sw["example"]
    fig = Figure(figsize=(15, 7.5))
    gs = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(gs[0, 0])
    img = ax.imshow(np.log10(sw["P"] * ex["phi_map"]), aspect="auto", cmap="magma", vmin=-2, vmax=1.5)
    fig.colorbar(img, ax=ax, label="log10(P·Φ_k)")
    ax.set_xlabel("frequency k")
    ax.set_xticks(range(ex["phi_map"].shape[1]), [str(k + 1) for k in range(ex["phi_map"].shape[1])], fontsize=6)
    ax.set_ylabel("neuron (40 of one chain)")
    ax.set_title(f"(a) Φ_k per neuron, σ²={ex['sigma2_over_A']:.2f} A, one chain")
    ax = fig.add_subplot(gs[0, 1])
    bins = np.linspace(-np.pi, np.pi, 37)
    ax.hist(ex["delta_other"], bins=bins, density=True, alpha=0.5, label=f"other modes (R={ex['R_other']:.2f})")
    ax.hist(ex["delta_fourier"], bins=bins, density=True, alpha=0.6, label=f"Fourier modes (R={ex['R_fourier']:.2f})")
    ax.set_xlabel("Δ = arg a_k − arg w_k − arg v_k")
    ax.set_ylabel("density")
    ax.hist(ex["delta_shuffled"], bins=bins, density=True, histtype="step", color="k",
            label=f"Fourier modes, v from another neuron (R={ex['R_shuffled']:.2f})")
    ax.set_title("(b) phase relation (Gromov: Δ = 0)")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(gs[0, 2])
    ax.scatter(ex["phi_all"], ex["psi_all"], s=2, alpha=0.3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(ex["cut"], color="k", ls=":", lw=1)
    ax.axhline(ex["cut"], color="k", ls=":", lw=1)
    ax.set_xlabel("Φ_k = |w_k|²")
    ax.set_ylabel("Ψ_k = |v_k|²")
    ax.set_title("(c) every (neuron, k): Fourier modes sit at Φ = Ψ ~ Φ*")
    ks = ", ".join(map(str, ex["ks"]))
    for col, (key, title) in enumerate((("w", "w_n (first slot)"), ("v", "v_m (second slot)"), ("a", "readout a_p"))):
        ax = fig.add_subplot(gs[1, col])
        ax.plot(ex["n"], ex[key + "_raw"], "o", ms=4, label="network (mean removed)")
        ax.plot(ex["fine"], ex[key + "_gromov"], "x-", lw=0.8, ms=5,
                label="sum of Gromov cosines over its Fourier modes" + (",\nphases φ_w + φ_v predicted" if key == "a" else ""))
        ax.set_xlabel("n, m or p")
        ax.set_title(f"({'def'[col]}) {title}, neuron {ex['neuron']}, k = {ks}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)
