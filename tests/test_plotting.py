"""Figures never switch matplotlib's global backend (inline plots in a notebook keep working)."""
import subprocess
import sys

from tests.helpers import ROOT


def test_importing_mfnn_leaves_the_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); import mfnn, mfnn.callbacks, mfnn.plotting.grokking, "
            "mfnn.plotting.deep, mfnn.experiment; from mfnn.plotting import subplots, save; "
            f"fig, ax = subplots(); ax.plot([0, 1]); save(fig, r'{tmp_path / 'f.png'}'); "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().lower() == "svg"
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
