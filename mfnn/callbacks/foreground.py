"""Foreground self-consistency: fresh neurons, each trained alone against a frozen background.

Mean-field picture: a hidden neuron is a particle theta_i = (w_i, b_i, a_i) (incoming row, bias,
outgoing weights) driven by the field that all neurons together leave. A *foreground* neuron j is a
test particle in that same field: it is added to the frozen background and descends the loss of
"background + its own contribution" on the background's data. No foreground neuron sees another one,
so M of them are one (M, fan_in) tensor and training all of them is one batched tensor program.
If the background is self-consistent (a mean-field fixed point / trajectory), M neurons drawn from the
initial law land in the background's own neuron law.

Layers of an MLPNet (0-based hidden layer l of `depth`; h_l its post-activations, h_{-1} = x):
  last hidden layer (l = depth-1): the neuron's own term is s a_j act(w_j . h_{l-1}/sqrt(fan_in) + b_j)
    in the output (s = readout scale). It follows the correlation of its feature with the residual
    r = y - f_bg (G = dL/df = -2 r / (B C) in `linear_response_step`): exactly the velocity of a
    background particle at the same theta. self_term=True instead descends the full MSE of f_bg + own
    term (`foreground_step`), which adds the neuron's O(s^2) self-interaction: a background neuron's
    own term is already inside f_bg, so this counts it twice, and under mean-field SGD (lr x N) it acts
    as an extra decay ~ <phi^2>/N per step, i.e. O(T/N) after T steps (measured: it shrinks the
    foreground cloud visibly at N = 256, T = 1000).
  middle layer (l < depth-1): its own term is a_j act(...) / sqrt(N) in the next layer's pre-activation
    z_{l+1} (a_j: (N,), the column it would add to W_hidden[l]). It reacts to the frozen layers around
    it: the layers below give its input h_{l-1}(x), the layers above give the backpropagated signal
    G = dL/dz_{l+1} (B, N). It descends the first-order change of the background's loss,
    dL_j = sum_b G_b . a_j phi_j(x_b) / sqrt(N) (`linear_response_step`): exactly the gradient the
    background's own neuron i would get at theta_i = theta_j.
  Both use the background's SGD settings (MFNNModule: mean-field SGD multiplies lr by N, every layer).

Two ways to keep the residual from vanishing (infinite data and no regularisation drive r -> 0):
  trajectory: the background is recorded during its training and foreground step t sees background
    step t (one particle in the recorded field: the mean-field ODE, exact self-consistency);
  final: the final background is frozen and weight decay (the background's own) keeps r != 0.

API (plain PyTorch, no Lightning needed):
  train_foreground(net, draw_batch, n_neurons, steps, lr, weight_decay, trajectory, probe, init_std,
                   layer, seed) -> Foreground(W, b, a, layer, readout, loss_history, seconds, steps)
  Foreground.predict(net, x): the assembled network (layer `layer` of `net` replaced by the M neurons)
  compare(net, fg, x, y) -> {"mmd", "bandwidth", "bg_loss", "fg_loss", "resampled_loss", ...}
  Trajectory(net).record(step, net) / .at(step)
  ForegroundCheck(n_neurons, mode, steps, probes, record_every, layers, ...): Lightning callback running
    the above at fit end for each layer in `layers`; results in .foregrounds[layer][probe] and
    .metrics[layer][probe], logged as foreground/layer{l}/{probe}/<name>, saved to run_dir/foreground.pt.
Only MSE backgrounds (the residual / dL/dz of the MSE) are supported.
"""
from __future__ import annotations

import copy
import math
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from einops import einsum

from mfnn.analysis.clouds import mmd, median_bandwidth, particles, split_distance
from mfnn.errors import require, require_choice, require_positive
from mfnn.models.base import readout_scale

Probe = Literal["same", "mean_field"]
DrawBatch = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def neuron_features(h: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, act) -> torch.Tensor:
    """The one per-neuron forward: h (B, fan_in), W (M, fan_in), b (M,) -> act(h W^T / sqrt(fan_in) + b): (B, M).
    (MLPNet's convention: every layer divides its pre-activation by sqrt(fan_in).)"""
    z = h @ W.T / math.sqrt(W.shape[1])
    return act(z + b if b is not None else z)


