"""Progress measures: known answers on a model whose logits are exactly the Fourier algorithm,
and the callback's end-to-end outputs on a tiny transformer run."""
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from mfnn.analysis.fourier import key_frequencies
from mfnn.callbacks.progress import ProgressMeasures, measure, phase_boundaries, weight_measures
from mfnn.cli import run
from mfnn.data.modular import all_pairs, split_masks

ROOT = Path(__file__).resolve().parents[1]
P = 13


class FourierAlgorithm(nn.Module):
    """logits(a, b)[c] = scale * sum_k cos(w_k (a + b - c)) (+ optional noise), plus the weights the
    Gini measures read: W_E built from cosines at the key frequencies."""

    def __init__(self, p, freqs, scale=8.0, noise=0.0):
        super().__init__()
        self.p, self.freqs, self.scale, self.noise = p, freqs, scale, noise
        x = torch.arange(p + 1, dtype=torch.float32)
        self.W_E = nn.Parameter(torch.stack([torch.cos(2 * math.pi * k * x / p) for k in freqs], 1))
        self.W_out = nn.Parameter(torch.eye(len(freqs)))
        self.W_U = nn.Parameter(self.W_E[:p].T.clone())

    def forward(self, a, b):
        c = torch.arange(self.p)
        s = (a + b)[:, None] - c[None, :]
        logits = self.scale * sum(torch.cos(2 * math.pi * k * s / self.p) for k in self.freqs)
        g = torch.Generator().manual_seed(0)
        return logits + self.noise * torch.randn(logits.shape, generator=g) + 0 * self.W_E.sum()


def test_restricted_and_excluded_loss_on_the_exact_algorithm():
    model = FourierAlgorithm(P, [2, 5])
    a, b, y = all_pairs(P)
    mask = split_masks(P, [0.3], [0])[0]
    params = dict(model.named_parameters())
    m = measure(model, params, a, b, y, mask, [2, 5])
    assert m["train_acc"] == 1.0 and m["test_acc"] == 1.0
    assert m["restricted_loss"] == pytest.approx(m["test_loss"], rel=1e-5)  # nothing outside the key directions
    assert m["excluded_loss"] == pytest.approx(math.log(P), rel=1e-5)  # removing them leaves uniform logits
    wrong = measure(model, params, a, b, y, mask, [3, 4])  # the wrong key frequencies explain nothing
    assert wrong["restricted_loss"] == pytest.approx(math.log(P), rel=1e-5)
    assert wrong["excluded_loss"] == pytest.approx(m["train_loss"], rel=1e-5)
    assert m["gini_W_E"] > 0.8  # W_E lives on 4 of 13 Fourier components
    assert m["sum_sq_weights"] == pytest.approx(sum(float(t.detach().square().sum()) for t in params.values()), rel=1e-6)


def test_weight_measures_known_answers():
    """Gini of Fourier norms: one frequency in W_E and in W_out W_U -> sparse; i.i.d. noise -> dense."""
    p = 31
    x = torch.arange(p + 1, dtype=torch.float64)
    cos = torch.cos(2 * math.pi * 4 * x / p)
    sparse = {"W_E": cos[:, None].repeat(1, 3), "W_out": torch.eye(3, dtype=torch.float64),
              "W_U": cos[None, :p].repeat(3, 1)}
    m = weight_measures(sparse, p)
    n = p  # one of p Fourier basis vectors carries all the norm: Gini = 1 - 1/p
    assert m["gini_W_E"] == pytest.approx(1 - 1 / n, abs=1e-6) and m["gini_W_U"] == pytest.approx(1 - 1 / n, abs=1e-6)
    assert m["sum_sq_weights"] == pytest.approx(float(sum(t.square().sum() for t in sparse.values())))
    g = torch.Generator().manual_seed(0)
    dense = {k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in sparse.items()}
    assert weight_measures(dense, p)["gini_W_E"] < 0.5


