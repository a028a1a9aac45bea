import math

import pytest
import torch

from mfnn.data.synthetic import SyntheticDataModule, hermite
from mfnn.errors import ConfigError
from mfnn.models.mlp import ACTIVATIONS, DeepMLP, MLPNet, TwoLayerMLP


@pytest.mark.parametrize("param,scale", [("mean_field", 1 / 64), ("ntk", 1 / 8), ("standard", 1.0)])
def test_readout_scale(param, scale):
    net = MLPNet(3, 64, parameterization=param)
    assert net.readout_scale == pytest.approx(scale)
    x = torch.randn(5, 3)
    manual = scale * (net.act(x @ net.W_in.T / math.sqrt(3) + net.b_in) @ net.a).squeeze(-1)
    torch.testing.assert_close(net(x), manual)


def test_output_size_at_init_by_parameterisation():
    x = torch.randn(512, 4)
    outs = {p: MLPNet(4, 4096, parameterization=p, activation="tanh")(x).std().item() for p in ("mean_field", "ntk")}
    assert outs["mean_field"] < 0.05 < outs["ntk"]  # 1/N vs 1/sqrt(N) fluctuations


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activations(act):
    z = torch.linspace(-3, 3, 7)
    net = MLPNet(1, 2, activation=act)
    expected = {"relu": z.clamp(min=0), "hardtanh": z.clamp(-1, 1), "erf": torch.erf(z), "tanh": torch.tanh(z),
                "quadratic": z**2, "identity": z}[act]
    torch.testing.assert_close(net.act(z), expected)


def test_mean_field_sgd_scales_lr_by_width():
    model = TwoLayerMLP(width=100, optimizer=lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=1e-2))
    opt = model.configure_optimizers()
    assert opt.param_groups[0]["lr"] == pytest.approx(10.0)
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(1e-4)  # lr * wd unchanged
    adam = TwoLayerMLP(width=100, optimizer=lambda p: torch.optim.Adam(p, lr=0.1)).configure_optimizers()
    assert adam.param_groups[0]["lr"] == pytest.approx(0.1)


def test_deep_mlp_neurons_per_layer():
    net = MLPNet(5, 16, depth=3)
    for layer in range(3):
        n = net.neurons(layer)
        assert n["W"].shape == ((16, 5) if layer == 0 else (16, 16))
        assert n["a"].shape[0] == 16
    assert net.hidden(torch.randn(7, 5), upto=1).shape == (7, 16)
    with pytest.raises(ConfigError, match="layer"):
        net.neurons(3)


def test_deep_mlp_depth3_trains_on_cpu_in_seconds():
    import lightning as L
    L.seed_everything(0)
    data = SyntheticDataModule(input_dim=4, target="single_index", input_distribution="gaussian", train_size=256,
                               val_size=256, hermite_coeffs=[0, 1, 0.5], steps_per_epoch=100, seed=0)
    model = DeepMLP(input_dim=4, width=64, depth=3, activation="relu", parameterization="mean_field",
                    optimizer=lambda p: torch.optim.Adam(p, lr=3e-2))
    trainer = L.Trainer(max_steps=300, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    data.setup()
    before = trainer.validate(model, data, verbose=False)[0]["val/mse"]
    trainer.fit(model, data)
    after = trainer.callback_metrics["val/mse"].item()
    assert after < 0.1 * before and after < 0.1 * data.target_variance


@pytest.mark.parametrize("kwargs,field", [
    (dict(width=0), "width"), (dict(depth=0), "depth"), (dict(activation="gelu"), "activation"),
    (dict(input_dim=0), "input_dim"), (dict(parameterization="mup"), "parameterization"),
])
def test_net_rejects_bad_values(kwargs, field):
    args = dict(input_dim=2, width=4) | kwargs
    with pytest.raises(ConfigError, match=field):
        MLPNet(**args)


def test_hermite_polynomials():
    z = torch.linspace(-2, 2, 9)
    torch.testing.assert_close(hermite(0, z), torch.ones_like(z))
    torch.testing.assert_close(hermite(2, z), z**2 - 1)
    torch.testing.assert_close(hermite(3, z), z**3 - 3 * z)
    g = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    assert abs((hermite(2, g) * hermite(3, g)).mean()) < 0.05  # orthogonal under N(0, 1)
    from numpy.polynomial.hermite_e import hermeval  # the library's He_k, as the reference

    zd = torch.linspace(-3, 3, 13, dtype=torch.float64)
    for k in range(8):
        torch.testing.assert_close(hermite(k, zd), torch.from_numpy(hermeval(zd.numpy(), [0] * k + [1])))


@pytest.mark.parametrize("target", ["xor", "sign_xor", "single_index", "staircase", "linear"])
def test_targets_and_fresh_data(target):
    dm = SyntheticDataModule(input_dim=3, target=target, train_size=None, batch_size=16, val_size=32,
                             steps_per_epoch=3, hermite_coeffs=[0, 1, 0, -0.3])
    dm.setup()
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and batches[0][0].shape == (16, 3)
    assert not torch.equal(batches[0][0], batches[1][0])  # fresh samples every step
    again = list(dm.train_dataloader())
    torch.testing.assert_close(again[2][0], batches[2][0])  # reproducible per (seed, epoch, step)
    x, y = dm.splits["val"]
    assert y.shape == (32,) and torch.isfinite(y).all()


def test_finite_train_set_is_full_batch():
    dm = SyntheticDataModule(train_size=50, steps_per_epoch=4)
    dm.setup()
    batches = list(dm.train_dataloader())
    assert len(batches) == 4 and all(b[0] is batches[0][0] for b in batches)
    assert batches[0][0].shape == (50, 2)


@pytest.mark.parametrize("kwargs,field", [
    (dict(train_size=0), "train_size"), (dict(input_dim=0), "input_dim"), (dict(target="nope"), "target"),
    (dict(batch_size=0), "batch_size"), (dict(input_distribution="cauchy"), "input_distribution"),
])
def test_data_rejects_bad_values(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        SyntheticDataModule(**kwargs)
