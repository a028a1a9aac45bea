"""The quadratic modular network of the modular-posterior replication (mfnn/models/quadratic_modular.py): its
factorised full-table likelihood, Fourier order parameters, hot start and the sizes chosen by network_design."""
import math

import pytest
import torch

from mfnn.data.modular import all_pairs
from mfnn.models.quadratic_modular import QuadraticModular, fourier_power, fourier_start, quadratic_table, table_sse
from mfnn.theory.modular import ModularMeanField, critical_coupling, network_design


def direct_sse(w, v, a):
    P = w.shape[-1]
    _, _, s = all_pairs(P)
    y = torch.nn.functional.one_hot(s, P).to(w.dtype) - 1.0 / P
    return (quadratic_table(w, v, a) - y).square().sum((-1, -2))


def test_table_sse_matches_direct_sum_and_gradients():
    torch.manual_seed(0)
    w, v = (torch.randn(3, 12, 7, dtype=torch.float64, requires_grad=True) for _ in range(2))
    a = (0.1 * torch.randn(3, 12, 7, dtype=torch.float64)).requires_grad_()
    d, f = direct_sse(w, v, a), table_sse(w, v, a)
    assert torch.allclose(d, f, rtol=1e-12)
    for g1, g2 in zip(torch.autograd.grad(d.sum(), [w, v, a]), torch.autograd.grad(f.sum(), [w, v, a])):
        assert torch.allclose(g1, g2, rtol=1e-10, atol=1e-10)


def test_quadratic_table_is_eq5_on_two_hot_inputs():
    torch.manual_seed(1)
    w, v, a = torch.randn(1, 4, 5), torch.randn(1, 4, 5), torch.randn(1, 4, 5)
    n, m = 3, 1
    x = torch.zeros(10)
    x[n], x[5 + m] = 1, 1
    W = torch.cat([w[0], v[0]], -1)  # (N, 2P)
    expected = ((W @ x) ** 2) @ a[0]  # sum_i a_pi (w_i . x)^2
    assert torch.allclose(quadratic_table(w, v, a)[0, n * 5 + m], expected, atol=1e-5)


def test_fourier_start_puts_every_mode_at_phi():
    w = fourier_start(2, 3, 11, 0.4)
    power = fourier_power(w)
    assert torch.allclose(power[..., 1:], torch.full_like(power[..., 1:], 0.4), atol=1e-5)
    assert power[..., 0].abs().max() < 1e-8  # no k = 0 component


def test_hot_chains_and_loss_on_the_whole_table_match_the_masked_path():
    model = QuadraticModular(p=7, width=8, noise_vars=[0.1, 0.2], chains_per_point=3, hot_chains_per_point=1,
                             sigma_a2=0.01, gamma=2.0)
    assert model.hot.tolist() == [False, False, True, False, False, True]
    phi = fourier_power(model.w.detach())[..., 1:]
    assert phi[model.hot].mean() > 5 * phi[~model.hot].mean()  # hot chains start near Phi* = sqrt(3/2)
    n, m, s = all_pairs(7)
    full = (n[None], m[None], s[None], torch.full((1, 49), 1 / 49))
    loss_full, _ = model.loss_and_metrics(full, "train")
    # the same pairs, one marked as padding, through the masked path: the loss drops by that pair's term only
    w = torch.full((1, 49), 1 / 48)
    w[0, 5] = 0
    loss_masked, _ = model.loss_and_metrics((n[None], m[None], s[None], w), "train")
    with torch.no_grad():
        f = model()[:, 5]
        y = model.target[5]
        pair = ((f - y).square().sum(-1) / (2 * model.noise_var)).sum()
    assert loss_full.item() - loss_masked.item() == pytest.approx(pair.item(), rel=1e-4)


def test_model_validates_arguments():
    with pytest.raises(Exception, match="odd prime"):
        QuadraticModular(p=9)
    with pytest.raises(Exception, match="hot_chains_per_point"):
        QuadraticModular(p=7, chains_per_point=2, hot_chains_per_point=2)


def test_network_design_hits_its_targets():
    d = network_design(23, 128, 11.0)
    th = ModularMeanField(P=23, N=128, sigma_a2=d["sigma_a2"], gamma=11.0, form="network").thresholds()
    assert th["A"] == pytest.approx(d["A"], rel=1e-12)
    assert th["lambda_on"] / th["A"] == pytest.approx(0.25, rel=1e-12)
    assert d["barrier"] == pytest.approx(23 / (2 * critical_coupling(11.0)), rel=1e-12)
    # the configs use these numbers
    import yaml
    from pathlib import Path
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "modular_posterior" / "p23.yaml").read_text())
    args = cfg["model"]["init_args"]
    assert args["sigma_a2"] == pytest.approx(d["sigma_a2"], rel=1e-5)
    assert args["noise_vars"][0] == pytest.approx(0.5 * d["A"], rel=1e-4)


def test_exact_theory_depends_on_P_only_through_the_barrier():
    # single-mode physics in x = P Phi: P and gamma enter only via B (the reason P alone does not sharpen things)
    a = []
    for P in (23, 41):
        g = 3 * (P / (4 * 3.0)) ** 2  # B = 3
        d = network_design(P, 128, g)
        th = ModularMeanField(P=P, N=128, sigma_a2=d["sigma_a2"], gamma=g, form="exact", grid=400)
        a.append(th.solve(0.9 * d["A"])["a"])
    assert a[0] == pytest.approx(a[1], abs=1e-3)
    assert math.isfinite(a[0])
