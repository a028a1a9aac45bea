"""Modular-addition data and Gromov's MLP (batched members == solo runs)."""

import pytest
import torch
import torch.nn.functional as F

from mfnn.data.modular import ModularAdditionDataModule, all_pairs
from mfnn.errors import ConfigError
from mfnn.models.modular import ModularMLP, one_hot_mse

P = 11


def build(p=P, fractions=(0.3,), seeds=None):
    dm = ModularAdditionDataModule(p=p, train_fractions=list(fractions), split_seeds=seeds)
    dm.setup()
    return dm


def test_splits_are_disjoint_padded_and_weighted():
    dm = build(fractions=(0.2, 0.5, 0.9))
    a, b, y, w = dm.splits["train"]
    va, vb, vy, mask = dm.splits["val"]
    assert a.shape == w.shape == (3, round(0.9 * P * P))
    assert torch.equal(vy, (va + vb) % P) and torch.equal(y, (a + b) % P)
    assert torch.allclose(w.sum(1), torch.ones(3))
    for k, f in enumerate((0.2, 0.5, 0.9)):
        n = int(mask[k].sum())
        assert n == round(f * P * P)
        train_idx = (a[k, :n] * P + b[k, :n]).sort().values
        assert torch.equal(train_idx, mask[k].nonzero().flatten())  # the train pairs are exactly the mask
        assert (w[k, n:] == 0).all()
    # a member's split depends only on its own seed
    assert torch.equal(build(fractions=(0.5,), seeds=[1]).splits["val"][3][0], dm.splits["val"][3][1])


def test_bad_config_values_name_the_field():
    with pytest.raises(ConfigError, match="train_fractions"):
        ModularAdditionDataModule(p=P, train_fractions=[1.2])
    with pytest.raises(ConfigError, match="split_seeds"):
        ModularAdditionDataModule(p=P, train_fractions=[0.3, 0.4], split_seeds=[1])
    with pytest.raises(ConfigError, match="width"):
        ModularMLP(p=P, width=0)


def test_gather_forward_equals_dense_one_hot_network():
    model = ModularMLP(p=P, width=20, members=2)
    a, b, y = all_pairs(P)
    x = torch.cat([F.one_hot(a, P), F.one_hot(b, P)], 1).float()  # (P^2, 2p)
    for k in range(2):
        W_in, W_out = model.net.W_in[k], model.net.W_out[k]
        dense = (x @ W_in.T).square() @ W_out / 20  # Gromov: f = (1/N) W2 (W1 x)^2
        assert torch.allclose(model(a, b)[k], dense, atol=1e-5)
    out = torch.randn(5, P)
    target = torch.randint(0, P, (5,))
    assert torch.allclose(one_hot_mse(out, target), ((out - F.one_hot(target, P)) ** 2).mean(-1), atol=1e-6)


def train(model, dm, steps):
    opt = model.configure_optimizers()
    for _ in range(steps):
        loss, _ = model.loss_and_metrics(dm.splits["train"], "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_batched_members_match_solo_runs():
    fractions, seeds = [0.2, 0.5, 0.8], [3, 4, 5]
    opt = lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.3, betas=(0.9, 0.98))  # noqa: E731
    torch.manual_seed(0)
    batched = ModularMLP(p=P, width=16, members=3, optimizer=opt)
    init = {n: t.detach().clone() for n, t in batched.net.named_parameters()}
    train(batched, build(fractions=fractions, seeds=seeds), 8)
    for k in range(3):
        solo = ModularMLP(p=P, width=16, members=1, optimizer=opt)
        with torch.no_grad():
            for n, t in solo.net.named_parameters():
                t.copy_(init[n][k: k + 1])
        train(solo, build(fractions=[fractions[k]], seeds=[seeds[k]]), 8)
        for n, t in solo.net.named_parameters():
            assert torch.allclose(t[0], batched.net.get_parameter(n)[k], atol=1e-5), (n, k)
        moved = (solo.net.W_in - init["W_in"][k: k + 1]).abs().max()
        assert moved > 1e-2  # the runs actually trained


def test_ddp_shards_average_to_the_full_batch_gradient():
    # DDP averages the ranks' gradients: with strided shards and weights x world that mean is the full-batch gradient
    dm = build(fractions=(0.3, 0.5))
    full = dm.splits["train"]
    torch.manual_seed(0)
    m = ModularMLP(p=P, width=16, members=2)

    def grads(batch):
        m.zero_grad()
        m.loss_and_metrics(batch, "train")[0].backward()
        return [t.grad.clone() for t in m.parameters()]

    world = 3
    shards = [grads(dm.shard(full, r, world)) for r in range(world)]
    for g_full, *g_ranks in zip(grads(full), *shards):
        torch.testing.assert_close(sum(g_ranks) / world, g_full)
