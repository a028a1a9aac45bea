"""examples/ scripts run as written (at a few dozen steps) and produce what they print."""
import math
import runpy
import sys

from tests.helpers import ROOT


def test_two_layer_mean_field_example(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["two_layer_mean_field.py", "--steps", "60", "--width", "64",
                                      "--foreground-steps", "20", "--out", str(tmp_path)])
    env = runpy.run_path(str(ROOT / "examples" / "two_layer_mean_field.py"), run_name="__main__")
    cloud, foreground = env["cloud"], env["foreground"]
    assert cloud.snapshots[0]["step"] == 0 and cloud.snapshots[-1]["step"] == 60
    assert cloud.snapshots[-1]["W"].shape == (64, 2) and cloud.snapshots[-1]["a"].shape == (64, 1)
    assert env["moved"] > 0
    assert math.isfinite(env["test"]["test/mse"])
    assert set(foreground.metrics[0]["same"]) >= {"mmd", "bg_loss", "fg_loss"}
    out = capsys.readouterr().out
    assert "snapshots, steps" in out and "test MSE" in out and "foreground layer 0 / same" in out