def act_and_slope(name: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """act(z) and act'(z) for MLPNet's activations."""
    if name == "hardtanh":
        return z.clamp(-1, 1), (z.abs() < 1).to(z.dtype)
    if name == "relu":
        return z.clamp_min(0), (z > 0).to(z.dtype)
    if name == "tanh":
        t = z.tanh()
        return t, 1 - t.square()
    if name == "erf":
        return torch.erf(z), (2 / math.sqrt(math.pi)) * torch.exp(-z.square())
    if name == "quadratic":
        return z.square(), 2 * z
    if name == "identity":
        return z, torch.ones_like(z)
    raise NotImplementedError(f"no foreground slope for activation {name!r}")


def foreground_step(h: torch.Tensor, r: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, a: torch.Tensor,
                    s: float, activation: str, step_size: float, decay: float) -> torch.Tensor:
    """One in-place SGD step for m independent neurons; returns the sum of their losses.

    Neuron j's loss is L_j = mean_B |r - s a_j phi_j|^2 / C (r = y - f_bg: (B, C); phi_j = act(z_j),
    z_j = w_j . h / sqrt(fan_in) + b_j): the MSE of f_bg + its own term. Expanded,
    L_j = <|r|^2> - 2 s a_j.<phi_j r> + s^2 |a_j|^2 <phi_j^2>, so the gradients are hand-written
    (exact; tests check them against autograd) and no (B, m, C) tensor is ever built.
    """
    B, C = r.shape
    z = torch.addmm(b, h, W.T, alpha=1 / math.sqrt(W.shape[1])) if b is not None else h @ W.T / math.sqrt(W.shape[1])
    phi, slope = act_and_slope(activation, z)  # (B, m)
    corr = einsum(phi, r, "b m, b c -> m c") / B  # (m, C): <phi_j r>
    q = phi.square().mean(0)  # (m,): <phi_j^2>
    a2 = a.square().sum(1)  # (m,)
    losses = (r.square().sum() / B - 2 * s * (a * corr).sum(1) + s**2 * a2 * q) / C
    grad_a = 2 * s * (s * q[:, None] * a - corr) / C
    # dL_j/dz_bj = -(2 s / (B C)) (r_b . a_j - s |a_j|^2 phi_bj) act'(z_bj)
    dz = torch.addcmul(r @ a.T, phi, -s * a2[None]).mul_(slope)  # (B, m), times -(2 s / (B C))
    coef = -2 * s / (B * C)
    grad_W = coef / math.sqrt(W.shape[1]) * einsum(dz, h, "b m, b i -> m i")
    for p, g in ((W, grad_W), (a, grad_a)) + (((b, coef * dz.sum(0)),) if b is not None else ()):
        p.mul_(1 - decay).sub_(step_size * g)
    return losses.sum()


def linear_response_step(h: torch.Tensor, G: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, a: torch.Tensor,
                         c: float, activation: str, step_size: float, decay: float) -> torch.Tensor:
    """One in-place SGD step for m independent middle-layer neurons; returns the sum of their dL_j.

    Neuron j adds c a_j phi_j(x) to the next layer's pre-activation (a_j: (K,), c = 1/sqrt(N)); to first
    order the background's loss changes by dL_j = c sum_b G_b . a_j phi_bj, with G = dL/dz_next (B, K)
    (the loss's 1/B already in G). Its gradients: dL_j/da_j = c phi_j^T G,
    dL_j/dz_bj = c (G_b . a_j) act'(z_bj).
    """
    z = torch.addmm(b, h, W.T, alpha=1 / math.sqrt(W.shape[1])) if b is not None else h @ W.T / math.sqrt(W.shape[1])
    phi, slope = act_and_slope(activation, z)  # (B, m)
    Ga = G @ a.T  # (B, m): G_b . a_j
    dL = c * (Ga * phi).sum(0)  # (m,)
    grad_a = c * einsum(phi, G, "b m, b k -> m k")
    dz = Ga.mul_(slope).mul_(c)  # (B, m): dL_j/dz_bj
    grad_W = einsum(dz, h, "b m, b i -> m i") / math.sqrt(W.shape[1])
    for p, g in ((W, grad_W), (a, grad_a)) + (((b, dz.sum(0)),) if b is not None else ()):
        p.mul_(1 - decay).sub_(step_size * g)
    return dL.sum()


def layer_input(net, x: torch.Tensor, layer: int) -> torch.Tensor:
    """What neurons of hidden layer `layer` see: x for layer 0, else hidden layer layer-1 of `net`."""
    return x if layer == 0 else net.hidden(x, layer - 1)


def forward_from(net, z: torch.Tensor, layer: int) -> torch.Tensor:
    """The rest of MLPNet's forward from z (B, N), the pre-activation of hidden layer `layer` (>= 1):
    act, the layers above, the readout. (B, C) out; `test_forward_from_matches_net` pins it to MLPNet."""
    h = net.act(z)
    for l in range(layer, net.depth - 1):
        z = h @ net.W_hidden[l].T / math.sqrt(net.width)
        h = net.act(z + net.b_hidden[l] if len(net.b_hidden) else z)
    return net.readout_scale * (h @ net.a)


def next_preactivation(net, h: torch.Tensor, layer: int) -> torch.Tensor:
    """z_{layer+1} (B, N) from hidden layer `layer`'s post-activations h (B, N)."""
    z = h @ net.W_hidden[layer].T / math.sqrt(net.width)
    return z + net.b_hidden[layer] if len(net.b_hidden) else z


def backprop_signal(net, x: torch.Tensor, y: torch.Tensor, layer: int) -> torch.Tensor:
    """G = dL/dz_{layer+1} (B, N) of the background's MSE, L = mean over batch and outputs of (f - y)^2:
    what the frozen layers above hidden layer `layer` send back to it."""
    with torch.no_grad():
        z = next_preactivation(net, net.hidden(x, layer), layer)
    z.requires_grad_(True)
    with torch.enable_grad():
        f = forward_from(net, z, layer + 1)
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
        phi = neuron_features(layer_input(background, x, self.layer), self.W, self.b, background.act)
        out = self.readout * (phi @ self.a)
        if self.layer < background.depth - 1:  # out is the next layer's pre-activation, minus its bias
            if len(background.b_hidden):
                out = out + background.b_hidden[self.layer]
            out = forward_from(background, out, self.layer + 1)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def fresh_neurons(net, layer: int, n: int, init_std: Sequence[float], generator: torch.Generator, device=None):
    """n neurons of hidden layer `layer` from MLPNet's initial law: incoming w ~ N(0, s_in^2) (s_in = 1
    for hidden rows), b ~ N(0, s_b^2), outgoing a ~ N(0, s_out^2) (divided by sqrt(width) under the
    standard parameterisation) for the last layer, a ~ N(0, 1) (W_hidden's columns) for a middle one."""
    std_in, std_b, std_out = init_std
    last = layer == net.depth - 1
    fan_in = net.input_dim if layer == 0 else net.width
    std_in = std_in if layer == 0 else 1.0
    if last:
        std_out = std_out / math.sqrt(net.width) if net.parameterization == "standard" else std_out
    else:
        std_out = 1.0
    kw = dict(generator=generator, device=device)
    W = torch.randn(n, fan_in, **kw) * std_in
    b = torch.randn(n, **kw) * std_b if net.neurons(layer)["b"] is not None else None
    a = torch.randn(n, net.output_dim if last else net.width, **kw) * std_out
    return W, b, a


class Trajectory:
    """Background states recorded during training: `at(step)` is the background as it was before
    optimiser step `step` (the latest recorded state at or before it). Memory: one flat copy of the
    state per record (depth 3, N = 256, d = 64: 0.55 MB), so record every k steps for long deep runs.
    States go into preallocated 32 MB blocks: thousands of small clones between a training step's large
    temporaries fragment the C heap (measured: 3.6 MB of RSS per recorded step at N = 1024)."""

    BLOCK_BYTES = 32 * 2**20  # glibc always mmaps blocks this large: they never pin the heap

    def __init__(self, net):
        self.net = copy.deepcopy(net).requires_grad_(False)
        state = self.net.state_dict()
        self.layout = [(k, v.shape, v.numel()) for k, v in state.items()]
        self.numel = sum(n for _, _, n in self.layout)
        self.dtype, self.device = next(iter(state.values())).dtype, next(iter(state.values())).device
        self.rows = max(1, self.BLOCK_BYTES // (self.numel * torch.finfo(self.dtype).bits // 8))
        self.blocks: list[torch.Tensor] = []
        self.steps: list[int] = []
        self.current = -1

    def record(self, step: int, net) -> None:
        if self.steps and self.steps[-1] >= step:
            return
        i = len(self.steps)
        if i // self.rows == len(self.blocks):
            self.blocks.append(torch.empty(self.rows, self.numel, dtype=self.dtype, device=self.device))
        row = self.blocks[i // self.rows][i % self.rows]
        state = net.state_dict()
        offset = 0
        for k, _, n in self.layout:
            row[offset:offset + n].copy_(state[k].detach().reshape(-1))
            offset += n
        self.steps.append(step)

    def __len__(self) -> int:
        return len(self.steps)

    def state(self, i: int) -> dict[str, torch.Tensor]:
        """The i-th recorded state as a state_dict of views into the block."""
        row, out, offset = self.blocks[i // self.rows][i % self.rows], {}, 0
        for k, shape, n in self.layout:
            out[k] = row[offset:offset + n].view(shape)
            offset += n
        return out

    def at(self, step: int):
        i = max(0, bisect_right(self.steps, step) - 1)
        if i != self.current:
            self.net.load_state_dict(self.state(i))
            self.current = i
        return self.net


def train_foreground(
    net,
    draw_batch: DrawBatch,
    n_neurons: int = 2048,
    steps: int | None = None,
    lr: float = 0.5,
    weight_decay: float = 0.0,
    trajectory: Trajectory | None = None,
    probe: Probe = "same",
    init_std: Sequence[float] = (1.0, 1.0, 1.0),
    layer: int | None = None,
    seed: int = 0,
    log_every: int = 50,
    init: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None = None,
    chunk: int | None = 256,
    self_term: bool = False,
) -> Foreground:
    """Train `n_neurons` independent foreground neurons of `net`'s hidden layer `layer`, batched.

    net: the trained background (an MLPNet: depth, width, input_dim, output_dim, act, activation,
      parameterization, readout_scale, hidden(x, upto), neurons(layer), W_hidden, b_hidden, a).
      It is never modified.
    draw_batch(generator) -> (x, y): a batch of the background's training data (fresh samples, or its
      fixed full batch: return the same tensors every call).
    n_neurons: M, the number of foreground neurons.
    steps: foreground SGD steps (default: the trajectory's length, required without one).
    lr, weight_decay: the background's base SGD settings; as in MFNNModule, mean-field SGD multiplies
      lr by the width and divides weight decay by it (lr * wd unchanged): pass the base values.
    trajectory: recorded background states; step t trains against state t. None: the frozen `net`.
    probe: "same" gives the foreground neuron the background's parameterisation (readout scale s_N and
      lr scaling); "mean_field" makes it a mean-field particle (s = 1/N, lr x N) whatever the
      background's parameterisation: the mean-field self-consistency map applied to the background's
      residual. (A middle layer's term is 1/sqrt(N) either way; the probe sets its lr scaling.)
    init_std: (init_std_in, init_std_bias, init_std_out) of the background's initial law.
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
    lr_scale = float(width) if param == "mean_field" else 1.0
    device = net.W_in.device

    if init is None:
        g_init = torch.Generator(device=device).manual_seed(seed)
        W, b, a = fresh_neurons(net, layer, n_neurons, init_std, g_init, device)
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
            h = layer_input(bg, x, layer)  # (B, fan_in)
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


@torch.no_grad()
def resampled_background_loss(net, x: torch.Tensor, y: torch.Tensor, n_neurons: int, layer: int | None = None,
                              seed: int = 0) -> float:
    """MSE of the background with hidden layer `layer` replaced by M neurons drawn with replacement from
    its own cloud, assembled as the foreground is (assembly_scale at width M): what M *independent*
    samples of the background's law achieve (the floor the foreground network is held to)."""
    layer = check_layer(net, layer)
    nb = net.neurons(layer)
    g = torch.Generator(device=x.device).manual_seed(seed)
    idx = torch.randint(len(nb["W"]), (n_neurons,), generator=g, device=x.device)
    a = nb["a"][idx]
    fake = Foreground(nb["W"][idx], None if nb["b"] is None else nb["b"][idx], a, layer,
                      assembly_scale(net, layer, n_neurons))
    return float(F.mse_loss(fake.predict(net, x).reshape(y.shape), y))


def compare(net, fg: Foreground, x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> dict[str, float]:
    """Cloud distance (RBF MMD on particles (w, b, a), bandwidth = median pairwise distance of the
    background's cloud unless given, FG split into BG-sized chunks) and held-out MSEs on (x, y):
    background, assembled foreground network, M neurons resampled from the background."""
    bg_cloud = particles(net.neurons(fg.layer)).cpu()
    fg_cloud = particles(fg.neurons()).cpu()
    sigma = bandwidth or median_bandwidth(bg_cloud)
    with torch.no_grad():
        bg_loss = float(F.mse_loss(net(x).reshape(y.shape), y))
        fg_loss = float(F.mse_loss(fg.predict(net, x).reshape(y.shape), y))
    return {
        "mmd": split_distance(fg_cloud, bg_cloud, lambda u, v: mmd(u, v, sigma)),
        "bandwidth": sigma,
        "bg_loss": bg_loss,
        "fg_loss": fg_loss,
        "resampled_loss": resampled_background_loss(net, x, y, fg.n_neurons, fg.layer),
        "target_var": float(y.var()),
        "fg_neurons_per_s": fg.n_neurons * fg.steps / max(fg.seconds, 1e-9),
    }


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
        self.resolved_layers(self.net_of(pl_module))  # a bad layer fails before training, naming the field
        require(getattr(pl_module, "loss_name", "mse") == "mse", "loss",
                "ForegroundCheck needs an MSE model (the foreground follows the residual y - f)")

    def on_train_start(self, trainer, pl_module):
        if self.mode == "trajectory":
            self.trajectory = Trajectory(self.net_of(pl_module))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.trajectory is not None and trainer.global_step % self.record_every == 0:
            self.trajectory.record(trainer.global_step, self.net_of(pl_module))

    @staticmethod
    def optimiser_settings(trainer) -> tuple[float, float]:
        """The background's base lr and weight decay (undoing MFNNModule's mean-field SGD scaling)."""
        opt = trainer.optimizers[0]
        group = opt.param_groups[0]
        net = ForegroundCheck.net_of(trainer.lightning_module)
        sgd_like = isinstance(opt, torch.optim.SGD) or getattr(opt, "sgd_like", False)
        scale = float(net.width) if net.parameterization == "mean_field" and sgd_like else 1.0
        return group.get("initial_lr", group["lr"]) / scale, group.get("weight_decay", 0.0) * scale

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
        lr, wd = self.optimiser_settings(trainer)
        hp = getattr(pl_module, "hparams", {})
        init_std = (hp.get("init_std_in", 1.0), hp.get("init_std_bias", 1.0), hp.get("init_std_out", 1.0))
        trajectory = self.trajectory if self.mode == "trajectory" else None
        steps = self.steps or (trainer.global_step if trajectory is not None else None)
        x, y = dm.splits["val"]
        was_training = net.training
        net.eval()
        for layer in self.resolved_layers(net):
            self.foregrounds[layer], self.metrics[layer] = {}, {}
            for probe in self.probes:
                fg = train_foreground(net, draw, self.n_neurons, steps=steps, lr=lr, weight_decay=wd,
                                      trajectory=trajectory, probe=probe, init_std=init_std, layer=layer,
                                      seed=self.seed, self_term=self.self_term)
                self.foregrounds[layer][probe] = fg
                self.metrics[layer][probe] = compare(net, fg, x, y)
                for logger in trainer.loggers:
                    logger.log_metrics({f"foreground/layer{layer}/{probe}/{k}": v
                                        for k, v in self.metrics[layer][probe].items()}, step=trainer.global_step)
        net.train(was_training)
        if self.save and trainer.is_global_zero:
            from mfnn.callbacks.neuron_cloud import run_dir

            out = run_dir(trainer)
            out.mkdir(parents=True, exist_ok=True)
            torch.save({"mode": self.mode, "metrics": self.metrics,
                        "foregrounds": {l: {p: vars(fg) for p, fg in fgs.items()}
                                        for l, fgs in self.foregrounds.items()}}, out / "foreground.pt")
        self.trajectory = None  # the recorded states are large; the results are what is kept
