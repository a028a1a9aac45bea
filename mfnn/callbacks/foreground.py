"""ForegroundCheck: the Lightning adapter of `mfnn.foreground` (foreground self-consistency at fit end).

The algorithm, its kernels and the comparison live in `mfnn.foreground`; the names below are re-exported
so that `from mfnn.callbacks.foreground import train_foreground` keeps working.
"""
from __future__ import annotations

from typing import Literal

import lightning as L
import torch

from mfnn import dashboards
from mfnn.errors import ConfigError, require, require_choice, require_positive
from mfnn.foreground import (DrawBatch, Foreground, Probe, Trajectory, assembly_scale, backprop_signal,  # noqa: F401
                             check_layer, compare, foreground_step, linear_response_step,
                             resampled_background_loss, train_foreground)


class ForegroundCheck(L.Callback):
    """At fit end: train `n_neurons` foreground neurons per hidden layer in `layers` against the
    background and compare their cloud and assembled network with it.

    mode "trajectory" records the background before every `record_every`-th step (one recording shared
    by all layers and probes) and replays it; mode "final" freezes the final background and trains
    `steps` steps with the background's weight decay. `probes`: one foreground per entry ("same" and/or
    "mean_field", see train_foreground). `layers`: 0-based hidden layers (an int or a list; default
    the last). Data: the datamodule's fixed train split when it has one (full batch, as the background
    saw it), else `datamodule.sample(batch_size, generator, device)` fresh batches. Validation data
    (`datamodule.splits["val"]`) is the held-out set for the losses. MSE models only. `self_term`:
    see train_foreground (last layer; default off: the foreground neuron is a test particle).
    Results: `.foregrounds[layer][probe]` (Foreground), `.metrics[layer][probe]` (compare's dict),
    logged as foreground/layer{l}/{probe}/<name>, and saved to run_dir/foreground.pt
    {"mode", "metrics", "foregrounds": {layer: {probe: dict of Foreground fields}}}.

    Args:
        n_neurons: foreground neurons trained per layer and probe.
        mode: "trajectory" (replay the recorded background) or "final" (train against the final background).
        steps: foreground optimiser steps in mode "final" (required there).
        probes: the foregrounds to train: "same" (the background's own update) and/or "mean_field".
        record_every: in mode "trajectory", record the background before every this many steps.
        layers: 0-based hidden layers to check (an int or a list; null: the last).
        batch_size: samples per foreground step when the data module draws fresh batches (default: its own).
        seed: seed of the foreground neurons' initialisation and of the fresh batches.
        save: write run_dir/foreground.pt.
        self_term: include the foreground neurons' own term in the residual (last layer only).
    """

    def __init__(self, n_neurons: int = 2048, mode: Literal["trajectory", "final"] = "trajectory",
                 steps: int | None = None, probes: list[Probe] = ["same"], record_every: int = 1,
                 layers: int | list[int] | None = None, batch_size: int | None = None, seed: int = 12345,
                 save: bool = True, self_term: bool = False):
        require_positive(n_neurons, "n_neurons")
        require_choice(mode, ("trajectory", "final"), "mode")
        require(len(probes) > 0, "probes", "must name at least one probe")
        for p in probes:
            require_choice(p, ("same", "mean_field"), "probes")
        require_positive(record_every, "record_every")
        require(mode == "trajectory" or steps, "steps", "is required in mode 'final'")
        layers = [layers] if isinstance(layers, int) else layers
        require(layers is None or len(layers) > 0, "layers", "must name at least one layer (or be null)")
        self.n_neurons, self.mode, self.steps, self.probes = n_neurons, mode, steps, list(probes)
        self.record_every, self.layers, self.batch_size, self.seed, self.save = (record_every, layers, batch_size,
                                                                                  seed, save)
        self.self_term = self_term
        self.trajectory: Trajectory | None = None
        self.foregrounds: dict[int, dict[str, Foreground]] = {}
        self.metrics: dict[int, dict[str, dict[str, float]]] = {}

    @staticmethod
    def net_of(pl_module):
        return getattr(pl_module, "net", pl_module)

    def resolved_layers(self, net) -> list[int]:
        return [check_layer(net, l) for l in (self.layers or [None])]

    def setup(self, trainer, pl_module, stage):
        try:  # a bad layer fails before training, naming the field
            self.resolved_layers(self.net_of(pl_module))
        except ConfigError as err:
            raise ConfigError("trainer.callbacks.ForegroundCheck.layers", str(err).split(": ", 1)[1]) from None
        require(getattr(pl_module, "loss_name", "mse") == "mse", "model.init_args.loss",
                "ForegroundCheck needs an MSE model (the foreground follows the residual y - f)")

    def on_train_start(self, trainer, pl_module):
        if self.mode == "trajectory":
            self.trajectory = Trajectory(self.net_of(pl_module))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.trajectory is not None and trainer.global_step % self.record_every == 0:
            self.trajectory.record(trainer.global_step, self.net_of(pl_module))

    def draw_batch(self, dm, device) -> DrawBatch:
        """The background's data: its fixed train split if it has one, else fresh samples."""
        train = getattr(dm, "splits", {}).get("train")
        if train is not None:
            return lambda g: train
        if not hasattr(dm, "sample"):
            raise TypeError(f"{type(dm).__name__} has neither a train split nor sample(n, generator, device): "
                            "no data for the foreground")
        batch = self.batch_size or getattr(dm, "batch_size", 1024)
        return lambda g: dm.sample(batch, g, device)

    def on_fit_end(self, trainer, pl_module):
        net = self.net_of(pl_module)
        dm = trainer.datamodule
        draw = self.draw_batch(dm, net.W_in.device)
        settings = pl_module.optimizer_settings  # as configured: train_foreground applies the width scaling
        lr, wd = settings["lr"], settings["weight_decay"]
        trajectory = self.trajectory if self.mode == "trajectory" else None
        steps = self.steps or (trainer.global_step if trajectory is not None else None)
        x, y = dm.splits["val"]
        was_training = net.training
        net.eval()
        for layer in self.resolved_layers(net):
            self.foregrounds[layer], self.metrics[layer] = {}, {}
            for probe in self.probes:
                fg = train_foreground(net, draw, self.n_neurons, steps=steps, lr=lr, weight_decay=wd,
                                      trajectory=trajectory, probe=probe, layer=layer,
                                      seed=self.seed, self_term=self.self_term)
                self.foregrounds[layer][probe] = fg
                self.metrics[layer][probe] = compare(net, fg, x, y)
                values = {f"foreground/layer{layer}/{probe}/{k}": v for k, v in self.metrics[layer][probe].items()}
                for logger in trainer.loggers:
                    logger.log_metrics(values, step=trainer.global_step)
                dashboards.summary(trainer, {k: v for k, v in values.items() if isinstance(v, (int, float))})
        net.train(was_training)
        if self.save and trainer.is_global_zero:
            from mfnn.callbacks.periodic import run_dir

            out = run_dir(trainer)
            out.mkdir(parents=True, exist_ok=True)
            torch.save({"mode": self.mode, "metrics": self.metrics,
                        "foregrounds": {l: {p: vars(fg) for p, fg in fgs.items()}
                                        for l, fgs in self.foregrounds.items()}}, out / "foreground.pt")
        self.trajectory = None  # the recorded states are large; the results are what is kept


