"""Kernel-target alignment and layer kernels on cases with known answers."""
import json
import math
from pathlib import Path

import pytest
import torch

from mfnn.analysis.kernels import (alignment, centre, feature_kernel, feature_target_alignment,
                                   kernel_regression, layer_alignments, layer_kernels, neuron_target_correlation,
                                   subspace_fraction, target_alignment, target_kernel)
from mfnn.models.mlp import MLPNet
from tests.helpers import fit_tiny_deep


def test_centre_removes_row_and_column_means():
    K = torch.randn(7, 7, dtype=torch.float64)
    Kc = centre(K)
    H = torch.eye(7, dtype=torch.float64) - 1 / 7
    torch.testing.assert_close(Kc, H @ K @ H)
    torch.testing.assert_close(Kc.sum(0), torch.zeros(7, dtype=torch.float64))


def test_kernel_of_the_target_itself_is_perfectly_aligned():
    y = torch.randn(50, dtype=torch.float64)
    assert target_alignment(target_kernel(y), y) == pytest.approx(1.0)
    assert target_alignment(3.0 * target_kernel(y) + 5.0, y) == pytest.approx(1.0)  # scale and constant: no effect


def test_known_alignment_of_two_rank_one_kernels():
    # A(u u^T, v v^T) = cos(u_c, v_c)^2 for centred vectors.
    u, v = torch.randn(40, dtype=torch.float64), torch.randn(40, dtype=torch.float64)
    u_c, v_c = u - u.mean(), v - v.mean()
    cos2 = float((u_c @ v_c) ** 2 / (u_c @ u_c) / (v_c @ v_c))
    assert alignment(torch.outer(u, u), torch.outer(v, v)) == pytest.approx(cos2)


def test_feature_form_equals_kernel_form():
    h, y = torch.randn(64, 9, dtype=torch.float64), torch.randn(64, dtype=torch.float64)
    assert feature_target_alignment(h, y) == pytest.approx(target_alignment(feature_kernel(h), y), rel=1e-10)
    Y = torch.randn(64, 3, dtype=torch.float64)
    assert feature_target_alignment(h, Y) == pytest.approx(target_alignment(h @ h.T, Y), rel=1e-10)


def test_identity_kernel_alignment_is_one_over_sqrt_n():
    # Centred identity H has |H|_F = sqrt(n - 1); <H, y_c y_c^T> = |y_c|^2, so A = 1 / sqrt(n - 1).
    n = 101
    y = torch.randn(n, dtype=torch.float64)
    assert target_alignment(torch.eye(n, dtype=torch.float64), y) == pytest.approx(1 / math.sqrt(n - 1))


def test_feature_containing_the_target_aligns_far_better_than_random_features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g)
    y = x[:, 0] * x[:, 1]
    rand = torch.randn(2000, 32, generator=g)
    assert feature_target_alignment(rand, y) < 0.05
    assert feature_target_alignment(torch.cat([y[:, None], 0.1 * rand], 1), y) > 0.9


def test_layer_kernels_follow_the_network():
    torch.manual_seed(0)
    net = MLPNet(input_dim=5, width=16, depth=3, activation="erf")
    x, y = torch.randn(30, 5), torch.randn(30)
    Ks = layer_kernels(net, x)
    assert len(Ks) == 3 and all(K.shape == (30, 30) for K in Ks)
    torch.testing.assert_close(Ks[1], net.hidden(x, 1) @ net.hidden(x, 1).T / 16)
    assert layer_alignments(net, x, y) == pytest.approx([target_alignment(K, y) for K in Ks], rel=1e-5)


def test_neuron_target_correlation_and_subspace_fraction():
    y = torch.randn(100, dtype=torch.float64)
    h = torch.stack([y, -2 * y + 1, torch.randn(100, dtype=torch.float64)], 1)
    r = neuron_target_correlation(h, y)
    assert r[0] == pytest.approx(1.0) and r[1] == pytest.approx(-1.0) and abs(r[2]) < 0.4
    U = torch.eye(4)[:, :2]
    assert subspace_fraction(torch.tensor([[1.0, 1.0, 0.0, 0.0]]), U) == pytest.approx(1.0)
    assert subspace_fraction(torch.eye(4), U) == pytest.approx(0.5)


def test_kernel_regression_recovers_a_linear_target_with_the_linear_kernel():
    g = torch.Generator().manual_seed(1)
    x, xt = torch.randn(200, 5, generator=g, dtype=torch.float64), torch.randn(50, 5, generator=g, dtype=torch.float64)
    w = torch.randn(5, generator=g, dtype=torch.float64)
    pred = kernel_regression(x @ x.T, xt @ x.T, x @ w, ridge=1e-8)
    torch.testing.assert_close(pred, xt @ w, rtol=1e-5, atol=1e-5)


def test_callback_records_every_layer(tmp_path):
    cli, cb = fit_tiny_deep(tmp_path, "mean_field.yaml", 16, {"every_n_steps": 2, "n_probe": 20}, steps=6)
    assert cb.steps == [0, 2, 4, 6] and all(len(k) == 3 for k in cb.kta)
    x, y = cli.datamodule.splits["val"]
    assert cb.kta[-1] == pytest.approx(layer_alignments(cli.model.net, x[:20], y[:20]), rel=1e-6)
    saved = json.loads((Path(cli.trainer.log_dir) / "kernel_alignment.json").read_text())
    assert saved["layers"] == 3 and saved["steps"] == cb.steps
