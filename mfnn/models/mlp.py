"""Two-layer and deep MLPs under mean-field, NTK (lazy) and standard parameterisations.

    h_1 = act(W_in x / sqrt(d) + b_in)                    W_in: (N, d)     b_in: (N,)
    h_l = act(W_hidden[l] h_{l-1} / sqrt(N) + b_hidden[l]) W_hidden[l]: (N, N)
    f   = s_N * h_L @ a                                     a: (N, C)

All weights are O(1) at initialisation (rows of W_in *are* the neuron cloud); the readout
multiplier s_N is 1/N (mean_field), 1/sqrt(N) (ntk) or 1 with a ~ N(0, 1/N) (standard).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torchmetrics.functional.classification import multiclass_accuracy

from mfnn.errors import require, require_choice, require_fits_in_memory, require_positive
from mfnn.models.base import MFNNModule, documents_training_args
from mfnn.parameterization import PARAMETERIZATIONS, Parameterization, outgoing_std, readout_scale, sgd_lr_scale

Activation = Literal["relu", "hardtanh", "erf", "tanh", "quadratic", "identity"]
Loss = Literal["mse", "cross_entropy"]

ACTIVATIONS = {
    "relu": F.relu,
    "hardtanh": F.hardtanh,
    "erf": torch.erf,
    "tanh": torch.tanh,
    "quadratic": torch.square,
    "identity": lambda z: z,
}


def act_and_slope(name: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """act(z) and act'(z) for the activations above (hand-written gradients of the foreground neurons)."""
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
    raise NotImplementedError(f"no slope for activation {name!r}")


