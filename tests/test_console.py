"""The console: one step-counting progress bar per run (quiet under CI), and the optional extras
mfnn[rich] / mfnn[tensorboard] (RichProgressBar, TensorBoardLogger) working through the mfnn CLI."""
import importlib.util
import os

import pytest
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

import mfnn
from mfnn.callbacks import StepProgressBar


def bars(cli):
    return [c for c in cli.trainer.callbacks if isinstance(c, ProgressBar)]


def test_one_bar_counting_steps_with_the_loss(tiny_args, capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    cli = mfnn.cli.run(*tiny_args("--trainer.enable_progress_bar=true"))
    assert [type(b) for b in bars(cli)] == [StepProgressBar]
    err = capsys.readouterr().err
    assert "steps: 100%" in err and "40/40" in err and "train/loss=" in err
    assert "Epoch 0" not in err and "Sanity Checking" not in err and "Validation" not in err  # no per-epoch bars


def test_quiet_under_ci(tiny_args, capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    cli = mfnn.cli.run(*tiny_args("--trainer.enable_progress_bar=true"))
    assert [type(b) for b in bars(cli)] == [StepProgressBar]
    assert "steps:" not in capsys.readouterr().err


def test_a_config_can_turn_the_bar_off(tiny_args):
    assert bars(mfnn.cli.run(*tiny_args("--trainer.enable_progress_bar=false"))) == []


def test_a_fit_raises_no_future_warning_from_lightnings_pytree(tiny_args):
    """Lightning 2.6 builds torch's deprecated LeafSpec on every fit; mfnn.console ignores that one message
    (pytest resets filters per test, so the module's filter is re-applied inside the recording)."""
    import importlib
    import warnings

    import mfnn.console

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        importlib.reload(mfnn.console)
        mfnn.cli.run(*tiny_args("--trainer.enable_progress_bar=false"))
    assert not [w for w in seen if "LeafSpec" in str(w.message)]
    with warnings.catch_warnings(record=True) as seen:  # placebo: the same message from elsewhere still shows
        warnings.simplefilter("always")
        importlib.reload(mfnn.console)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning)
    assert len(seen) == 1


def extra(package: str):
    """The extra's package, or a skip outside CI (CI installs the dev extra, which includes it: there it must work)."""
    if importlib.util.find_spec(package) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{package} is not installed: CI installs mfnn[dev], which includes it")
        pytest.skip(f"{package} not installed (pip install 'mfnn[{package}]')")


def test_rich_progress_bar_from_the_rich_extra(tiny_args):
    extra("rich")
    cli = mfnn.cli.run(*tiny_args("--trainer.enable_progress_bar=true",
                                  "--trainer.callbacks+=lightning.pytorch.callbacks.RichProgressBar"))
    assert [type(b).__name__ for b in bars(cli)] == ["RichProgressBar"]
    assert cli.trainer.global_step == 40


def test_tensorboard_logger_from_the_tensorboard_extra(tmp_path, tiny_args):
    extra("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cli = mfnn.cli.run(*tiny_args("--trainer.logger+=lightning.pytorch.loggers.TensorBoardLogger",
                                  f"--trainer.logger.save_dir={tmp_path / 'tb'}", "--trainer.log_every_n_steps=5"))
    (events,) = (tmp_path / "tb").rglob("events.out.tfevents.*")
    acc = EventAccumulator(str(events))
    acc.Reload()
    assert {"train/loss", "val/mse"} <= set(acc.Tags()["scalars"])
    assert len(acc.Scalars("train/loss")) >= 5
    assert any(type(lg).__name__ == "CSVLogger" for lg in cli.trainer.loggers)  # the run directory stays