class AnnealLR(L.Callback):
    """Bring the background to rest before a converged-foreground check: from step `start` the learning
    rate falls linearly to `final` x its configured value at step `end` (and stays there).

    Mean-field SGD at a large lr ends on a cycle, not at a point (the readout's curvature times lr is
    near 2: the residual flips sign every step), so the last iterate is not a stationary point of the
    single-neuron objective even when the training loss has stopped falling; annealing removes the cycle
    and the SGD noise. Works on any module whose optimiser groups carry their own lr (Ensemble too)."""

    def __init__(self, start: int, end: int, final: float = 0.0):
        require(0 <= start < end, "end", f"must exceed start >= 0 (got start {start}, end {end})")
        require(0 <= final <= 1, "final", f"must be in [0, 1] (got {final})")
        self.start, self.end, self.final = start, end, final

    def factor(self, step: int) -> float:
        t = min(max((step - self.start) / (self.end - self.start), 0.0), 1.0)
        return 1 - (1 - self.final) * t

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault("anneal_base_lr", group["lr"])
                group["lr"] = group["anneal_base_lr"] * self.factor(trainer.global_step)


class StateSnapshots(L.Callback):
    """Copies of the module's state_dict before the given training steps (e.g. an early background
    to test whether a cloud distance can tell it from the trained one): `.states[step]`."""

    def __init__(self, steps: list[int]):
        self.steps = sorted(set(int(s) for s in steps))
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step in self.steps and trainer.global_step not in self.states:
            self.states[trainer.global_step] = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
