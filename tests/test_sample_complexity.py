"""mfnn.analysis.sample_complexity (crossings, exponent fits, collapse, nested GP solves), the sample-complexity
script's collapsed readout likelihood and float32 GP, and Report.write's file-name options."""
import json
import math

import numpy as np
import pytest
import torch

from mfnn.analysis.sample_complexity import (bootstrap_exponent, collapse_spread, crossing, exponent, gp_nested_means,
                                             per_seed_exponents)
from mfnn.report import Check, Report
from tests.helpers import load_script

sc = load_script("replications/first_order/sample_complexity.py")


def test_crossing_is_exact_for_a_curve_linear_in_log_n():
    n = np.array([10, 100, 1000, 10000])
    A = np.log10(n) / 4  # 0.25, 0.5, 0.75, 1
    assert crossing(n, A, 0.5) == pytest.approx(100)
    assert crossing(n, A, 0.625) == pytest.approx(10**2.5)
    assert math.isnan(crossing(n, A, 1.5))  # never reached
    assert math.isnan(crossing(n, A, 0.2))  # already above at the first point: below the grid, unresolved


def test_crossing_takes_the_first_upward_crossing():
    assert crossing([1, 2, 4, 8], [0.0, 0.6, 0.2, 0.9], 0.5) == pytest.approx(2 ** (5 / 6))


def test_exponent_recovers_a_power_law():
    d = np.array([4, 8, 16, 32])
    fit = exponent(d, 3 * d**2.0)
    assert fit["exponent"] == pytest.approx(2.0) and fit["amplitude"] == pytest.approx(3.0)
    assert fit["exponent_se"] == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(exponent(d, [1, 2, math.nan, 4])["exponent"])


def planted_curves(x: float, d_values, seeds: int = 6, noise: float = 0.15, seed: int = 0):
    """Logistic learning curves in log n centred at n* = 2 d^x, each seed's centre jittered (lognormal)."""
    rng = np.random.default_rng(seed)
    grids, curves = [], []
    for d in d_values:
        n = np.geomspace(0.05, 50, 25) * 2 * d**x
        centre = np.log(2 * d**x) + noise * rng.standard_normal(seeds)
        grids.append(n)
        curves.append(1 / (1 + np.exp(-(np.log(n)[None, :] - centre[:, None]))))
    return grids, curves


@pytest.mark.parametrize("x", [1.0, 1.7, 3.0])
def test_bootstrap_exponent_recovers_the_planted_exponent(x):
    d_values = [8, 16, 32, 64]
    grids, curves = planted_curves(x, d_values)
    fit = bootstrap_exponent(d_values, grids, curves, 0.5, reps=300)
    lo, hi = fit["exponent_ci95"]
    assert lo <= x <= hi and hi - lo < 0.5
    assert fit["defined_fraction"] == 1.0
    assert abs(fit["exponent"] - x) < 0.15
    seeds = per_seed_exponents(d_values, grids, curves, 0.5)
    assert seeds["nstar"].shape == (6, 4) and np.all(np.abs(seeds["exponent"] - x) < 0.4)


def test_bootstrap_reports_a_level_outside_the_grid():
    d_values = [8, 16]
    grids, curves = planted_curves(1.0, d_values)
    curves[1] = 0.4 * curves[1]  # the d = 16 curve never reaches 0.5
    fit = bootstrap_exponent(d_values, grids, curves, 0.5, reps=50)
    assert fit["defined_fraction"] == 0.0 and math.isnan(fit["exponent"])


def test_collapse_spread_is_smallest_at_the_planted_exponent():
    d_values = [8, 16, 32]
    grids, curves = planted_curves(2.0, d_values, noise=0.0)
    mean = [c.mean(0) for c in curves]
    spread = {x: collapse_spread(grids, mean, [d**x for d in d_values]) for x in (0.0, 1.0, 2.0, 3.0)}
    assert spread[2.0] < 1e-3 and min(spread[0.0], spread[1.0], spread[3.0]) > 0.05


def test_gp_nested_means_match_a_direct_solve():
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(60, 3, generator=g, dtype=torch.float64), torch.randn(7, 3, generator=g, dtype=torch.float64)
    y = torch.sin(x[:, 0])
    K, Kt = torch.exp(-torch.cdist(x, x) ** 2), torch.exp(-torch.cdist(xt, x) ** 2)
    F = gp_nested_means(K, Kt, y, 0.1, [5, 20, 60])
    for row, n in zip(F, [5, 20, 60]):
        direct = Kt[:, :n] @ torch.linalg.solve(K[:n, :n] + 0.1 * torch.eye(n, dtype=torch.float64), y[:n])
        assert torch.allclose(row, direct, atol=1e-10)


def test_readout_marginal_is_the_gaussian_marginal_likelihood():
    """-log p(y | W) with the readout integrated out equals -log N(y; 0, s2 I + sigma_a2/N phi phi^T), and the
    posterior-mean readout equals the direct Gaussian conditional."""
    g = torch.Generator().manual_seed(1)
    n, N, s2, sa2 = 30, 5, 0.05, 1.0
    phi, y = torch.erf(torch.randn(2, n, N, generator=g)), torch.randn(2, n, generator=g)
    nll, mean_a = sc.readout_marginal(phi, y, s2, sa2)
    for k in range(2):
        P = phi[k].double()
        cov = s2 * torch.eye(n, dtype=torch.float64) + sa2 / N * P @ P.T
        ref = -torch.distributions.MultivariateNormal(torch.zeros(n, dtype=torch.float64), cov).log_prob(y[k].double())
        assert nll[k].item() == pytest.approx(ref.item(), rel=1e-5)
        direct = sa2 / N * P.T @ torch.linalg.solve(cov, y[k].double())
        assert torch.allclose(mean_a[k], direct, atol=1e-5)


def test_float32_gp_matches_float64():
    """The script solves the GP in float32 (see gp_curves); on d = 8, n up to 1024 its cubic alignment agrees
    with a float64 solve to 1e-3, far below the seed-to-seed spread (~0.03)."""
    x, xt = sc.data(8, 1, 1024, 1000, 0)
    ns = [128, 512, 1024]
    F64 = torch.stack([gp_nested_means(sc.erf_nngp(x[0], x[0]), sc.erf_nngp(xt, x[0]), sc.teacher(x[0]),
                                       sc.NOISE_VAR, ns)])
    A64 = sc.alignments(F64.numpy(), xt)["A3"]
    A32 = sc.alignments(sc.gp_curves(x, xt, ns).numpy(), xt)["A3"]
    assert np.max(np.abs(A32 - A64)) < 1e-3


def test_report_write_takes_file_names(tmp_path):
    rep = Report("t", checks=[Check("c", 1.0, 1.0, 0.1)], metrics={"a": 1})
    path = rep.write(tmp_path, report_name="other.md", metrics_name="other.json")
    assert path == tmp_path / "other.md" and path.read_text().startswith("# t")
    assert json.loads((tmp_path / "other.json").read_text())["metrics"] == {"a": 1}
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "metrics.json").exists()
    rep.write(tmp_path)  # the default names are unchanged
    assert (tmp_path / "report.md").exists() and (tmp_path / "metrics.json").exists()