def test_restricted_logits_drop_noise_outside_key_frequencies():
    noisy = FourierAlgorithm(P, [2, 5], scale=2.0, noise=3.0)
    a, b, y = all_pairs(P)
    mask = split_masks(P, [0.3], [0])[0]
    m = measure(noisy, dict(noisy.named_parameters()), a, b, y, mask, [2, 5])
    assert m["restricted_loss"] < m["test_loss"]  # the restricted logits drop the noise


def test_callback_on_a_tiny_transformer_run(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs" / "grokking" / "nanda_transformer.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.accelerator=cpu",
              "--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.d_model=16",
              "--model.init_args.n_heads=2", "--model.init_args.d_head=8", "--model.init_args.d_mlp=32",
              "--trainer.max_steps=30", "--data.init_args.steps_per_epoch=10",
              "--trainer.callbacks.init_args.every_n_steps=10", "--trainer.callbacks.init_args.n_key_freqs=3",
              "--trainer.callbacks.init_args.plot=false")
    cb = next(c for c in cli.trainer.callbacks if isinstance(c, ProgressMeasures))
    assert cb.history["step"] == [0, 10, 20, 30]
    # the key frequencies are the top 3 of the final embedding's Fourier power
    assert cb.key_freqs == key_frequencies(cli.model.W_E[:11].detach(), 3)[0]
    for key, values in cb.history.items():
        assert all(math.isfinite(v) for v in values), key
    assert cb.history["train_loss"][-1] < cb.history["train_loss"][0]  # it trained
    header = (Path(cli.trainer.log_dir) / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"progress/gini_W_E", "progress/gini_W_U", "progress/sum_sq_weights"} <= set(header)  # logged live
    saved = json.loads((Path(cli.trainer.log_dir) / "progress.json").read_text())
    assert saved["key_freqs"] == cb.key_freqs and set(saved["phases"]) == {
        "memorisation_end", "circuit_formation_end", "cleanup_end"}


def test_phase_boundaries_on_a_synthetic_history():
    """Excluded loss lowest at 300 -> memorisation ends there; test acc passes 50% at 600; Gini reaches
    95% of its final value at 800."""
    h = {"step": [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
         "excluded_loss": [4.0, 1.0, 0.1, 0.01, 0.02, 0.5, 2.0, 3.0, 3.0, 3.0],
         "train_acc": [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
         "test_acc": [0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.9, 1.0, 1.0, 1.0],
         "gini_W_E": [0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.5, 0.7, 0.96, 1.0]}
    assert phase_boundaries(h) == {"memorisation_end": 300.0, "circuit_formation_end": 600.0, "cleanup_end": 800.0}


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    """Weights, optimiser, scheduler and the callback's snapshots come back from last.ckpt."""
    def fit(steps, save_dir, *extra):
        cli = run("fit", "--config", str(ROOT / "configs" / "grokking" / "nanda_transformer.yaml"),
                  f"--trainer.logger.init_args.save_dir={save_dir}", "--trainer.accelerator=cpu",
                  "--model.init_args.p=7", "--data.init_args.p=7", "--model.init_args.d_model=8",
                  "--model.init_args.n_heads=2", "--model.init_args.d_head=4", "--model.init_args.d_mlp=16",
                  f"--trainer.max_steps={steps}", "--data.init_args.steps_per_epoch=10",
                  "--trainer.callbacks.init_args.every_n_steps=10", "--trainer.callbacks.init_args.n_key_freqs=2",
                  "--trainer.callbacks.init_args.plot=false", *extra)
        return cli, next(c for c in cli.trainer.callbacks if isinstance(c, ProgressMeasures))

    first, _ = fit(20, tmp_path / "a")
    ckpt = Path(first.trainer.log_dir) / "checkpoints" / "last.ckpt"
    _, resumed = fit(40, tmp_path / "a", f"--ckpt_path={ckpt}")
    _, straight = fit(40, tmp_path / "b")
    assert resumed.history["step"] == [0, 10, 20, 30, 40]
    assert resumed.history == straight.history and resumed.key_freqs == straight.key_freqs
