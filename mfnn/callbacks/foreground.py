"""Foreground self-consistency: fresh neurons, each trained alone against a frozen background.

Mean-field picture: hidden neuron i of the last hidden layer is a particle theta_i = (w_i, b_i, a_i)
driven by the residual r(x) = y(x) - f_bg(x) that all neurons together leave. A *foreground* neuron
j reacts to that same residual: it predicts f_bg(x) + s * a_j act(w_j . h(x) / sqrt(fan_in) + b_j),
with h(x) the layer's input (x for a two-layer net, the frozen lower layers' h_{L-1}(x) for a deep
one) and s the readout scale, and descends its own MSE on fresh data. Its own term is O(s), so its
gradient is the correlation of its feature with the residual (plus weight decay). If the background
is a mean-field fixed point, M such neurons drawn from the initial law land in the background's law.

The M foreground neurons are one (M, fan_in) tensor: their losses are independent, so the gradient of
their sum is every neuron's own gradient, and training all of them is one batched autograd program.

Two ways to keep the residual from vanishing (infinite data and no regularisation drive r -> 0):
  trajectory: the background is recorded at every step of its training and foreground step t sees
    background step t (the mean-field ODE of one particle in the recorded field: exact self-consistency);
  final: the final background is frozen and weight decay (the background's own) keeps r != 0.

`train_foreground` is plain PyTorch (usable outside Lightning); `ForegroundCheck` runs it at fit end.
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


def layer_input(net, x: torch.Tensor, layer: int) -> torch.Tensor:
    """What neurons of hidden layer `layer` see: x for layer 0, else hidden layer layer-1 of `net`."""
    return x if layer == 0 else net.hidden(x, layer - 1)


def check_layer(net, layer: int | None) -> int:
    layer = net.depth - 1 if layer is None else layer
    require(0 <= layer < net.depth, "layer", f"must be in [0, {net.depth - 1}] (got {layer})")
    if layer != net.depth - 1:
        raise NotImplementedError(
            f"foreground neurons of a middle layer ({layer} of {net.depth}) react to the next layer's "
            "backpropagated residual; only the last hidden layer is supported so far")
    return layer


@dataclass
class Foreground:
    """M trained foreground neurons of the last hidden layer and the network they assemble into."""

    W: torch.Tensor  # (M, fan_in)
    b: torch.Tensor | None  # (M,)
    a: torch.Tensor  # (M, C)
    layer: int
    readout: float  # s_M of the assembled network (the foreground's parameterisation at width M)
    loss_history: list[float] = field(default_factory=list)  # mean per-neuron training loss
    seconds: float = 0.0
    steps: int = 0

    @property
    def n_neurons(self) -> int:
        return len(self.W)

    def neurons(self) -> dict[str, torch.Tensor | None]:
        return {"W": self.W, "b": self.b, "a": self.a}

    @torch.no_grad()
    def predict(self, background, x: torch.Tensor) -> torch.Tensor:
        """The assembled network: the background's lower layers (if any), then the M foreground
        neurons with readout s_M. x (B, d) -> (B,) or (B, C)."""
        phi = neuron_features(layer_input(background, x, self.layer), self.W, self.b, background.act)
        out = self.readout * (phi @ self.a)
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def fresh_neurons(n: int, fan_in: int, out_dim: int, bias: bool, parameterization: str, width: int,
                  init_std: Sequence[float], generator: torch.Generator, device=None):
    """M neurons from MLPNet's initial law: w ~ N(0, s_in^2) (s_in = 1 for hidden rows), b ~ N(0, s_b^2),
    a ~ N(0, s_out^2) (divided by sqrt(width) under the standard parameterisation)."""
    std_in, std_b, std_out = init_std
    kw = dict(generator=generator, device=device)
    W = torch.randn(n, fan_in, **kw) * std_in
    b = torch.randn(n, **kw) * std_b if bias else None
    a = torch.randn(n, out_dim, **kw) * (std_out / math.sqrt(width) if parameterization == "standard" else std_out)
    return W, b, a


class Trajectory:
    """Background states recorded during training: `at(step)` is the background as it was before
    optimiser step `step` (the latest recorded state at or before it)."""

    def __init__(self, net):
        self.net = copy.deepcopy(net).requires_grad_(False)
        self.steps: list[int] = []
        self.states: list[dict[str, torch.Tensor]] = []
        self.current = -1

    def record(self, step: int, net) -> None:
        if self.steps and self.steps[-1] >= step:
            return
        self.steps.append(step)
        self.states.append({k: v.detach().clone() for k, v in net.state_dict().items()})

    def __len__(self) -> int:
        return len(self.steps)

    def at(self, step: int):
        i = max(0, bisect_right(self.steps, step) - 1)
        if i != self.current:
            self.net.load_state_dict(self.states[i])
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
) -> Foreground:
    """Train `n_neurons` independent foreground neurons of `net`'s last hidden layer, batched.

    net: the trained background (an MLPNet-like module: depth, width, input_dim, act, parameterization,
      readout_scale, hidden(x, upto), neurons(layer)). It is never modified.
    draw_batch(generator) -> (x, y): a fresh batch from the background's data distribution.
    steps: foreground SGD steps (default: the trajectory's length, required without one).
    lr, weight_decay: the background's SGD settings; as in MFNNModule, mean-field SGD multiplies lr by
      the width and divides weight decay by it (lr * wd unchanged).
    trajectory: recorded background states; step t trains against state t. None: the frozen `net`.
    probe: "same" gives the foreground neuron the background's readout scale s_N and lr scaling;
      "mean_field" makes it a mean-field particle (s = 1/N, lr x N) whatever the background's
      parameterisation: the mean-field self-consistency map applied to the background's residual.
    init_std: (W_in, bias, readout) init standard deviations of the background's initial law.
    init: explicit starting neurons (W, b, a) instead of a fresh draw (tests, benchmarks).
    seed: seeds the fresh draw (seed) and the foreground's data stream (seed + 1).
    chunk: neurons per block (the gradients are exact either way; 256 keeps a block's (B, chunk)
      activations in cache on CPU, ~3x faster than one (B, M) block; None = one block).
    """
    layer = check_layer(net, layer)
    require_positive(n_neurons, "n_neurons")
    require_choice(probe, ("same", "mean_field"), "probe")
    require(weight_decay >= 0, "weight_decay", f"must be >= 0 (got {weight_decay})")
    if steps is None:
        require(trajectory is not None, "steps", "is required when no trajectory is given")
        steps = trajectory.steps[-1] + 1
    require_positive(steps, "steps")
    width = net.width
    param = "mean_field" if probe == "mean_field" else net.parameterization
    s = readout_scale(param, width)  # the neuron's own contribution, as if it were one of the N
    lr_scale = float(width) if param == "mean_field" else 1.0
    device = net.W_in.device
    fan_in = net.input_dim if layer == 0 else width
    std = tuple(init_std) if layer == 0 else (1.0, *tuple(init_std)[1:])

    g_init = torch.Generator(device=device).manual_seed(seed)
    if init is None:
        W, b, a = fresh_neurons(n_neurons, fan_in, net.output_dim, net.neurons(layer)["b"] is not None,
                                net.parameterization, width, std, g_init, device)
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
            f_bg = bg(x).reshape(len(x), -1)  # (B, C)
            h = layer_input(bg, x, layer)  # (B, fan_in)
            r = y.reshape(len(x), -1) - f_bg  # (B, C): the background's residual
            loss = 0.0
            for j in range(0, n_neurons, chunk):  # cache-sized blocks of neurons (CPU); one block on GPU
                sl = slice(j, j + chunk)
                loss += foreground_step(h, r, W[sl], None if b is None else b[sl], a[sl], s, net.activation,
                                        step_size, decay)
        if step % log_every == 0 or step == steps - 1:
            history.append(float(loss) / n_neurons)  # the only host sync
    seconds = time.perf_counter() - start
    return Foreground(W.detach(), None if b is None else b.detach(), a.detach(), layer,
                      readout_scale(param, n_neurons), history, seconds, steps)


@torch.no_grad()
def resampled_background_loss(net, x: torch.Tensor, y: torch.Tensor, n_neurons: int, seed: int = 0) -> float:
    """MSE of a width-M network of neurons drawn with replacement from the background's own cloud,
    read out with the background's parameterisation at width M: what M *independent* samples of the
    background's law achieve (the floor the foreground network is held to)."""
    layer = net.depth - 1
    nb = net.neurons(layer)
    g = torch.Generator(device=x.device).manual_seed(seed)
    idx = torch.randint(len(nb["W"]), (n_neurons,), generator=g, device=x.device)
    phi = neuron_features(layer_input(net, x, layer), nb["W"][idx], None if nb["b"] is None else nb["b"][idx], net.act)
    out = readout_scale(net.parameterization, n_neurons) * (phi @ nb["a"][idx])
    return float(F.mse_loss(out.reshape(y.shape), y))


def compare(net, fg: Foreground, x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> dict[str, float]:
    """Cloud distance (RBF MMD on particles (w, b, a), equal-size chunks) and held-out losses."""
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
        "resampled_loss": resampled_background_loss(net, x, y, fg.n_neurons),
        "target_var": float(y.var()),
        "fg_neurons_per_s": fg.n_neurons * fg.steps / max(fg.seconds, 1e-9),
    }


class ForegroundCheck(L.Callback):
    """At fit end: train `n_neurons` foreground neurons against the background and compare.

    mode "trajectory" records the background before every `record_every`-th step and replays it;
    mode "final" freezes the final background and trains `steps` steps with the background's weight
    decay. `probes`: one foreground per entry ("same" and/or "mean_field", see train_foreground).
    Results: `.foregrounds[probe]`, `.metrics[probe]`, logged as foreground/<probe>/<name>, and saved
    to run_dir/foreground.pt.
    """

    def __init__(self, n_neurons: int = 2048, mode: Literal["trajectory", "final"] = "trajectory",
                 steps: int | None = None, probes: list[Probe] = ["same"], record_every: int = 1,
                 layer: int | None = None, batch_size: int | None = None, seed: int = 12345, save: bool = True):
        require_positive(n_neurons, "n_neurons")
        require_choice(mode, ("trajectory", "final"), "mode")
        require(len(probes) > 0, "probes", "must name at least one probe")
        for p in probes:
            require_choice(p, ("same", "mean_field"), "probes")
        require_positive(record_every, "record_every")
        require(mode == "trajectory" or steps, "steps", "is required in mode 'final'")
        self.n_neurons, self.mode, self.steps, self.probes = n_neurons, mode, steps, list(probes)
        self.record_every, self.layer, self.batch_size, self.seed, self.save = record_every, layer, batch_size, seed, save
        self.trajectory: Trajectory | None = None
        self.foregrounds: dict[str, Foreground] = {}
        self.metrics: dict[str, dict[str, float]] = {}

    @staticmethod
    def net_of(pl_module):
        return getattr(pl_module, "net", pl_module)

    def on_train_start(self, trainer, pl_module):
        if self.mode == "trajectory":
            check_layer(self.net_of(pl_module), self.layer)
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

    def on_fit_end(self, trainer, pl_module):
        net = self.net_of(pl_module)
        dm = trainer.datamodule
        if not hasattr(dm, "sample"):
            raise TypeError(f"{type(dm).__name__} has no sample(n, generator, device): no fresh foreground data")
        batch = self.batch_size or getattr(dm, "batch_size", 1024)
        device = net.W_in.device
        lr, wd = self.optimiser_settings(trainer)
        hp = getattr(pl_module, "hparams", {})
        init_std = (hp.get("init_std_in", 1.0), hp.get("init_std_bias", 1.0), hp.get("init_std_out", 1.0))
        trajectory = self.trajectory if self.mode == "trajectory" else None
        steps = self.steps or (trainer.global_step if trajectory is not None else None)
        x, y = dm.splits["val"]
        was_training = net.training
        net.eval()
        for probe in self.probes:
            fg = train_foreground(net, lambda g: dm.sample(batch, g, device), self.n_neurons, steps=steps, lr=lr,
                                  weight_decay=wd, trajectory=trajectory, probe=probe, init_std=init_std,
                                  layer=self.layer, seed=self.seed)
            self.foregrounds[probe] = fg
            self.metrics[probe] = compare(net, fg, x, y)
            for logger in trainer.loggers:
                logger.log_metrics({f"foreground/{probe}/{k}": v for k, v in self.metrics[probe].items()},
                                   step=trainer.global_step)
        net.train(was_training)
        if self.save and trainer.is_global_zero:
            from mfnn.callbacks.neuron_cloud import run_dir

            out = run_dir(trainer)
            out.mkdir(parents=True, exist_ok=True)
            torch.save({"mode": self.mode, "metrics": self.metrics,
                        "foregrounds": {p: vars(fg) for p, fg in self.foregrounds.items()}}, out / "foreground.pt")
        self.trajectory = None  # the recorded states are large; the results are what is kept
