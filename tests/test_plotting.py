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


def test_logit_fourier_figure_sums_each_frequency_pair_and_draws(tmp_path):
    """The Fourier figure's pair map keeps every bit of power (Parseval) and puts the Fourier algorithm's
    logits cos(w_k(a + b - c)) at (k, k); a logit table of pure noise spreads over every pair instead."""
    import math

    import torch

    from mfnn.analysis.fourier import frequency_power, significant_components
    from mfnn.plotting.grokking import fourier_figure, frequency_pair_power

    p, keys = 23, [2, 7]
    a, b, c = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p), torch.arange(p)
    logits = sum(torch.cos(2 * math.pi * k * (a[:, None] + b[:, None] - c[None]) / p) for k in keys)
    _, norms = significant_components(logits.reshape(p, p, p).double())
    pairs = frequency_pair_power(norms)
    assert pairs.shape == (12, 12) and torch.isclose(pairs.sum(), norms.square().sum())
    share = pairs / pairs.sum()
    assert float(share[2, 2] + share[7, 7]) > 0.999
    noise = frequency_pair_power(significant_components(torch.randn(p, p, p, dtype=torch.float64))[1])
    assert float((noise / noise.sum()).max()) < 0.05  # placebo: no pair dominates
    path = fourier_figure(frequency_power(torch.randn(8, p)).sum(0), keys, norms, tmp_path / "fourier.png")
    assert path.stat().st_size > 10_000
