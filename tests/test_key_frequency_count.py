"""Counting key frequencies and the logits' 2D Fourier terms: the Nanda checks must tell 3 key
frequencies from 5, and a random embedding must not look like a grokked one."""
import math

import pytest
import torch

from mfnn.analysis.fourier import count_key_frequencies, frequency_power, significant_components, top_frequencies

P = 113


def embedding(freqs: list[int], d: int = 128, noise: float = 0.02, seed: int = 0) -> torch.Tensor:
    """W_E (p, d): each key frequency k writes cos/sin(2 pi k x / p) into random directions, plus noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(P, dtype=torch.float64)[:, None]
    W = noise * torch.randn(P, d, generator=g, dtype=torch.float64)
    for j, k in enumerate(freqs):
        amp = 1.0 + 0.5 * j  # unequal key powers, as in a trained model
        W += amp * torch.cos(2 * math.pi * k * x / P) * torch.randn(1, d, generator=g, dtype=torch.float64)
        W += amp * torch.sin(2 * math.pi * k * x / P) * torch.randn(1, d, generator=g, dtype=torch.float64)
    return W


@pytest.mark.parametrize("freqs", [[14, 35, 41], [4, 32, 43, 52], [14, 35, 41, 42, 52]])
def test_count_tells_three_from_five(freqs):
    power = frequency_power(embedding(freqs), dim=0).sum(0)
    n = count_key_frequencies(power)
    assert n == len(freqs)
    assert top_frequencies(power, n) == sorted(freqs)


def test_random_embedding_has_a_small_key_share():
    """Placebo: without Fourier structure the counted 'keys' carry a share of the power near their number
    over the p//2 frequencies, far below the 0.8 the replication requires."""
    power = frequency_power(torch.randn(P, 128, generator=torch.Generator().manual_seed(1), dtype=torch.float64),
                            dim=0).sum(0)
    n = count_key_frequencies(power)
    share = float(power[top_frequencies(power, n)].sum() / power[1:].sum())
    assert share < 0.3


@pytest.mark.parametrize("freqs", [[2, 5, 11], [2, 5, 11, 13, 14]])
def test_logits_of_the_fourier_algorithm_have_four_terms_per_key_frequency(freqs):
    """logits(a, b, c) = sum_k cos(w_k (a + b - c)): 4 product terms (cos cos, sin sin, cos sin, sin cos)
    per key frequency in the 2D Fourier basis of (a, b): 12 for 3 key frequencies, 20 for Nanda's 5."""
    p = 31  # small p: the 2D transform of (p, p, p) logits is cheap
    a = torch.arange(p, dtype=torch.float64)[:, None, None]
    b, c = a.transpose(0, 1), a.transpose(0, 2)
    logits = sum(torch.cos(2 * math.pi * k * (a + b - c) / p) for k in freqs)  # (p, p, p)
    n, _ = significant_components(logits)
    assert n == 4 * len(freqs)
