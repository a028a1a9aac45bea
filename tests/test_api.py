"""mfnn from Python, as in a notebook: top-level classes, no silent SGD learning rate, checkpoints that bring the
optimiser back, `predict` and an honest `test`, and the CLI's matching errors."""
import functools
import subprocess
import sys

import lightning as L
import pytest
import torch

import mfnn
from mfnn.errors import ConfigError
from tests.helpers import ROOT, XOR_CONFIG


def tiny_trainer(tmp_path, **kw):
    return L.Trainer(max_steps=2, enable_progress_bar=False, enable_model_summary=False, logger=False,
                     default_root_dir=tmp_path, **kw)


def tiny_data(**kw):
    return mfnn.SyntheticDataModule(target="xor", batch_size=32, val_size=32, test_size=48, steps_per_epoch=2, **kw)


def test_top_level_exports_and_version():
    assert mfnn.__version__ == "0.1.0"
    for name in mfnn.__all__:
        assert getattr(mfnn, name) is not None, name


@pytest.mark.parametrize("optimizer", [torch.optim.SGD, functools.partial(torch.optim.SGD, momentum=0.9),
                                       mfnn.Langevin])
def test_sgd_without_lr_is_an_error_naming_the_field(tmp_path, optimizer):
    model = mfnn.TwoLayerMLP(width=16, optimizer=optimizer)
    with pytest.raises(ConfigError, match=r"optimizer\.init_args\.lr: is required"):
        tiny_trainer(tmp_path, enable_checkpointing=False).fit(model, tiny_data())


def test_adam_keeps_its_own_default_lr(tmp_path):
    model = mfnn.TwoLayerMLP(width=16, optimizer=torch.optim.Adam)
    tiny_trainer(tmp_path, enable_checkpointing=False).fit(model, tiny_data())
    assert model.optimizer_settings["lr"] == 1e-3


def test_cli_refuses_sgd_without_lr(tmp_path):
    no_lr = tmp_path / "no_lr.yaml"
    no_lr.write_text("\n".join(line for line in open(XOR_CONFIG).read().splitlines()
                               if "optimizer" not in line and "torch.optim.SGD" not in line and "lr: 0.5" not in line))
    with pytest.raises(ConfigError, match=r"model\.init_args\.optimizer\.init_args\.lr: is required for SGD"):
        mfnn.cli.run("fit", "--config", str(no_lr), f"--trainer.logger.init_args.save_dir={tmp_path}")
    assert not list(tmp_path.glob("two_layer_xor/version_*"))  # refused before anything was written
    # the same config with the lr given on the command line is accepted
    cli = mfnn.cli.run("fit", "--config", str(no_lr), f"--trainer.logger.init_args.save_dir={tmp_path}",
                       "--model.init_args.optimizer=torch.optim.SGD", "--model.init_args.optimizer.lr=0.5",
                       "--trainer.max_steps=1", "--trainer.enable_progress_bar=false", "--model.init_args.width=8",
                       "--data.init_args.val_size=16", "--data.init_args.test_size=0", "--trainer.limit_val_batches=0")
    assert cli.model.optimizer_settings["lr"] == 0.5


def test_checkpoint_restores_the_optimiser(tmp_path):
    model = mfnn.TwoLayerMLP(width=16, optimizer=functools.partial(torch.optim.SGD, lr=0.3, weight_decay=1e-3))
    trainer = tiny_trainer(tmp_path, enable_checkpointing=False)
    trainer.fit(model, tiny_data())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = mfnn.TwoLayerMLP.load_from_checkpoint(tmp_path / "m.ckpt")
    optimizer = loaded.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    # the settings as written, and the width multiplier of mean field applied again (lr x N, wd / N)
    assert loaded.optimizer_settings == {"lr": 0.3, "weight_decay": 1e-3, "sgd_like": True}
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.3 * 16)
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(1e-3 / 16)


def test_predict_and_test_use_the_test_split(tmp_path):
    model = mfnn.TwoLayerMLP(width=16, optimizer=functools.partial(torch.optim.SGD, lr=0.3))
    data = tiny_data()
    trainer = tiny_trainer(tmp_path, enable_checkpointing=False)
    trainer.fit(model, data)
    (pred,) = trainer.predict(model, data)
    x_test, y_test = data.splits["test"]
    assert pred.shape == (48,)
    torch.testing.assert_close(pred, model(x_test))
    (result,) = trainer.test(model, data, verbose=False)
    assert result["test/mse"] == pytest.approx(float(((model(x_test).detach() - y_test) ** 2).mean()), rel=1e-5)
    assert not torch.equal(x_test, data.splits["val"][0][:48])  # a split of its own, not the validation set


def test_test_without_a_test_split_is_a_clear_error(tmp_path):
    model = mfnn.TwoLayerMLP(width=16, optimizer=functools.partial(torch.optim.SGD, lr=0.3))
    data = mfnn.SyntheticDataModule(target="xor", batch_size=32, val_size=32, test_size=0, steps_per_epoch=2)
    with pytest.raises(ConfigError, match="has no test split"):
        tiny_trainer(tmp_path).test(model, data)


def test_the_test_split_leaves_train_and_validation_samples_unchanged():
    without = mfnn.SyntheticDataModule(target="xor", batch_size=32, val_size=32, test_size=0, train_size=64)
    with_test = mfnn.SyntheticDataModule(target="xor", batch_size=32, val_size=32, test_size=48, train_size=64)
    with_test.setup(), without.setup()
    for split in ("train", "val"):
        for a, b in zip(with_test.splits[split], without.splits[split]):
            assert torch.equal(a, b)


def test_cli_predict_writes_predictions(tmp_path, tiny_args):
    fit = mfnn.cli.run(*tiny_args())
    ckpt = fit.trainer.checkpoint_callback.last_model_path
    cli = mfnn.cli.run("predict", "--config", XOR_CONFIG, f"--trainer.logger.init_args.save_dir={tmp_path}",
                       "--model.init_args.width=32", "--data.init_args.val_size=128",
                       "--data.init_args.test_size=64", "--trainer.enable_progress_bar=false", f"--ckpt_path={ckpt}")
    (pred,) = torch.load(f"{cli.trainer.log_dir}/predictions.pt")
    assert pred.shape == (64,)


def test_a_fit_prints_no_warning_caused_by_mfnn(tiny_args, recwarn, caplog, capsys):
    import logging
    import warnings

    warnings.simplefilter("always")  # (pytest's filterwarnings would hide Lightning's UserWarnings)
    with caplog.at_level(logging.INFO):
        mfnn.cli.run(*tiny_args(), "--trainer.log_every_n_steps=5")
    captured = capsys.readouterr()
    text = "\n".join([str(w.message) for w in recwarn] + [r.getMessage() for r in caplog.records]
                     + [captured.out, captured.err])
    assert "Trainer.fit" in text  # Lightning's own messages were captured
    for caused_by_mfnn in ("transfer_batch_to_device", "ambiguous collection", "Tip:", "litlogger", "litmodels"):
        assert caused_by_mfnn not in text, caused_by_mfnn
