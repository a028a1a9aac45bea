"""Langevin dynamics as an optimiser: samples a tempered posterior instead of finding a minimum.

    theta <- theta - lr * (grad L + weight_decay * theta) + sqrt(2 * lr * temperature) * xi,   xi ~ N(0, I)

For small lr the chain's stationary law is p(theta) ∝ exp(-(L(theta) + weight_decay |theta|^2 / 2) / temperature):
weight decay is a Gaussian prior of variance temperature / weight_decay.

Per-group learning rates are a constant diagonal preconditioner: they change how fast each group mixes,
never where it ends up. `sgd_like = True` lets `MFNNModule.configure_optimizers` apply a group's
`sgd_lr_scale` s (lr * s, weight_decay / s), so a group's prior precision is weight_decay / s. Models use that
to tie priors to fan-in: with weight_decay=1 and s = the group's prior variance (e.g. sigma_w^2 / fan_in) the
chain samples exactly that prior times the likelihood, at a step size matched to each group's scale.

The noise comes from the optimiser's own torch.Generator (seeded from `seed`, or from torch's initial seed,
which `seed_everything` sets), and its state travels in the optimiser's state_dict, so a resumed run draws the
same noise as an uninterrupted one.
"""
from __future__ import annotations

import math

import torch

from mfnn.errors import require


class Langevin(torch.optim.Optimizer):
    """Langevin dynamics: theta <- theta - lr (grad U + weight_decay theta) + sqrt(2 lr temperature) xi.

    Args:
        params: parameters or parameter groups.
        lr: step size (SGD-like: the parameterisation's width multiplier applies; mfnn requires it given).
        temperature: the noise temperature T (stationary law exp(-U / T)); 0 is plain gradient descent.
        weight_decay: precision of the Gaussian prior (weight_decay theta added to the gradient).
        seed: seed of the noise generator (default: torch.initial_seed(), which seed_everything sets).
    """

    sgd_like = True  # mean-field lr scaling (sgd_lr_scale) applies, as for SGD

    def __init__(self, params, lr: float = 1e-3, temperature: float = 1.0, weight_decay: float = 0.0,
                 seed: int | None = None):
        require(lr > 0, "lr", f"must be > 0 (got {lr})")
        require(temperature >= 0, "temperature", f"must be >= 0 (got {temperature})")
        require(weight_decay >= 0, "weight_decay", f"must be >= 0 (got {weight_decay})")
        super().__init__(params, dict(lr=lr, temperature=temperature, weight_decay=weight_decay))
        self.seed = int(torch.initial_seed() if seed is None else seed) % 2**63
        self.generator: torch.Generator | None = None
        self._pending_generator_state: torch.Tensor | None = None

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        if self.generator is None or self.generator.device != device:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(self.seed)
            if self._pending_generator_state is not None:
                self.generator.set_state(self._pending_generator_state)
                self._pending_generator_state = None
        return self.generator

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, T, wd = group["lr"], group["temperature"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                drift = p.grad.add(p, alpha=wd) if wd else p.grad
                p.add_(drift, alpha=-lr)
                if T > 0:
                    xi = torch.randn(p.shape, generator=self._noise_generator(p.device), device=p.device, dtype=p.dtype)
                    p.add_(xi, alpha=math.sqrt(2.0 * lr * T))
        return loss

    # ---- the noise stream is part of the state: resume-exact ---------------------------------
    def state_dict(self):
        state = super().state_dict()
        gen = self.generator
        state["langevin"] = {"seed": self.seed,
                             "generator_state": gen.get_state() if gen is not None else self._pending_generator_state}
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        extra = state_dict.pop("langevin", None)
        super().load_state_dict(state_dict)
        if extra is not None:
            self.seed = extra["seed"]
            self.generator, self._pending_generator_state = None, extra["generator_state"]
