"""Plain-PyTorch reference loops: what a researcher writes by hand, no Lightning, no mfnn.

Each `*_stepper(...)` builds parameters, optimiser and data and returns `step() -> loss`, one full-batch
training step. bench/run.py interleaves these with mfnn's steps in the same process. They are written
to be fast (data built once, gathers instead of one-hot matmuls, no per-step allocations we can avoid),
with the same optimiser, dtype and thread count as the mfnn run they are compared with.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def two_layer_stepper(width: int = 1024, batch: int = 1024, lr: float = 0.5, seed: int = 0):
    """Mean-field HardTanh net on continuous XOR, fresh uniform samples every step, SGD with lr*N."""
    torch.manual_seed(seed)
    W_in = torch.randn(width, 2, requires_grad=True)   # (N, d)
    b_in = torch.randn(width, requires_grad=True)      # (N,)
    a = torch.randn(width, 1, requires_grad=True)      # (N, 1)
    opt = torch.optim.SGD([W_in, b_in, a], lr=lr * width)
    gen = torch.Generator().manual_seed(seed)

    def step() -> torch.Tensor:
        x = 2 * torch.rand(batch, 2, generator=gen) - 1
        y = x[:, 0] * x[:, 1]
        h = F.hardtanh(x @ W_in.T / math.sqrt(2) + b_in)
        f = (h @ a).squeeze(-1) / width
        loss = F.mse_loss(f, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def gromov_stepper(p: int = 97, width: int = 500, fraction: float = 0.3, lr: float = 0.01,
                   weight_decay: float = 0.3, betas=(0.9, 0.98), seed: int = 0):
    """Gromov's two-layer quadratic MLP on (a + b) mod p: full batch, MSE on one-hot targets, AdamW.
    f(a, b) = (1/N) W_out^T (W_in[:, a] + W_in[:, p + b])^2, written as a gather of W_in's columns."""
    torch.manual_seed(seed)
    P = p * p
    idx = torch.randperm(P)[: round(fraction * P)]
    a, b = idx // p, idx % p
    Y = F.one_hot((a + b) % p, p).float()                  # (M, p)
    W_in = torch.randn(width, 2 * p, requires_grad=True)   # (N, 2p)
    W_out = torch.randn(width, p, requires_grad=True)      # (N, p)
    opt = torch.optim.AdamW([W_in, W_out], lr=lr, weight_decay=weight_decay, betas=betas)

    def step() -> torch.Tensor:
        E = W_in.T                                   # (2p, N): row j = input j's embedding
        h = (E[a] + E[p + b]).square()               # (M, N)
        out = h @ W_out / width                      # (M, p)
        loss = F.mse_loss(out, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    return step
