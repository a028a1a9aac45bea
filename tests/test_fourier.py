"""Fourier tools on synthetic weights with known answers."""
import math

import pytest
import torch

from mfnn.analysis.fourier import (coefficient_at, component_norms, dominant_frequency, fourier_basis, frequency_power,
                                   gini, ipr, key_frequencies, key_frequency_logits, neuron_ipr, neuron_phases,
                                   significant_components, wrap)
from mfnn.analysis.phases import critical_fraction, first_step_at_least, nanda_phases

P = 11


def cosine(k, phase, p=P, amp=1.0):
    x = torch.arange(p, dtype=torch.float64)
    return amp * torch.cos(2 * math.pi * k * x / p + phase)


@pytest.mark.parametrize("p", [11, 12])
def test_basis_is_orthonormal(p):
    B, names = fourier_basis(p, torch.float64)
    assert B.shape == (p, p) and len(names) == p
    assert torch.allclose(B @ B.T, torch.eye(p, dtype=torch.float64), atol=1e-12)


def test_power_of_a_cosine_sits_in_its_frequency_and_obeys_parseval():
    W = torch.randn(4, P, dtype=torch.float64)
    assert torch.allclose(frequency_power(W).sum(-1), W.square().sum(-1))
    power = frequency_power(cosine(3, 0.7, amp=2.0)[None])[0]
    assert power.argmax() == 3 and power[3] == pytest.approx(4.0 * P / 2)
    assert power[torch.arange(len(power)) != 3].abs().max() < 1e-9


def test_ipr_single_frequency_is_one_two_equal_frequencies_half():
    assert ipr(cosine(2, 0.3)[None]).item() == pytest.approx(1.0)
    assert ipr((cosine(2, 0.3) + cosine(4, 1.1))[None]).item() == pytest.approx(0.5)
    W_in = torch.cat([cosine(5, 0.1), cosine(5, 2.0)])[None]  # one neuron, a and b halves
    assert neuron_ipr(W_in, P).item() == pytest.approx(1.0)


def test_neuron_phases_recover_frequencies_and_the_phase_relation():
    freqs, N = [1, 3, 4, 5, 2], 5
    g = torch.Generator().manual_seed(0)
    phi1, phi2 = (torch.rand(N, generator=g, dtype=torch.float64) * 6 - 3 for _ in range(2))
    W_in = torch.stack([torch.cat([cosine(k, a), cosine(k, b)]) for k, a, b in zip(freqs, phi1, phi2)])
    W_out = torch.stack([cosine(k, a + b, amp=0.5) for k, a, b in zip(freqs, phi1, phi2)])
    out = neuron_phases(W_in, W_out, P)
    assert out["freq"].tolist() == freqs
    assert torch.allclose(out["phi1"].double(), wrap(phi1), atol=1e-5)
    assert out["phase_sum"].abs().max() < 1e-5
    W_bad = torch.stack([cosine(k, a + b + 1.5) for k, a, b in zip(freqs, phi1, phi2)])
    assert torch.allclose(neuron_phases(W_in, W_bad, P)["phase_sum"], torch.full((N,), -1.5), atol=1e-5)


def test_coefficient_and_dominant_frequency_of_known_cosines():
    amps, phases, freqs = [2.0, 0.5, 1.0], [0.3, -2.0, 1.2], [1, 4, 5]
    W = torch.stack([cosine(k, ph, amp=A) for k, ph, A in zip(freqs, phases, amps)])
    z = coefficient_at(W, torch.tensor(freqs))
    assert torch.allclose(z.abs(), torch.tensor(amps, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(torch.angle(z), torch.tensor(phases, dtype=torch.float64), atol=1e-9)
    # neuron 0: frequency 3 on both halves plus a weaker 2 on one: dominant 3 with share 2*4 / (2*4 + 1)
    W_in = torch.stack([torch.cat([cosine(3, 0.1, amp=2.0) + cosine(2, 0.0), cosine(3, 1.0, amp=2.0)]),
                        torch.cat([cosine(5, 0.0), cosine(5, 0.4)])])
    k, share = dominant_frequency(W_in, P)
    assert k.tolist() == [3, 5]
    assert share[0].item() == pytest.approx(8 / 9) and share[1].item() == pytest.approx(1.0)
    # a random row spreads its power: IPR ~ 2 / (number of frequencies), far from 1
    g = torch.Generator().manual_seed(0)
    assert neuron_ipr(torch.randn(2000, 2 * 97, generator=g), 97).mean().item() == pytest.approx(2 / 48, rel=0.1)


def test_key_frequencies_of_an_embedding_built_from_known_cosines():
    p, d = 23, 16
    g = torch.Generator().manual_seed(1)
    W_E = sum(torch.outer(cosine(k, 0.4 * k, p), torch.randn(d, generator=g, dtype=torch.float64)) for k in (3, 7, 9))
    W_E = W_E + 0.01 * torch.randn(p, d, generator=g, dtype=torch.float64)
    freqs, power = key_frequencies(W_E, 3)
    assert freqs == [3, 7, 9] and power.shape == (p // 2 + 1,)


def test_gini_and_component_norms():
    assert gini(torch.ones(10)).item() == pytest.approx(0.0, abs=1e-12)
    assert gini(torch.eye(10)[0]).item() == pytest.approx(0.9)
    norms = component_norms(torch.outer(cosine(2, 0.0), torch.ones(3, dtype=torch.float64)), dim=0)
    _, names = fourier_basis(P)
    assert names[int(norms.argmax())] == "cos 2" and gini(norms).item() > 0.85


def test_logit_components_and_key_frequency_projection():
    p = 13
    a = torch.arange(p, dtype=torch.float64)
    wa = 2 * math.pi / p
    # logits[a, b, c] = sum_k cos(w_k (a + b - c)) for k in {2, 5}: 4 components per frequency
    s = a[:, None, None] + a[None, :, None] - a[None, None, :]
    logits = torch.cos(wa * 2 * s) + torch.cos(wa * 5 * s)
    n, norms = significant_components(logits)
    assert n == 8 and norms.shape == (p, p)
    flat = logits.reshape(p * p, p)
    assert torch.allclose(key_frequency_logits(flat, p, [2, 5]), flat, atol=1e-9)
    assert key_frequency_logits(flat, p, [3]).abs().max() < 1e-9


def test_phase_readers():
    assert first_step_at_least([0, 10, 20], [0.1, 0.99, 1.0], 0.99) == 10
    assert math.isnan(first_step_at_least([0, 10], [0.1, 0.2], 0.99))
    assert critical_fraction([0.1, 0.2, 0.3, 0.5], [0.02, 0.4, 0.995, 1.0]) == pytest.approx(0.25)
    assert math.isnan(critical_fraction([0.1, 0.2], [0.1, 0.2]))
    ph = nanda_phases([0, 1, 2, 3, 4], [0.5, 1, 1, 1, 1], [0, 0, 0.6, 1, 1], [0.1, 0.1, 0.3, 0.8, 0.8])
    assert ph == {"memorisation_end": 1.0, "circuit_formation_end": 2.0, "cleanup_end": 3.0}
