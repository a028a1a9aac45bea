"""Every figure mfnn draws: this package's modules, one per result (grokking, first_order, ...), and the
shared pieces below. Figures are matplotlib `Figure` objects drawn without pyplot, so importing mfnn never
switches the global backend (inline plots in a notebook keep working)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

BACKGROUND, FOREGROUND = "tab:blue", "tab:orange"
colormaps = matplotlib.colormaps


def subplots(nrows: int = 1, ncols: int = 1, figsize=None, **kwargs) -> tuple[Figure, object]:
    """pyplot.subplots without pyplot: a new Figure and its axes."""
    figure_kw = {k: kwargs.pop(k) for k in ("layout", "dpi", "constrained_layout") if k in kwargs}
    fig = Figure(figsize=figsize, **figure_kw)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def project_2d(W: torch.Tensor, basis: torch.Tensor | None = None) -> tuple[np.ndarray, str]:
    """Rows W (N, D) -> (N, 2) coordinates: the rows themselves when D == 2, else the top two
    principal components (or an explicit (D, 2) `basis`)."""
    W = W.detach().float().cpu()
    if W.shape[1] == 1:
        return torch.cat([W, torch.zeros_like(W)], 1).numpy(), "w"
    if W.shape[1] == 2 and basis is None:
        return W.numpy(), "w"
    if basis is None:
        centred = W - W.mean(0)
        basis = torch.linalg.svd(centred, full_matrices=False).Vh[:2].T  # (D, 2)
        return (centred @ basis).numpy(), "PC"
    return (W @ basis.float().cpu()).numpy(), "proj"


def cloud_scatter(ax, W: torch.Tensor, colour: torch.Tensor | None = None, title: str = "",
                  basis: torch.Tensor | None = None, **kwargs):
    """One neuron cloud: each point a neuron's incoming weight row, coloured by its outgoing weight."""
    xy, label = project_2d(W, basis)
    if colour is not None:
        c = colour.detach().float().cpu().reshape(len(xy), -1)[:, 0].numpy()
        lim = float(np.abs(c).max()) or 1.0
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap="coolwarm", vmin=-lim, vmax=lim, s=kwargs.pop("s", 6), **kwargs)
        ax.figure.colorbar(sc, ax=ax, label="outgoing weight a")
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=kwargs.pop("s", 6), **kwargs)
    ax.set_xlabel(f"{label}1")
    ax.set_ylabel(f"{label}2")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)
    return xy


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path
