"""Figures shared by every replication (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

BACKGROUND, FOREGROUND = "tab:blue", "tab:orange"


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
        plt.colorbar(sc, ax=ax, label="outgoing weight a")
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
    plt.close(fig)
    return path
