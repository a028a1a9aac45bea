"""The batched foreground trainer: exact per-neuron gradients, no interaction between neurons, the same
particle dynamics as the background's own neurons, and the ForegroundCheck callback on a tiny net."""
from pathlib import Path

import pytest
import torch

from mfnn.callbacks.foreground import (ForegroundCheck, Trajectory, foreground_step, neuron_features,
                                       train_foreground)
from mfnn.cli import run
from mfnn.models.mlp import ACTIVATIONS, MLPNet

ROOT = Path(__file__).resolve().parents[1]


def xor_batch(n):
    def draw(g):
        x = 2 * torch.rand(n, 2, generator=g) - 1
        return x, x[:, 0] * x[:, 1]
    return draw


@pytest.mark.parametrize("activation,C", [("hardtanh", 1), ("relu", 2), ("tanh", 1)])
def test_step_matches_autograd_of_each_neurons_own_mse(activation, C):
    g = torch.Generator().manual_seed(0)
    B, M, d, s = 64, 12, 3, 0.2  # a large s so the neuron's own term matters
    h, r = torch.randn(B, d, generator=g), torch.randn(B, C, generator=g)
    W, b, a = torch.randn(M, d, generator=g), torch.randn(M, generator=g), torch.randn(M, C, generator=g)
    Wt, bt, at = (t.clone().requires_grad_() for t in (W, b, a))
    phi = neuron_features(h, Wt, bt, ACTIVATIONS[activation])  # (B, M)
    own = (r[:, None, :] - s * phi[:, :, None] * at[None]).square().mean((0, 2))  # (M,): each neuron's MSE
    own.sum().backward()
    lr = 0.1
    loss = foreground_step(h, r, W, b, a, s, activation, step_size=lr, decay=0.0)
    torch.testing.assert_close(loss, own.sum().detach())
    for new, old in ((W, Wt), (b, bt), (a, at)):
        torch.testing.assert_close(new, old.detach() - lr * old.grad, rtol=1e-5, atol=1e-6)


def test_batched_equals_each_neuron_alone():
    net = MLPNet(2, 64, activation="hardtanh", parameterization="mean_field")
    g = torch.Generator().manual_seed(1)
    init = (torch.randn(5, 2, generator=g), torch.randn(5, generator=g), torch.randn(5, 1, generator=g))
    kw = dict(steps=15, lr=0.5, weight_decay=1e-3, seed=3)
    batched = train_foreground(net, xor_batch(128), init=init, chunk=2, **kw)
    for j in range(5):
        alone = train_foreground(net, xor_batch(128), init=tuple(t[j:j + 1] for t in init), **kw)
        torch.testing.assert_close(alone.W[0], batched.W[j])
        torch.testing.assert_close(alone.a[0], batched.a[j])
    assert not torch.allclose(batched.W, init[0])  # they did move
    assert batched.readout == 1 / 5


def replay_gap(N, steps=60, lr=0.5):
    """Train a mean-field background full batch, then foreground neurons started at the background's
    initial neurons replay its trajectory: (mean |w_fg - w_bg|, mean distance the background moved)."""
    torch.manual_seed(0)
    net = MLPNet(2, N, activation="hardtanh", parameterization="mean_field")
    init = tuple(t.detach().clone() for t in (net.W_in, net.b_in, net.a))
    x, y = xor_batch(256)(torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(net.parameters(), lr=lr * N)
    traj = Trajectory(net)
    for step in range(steps):
        traj.record(step, net)
        loss = (net(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    fg = train_foreground(net, lambda g: (x, y), init=init, lr=lr, trajectory=traj)
    assert fg.steps == steps
    return float((fg.W - net.W_in.detach()).norm(dim=1).mean()), float((net.W_in.detach() - init[0]).norm(dim=1).mean())


def test_foreground_replaying_trajectory_tracks_background_neurons():
    """A foreground neuron is a background particle in the recorded field: it follows the background neuron
    it started on, up to its own O(1/N) term (counted twice: once in f_bg, once as the foreground)."""
    gap_small, moved = replay_gap(128)
    gap_large, _ = replay_gap(512)
    assert moved > 0.3
    assert gap_large < 0.05 * moved
    assert gap_large < gap_small / 2.5  # ~1/N: 4x the width, ~4x smaller gap


def test_trajectory_returns_state_at_or_before_step():
    net = MLPNet(2, 4)
    traj = Trajectory(net)
    for step, value in ((0, 0.0), (5, 5.0), (10, 10.0)):
        with torch.no_grad():
            net.a.fill_(value)
        traj.record(step, net)
    assert float(traj.at(7).a[0]) == 5.0 and float(traj.at(10).a[0]) == 10.0 and float(traj.at(0).a[0]) == 0.0
    assert float(traj.at(99).a[0]) == 10.0


def test_middle_layer_is_not_implemented_yet():
    net = MLPNet(2, 8, depth=3)
    with pytest.raises(NotImplementedError, match="middle layer"):
        train_foreground(net, xor_batch(8), 4, steps=1, layer=0)
    fg = train_foreground(net, xor_batch(16), 4, steps=2)  # the last hidden layer works at any depth
    assert fg.W.shape == (4, 8) and fg.predict(net, torch.zeros(3, 2)).shape == (3,)


def test_callback_on_tiny_network(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs" / "self_consistency" / "lazy.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_steps=30",
              "--model.init_args.width=32", "--data.init_args.batch_size=64", "--data.init_args.val_size=128",
              "--data.init_args.steps_per_epoch=10", "--trainer.check_val_every_n_epoch=1",
              "--trainer.callbacks.init_args.n_neurons=48")
    check = [c for c in cli.trainer.callbacks if isinstance(c, ForegroundCheck)][0]
    assert set(check.foregrounds) == {"same", "mean_field"}
    fg = check.foregrounds["same"]
    assert fg.W.shape == (48, 2) and fg.a.shape == (48, 1) and fg.steps == 30
    m = check.metrics["same"]
    assert all(torch.isfinite(torch.tensor(v)) for v in m.values())
    assert m["bg_loss"] < m["target_var"] and m["mmd"] > 0
    saved = torch.load(Path(cli.trainer.log_dir) / "foreground.pt", weights_only=False)
    assert saved["mode"] == "trajectory" and saved["foregrounds"]["mean_field"]["W"].shape == (48, 2)
    assert check.trajectory is None  # the recorded states are dropped after use
    assert ForegroundCheck.optimiser_settings(cli.trainer) == (0.5, 0.0)
