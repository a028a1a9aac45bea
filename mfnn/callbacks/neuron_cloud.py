"""Neuron clouds: every k steps, each hidden neuron of one layer as a point (incoming row, bias,
outgoing weight). Saved as tensors, drawn as PNG, and logged to wandb when it is on.

Any hidden layer of an MLPNet (`layer`, 0-based): layer 0's particles are (w in R^d, b, a), a middle
layer's are (w in R^N: its row of W_hidden[layer-1], b, a in R^N: its column of W_hidden[layer]), the
last layer's outgoing weight is the readout a (N, C). One callback per layer; several may coexist
(their checkpoint state is keyed by layer). Files: run_dir/clouds.pt for layer 0 (the two-layer
default), run_dir/clouds_layer{L}.pt for L > 0, each {"layer", "snapshots": [{"step", "W", "b", "a"}]};
figures/cloud_layer{L}.png. Rows of more than 2 dimensions are drawn in one 2-d basis for every panel
(the top principal components of the last snapshot), coloured by the outgoing weight (its component
along its own top principal component when it has several).
"""
from __future__ import annotations

from pathlib import Path

import torch

from mfnn import dashboards
from mfnn.callbacks.periodic import PeriodicSnapshots, run_dir
from mfnn.plotting import cloud_scatter, save, subplots


def neurons_of(pl_module, layer: int) -> dict[str, torch.Tensor | None]:
    net = getattr(pl_module, "net", pl_module)
    if not hasattr(net, "neurons"):
        raise TypeError(f"{type(net).__name__} has no neurons(layer) method: it cannot give a neuron cloud")
    return net.neurons(layer)


def top_components(X: torch.Tensor, k: int = 2) -> torch.Tensor:
    """(D, k): the top-k principal directions of the rows of X (N, D)."""
    X = X.float()
    return torch.linalg.svd(X - X.mean(0), full_matrices=False).Vh[:k].T


class NeuronCloud(PeriodicSnapshots):
    """Snapshots of hidden layer `layer`'s neurons every `every_n_steps` steps and at fit end.

    Results: `.snapshots`, a list of {"step", "W" (N, fan_in), "b" (N,), "a" (N, C)} on the CPU.

    Args:
        every_n_steps: snapshot cadence in optimiser steps (a snapshot is also taken at step 0 and at fit end).
        layer: the hidden layer (0-based) whose neurons are recorded.
        plot: draw figures/cloud_layer{L}.png in the run directory at fit end.
        max_points: neurons drawn per panel (all are saved).
    """

    def __init__(self, every_n_steps: int = 500, layer: int = 0, plot: bool = True, max_points: int = 4096):
        super().__init__(every_n_steps)
        self.layer, self.plot, self.max_points = layer, plot, max_points
        self.snapshots: list[dict] = []  # {"step", "W", "b", "a"}

    def snapshot(self, trainer, pl_module) -> dict:
        n = neurons_of(pl_module, self.layer)
        snap = {"step": int(trainer.global_step)}
        for key, t in n.items():
            if t is not None:
                snap[key] = t.detach().float().cpu().clone()
        if self.snapshots and self.snapshots[-1]["step"] == snap["step"]:
            self.snapshots[-1] = snap
        else:
            self.snapshots.append(snap)
        if dashboards.wandb_enabled(trainer) and snap["step"] != getattr(self, "_wandb_step", None):
            self._wandb_step = snap["step"]  # fit end re-takes the last step's snapshot: log it once
            self.log_wandb(trainer, snap)
        return snap

    def on_fit_end(self, trainer, pl_module):
        self.snapshot(trainer, pl_module)
        out = run_dir(trainer)  # trainer.log_dir is a collective under DDP: every rank must call it
        if not trainer.is_global_zero:
            return
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"layer": self.layer, "snapshots": self.snapshots}, out / self.filename)
        if self.plot:
            path = self.draw(out / "figures" / f"cloud_layer{self.layer}.png")
            dashboards.log(trainer, {f"cloud/layer{self.layer}/figure": dashboards.image(path)})

    @property
    def filename(self) -> str:
        return "clouds.pt" if self.layer == 0 else f"clouds_layer{self.layer}.pt"

    def draw(self, path: Path) -> Path:
        picks = self.snapshots if len(self.snapshots) <= 4 else [self.snapshots[i] for i in
                                                                 (0, len(self.snapshots) // 3, 2 * len(self.snapshots) // 3, -1)]
        last = self.snapshots[-1]
        basis = top_components(last["W"]) if last["W"].shape[1] > 2 else None  # (D, 2), shared by every panel
        a_basis = top_components(last["a"], 1) if last.get("a") is not None and last["a"].shape[1] > 1 else None
        fig, axes = subplots(1, len(picks), figsize=(4.2 * len(picks), 4), squeeze=False)
        for ax, snap in zip(axes[0], picks):
            W, a = snap["W"][: self.max_points], snap.get("a")
            colour = None if a is None else (a[: self.max_points] if a_basis is None else a[: self.max_points] @ a_basis)
            cloud_scatter(ax, W, colour, title=f"step {snap['step']}", basis=basis)
        extra = "" if basis is None else f" (rows in R^{last['W'].shape[1]}: top-2 PCs of the last step)"
        fig.suptitle(f"neuron cloud, hidden layer {self.layer}{extra}")
        return save(fig, path)

    def log_wandb(self, trainer, snap: dict) -> None:
        """This snapshot as a wandb table (one row per neuron: incoming weights w, bias b, outgoing weights a)
        and as a scatter image, at its step: the dashboard's step slider walks through the cloud's history."""
        parts = [("w", snap["W"])] + [(k, snap[k]) for k in ("b", "a") if snap.get(k) is not None]
        columns, blocks = [], []
        for name, t in parts:
            t = t.reshape(len(t), -1)  # (N, d)
            columns += [name] if t.shape[1] == 1 else [f"{name}{j}" for j in range(t.shape[1])]
            blocks.append(t)
        rows = torch.cat(blocks, 1)[: self.max_points].tolist()
        fig, ax = subplots(1, 1, figsize=(4.6, 4))
        W, a = snap["W"][: self.max_points], snap.get("a")
        colour = None if a is None else a[: self.max_points]
        cloud_scatter(ax, W, colour, title=f"hidden layer {self.layer}, step {snap['step']}")
        key = f"cloud/layer{self.layer}"
        dashboards.log(trainer, {f"{key}/table": dashboards.table(columns, rows), f"{key}/image": dashboards.image(fig)},
                       step=snap["step"])

    @property
    def state_key(self) -> str:
        return self._generate_state_key(layer=self.layer)  # one cloud callback per layer may coexist

    def state_dict(self):
        return {**super().state_dict(), "layer": self.layer}
