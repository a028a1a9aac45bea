"""Training M foreground neurons of one hidden layer against a frozen (or replayed) background.

Mean-field picture: a hidden neuron is a particle theta_i = (w_i, b_i, a_i) (incoming row, bias, outgoing
weights) driven by the field that all neurons together leave. A foreground neuron is a test particle in that
field; see `mfnn.foreground` for the layer-by-layer objective.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch
import torch.nn.functional as F

from mfnn.errors import require, require_choice, require_positive
from mfnn.foreground.steps import foreground_step, linear_response_step
from mfnn.foreground.trajectory import Trajectory
from mfnn.parameterization import readout_scale, sgd_lr_scale

Probe = Literal["same", "mean_field"]
DrawBatch = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def backprop_signal(net, x: torch.Tensor, y: torch.Tensor, layer: int) -> torch.Tensor:
    """G = dL/dz_{layer+1} (B, N) of the background's MSE, L = mean over batch and outputs of (f - y)^2:
    what the frozen layers above hidden layer `layer` send back to it."""
    with torch.no_grad():
        z = net.next_preactivation(net.hidden(x, layer), layer)
    z.requires_grad_(True)
    with torch.enable_grad():
        f = net.forward_from(z, layer + 1)
        loss = F.mse_loss(f, y.reshape(f.shape), reduction="sum") / f.numel()
        (G,) = torch.autograd.grad(loss, z)
    return G


def check_layer(net, layer: int | None) -> int:
    layer = net.depth - 1 if layer is None else layer
    require(0 <= layer < net.depth, "layer", f"must be in [0, {net.depth - 1}] (got {layer})")
    return layer


def assembly_scale(net, layer: int, n_neurons: int, parameterization: str | None = None) -> float:
    """How M neurons of layer `layer` are summed in the assembled network: the readout scale at width M
    (last layer, in `parameterization`, default the background's) or 1/sqrt(M) (a middle layer: the
    next layer divides by sqrt(fan_in), MLPNet's convention)."""
    if layer == net.depth - 1:
        return readout_scale(parameterization or net.parameterization, n_neurons)
    return 1 / math.sqrt(n_neurons)


@dataclass
class Foreground:
    """M trained foreground neurons of hidden layer `layer` and the network they assemble into."""

    W: torch.Tensor  # (M, fan_in)
    b: torch.Tensor | None  # (M,)
    a: torch.Tensor  # (M, C) for the last hidden layer, (M, N) (outgoing columns) for a middle one
    layer: int
    readout: float  # the assembled network's scale for the M neurons' sum (assembly_scale)
    loss_history: list[float] = field(default_factory=list)  # mean dL_j (self_term: mean per-neuron MSE)
    seconds: float = 0.0
    steps: int = 0

    @property
    def n_neurons(self) -> int:
        return len(self.W)

    def neurons(self) -> dict[str, torch.Tensor | None]:
        return {"W": self.W, "b": self.b, "a": self.a}

    @torch.no_grad()
    def predict(self, background, x: torch.Tensor) -> torch.Tensor:
        """The assembled network: the background with hidden layer `layer` replaced by the M foreground
        neurons (its layers below feed them, its layers above read them). x (B, d) -> (B,) or (B, C)."""
        phi = background.neuron_features(background.layer_input(x, self.layer), self.W, self.b)
        out = self.readout * (phi @ self.a)
        if self.layer < background.depth - 1:  # out is the next layer's pre-activation, minus its bias
            if len(background.b_hidden):
                out = out + background.b_hidden[self.layer]
            out = background.forward_from(out, self.layer + 1)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def train_foreground(
    net,
    draw_batch: DrawBatch,
    n_neurons: int = 2048,
    steps: int | None = None,
    lr: float = 0.5,
    weight_decay: float = 0.0,
    trajectory: Trajectory | None = None,
    probe: Probe = "same",
    layer: int | None = None,
    seed: int = 0,
    log_every: int = 50,
    init: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None = None,
    chunk: int | None = 256,
    self_term: bool = False,
) -> Foreground:
    """Train `n_neurons` independent foreground neurons of `net`'s hidden layer `layer`, batched.

    net: the trained background, an MLPNet (its layer functions and initial law are used as they are).
      It is never modified.
    draw_batch(generator) -> (x, y): a batch of the background's training data (fresh samples, or its
      fixed full batch: return the same tensors every call).
    n_neurons: M, the number of foreground neurons.
    steps: foreground SGD steps (default: the trajectory's length, required without one).
    lr, weight_decay: the background's SGD settings as configured (`MFNNModule.optimizer_settings`); the
      width scaling of `mfnn.parameterization` is applied here, as for the background.
    trajectory: recorded background states; step t trains against state t. None: the frozen `net`.
    probe: "same" gives the foreground neuron the background's parameterisation (readout scale s_N and
      lr scaling); "mean_field" makes it a mean-field particle (s = 1/N, lr x N) whatever the
      background's parameterisation: the mean-field self-consistency map applied to the background's
      residual. (A middle layer's term is 1/sqrt(N) either way; the probe sets its lr scaling.)
    layer: 0-based hidden layer (default the last).
    seed: seeds the fresh draw (seed) and the foreground's data stream (seed + 1).
    init: explicit starting neurons (W, b, a) instead of a fresh draw (tests, benchmarks).
    chunk: neurons per block (the gradients are exact either way; 256 keeps a block's (B, chunk)
      activations in cache on CPU, ~2x faster than one (B, M) block; None = one block).
    self_term: last layer only: descend the full MSE of f_bg + own term (see the module docstring)
      instead of following the residual as a test particle (default).
    """
    layer = check_layer(net, layer)
    last = layer == net.depth - 1
    require_positive(n_neurons, "n_neurons")
    require_choice(probe, ("same", "mean_field"), "probe")
    require(weight_decay >= 0, "weight_decay", f"must be >= 0 (got {weight_decay})")
    if steps is None:
        require(trajectory is not None, "steps", "is required when no trajectory is given")
        steps = trajectory.steps[-1] + 1
    require_positive(steps, "steps")
    width = net.width
    param = "mean_field" if probe == "mean_field" else net.parameterization
    # the neuron's own term, as if it were one of the N: readout scale, or the next layer's 1/sqrt(N)
    s = readout_scale(param, width) if last else 1 / math.sqrt(width)
    lr_scale = sgd_lr_scale(param, width)
    device = net.W_in.device

    if init is None:
        g_init = torch.Generator(device=device).manual_seed(seed)
        W, b, a = net.initial_neurons(layer, n_neurons, g_init, device)
    else:
        W, b, a = (None if t is None else t.detach().clone().to(device) for t in init)
        n_neurons = len(W)
    step_size, decay = lr * lr_scale, lr * weight_decay  # SGD: theta -= step_size * grad + decay * theta
    chunk = chunk or n_neurons
    g_data = torch.Generator(device=device).manual_seed(seed + 1)
    history: list[float] = []
    start = time.perf_counter()
    for step in range(steps):
        bg = trajectory.at(step) if trajectory is not None else net
        x, y = draw_batch(g_data)
        with torch.no_grad():
            h = bg.layer_input(x, layer)  # (B, fan_in)
            if last:  # the residual r = y - f_bg (B, C), or G = dL/df = -2 r / (B C)
                r = y.reshape(len(x), -1) - bg(x).reshape(len(x), -1)
                signal = r if self_term else r * (-2 / r.numel())
        if not last:  # G = dL/dz_{layer+1} (B, N) through the frozen layers above
            signal = backprop_signal(bg, x, y, layer)
        step_fn = foreground_step if last and self_term else linear_response_step
        with torch.no_grad():
            loss = 0.0
            for j in range(0, n_neurons, chunk):  # cache-sized blocks of neurons (CPU); one block on GPU
                sl = slice(j, j + chunk)
                loss += step_fn(h, signal, W[sl], None if b is None else b[sl], a[sl], s, net.activation,
                                step_size, decay)
        if step % log_every == 0 or step == steps - 1:
            history.append(float(loss) / n_neurons)  # the only host sync
    seconds = time.perf_counter() - start
    return Foreground(W.detach(), None if b is None else b.detach(), a.detach(), layer,
                      assembly_scale(net, layer, n_neurons, param), history, seconds, steps)