class MLPNet(nn.Module):
    """The network itself (no training logic): `depth` hidden layers of `width` neurons.

    It owns its layer functions (`neuron_features`, `layer_input`, `next_preactivation`, `forward_from`,
    `initial_neurons`): the foreground neurons of `mfnn.foreground` are computed with exactly these."""

    def __init__(
        self,
        input_dim: int,
        width: int,
        depth: int = 1,
        output_dim: int = 1,
        activation: str = "relu",
        parameterization: str = "mean_field",
        bias: bool = True,
        init_std_in: float = 1.0,
        init_std_bias: float = 1.0,
        init_std_out: float = 1.0,
    ):
        super().__init__()
        require_positive(input_dim, "input_dim")
        require_positive(width, "width")
        require(depth is not None and depth >= 1, "depth", f"must be >= 1 (got {depth!r})")
        require_positive(output_dim, "output_dim")
        require_choice(activation, ACTIVATIONS, "activation")
        require_choice(parameterization, PARAMETERIZATIONS, "parameterization")
        for name, v in (("init_std_in", init_std_in), ("init_std_bias", init_std_bias), ("init_std_out", init_std_out)):
            require(math.isfinite(v) and v >= 0, name, f"must be >= 0 and finite (got {v})")
        require_fits_in_memory(width * (input_dim + 2 + output_dim) + (depth - 1) * width * (width + 1), "width")
        self.input_dim, self.width, self.depth, self.output_dim = input_dim, width, depth, output_dim
        self.activation, self.parameterization = activation, parameterization
        self.init_std = {"in": init_std_in, "bias": init_std_bias, "out": init_std_out}
        self.act = ACTIVATIONS[activation]
        self.readout_scale = readout_scale(parameterization, width)
        self.sgd_lr_scale = sgd_lr_scale(parameterization, width)

        self.W_in = nn.Parameter(torch.randn(width, input_dim) * init_std_in)
        self.b_in = nn.Parameter(torch.randn(width) * init_std_bias) if bias else None
        self.W_hidden = nn.ParameterList([nn.Parameter(torch.randn(width, width)) for _ in range(depth - 1)])
        self.b_hidden = nn.ParameterList(
            [nn.Parameter(torch.randn(width) * init_std_bias) for _ in range(depth - 1)] if bias else []
        )
        self.a = nn.Parameter(torch.randn(width, output_dim) * outgoing_std(parameterization, width, init_std_out))

    # ---- layer functions ------------------------------------------------------------------------
    def neuron_features(self, h: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        """act(h W^T / sqrt(fan_in) + b) for any neurons (W, b): h (B, fan_in), W (M, fan_in), b (M,) -> (B, M)."""
        z = h @ W.T / math.sqrt(W.shape[1])
        return self.act(z + b if b is not None else z)

    def hidden(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Post-activations of hidden layer `upto` (0-based; default the last). x: (B, d) -> (B, N)."""
        upto = self.depth - 1 if upto is None else upto
        h = self.neuron_features(x, self.W_in, self.b_in)
        for l in range(upto):
            h = self.neuron_features(h, self.W_hidden[l], self.b_hidden[l] if len(self.b_hidden) else None)
        return h

    def layer_input(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """What the neurons of hidden layer `layer` see: x for layer 0, else hidden layer layer-1."""
        return x if layer == 0 else self.hidden(x, layer - 1)

    def next_preactivation(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """z_{layer+1} (B, N) from hidden layer `layer`'s post-activations h (B, N)."""
        z = h @ self.W_hidden[layer].T / math.sqrt(self.width)
        return z + self.b_hidden[layer] if len(self.b_hidden) else z

    def forward_from(self, z: torch.Tensor, layer: int) -> torch.Tensor:
        """The rest of the forward from z (B, N), the pre-activation of hidden layer `layer` (>= 1):
        act, the layers above, the readout -> (B, C)."""
        h = self.act(z)
        for l in range(layer, self.depth - 1):
            h = self.act(self.next_preactivation(h, l))
        return self.readout_scale * (h @ self.a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.readout_scale * (self.hidden(x) @ self.a)  # (B, C)
        return out.squeeze(-1) if self.output_dim == 1 else out

    def act_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return act_and_slope(self.activation, z)

    def neurons(self, layer: int = 0) -> dict[str, torch.Tensor | None]:
        """The particles of hidden layer `layer`: incoming rows W (N, fan_in), bias b (N,),
        outgoing weights a (N, C) (the readout for the last layer, else the next layer's columns)."""
        require(0 <= layer < self.depth, "layer", f"must be in [0, {self.depth - 1}] (got {layer})")
        W = self.W_in if layer == 0 else self.W_hidden[layer - 1]
        b = self.b_in if layer == 0 else (self.b_hidden[layer - 1] if len(self.b_hidden) else None)
        a = self.a if layer == self.depth - 1 else self.W_hidden[layer].T
        return {"W": W, "b": b, "a": a}

    def initial_neurons(self, layer: int, n: int, generator: torch.Generator, device=None):
        """n fresh neurons of hidden layer `layer` from this net's initial law: incoming w ~ N(0, s_in^2)
        (s_in = 1 for hidden rows), b ~ N(0, s_b^2), outgoing a ~ N(0, outgoing_std^2) for the last layer,
        a ~ N(0, 1) (W_hidden's columns) for a middle one. -> (W (n, fan_in), b (n,) or None, a (n, C or N))."""
        last = layer == self.depth - 1
        fan_in = self.input_dim if layer == 0 else self.width
        std_in = self.init_std["in"] if layer == 0 else 1.0
        std_out = outgoing_std(self.parameterization, self.width, self.init_std["out"]) if last else 1.0
        kw = dict(generator=generator, device=device)
        W = torch.randn(n, fan_in, **kw) * std_in
        b = torch.randn(n, **kw) * self.init_std["bias"] if self.neurons(layer)["b"] is not None else None
        a = torch.randn(n, self.output_dim if last else self.width, **kw) * std_out
        return W, b, a


MLP_ARGS_DOC = """

    Args:
        input_dim: input dimension d (inputs enter as x / sqrt(d)).
        width: hidden neurons N per layer.{depth}
        output_dim: outputs C (1: a scalar regression target).
        activation: the hidden nonlinearity.
        parameterization: how the readout scales with N: mean_field (1/N, feature learning), ntk (1/sqrt(N),
            lazy) or standard (1, with readout weights of std 1/sqrt(N)).
        bias: give each hidden neuron a bias.
        init_std_in: std of the incoming weights at initialisation.
        init_std_bias: std of the biases at initialisation.
        init_std_out: std of the readout weights at initialisation (divided by sqrt(N) under standard).
        loss: mse (regression) or cross_entropy (classification, targets are class indices)."""
# MLP_ARGS_DOC: the Args shared by MLP, TwoLayerMLP and DeepMLP ({depth}: each class's own depth line).


@documents_training_args
class MLP(MFNNModule):
    __doc__ = ("Fully connected network trained on (x, y) batches with MSE or cross-entropy."
               + MLP_ARGS_DOC.format(depth="\n        depth: hidden layers."))

    def __init__(
        self,
        input_dim: int = 2,
        width: int = 1024,
        depth: int = 1,
        output_dim: int = 1,
        activation: Activation = "relu",
        parameterization: Parameterization = "mean_field",
        bias: bool = True,
        init_std_in: float = 1.0,
        init_std_bias: float = 1.0,
        init_std_out: float = 1.0,
        loss: Loss = "mse",
        optimizer: OptimizerCallable = torch.optim.SGD,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require_choice(loss, ("mse", "cross_entropy"), "loss")
        self.save_hyperparameters(ignore=["optimizer"])
        self.loss_name = loss
        self.net = MLPNet(input_dim, width, depth, output_dim, activation, parameterization, bias,
                          init_std_in, init_std_bias, init_std_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def param_groups(self):
        return [{"params": list(self.net.parameters()), "sgd_lr_scale": self.net.sgd_lr_scale}]

    def loss_and_metrics(self, batch, stage):
        x, y = batch
        out = self.net(x).float()  # bf16-mixed: the loss in float32
        if self.loss_name == "mse":
            loss = F.mse_loss(out, y)
            return loss, {"mse": loss.detach()}
        loss = F.cross_entropy(out, y)
        # torchmetrics' multiclass accuracy (micro average: the fraction of correct samples)
        return loss, {"acc": multiclass_accuracy(out.detach(), y, num_classes=out.shape[-1], average="micro")}


@documents_training_args
class TwoLayerMLP(MLP):
    __doc__ = ("f(x) = s_N sum_i a_i act(w_i . x / sqrt(d) + b_i): one hidden layer (the mean-field workhorse)."
               + MLP_ARGS_DOC.format(depth=""))

    def __init__(
        self,
        input_dim: int = 2,
        width: int = 1024,
        output_dim: int = 1,
        activation: Activation = "relu",
        parameterization: Parameterization = "mean_field",
        bias: bool = True,
        init_std_in: float = 1.0,
        init_std_bias: float = 1.0,
        init_std_out: float = 1.0,
        loss: Loss = "mse",
        optimizer: OptimizerCallable = torch.optim.SGD,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(input_dim, width, 1, output_dim, activation, parameterization, bias, init_std_in,
                         init_std_bias, init_std_out, loss, optimizer, warmup_steps, compile)


@documents_training_args
class DeepMLP(MLP):
    __doc__ = ("`depth` hidden layers of equal width; mean-field/ntk/standard applies to the readout."
               + MLP_ARGS_DOC.format(depth="\n        depth: hidden layers (hidden-to-hidden weights enter as W h / sqrt(N))."))

    def __init__(
        self,
        input_dim: int = 2,
        width: int = 256,
        depth: int = 3,
        output_dim: int = 1,
        activation: Activation = "relu",
        parameterization: Parameterization = "mean_field",
        bias: bool = True,
        init_std_in: float = 1.0,
        init_std_bias: float = 1.0,
        init_std_out: float = 1.0,
        loss: Loss = "mse",
        optimizer: OptimizerCallable = torch.optim.SGD,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(input_dim, width, depth, output_dim, activation, parameterization, bias, init_std_in,
                         init_std_bias, init_std_out, loss, optimizer, warmup_steps, compile)
