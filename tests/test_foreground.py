"""The batched foreground trainer: exact per-neuron gradients, no interaction between neurons, the same
particle dynamics as the background's own neurons, and the ForegroundCheck callback on a tiny net."""
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from mfnn.callbacks import NeuronCloud
from mfnn.callbacks.foreground import ForegroundCheck
from mfnn.foreground import Foreground, Trajectory, foreground_step, train_foreground
from mfnn.cli import run
from mfnn.data.synthetic import SyntheticDataModule
from mfnn.errors import ConfigError
from mfnn.models.mlp import DeepMLP, MLPNet

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
    phi = MLPNet(d, M, activation=activation).neuron_features(h, Wt, bt)  # (B, M)
    own = (r[:, None, :] - s * phi[:, :, None] * at[None]).square().mean((0, 2))  # (M,): each neuron's MSE
    own.sum().backward()
    lr = 0.1
    loss = foreground_step(h, r, W, b, a, s, activation, step_size=lr, decay=0.0)
    torch.testing.assert_close(loss, own.sum().detach())
    for new, old in ((W, Wt), (b, bt), (a, at)):
        torch.testing.assert_close(new, old.detach() - lr * old.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("self_term", [False, True])
def test_batched_equals_each_neuron_alone(self_term):
    net = MLPNet(2, 64, activation="hardtanh", parameterization="mean_field")
    g = torch.Generator().manual_seed(1)
    init = (torch.randn(5, 2, generator=g), torch.randn(5, generator=g), torch.randn(5, 1, generator=g))
    kw = dict(steps=15, lr=0.5, weight_decay=1e-3, seed=3)
    batched = train_foreground(net, xor_batch(128), init=init, chunk=2, self_term=self_term, **kw)
    for j in range(5):
        alone = train_foreground(net, xor_batch(128), init=tuple(t[j:j + 1] for t in init), self_term=self_term,
                                 **kw)
        torch.testing.assert_close(alone.W[0], batched.W[j])
        torch.testing.assert_close(alone.a[0], batched.a[j])
    assert not torch.allclose(batched.W, init[0])  # they did move
    assert batched.readout == 1 / 5


def train_recording(net, x, y, opt, steps: int) -> Trajectory:
    """Full-batch MSE training of the background, recording its state before every step."""
    traj = Trajectory(net)
    for step in range(steps):
        traj.record(step, net)
        loss = (net(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return traj


def replay_gap(N, steps=60, lr=0.5, self_term=False):
    """Train a mean-field background full batch, then foreground neurons started at the background's
    initial neurons replay its trajectory: (mean |w_fg - w_bg|, mean distance the background moved)."""
    torch.manual_seed(0)
    net = MLPNet(2, N, activation="hardtanh", parameterization="mean_field")
    init = tuple(t.detach().clone() for t in (net.W_in, net.b_in, net.a))
    x, y = xor_batch(256)(torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(net.parameters(), lr=lr * N)
    traj = train_recording(net, x, y, opt, steps)
    fg = train_foreground(net, lambda g: (x, y), init=init, lr=lr, trajectory=traj, self_term=self_term)
    assert fg.steps == steps
    if not self_term:  # a test particle in the recorded field: the background neuron it started on, exactly
        torch.testing.assert_close(fg.W, net.W_in.detach(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fg.a, net.a.detach(), rtol=1e-4, atol=1e-5)
    return float((fg.W - net.W_in.detach()).norm(dim=1).mean()), float((net.W_in.detach() - init[0]).norm(dim=1).mean())


def test_foreground_replaying_trajectory_tracks_background_neurons():
    """A foreground neuron is a background particle in the recorded field: it follows the background neuron
    it started on exactly; with self_term it is off by its own O(1/N) term (counted twice: once in f_bg,
    once as the foreground)."""
    _, moved = replay_gap(128)
    assert moved > 0.3
    gap_small, _ = replay_gap(128, self_term=True)
    gap_large, _ = replay_gap(512, self_term=True)
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


def test_forward_from_matches_net():
    net = MLPNet(3, 16, depth=3, activation="tanh", output_dim=2)
    x = torch.randn(10, 3)
    for layer in (0, 1):
        z = net.next_preactivation(net.hidden(x, layer), layer)
        torch.testing.assert_close(net.forward_from(z, layer + 1), net(x))


@pytest.mark.parametrize("layer,param", [(0, "mean_field"), (1, "mean_field"), (1, "ntk")])
def test_middle_layer_foreground_replays_its_background_neuron_exactly(layer, param):
    """A middle-layer neuron's gradient is the linear response of the frozen layers around it: a
    foreground neuron started on background neuron i and replaying the recorded trajectory (full batch)
    follows neuron i step for step, although neuron i kept changing the layers above and below."""
    torch.manual_seed(0)
    N, lr, steps = 24, 0.05, 25
    net = MLPNet(2, N, depth=3, activation="tanh", parameterization=param)
    idx = torch.tensor([0, 5, 17])
    nb = net.neurons(layer)
    init = tuple(t.detach()[idx].clone() for t in (nb["W"], nb["b"], nb["a"]))
    x, y = xor_batch(64)(torch.Generator().manual_seed(0))
    scale = N if param == "mean_field" else 1  # MFNNModule's mean-field SGD: lr x N, weight decay / N
    opt = torch.optim.SGD(net.parameters(), lr=lr * scale, weight_decay=1e-3 / scale)
    traj = train_recording(net, x, y, opt, steps)
    fg = train_foreground(net, lambda g: (x, y), init=init, lr=lr, weight_decay=1e-3, trajectory=traj, layer=layer,
                          chunk=2)
    nb = net.neurons(layer)
    moved = (nb["W"].detach()[idx] - init[0]).norm()
    assert moved > 1e-3 * init[0].norm()
    torch.testing.assert_close(fg.W, nb["W"].detach()[idx], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fg.b, nb["b"].detach()[idx], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fg.a, nb["a"].detach()[idx], rtol=1e-4, atol=1e-5)
    assert fg.a.shape == (3, N) and fg.readout == 1 / math.sqrt(3)


def test_assembled_middle_layer_network_is_the_background_when_given_its_neurons():
    net = MLPNet(2, 12, depth=3, activation="relu")
    nb = net.neurons(1)
    same = Foreground(nb["W"].detach(), nb["b"].detach(), nb["a"].detach(), 1, 1 / math.sqrt(12))
    x = torch.randn(9, 2)
    torch.testing.assert_close(same.predict(net, x), net(x).detach())
    fg = train_foreground(net, xor_batch(16), 40, steps=3, layer=1)
    assert fg.W.shape == (40, 12) and fg.a.shape == (40, 12) and fg.predict(net, x).shape == (9,)
    with pytest.raises(ConfigError, match="layer"):
        train_foreground(net, xor_batch(8), 4, steps=1, layer=3)


def test_callback_on_depth3_model(tmp_path):
    """ForegroundCheck on every hidden layer of a DeepMLP (full-batch train split: the foreground sees it),
    next to NeuronCloud callbacks on two layers."""
    model = DeepMLP(input_dim=2, width=16, depth=3, activation="tanh",
                    optimizer=lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=1e-3))  # base values
    data = SyntheticDataModule(input_dim=2, target="xor", train_size=64, val_size=128, steps_per_epoch=10)
    check = ForegroundCheck(n_neurons=24, layers=[0, 1, 2], probes=["same"], record_every=2)
    final = ForegroundCheck(n_neurons=8, mode="final", steps=5, layers=1, save=False)
    clouds = [NeuronCloud(every_n_steps=10, layer=l) for l in (0, 1)]
    trainer = L.Trainer(max_steps=20, callbacks=[check, final, *clouds], logger=CSVLogger(tmp_path), accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(model, data)
    assert sorted(check.foregrounds) == [0, 1, 2]
    assert check.foregrounds[0]["same"].W.shape == (24, 2) and check.foregrounds[1]["same"].W.shape == (24, 16)
    assert check.foregrounds[1]["same"].a.shape == (24, 16) and check.foregrounds[2]["same"].a.shape == (24, 1)
    settings = trainer.lightning_module.optimizer_settings  # as configured, before the width scaling
    assert (settings["lr"], settings["weight_decay"]) == (pytest.approx(0.05), pytest.approx(1e-3))
    for layer in (0, 1, 2):
        m = check.metrics[layer]["same"]
        assert all(math.isfinite(v) for v in m.values()) and m["mmd"] > 0
        assert m["fg_loss"] > 0 and m["resampled_loss"] > 0
    assert list(final.foregrounds) == [1] and final.foregrounds[1]["same"].steps == 5
    assert math.isfinite(final.metrics[1]["same"]["fg_loss"])
    out = Path(trainer.log_dir)
    saved = torch.load(out / "foreground.pt", weights_only=False)
    assert saved["foregrounds"][1]["same"]["W"].shape == (24, 16)
    assert (out / "clouds.pt").exists() and (out / "clouds_layer1.pt").exists()
    assert torch.load(out / "clouds_layer1.pt")["snapshots"][-1]["a"].shape == (16, 16)


def test_callback_on_tiny_network(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs" / "self_consistency" / "lazy.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_steps=30",
              "--model.init_args.width=32", "--data.init_args.batch_size=64", "--data.init_args.val_size=128",
              "--data.init_args.steps_per_epoch=10", "--trainer.check_val_every_n_epoch=1",
              "--trainer.callbacks.init_args.n_neurons=48")
    check = [c for c in cli.trainer.callbacks if isinstance(c, ForegroundCheck)][0]
    assert list(check.foregrounds) == [0] and set(check.foregrounds[0]) == {"same", "mean_field"}
    fg = check.foregrounds[0]["same"]
    assert fg.W.shape == (48, 2) and fg.a.shape == (48, 1) and fg.steps == 30
    m = check.metrics[0]["same"]
    assert all(torch.isfinite(torch.tensor(v)) for v in m.values())
    assert m["bg_loss"] < m["target_var"] and m["mmd"] > 0
    saved = torch.load(Path(cli.trainer.log_dir) / "foreground.pt", weights_only=False)
    assert saved["mode"] == "trajectory" and saved["foregrounds"][0]["mean_field"]["W"].shape == (48, 2)
    assert check.trajectory is None  # the recorded states are dropped after use
    assert (cli.model.optimizer_settings["lr"], cli.model.optimizer_settings["weight_decay"]) == (0.5, 0.0)
    assert cli.trainer.optimizers[0].param_groups[0]["lr"] == 0.5  # lazy (NTK): no width multiplier
