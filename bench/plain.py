"""Plain-PyTorch reference loops: what a researcher writes by hand, no Lightning, no mfnn.

Each `*_stepper(...)` builds parameters, optimiser and data and returns `step() -> loss`, one full-batch
training step. bench/run.py interleaves these with mfnn's steps in the same process.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def two_layer_stepper(width: int = 1024, batch: int = 1024, lr: float = 0.5, seed: int = 0):
    """Mean-field HardTanh net on continuous XOR, fresh uniform samples every step, SGD with lr*N."""
    torch.manual_seed(seed)
    W = torch.randn(width, 2, requires_grad=True)      # (N, d)
    b = torch.randn(width, requires_grad=True)         # (N,)
    a = torch.randn(width, 1, requires_grad=True)      # (N, 1)
    opt = torch.optim.SGD([W, b, a], lr=lr * width)
    gen = torch.Generator().manual_seed(seed)

    def step() -> torch.Tensor:
        x = 2 * torch.rand(batch, 2, generator=gen) - 1
        y = x[:, 0] * x[:, 1]
        h = F.hardtanh(x @ W.T / math.sqrt(2) + b)
        f = (h @ a).squeeze(-1) / width
        loss = F.mse_loss(f, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    return step
