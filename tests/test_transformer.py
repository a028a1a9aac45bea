"""Nanda's one-layer transformer: the last-position forward equals the naive full-sequence forward,
and the loss is float64 cross-entropy."""

import pytest
import torch
import torch.nn.functional as F

from mfnn.data.modular import ModularAdditionDataModule, all_pairs
from mfnn.models.transformer import ModularTransformer
from tests.reference.naive_transformer import NaiveTransformer, float64_curves

P = 11


def build(p=P, fractions=(0.3,)):
    dm = ModularAdditionDataModule(p=p, train_fractions=list(fractions))
    dm.setup()
    return dm


def test_transformer_last_position_forward_equals_naive():
    """Reference: bench's plain model, the full 3-token sequence through causal attention and the MLP at
    every position, from a copy of the same weights."""
    torch.manual_seed(0)
    m = ModularTransformer(p=7, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    with torch.no_grad():
        m.b_in.normal_(), m.b_out.normal_()
    naive = NaiveTransformer(m)
    a, b, y = all_pairs(7)
    tokens = torch.stack([a, b, torch.full_like(a, m.p)], 1)  # (B, 3)
    fast, ref = m(a, b), naive(tokens)[:, -1]
    assert torch.allclose(fast, ref, atol=1e-5)
    g_fast = torch.autograd.grad(fast.square().sum(), list(m.parameters()))
    g_ref = torch.autograd.grad(ref.square().sum(), list(naive.parameters()))
    for gf, gr in zip(g_fast, g_ref):
        assert torch.allclose(gf, gr, atol=1e-4)


def test_transformer_loss_is_float64_cross_entropy():
    torch.manual_seed(0)
    m = ModularTransformer(p=P, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    dm = build(fractions=(0.4,))
    loss, metrics = m.loss_and_metrics(dm.splits["train"], "train")
    a, b, y, w = (t[0] for t in dm.splits["train"])
    n = int((w > 0).sum())
    expected = F.cross_entropy(m(a[:n], b[:n]).double(), y[:n])
    assert loss.dtype == torch.float64 and torch.allclose(loss, expected)
    val_loss, val = m.loss_and_metrics(dm.splits["val"], "val")
    a, b, y, mask = dm.splits["val"]
    held_out = ~mask[0]  # the pairs not in the train split
    logits = m(a[held_out], b[held_out])
    assert float(val["test_acc"]) == pytest.approx(float((logits.argmax(-1) == y[held_out]).float().mean()))
    assert float(val_loss) == pytest.approx(float(F.cross_entropy(logits.double(), y[held_out])), rel=1e-6)


def test_lightning_training_curve_equals_the_naive_loop_in_float64():
    """mfnn (Lightning, 64-true) and the plain loop from the same weights: the same 100 losses. They differ
    only by the data module's float32 per-pair weights 1/n (relative 1e-8)."""
    mfnn_losses, plain_losses = float64_curves(steps=100)
    assert len(mfnn_losses) == len(plain_losses) == 100
    assert plain_losses[-1] < 0.6 * plain_losses[0]  # it trains
    for s, (m, p) in enumerate(zip(mfnn_losses, plain_losses)):
        assert m == pytest.approx(p, rel=1e-6, abs=1e-9), f"step {s}: mfnn {m} vs plain {p}"
