"""Nanda et al.'s progress measures for a modular-addition transformer.

Every `every_n_steps` steps the weights are copied to CPU and the measures that need no key
frequencies (Gini coefficients, sum of squared weights) go to the loggers as progress/<name>.
At the end of fit the key frequencies are read off the final W_E (as in the paper) and every
snapshot is measured with them, on the training device:
    train/test loss and accuracy over all p^2 pairs,
    restricted loss: logits keeping only the per-class mean and the cos/sin w(a+b) directions of
        the key frequencies (all pairs),
    excluded loss: logits with those key-frequency directions removed (train pairs only),
    Gini of the Fourier component norms of W_E (over tokens) and of W_out W_U (over outputs),
    sum of squared weights.
Saved to run_dir/progress.pt and drawn with the three phase boundaries to figures/progress.png.
"""
from __future__ import annotations

import json

import torch
from torch.func import functional_call

from mfnn import dashboards
from mfnn.analysis.fourier import component_norms, gini, key_frequencies, key_frequency_logits
from mfnn.analysis.phases import nanda_phases
from mfnn.callbacks.periodic import PeriodicSnapshots, run_dir
from mfnn.errors import require


def phase_boundaries(h: dict[str, list[float]]) -> dict[str, float]:
    """Nanda et al.'s three boundaries from a measured history. Memorisation (train and excluded loss
    fall together) ends where the excluded loss is lowest: circuit formation is when it rises while
    the train loss stays low. The other two are mfnn.analysis.phases.nanda_phases's (test accuracy
    first > 50%; Gini of W_E at 95% of its final value)."""
    phases = nanda_phases(h["step"], h["train_acc"], h["test_acc"], h["gini_W_E"])
    i = min(range(len(h["step"])), key=lambda j: h["excluded_loss"][j])
    return {**phases, "memorisation_end": float(h["step"][i])}


def cross_entropy64(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    loss = -logits.double().log_softmax(-1).gather(-1, y[:, None]).squeeze(-1)
    return float(loss[mask].mean() if mask is not None else loss.mean())


@torch.no_grad()
def measure(module, params: dict[str, torch.Tensor], a, b, y, train_mask, key_freqs: list[int]) -> dict[str, float]:
    """All progress measures of one weight snapshot. a, b, y: every pair (P,); train_mask (P,)."""
    p = module.p
    device = next(module.parameters()).device
    params = {n: t.to(device) for n, t in params.items()}
    a, b, y, train_mask = (t.to(device) for t in (a, b, y, train_mask))
    logits = functional_call(module, params, (a, b)).double()  # (P, p)
    correct = logits.argmax(-1) == y
    mean = logits.mean(0, keepdim=True)
    key = key_frequency_logits(logits - mean, p, key_freqs)
    return {
        "train_loss": cross_entropy64(logits, y, train_mask), "test_loss": cross_entropy64(logits, y, ~train_mask),
        "train_acc": float(correct[train_mask].float().mean()), "test_acc": float(correct[~train_mask].float().mean()),
        "restricted_loss": cross_entropy64(mean + key, y),
        "excluded_loss": cross_entropy64(logits - key, y, train_mask),
        **weight_measures(params, p),
    }


@torch.no_grad()
def weight_measures(params: dict[str, torch.Tensor], p: int) -> dict[str, float]:
    """The measures read off the weights alone: Fourier sparsity of W_E (over input tokens) and of
    the neuron-to-logit map W_out W_U (over output classes), and the sum of squared weights."""
    W_E, W_U, W_out = params["W_E"][:p], params["W_U"], params["W_out"]
    return {
        "gini_W_E": float(gini(component_norms(W_E, dim=0))),
        "gini_W_U": float(gini(component_norms(W_out @ W_U, dim=1))),
        "sum_sq_weights": float(sum(w.double().square().sum() for w in params.values())),
    }


class ProgressMeasures(PeriodicSnapshots):
    """Nanda et al.'s progress measures on a cadence (weights snapshotted, measured at train end).

    Args:
        every_n_steps: snapshot cadence in optimiser steps.
        n_key_freqs: number of key Fourier frequencies the restricted and excluded losses keep / remove.
        plot: draw the progress-measure figure in the run directory at fit end.
    """

    def __init__(self, every_n_steps: int = 100, n_key_freqs: int = 5, plot: bool = True):
        super().__init__(every_n_steps)
        require(n_key_freqs > 0, "n_key_freqs", f"must be > 0 (got {n_key_freqs})")
        self.n_key_freqs, self.plot = n_key_freqs, plot
        self.snapshots: list[tuple[int, dict[str, torch.Tensor]]] = []
        self.history: dict[str, list[float]] = {}
        self.key_freqs: list[int] = []
        self.phases: dict[str, float] = {}

    def snapshot(self, trainer, pl_module) -> None:
        step = int(trainer.global_step)
        if self.snapshots and self.snapshots[-1][0] == step:
            return
        params = {n: t.detach().float().cpu().clone() for n, t in pl_module.named_parameters()}
        self.snapshots.append((step, params))
        live = {f"progress/{k}": v for k, v in weight_measures(params, pl_module.p).items()}
        for logger in trainer.loggers:
            logger.log_metrics(live, step=step)

    def on_train_end(self, trainer, pl_module):  # before the loggers close
        self.snapshot(trainer, pl_module)
        a, b, y, mask = trainer.datamodule.splits["val"]
        self.compute(pl_module, a, b, y, mask[0])
        if not trainer.is_global_zero:
            return
        out = run_dir(trainer)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"history": self.history, "key_freqs": self.key_freqs, "phases": self.phases}, out / "progress.pt")
        (out / "progress.json").write_text(json.dumps({"key_freqs": self.key_freqs, "phases": self.phases,
                                                        "history": self.history}, default=float))
        media = {}
        if self.plot:
            from mfnn.plotting.grokking import progress_figure
            path = progress_figure(self.history, self.phases, self.key_freqs, out / "figures" / "progress.png")
            media["progress/figure"] = dashboards.image(path)
        if dashboards.wandb_enabled(trainer):
            names = list(self.history)
            rows = [[self.history[k][i] for k in names] for i in range(len(self.history["step"]))]
            dashboards.log(trainer, {"progress/history": dashboards.table(names, rows), **media})
            dashboards.summary(trainer, {**{f"progress/phase/{k}": v for k, v in self.phases.items()},
                                         "progress/key_freqs": list(self.key_freqs)})

    def compute(self, module, a, b, y, train_mask) -> dict[str, list[float]]:
        self.key_freqs, _ = key_frequencies(self.snapshots[-1][1]["W_E"][: module.p], self.n_key_freqs)
        rows = [{"step": s, **measure(module, params, a, b, y, train_mask, self.key_freqs)} for s, params in self.snapshots]
        self.history = {k: [r[k] for r in rows] for k in rows[0]}
        self.phases = phase_boundaries(self.history)
        return self.history
