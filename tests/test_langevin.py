"""Langevin sampler: exact posterior on Bayesian linear regression, deterministic and resumable noise,
usable from the CLI with posterior averaging."""
import math
from pathlib import Path

import pytest
import torch

from mfnn.callbacks.posterior import PosteriorAverage
from mfnn.cli import run
from mfnn.errors import ConfigError
from mfnn.optim import Langevin

ROOT = Path(__file__).resolve().parents[1]


def blr_problem(n=20, p=3, noise_var=0.5, prior_var=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, p, generator=g)
    y = X @ torch.tensor([1.0, -0.5, 0.25]) + math.sqrt(noise_var) * torch.randn(n, generator=g)
    precision = X.T @ X / noise_var + torch.eye(p) / prior_var
    cov = torch.linalg.inv(precision)
    mean = cov @ X.T @ y / noise_var
    return X, y, mean, cov


def test_bayesian_linear_regression_posterior():
    """L = |Xw - y|^2 / 2, temperature = sigma^2, weight decay = sigma^2 / tau^2  ->  p(w | X, y)."""
    noise_var, prior_var = 0.5, 1.0
    X, y, mean, cov = blr_problem(noise_var=noise_var, prior_var=prior_var)
    chains, lr, burn_in, steps = 4000, 2e-3, 1500, 2500
    w = torch.zeros(chains, 3, requires_grad=True)  # independent chains: one row each
    opt = Langevin([w], lr=lr, temperature=noise_var, weight_decay=noise_var / prior_var, seed=1)
    samples = []
    for step in range(steps):
        opt.zero_grad()
        (0.5 * (w @ X.T - y).square().sum()).backward()
        opt.step()
        if step >= burn_in and step % 50 == 0:
            samples.append(w.detach().clone())
    S = torch.stack(samples)  # (T, chains, p): chains are independent, samples 50 steps apart
    flat = S.reshape(-1, 3)
    sample_mean, sample_cov = flat.mean(0), torch.cov(flat.T)
    # Monte Carlo error of the mean from the independent chains' time averages.
    se = S.mean(0).std(0) / math.sqrt(chains)
    assert torch.all((sample_mean - mean).abs() < 5 * se + 1e-3), (sample_mean, mean, se)
    # Covariance: 4000 chains x 20 draws; Euler bias O(lr * curvature) ~ 2%. Stated tolerance: 6%.
    rel = (sample_cov - cov).norm() / cov.norm()
    assert rel < 0.06, (sample_cov, cov, rel)
    assert torch.allclose(torch.diagonal(sample_cov), torch.diagonal(cov), rtol=0.06)


def test_zero_temperature_is_gradient_descent_with_weight_decay():
    w1 = torch.tensor([1.0, -2.0], requires_grad=True)
    w2 = w1.detach().clone().requires_grad_()
    lang, sgd = Langevin([w1], lr=0.1, temperature=0.0, weight_decay=0.3), torch.optim.SGD([w2], lr=0.1, weight_decay=0.3)
    for w, opt in ((w1, lang), (w2, sgd)):
        for _ in range(5):
            opt.zero_grad()
            (w.square().sum() + w.sum()).backward()
            opt.step()
    torch.testing.assert_close(w1, w2)


def _steps(opt, w, k):
    for _ in range(k):
        opt.zero_grad()
        w.square().sum().backward()
        opt.step()


def test_noise_seeded_and_resumable():
    w_a = torch.ones(5, requires_grad=True)
    w_b = torch.ones(5, requires_grad=True)
    a, b = Langevin([w_a], lr=0.01, seed=7), Langevin([w_b], lr=0.01, seed=7)
    _steps(a, w_a, 10)
    _steps(b, w_b, 10)
    assert torch.equal(w_a, w_b)
    saved, w_saved = a.state_dict(), w_a.detach().clone()
    _steps(a, w_a, 10)
    w_c = w_saved.clone().requires_grad_()
    c = Langevin([w_c], lr=0.01, seed=123)  # the seed comes back from the state dict
    c.load_state_dict(saved)
    _steps(c, w_c, 10)
    assert torch.equal(w_a, w_c)
    torch.manual_seed(3)
    assert Langevin([w_c], lr=0.01).seed == 3  # default seed: the run's seed (seed_everything)


def test_bad_arguments_name_the_field():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ConfigError, match="temperature"):
        Langevin([w], lr=0.1, temperature=-1.0)
    with pytest.raises(ConfigError, match="lr"):
        Langevin([w], lr=0.0)


def test_cli_langevin_with_posterior_average(tmp_path):
    base, tiny = (str(ROOT / "configs" / "first_order" / f"{c}.yaml") for c in ("rubin_cpu", "rubin_tiny"))
    cli = run("fit", "--config", base, "--config", tiny, f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_steps=30",
              "--trainer.callbacks=mfnn.callbacks.PosteriorAverage",
              "--trainer.callbacks.burn_in=10", "--trainer.callbacks.every=5")
    opt = cli.trainer.optimizers[0]
    assert isinstance(opt, Langevin)
    model = cli.model
    # Each group's prior is tied to its fan-in: lr scale = prior variance, precision = 1 / variance.
    lr_W, lr_a = (g["lr"] for g in opt.param_groups)
    wd_W, wd_a = (g["weight_decay"] for g in opt.param_groups)
    assert math.isclose(wd_W, model.d / model.sigma_w2, rel_tol=1e-6)
    assert math.isclose(wd_a, model.N / model.sigma_a2, rel_tol=1e-6)
    assert math.isclose(lr_W * wd_W, lr_a * wd_a, rel_tol=1e-6)
    post = torch.load(Path(cli.trainer.log_dir) / "posterior.pt")
    assert post["count"] == 4  # steps 15, 20, 25, 30
    assert post["mean"]["val_pred"].shape[0] == model.chains
    assert set(post["mean"]) >= {"val_pred", "overlap", "frac_specialised"}
