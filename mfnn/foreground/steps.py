"""The two batched SGD kernels of foreground neurons (plain torch, exact hand-written gradients).

M neurons are one (M, fan_in) tensor; no neuron sees another, so a step for all of them is one program.
Activations and their slopes come from the network (`mfnn.models.mlp.act_and_slope`).
"""
from __future__ import annotations

import math

import torch
from einops import einsum

from mfnn.models.mlp import act_and_slope


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
