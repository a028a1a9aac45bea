"""Discrete Fourier analysis over Z_p: what grokking networks learn for (a + b) mod p.

Frequencies are k = 0 .. p//2 with k and -k merged (real signals), so a single cosine at one
frequency has all its power in one bin. The orthonormal real basis (rows) is
    [1/sqrt p,  sqrt(2/p) cos(2 pi k x/p), sqrt(2/p) sin(2 pi k x/p)  for k = 1 .. (p-1)/2]
(plus the Nyquist cosine cos(pi x)/sqrt p for even p).
"""
from __future__ import annotations

import math

import torch
from einops import einsum


def fourier_basis(p: int, dtype=torch.float32, device=None) -> tuple[torch.Tensor, list[str]]:
    """Orthonormal real Fourier basis over Z_p: (p, p) rows, and their names ("const", "cos 3", ...)."""
    x = torch.arange(p, dtype=torch.float64)
    rows, names = [torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64)], ["const"]
    for k in range(1, (p - 1) // 2 + 1):
        rows += [math.sqrt(2 / p) * torch.cos(2 * math.pi * k * x / p), math.sqrt(2 / p) * torch.sin(2 * math.pi * k * x / p)]
        names += [f"cos {k}", f"sin {k}"]
    if p % 2 == 0:
        rows.append(torch.cos(math.pi * x) / math.sqrt(p))
        names.append(f"cos {p // 2}")
    return torch.stack(rows).to(dtype=dtype, device=device), names


def frequency_power(W: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Squared norm of W along `dim` (length p) carried by each frequency k = 0 .. p//2 (merged +-k).
    Sums to ||W||^2 along that dim (Parseval). Output: `dim` replaced by p//2 + 1 bins, moved last."""
    W = W.movedim(dim, -1)
    p = W.shape[-1]
    X = torch.fft.rfft(W.double(), dim=-1)  # (..., p//2 + 1)
    power = X.abs().square() / p
    weight = torch.full((power.shape[-1],), 2.0, dtype=power.dtype, device=power.device)
    weight[0] = 1.0
    if p % 2 == 0:
        weight[-1] = 1.0
    return (power * weight).to(W.dtype if W.is_floating_point() else torch.float32)


def ipr(W: torch.Tensor, r: float = 2.0, dim: int = -1) -> torch.Tensor:
    """Inverse participation ratio of the non-constant Fourier power of W along `dim`:
    sum_k P_k^r / (sum_k P_k)^r over k >= 1. 1 for a single frequency, 1/n_freq when spread evenly."""
    P = frequency_power(W, dim)[..., 1:]
    return P.pow(r).sum(-1) / P.sum(-1).pow(r)


def neuron_ipr(W_in: torch.Tensor, p: int, r: float = 2.0) -> torch.Tensor:
    """Gromov MLP: IPR of each neuron's first-layer row, averaged over its a and b halves. W_in (..., N, 2p) -> (..., N)."""
    return 0.5 * (ipr(W_in[..., :p], r) + ipr(W_in[..., p:], r))


def coefficient_at(W: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """A e^{i phi} with W_x ~ A cos(2 pi k x / p + phi) for each row of W (N, p) at its own frequency
    k (N,), 1 <= k < p/2. Complex (N,)."""
    p = W.shape[-1]
    X = torch.fft.rfft(W.double(), dim=-1)  # X_k = (p A / 2) e^{i phi}
    return X.gather(-1, k[:, None]).squeeze(-1) * (2 / p)


def phase_at(W: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """phi with W_x ~ A cos(2 pi k x / p + phi) for each row of W (N, p) at its own frequency k (N,)."""
    return torch.angle(coefficient_at(W, k)).float()


def dominant_frequency(W_in: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gromov MLP: each neuron's frequency k >= 1 with the most power over both halves of its W_in
    row (N, 2p), and the share of the row's non-constant power it carries. (N,) each."""
    power = (frequency_power(W_in[..., :p]) + frequency_power(W_in[..., p:]))[..., 1:]
    top = power.max(-1)
    return top.indices + 1, top.values / power.sum(-1)


def wrap(phi: torch.Tensor) -> torch.Tensor:
    """Angles to (-pi, pi]."""
    return torch.remainder(phi + math.pi, 2 * math.pi) - math.pi


def neuron_phases(W_in: torch.Tensor, W_out: torch.Tensor, p: int) -> dict[str, torch.Tensor]:
    """Gromov's analytic solution has, per neuron, one frequency k and
        W_in[:, a] ~ cos(w a + phi1), W_in[:, p + b] ~ cos(w b + phi2), W_out[:, c] ~ cos(w c + phi3),
    with phi1 + phi2 - phi3 = 0 (mod 2 pi). W_in (N, 2p), W_out (N, p) -> per neuron: freq, phi1, phi2,
    phi3 and phase_sum = wrap(phi1 + phi2 - phi3)."""
    W_a, W_b = W_in[:, :p], W_in[:, p:]
    k, _ = dominant_frequency(W_in, p)
    phi1, phi2, phi3 = phase_at(W_a, k), phase_at(W_b, k), phase_at(W_out, k)
    return {"freq": k, "phi1": phi1, "phi2": phi2, "phi3": phi3, "phase_sum": wrap(phi1 + phi2 - phi3)}


def key_frequencies(W_E: torch.Tensor, n: int = 5) -> tuple[list[int], torch.Tensor]:
    """The n frequencies carrying the most power in the token embedding W_E (p, d) (over tokens),
    sorted by frequency, and the power of every frequency k = 0 .. p//2."""
    power = frequency_power(W_E, dim=0).sum(0)  # (p//2 + 1,)
    top = torch.topk(power[1:], n).indices + 1
    return sorted(int(k) for k in top), power


def component_norms(W: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Norm of W's projection on each Fourier basis vector along `dim` (length p): (p,) in basis order."""
    W = W.movedim(dim, 0)
    B, _ = fourier_basis(W.shape[0], W.dtype, W.device)
    coeffs = B @ W.reshape(W.shape[0], -1)  # (p, rest)
    return coeffs.norm(dim=1)


def gini(x: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of non-negative values: 0 when all equal, -> 1 when one value holds everything."""
    x = x.flatten().double().sort().values
    n = x.numel()
    i = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    return ((2 * i - n - 1) * x).sum() / (n * x.sum())


def logits_fourier_2d(logits: torch.Tensor) -> torch.Tensor:
    """Logits over all pairs (p, p, C) [a, b, class] -> coefficients (p, p, C) in the product basis."""
    p = logits.shape[0]
    B, _ = fourier_basis(p, logits.dtype, logits.device)
    return einsum(B, B, logits, "i a, j b, a b c -> i j c")


def significant_components(logits: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """How many 2D Fourier components (i, j) of the logits (p, p, C) carry more than `threshold` of
    the squared norm left after removing each class's mean over pairs; and the (p, p) norms."""
    coeffs = logits_fourier_2d(logits)
    sq = coeffs.square().sum(-1)  # (p, p)
    sq[0, 0] = 0.0  # the per-class constant does not depend on (a, b)
    return int((sq > threshold * sq.sum()).sum()), sq.sqrt()


def trig_directions(p: int, freqs: list[int], dtype=torch.float32, device=None) -> torch.Tensor:
    """Orthonormal functions of (a, b) (rows, flattened a-major to p^2): cos(w(a+b)), sin(w(a+b))
    for w = 2 pi k / p, k in freqs. (2 len(freqs), p^2)."""
    a = torch.arange(p, dtype=torch.float64, device=device).repeat_interleave(p)
    b = torch.arange(p, dtype=torch.float64, device=device).repeat(p)
    rows = []
    for k in freqs:
        w = 2 * math.pi * k / p
        rows += [torch.cos(w * (a + b)), torch.sin(w * (a + b))]
    D = torch.stack(rows)
    return (D / D.norm(dim=1, keepdim=True)).to(dtype)


def key_frequency_logits(logits: torch.Tensor, p: int, freqs: list[int]) -> torch.Tensor:
    """Projection of logits (p^2, C) onto span{cos w(a+b), sin w(a+b) : key w}, per class."""
    D = trig_directions(p, freqs, logits.dtype, logits.device)  # (2F, P)
    return D.T @ (D @ logits)


def count_key_frequencies(power: torch.Tensor, min_share: float = 0.05) -> int:
    """How many frequencies k >= 1 of a Fourier power spectrum (p//2 + 1,) each carry at least `min_share`
    of the non-constant power. 5%: the paper's largest key set (5) split evenly gives 20% each, so a key
    frequency at a quarter of that still counts, while a random embedding spreads ~1/(p//2) (1.8% at
    p = 113) over every frequency and a pruned remnant of a trained one holds ~1% or less."""
    P = power[1:].double()
    return int((P / P.sum() >= min_share).sum())


def top_frequencies(power: torch.Tensor, n: int) -> list[int]:
    """The n frequencies k >= 1 with the most power, sorted by frequency."""
    return sorted(int(k) for k in torch.topk(power[1:], n).indices + 1)
