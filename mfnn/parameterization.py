"""How a network's parameters scale with its width, decided in one place.

A hidden layer of N neurons enters the next quantity as s_N * sum_i a_i phi_i. The parameterisation fixes
s_N, the law of a_i at initialisation and the learning-rate multiplier that SGD-like optimisers apply to a
neuron's own parameters (as microsoft/mup decides each parameter's scaling once, from its role):

    mean_field  s_N = 1/N,        a ~ N(0, s_out^2),     SGD lr x N   (each neuron moves O(1): feature learning)
    ntk         s_N = 1/sqrt(N),  a ~ N(0, s_out^2),     SGD lr x 1   (lazy training)
    standard    s_N = 1,          a ~ N(0, s_out^2 / N), SGD lr x 1   (PyTorch-like)

Modules keep the *unscaled* optimiser settings the user wrote (`MFNNModule.optimizer_settings`); the scale
is applied once, when the optimiser is built (`scale_param_groups`). Adam-like optimisers are scale-free
in this sense and get no multiplier.
"""
from __future__ import annotations

import math
from typing import Literal

import torch

Parameterization = Literal["mean_field", "ntk", "standard"]
PARAMETERIZATIONS = ("mean_field", "ntk", "standard")


def readout_scale(parameterization: str, width: int) -> float:
    """s_N: the multiplier on the sum over a layer's N neurons."""
    return {"mean_field": 1.0 / width, "ntk": 1.0 / math.sqrt(width), "standard": 1.0}[parameterization]


def sgd_lr_scale(parameterization: str, width: int) -> float:
    """Learning-rate multiplier for a neuron's own parameters under SGD-like optimisers: N in mean field
    (the gradient of one neuron is O(1/N)), else 1."""
    return float(width) if parameterization == "mean_field" else 1.0


def outgoing_std(parameterization: str, width: int, std: float) -> float:
    """Initial std of the outgoing weights a_i: std, divided by sqrt(N) under the standard parameterisation."""
    return std / math.sqrt(width) if parameterization == "standard" else std


def is_sgd_like(optimizer: torch.optim.Optimizer) -> bool:
    """SGD and optimisers that declare `sgd_like = True` (the Langevin sampler): their step is lr x gradient,
    so the width-dependent multiplier applies."""
    return isinstance(optimizer, torch.optim.SGD) or bool(getattr(optimizer, "sgd_like", False))


def scale_param_groups(optimizer: torch.optim.Optimizer) -> None:
    """Apply each group's `sgd_lr_scale` s (from `param_groups()`) in place: lr x s and weight_decay / s
    (so lr x weight_decay, the decay per step, is unchanged) for SGD-like optimisers; dropped otherwise."""
    sgd_like = is_sgd_like(optimizer)
    for group in optimizer.param_groups:
        scale = group.pop("sgd_lr_scale", 1.0) if sgd_like else 1.0
        group.pop("sgd_lr_scale", None)
        group["lr"] *= scale
        if "weight_decay" in group:
            group["weight_decay"] /= scale
