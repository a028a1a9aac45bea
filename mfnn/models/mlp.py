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

from mfnn.errors import require, require_choice, require_positive
from mfnn.models.base import MFNNModule, readout_scale

Activation = Literal["relu", "hardtanh", "erf", "tanh", "quadratic", "identity"]
Parameterization = Literal["mean_field", "ntk", "standard"]
Loss = Literal["mse", "cross_entropy"]

ACTIVATIONS = {
    "relu": F.relu,
    "hardtanh": F.hardtanh,
    "erf": torch.erf,
    "tanh": torch.tanh,
    "quadratic": torch.square,
    "identity": lambda z: z,
}


class MLPNet(nn.Module):
    """The network itself (no training logic): `depth` hidden layers of `width` neurons."""

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
        require_choice(parameterization, ("mean_field", "ntk", "standard"), "parameterization")
        for name, v in (("init_std_in", init_std_in), ("init_std_bias", init_std_bias), ("init_std_out", init_std_out)):
            require(v >= 0, name, f"must be >= 0 (got {v})")
        self.input_dim, self.width, self.depth, self.output_dim = input_dim, width, depth, output_dim
        self.activation, self.parameterization = activation, parameterization
        self.act = ACTIVATIONS[activation]
        self.readout_scale = readout_scale(parameterization, width)

        self.W_in = nn.Parameter(torch.randn(width, input_dim) * init_std_in)
        self.b_in = nn.Parameter(torch.randn(width) * init_std_bias) if bias else None
        self.W_hidden = nn.ParameterList([nn.Parameter(torch.randn(width, width)) for _ in range(depth - 1)])
        self.b_hidden = nn.ParameterList(
            [nn.Parameter(torch.randn(width) * init_std_bias) for _ in range(depth - 1)] if bias else []
        )
        out_std = init_std_out / math.sqrt(width) if parameterization == "standard" else init_std_out
        self.a = nn.Parameter(torch.randn(width, output_dim) * out_std)

    def hidden(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Post-activations of hidden layer `upto` (0-based; default the last). x: (B, d) -> (B, N)."""
        upto = self.depth - 1 if upto is None else upto
        z = x @ self.W_in.T / math.sqrt(self.input_dim)
        h = self.act(z + self.b_in if self.b_in is not None else z)
        for l in range(upto):
            z = h @ self.W_hidden[l].T / math.sqrt(self.width)
            h = self.act(z + self.b_hidden[l] if len(self.b_hidden) else z)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.readout_scale * (self.hidden(x) @ self.a)  # (B, C)
        return out.squeeze(-1) if self.output_dim == 1 else out

    def neurons(self, layer: int = 0) -> dict[str, torch.Tensor | None]:
        """The particles of hidden layer `layer`: incoming rows W (N, fan_in), bias b (N,),
        outgoing weights a (N, C) (the readout for the last layer, else the next layer's columns)."""
        require(0 <= layer < self.depth, "layer", f"must be in [0, {self.depth - 1}] (got {layer})")
        W = self.W_in if layer == 0 else self.W_hidden[layer - 1]
        b = self.b_in if layer == 0 else (self.b_hidden[layer - 1] if len(self.b_hidden) else None)
        a = self.a if layer == self.depth - 1 else self.W_hidden[layer].T
        return {"W": W, "b": b, "a": a}


class MLP(MFNNModule):
    """Fully connected network trained on (x, y) batches with MSE or cross-entropy."""

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
        # Mean-field SGD: every neuron's own parameters get an O(N) step (see readout_scale).
        scale = float(self.net.width) if self.net.parameterization == "mean_field" else 1.0
        return [{"params": list(self.net.parameters()), "sgd_lr_scale": scale}]

    def loss_and_metrics(self, batch, stage):
        x, y = batch
        out = self.net(x)
        if self.loss_name == "mse":
            loss = F.mse_loss(out, y)
            return loss, {"mse": loss.detach()}
        loss = F.cross_entropy(out, y)
        return loss, {"acc": (out.argmax(-1) == y).float().mean()}


class TwoLayerMLP(MLP):
    """f(x) = s_N sum_i a_i act(w_i . x / sqrt(d) + b_i): one hidden layer (the mean-field workhorse)."""

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


class DeepMLP(MLP):
    """`depth` hidden layers of equal width; mean-field/ntk/standard applies to the readout."""

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
