"""ErfStudent (batched Bayesian erf chains) and the first-order-transition analysis."""
import math

import numpy as np
import pytest
import torch

from mfnn.analysis.first_order import droplet_mode, onset, single_neuron_theory, slopes_around
from mfnn.errors import ConfigError
from mfnn.models.teacher_student import ErfStudent


def small(**kw):
    args = dict(input_dim=6, width=5, noise_vars=[0.1, 0.3], chains_per_point=2, sigma_w2=0.5, sigma_a2=0.2)
    return ErfStudent(**{**args, **kw})


def test_forward_matches_a_loop_over_chains_and_neurons():
    torch.manual_seed(0)
    m = small()
    x = torch.randn(7, 6)
    f = m(x)
    assert f.shape == (4, 7)
    ref = torch.stack([sum(m.a[c, i] * torch.erf(x @ m.W[c, i]) for i in range(5)) for c in range(4)])
    torch.testing.assert_close(f, ref)


def test_chain_c_sits_at_its_noise_variance_and_chains_are_independent():
    torch.manual_seed(0)
    m = small()
    assert m.noise_var.tolist() == pytest.approx([0.1, 0.1, 0.3, 0.3])
    x, y = torch.randn(9, 6), torch.randn(9)
    loss, metrics = m.loss_and_metrics((x, y), "train")
    sse = (m(x) - y).square().sum(-1)
    torch.testing.assert_close(loss, (sse / (2 * m.noise_var)).sum())
    loss.backward()
    # the gradient of chain 0 is the gradient of its own potential alone
    W0 = m.W.detach()[0].clone().requires_grad_()
    own = (torch.erf(x @ W0.T) @ m.a.detach()[0] - y).square().sum() / (2 * 0.1)
    own.backward()
    torch.testing.assert_close(m.W.grad[0], W0.grad)
    assert set(metrics) >= {"mse", "overlap", "frac_specialised"}


def test_priors_are_tied_to_fan_in():
    m = small()
    groups = m.param_groups()
    assert groups[0]["params"][0] is m.W and groups[0]["sgd_lr_scale"] == pytest.approx(0.5 / 6)
    assert groups[1]["params"][0] is m.a and groups[1]["sgd_lr_scale"] == pytest.approx(0.2 / 5)
    # initial draw from the prior: Var W = sigma_w^2 / d
    big = ErfStudent(input_dim=50, width=400, noise_vars=[0.2], sigma_w2=0.5, sigma_a2=1.0)
    assert big.W.var().item() == pytest.approx(0.5 / 50, rel=0.05)


def test_order_parameters_and_cos_histogram():
    m = small()
    with torch.no_grad():
        m.W.zero_()
        m.W[:, :, 1] = 1.0  # every neuron orthogonal to w* = e_0
        m.W[0, :2] = torch.tensor([2.0, 0, 0, 0, 0, 0])  # two neurons of chain 0 on the teacher
    op = m.order_parameters()
    assert op["frac_specialised"].tolist() == pytest.approx([0.4, 0, 0, 0])
    assert op["overlap"][0].item() == pytest.approx(2 * 2 / 5)
    h = m.cos_histogram()
    assert h.shape[0] == 4 and torch.allclose(h.sum(-1), torch.ones(4))
    assert h[0, -1].item() == pytest.approx(0.4) and h[0, 0].item() == pytest.approx(0.6)


def test_bad_arguments_name_the_field():
    with pytest.raises(ConfigError, match="noise_vars"):
        small(noise_vars=[0.1, -1.0])
    with pytest.raises(ConfigError, match="specialised_cos"):
        small(specialised_cos=1.5)


def test_droplet_mode_onset_and_kink():
    c = (np.arange(40) + 0.5) / 40
    bulk = np.exp(-c**2 / (2 * 0.15**2))
    bimodal = bulk / bulk.sum() * 0.97 + 0.03 * np.exp(-(c - 0.85) ** 2 / (2 * 0.03**2)) / np.exp(
        -(c - 0.85) ** 2 / (2 * 0.03**2)).sum()
    dr = droplet_mode(bimodal)
    assert dr["present"] and 0.8 < dr["peak_cos"] < 0.9 and 0.83 < dr["alignment"] < 0.87
    assert dr["mass"] == pytest.approx(0.03, abs=0.01)
    assert not droplet_mode(bulk / bulk.sum())["present"]
    tr = onset([0.3, 0.1, 0.2, 0.15], [False, True, False, True])
    assert tr == {"sigma2_c": pytest.approx(0.175), "last_with": 0.15, "first_without": 0.2, "clean": True}
    assert not onset([0.1, 0.2, 0.3], [True, False, True])["clean"]
    s = slopes_around([0.1, 0.15, 0.2, 0.25, 0.3], [1.0, 1.5, 2.0, 2.25, 2.5], 0.2)
    assert s["below"] == pytest.approx(10) and s["above"] == pytest.approx(5) and s["ratio"] == pytest.approx(2)


def test_single_neuron_theory_has_droplets_only_at_low_noise():
    th = single_neuron_theory([0.08, 0.26], d=150, n=3000, N=700, sigma_a2=8 / 700)
    lo, hi = th
    assert lo["converged"] and hi["converged"]
    assert lo["droplet"]["present"] and not hi["droplet"]["present"]
    assert lo["droplet"]["alignment"] > 0.7
    assert lo["test_error"] < hi["test_error"] < 1 + 6 * 0.09
    assert lo["u"] == pytest.approx(3000**2 * (8 / 700) / (0.08**2 * 150 * 700))
    # only u, g and d matter: n and N / 4 with sigma_a^2 x 4 is the same problem
    same = single_neuron_theory([0.08], d=150, n=750, N=175, sigma_a2=32 / 700)[0]
    assert same["test_error"] == pytest.approx(lo["test_error"], rel=1e-6)
