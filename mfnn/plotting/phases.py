"""Figures of a swept transition, as matplotlib Figure objects (no global backend)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from mfnn.phases.collapse import scaled
from mfnn.phases.observables import Observables

LABELS = {"abs_m": r"$\langle|m|\rangle$", "chi": r"$\chi = L_{\rm eff}(\langle m^2\rangle-\langle|m|\rangle^2)$",
          "binder": r"Binder $U = 1-\langle m^4\rangle/3\langle m^2\rangle^2$"}


def observables_figure(obs: dict[int, Observables], g_label: str, size_label: str = "L",
                       g_c: tuple[float, float] | None = None, exact: float | None = None,
                       keys=("abs_m", "chi", "binder")) -> Figure:
    """One panel per observable against g, one curve (with bootstrap error bars) per size; the measured
    g_c +- error as a band and the exact value as a dashed line."""
    fig = Figure(figsize=(4.2 * len(keys), 3.6), layout="constrained")
    axes = fig.subplots(1, len(keys))
    for ax, key in zip(np.atleast_1d(axes), keys):
        for L, o in sorted(obs.items()):
            ax.errorbar(o.g, o.mean[key], o.err[key], marker="o", ms=3, lw=1, capsize=2, label=f"{size_label} = {L}")
        if g_c is not None:
            ax.axvspan(g_c[0] - g_c[1], g_c[0] + g_c[1], color="tab:red", alpha=0.25, lw=0, label="measured $g_c$")
        if exact is not None:
            ax.axvline(exact, color="k", ls="--", lw=1, label="exact")
        if key == "chi":
            ax.set_yscale("log")
        ax.set_xlabel(g_label)
        ax.set_ylabel(LABELS.get(key, key))
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return fig


SCALED = {"binder": ("U", None), "chi": (r"\chi", r"\gamma/\nu"), "abs_m": (r"\langle|m|\rangle", r"\beta/\nu")}


def collapse_figure(obs: dict[int, Observables], fits: list[dict], g_label: str, size_label: str = "L") -> Figure:
    """The collapse of each fitted observable: y L^-kappa against (g - g_c) L^(1/nu) at the fitted values
    (kappa = gamma/nu for chi, -beta/nu for <|m|>, 0 for U)."""
    fig = Figure(figsize=(4.2 * len(fits), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(fits)))
    for ax, fit in zip(axes, fits):
        for L, (x, Y, dY) in scaled(obs, fit["key"], fit["g_c"], fit["nu"], fit["kappa"]).items():
            sel = np.ones(len(x), bool)
            if fit.get("window"):
                g = obs[L].g
                sel = (g >= fit["window"][0]) & (g <= fit["window"][1])
            ax.errorbar(x[sel], Y[sel], dY[sel], marker="o", ms=3, lw=0.8, capsize=2, label=f"{size_label} = {L}")
        name, exponent = SCALED.get(fit["key"], (fit["key"], r"\kappa"))
        title = rf"${g_label}_c$ = {fit['g_c']:.4f}, $\nu$ = {fit['nu']:.3f}"
        if exponent is None:
            ax.set_ylabel(f"${name}$")
        else:
            sign = -1 if fit["key"] == "abs_m" else 1  # kappa = -beta/nu for <|m|>
            ax.set_ylabel(rf"${name}\,{size_label}^{{{'-' if sign > 0 else ''}{exponent}}}$")
            title += rf", ${exponent}$ = {sign * fit['kappa']:.3f}"
        ax.set_title(title + f", S = {fit['S']:.2f}", fontsize=9)
        ax.set_xlabel(rf"$({g_label} - {g_label}_c)\,{size_label}^{{1/\nu}}$")
    axes[0].legend(fontsize=7)
    return fig


def histogram_panel(ax, samples: dict[int, np.ndarray], index: dict[int, int], scale_exponent: float,
                    size_label: str = "L", title: str = "", bins: int = 41) -> None:
    """Histograms of m at one control value per size, on the scaled axis m * L^scale_exponent."""
    for L in sorted(samples):
        x = np.asarray(samples[L])[index[L]].ravel() * float(L) ** scale_exponent
        values = np.unique(x)
        edges = bins
        if 1 < len(values) < len(x) / 5:  # discrete m (spacing 2/volume): bins hold a whole number of values
            step = np.diff(values).min() * max(1, int(np.ceil(len(values) / bins)))
            edges = np.arange(values[0] - step / 2, values[-1] + step, step)
        ax.hist(x, bins=edges, density=True, histtype="step", lw=1.2, label=f"{size_label} = {L}")
    ax.set_xlabel(rf"$m\,{size_label}^{{{scale_exponent:.3g}}}$" if scale_exponent else "$m$")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
