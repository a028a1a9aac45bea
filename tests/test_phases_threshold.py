"""success_threshold against planted logistic thresholds: it recovers x_c within its error bar, its error bar
covers the truth at about the stated rate, an unresolved jump gets the grid's resolution as its error, and a flat
success rate (no threshold) is not reported as one."""
import math

import numpy as np

from mfnn.phases.threshold import logistic, success_threshold

X_C, WIDTH = 40.0, 0.15  # planted: P = 1/2 at x = 40, width 0.15 in log x
SIZES = [10, 14, 20, 28, 40, 56, 80, 113, 160]


def draw(rng, trials=24, x_c=X_C, width=WIDTH, sizes=SIZES):
    return [rng.random(trials) < logistic(s, x_c, width) for s in sizes]


def test_recovers_planted_threshold_and_width():
    res = success_threshold(SIZES, draw(np.random.default_rng(1), trials=64), n_boot=200)
    assert res["bracketed"] and res["resolved"]
    assert abs(res["x_c"] - X_C) < 3 * res["err"] and res["err"] < 0.1 * X_C
    assert abs(res["width"] - WIDTH) < 3 * res["width_err"]
    assert res["ci68"][0] < res["x_c"] < res["ci68"][1]
    assert res["err_grid"] == 0.0 and res["width_resolved"]  # intermediate rates: the fit, not the grid, locates it
    assert res["profile68"][0] < res["x_c"] < res["profile68"][1]
    lo, hi = res["span_10_90"]
    assert lo < X_C < hi and math.isclose(math.log(hi / lo), 2 * math.log(9) * res["width"], rel_tol=1e-9)
    rates = res["per_size"]
    assert all(lo <= r <= hi for lo, r, hi in zip(rates["rate_lo"], rates["rate"], rates["rate_hi"]))


def test_error_bar_covers_truth_at_about_the_stated_rate():
    # 40 independent planted data sets at 16 trials per size: the 1-sigma bar should cover x_c about 68% of the
    # time; 22..36 hits of 40 is the binomial 99% band around 27
    rng = np.random.default_rng(2)
    hits = sum(abs(r["x_c"] - X_C) <= r["err"] for r in
               (success_threshold(SIZES, draw(rng, trials=16), n_boot=60, rng=rng) for _ in range(40)))
    assert 22 <= hits <= 36, hits


def test_unresolved_jump_takes_the_grid_resolution():
    # every trial fails at <= 28 and succeeds at >= 40: the threshold lies somewhere in (28, 40)
    outcomes = [np.zeros(16, bool)] * 4 + [np.ones(16, bool)] * 5
    res = success_threshold(SIZES, outcomes, n_boot=50)
    assert res["bracketed"] and not res["resolved"]
    assert 28 < res["x_c"] < 40 and res["err_stat"] < 1e-6 * X_C
    assert math.isclose(res["err_grid"], res["x_c"] * math.log(40 / 28) / math.sqrt(12), rel_tol=1e-9)
    assert res["err_grid"] <= res["err"] <= res["x_c"] * math.log(40 / 28) / 2 * 1.01
    assert not res["width_resolved"]


def test_linear_control_parameter():
    fractions = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]
    rng = np.random.default_rng(3)
    outcomes = [rng.random(48) < logistic(f, 0.22, 0.02, log=False) for f in fractions]
    res = success_threshold(fractions, outcomes, log=False, n_boot=100)
    assert abs(res["x_c"] - 0.22) < 3 * res["err"] and res["err"] < 0.02


def test_placebo_flat_rate_is_no_threshold():
    # P = 0.6 at every size: the rate never starts below 1/2, so no crossing is claimed
    rng = np.random.default_rng(4)
    res = success_threshold(SIZES, [rng.random(200) < 0.6 for _ in SIZES], n_boot=10)
    assert not res["bracketed"] and math.isnan(res["x_c"])


def test_critical_fraction_threshold_groups_seeds_by_fraction():
    from mfnn.analysis.phases import critical_fraction_threshold

    # three seeds per fraction, every seed fails at 0.15 and passes from 0.175: the threshold is in (0.15, 0.175)
    fractions = [0.15] * 3 + [0.175] * 3 + [0.2] * 3 + [0.3] * 3
    res = critical_fraction_threshold(fractions, [0.002] * 3 + [0.995] * 9, 0.99, n_boot=20)
    assert 0.15 < res["x_c"] < 0.175 and not res["resolved"]
    # the grid's resolution, or half the flat profile-likelihood interval across the gap, whichever is larger
    assert math.isclose(res["err_grid"], 0.025 / math.sqrt(12), rel_tol=1e-9)
    assert res["err_grid"] <= res["err"] <= 0.025 / 2 + 1e-9
    assert res["per_size"]["successes"] == [0, 3, 3, 3]
