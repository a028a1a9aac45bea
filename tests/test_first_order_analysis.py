"""The across-seed readings of the first-order replication: a two-segment fit finds a planted break with an
honest interval and rejects a smooth curve; the coexistence cumulant tells droplets from a widened cloud."""
import numpy as np

from mfnn.analysis.first_order import (binder_of_hist, bin_centres, gaussian_cloud_hist, hinge_fit, locate_break,
                                       smooth_placebo)

X = np.array([0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.24, 0.30])


def _measured(curve, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return curve[None, None, :] + noise * rng.normal(size=(3, 2, len(X)))  # (seeds, chains, points)


def test_hinge_fit_recovers_a_planted_break():
    y = 0.1 + 0.5 * X + 4.0 * np.maximum(0, 0.17 - X)
    fit = hinge_fit(X, y)
    assert abs(fit["break"] - 0.17) < 1e-3 and abs(fit["slope_below"] - (0.5 - 4.0)) < 1e-6


def test_locate_break_finds_a_kink_and_the_placebo_does_not():
    Y = _measured(0.1 + 0.5 * X + 4.0 * np.maximum(0, 0.17 - X))
    kink = locate_break(X, Y, n_boot=300)
    assert kink["p_smooth"] < 0.01 and kink["ci95"][0] <= 0.17 <= kink["ci95"][1] and kink["half_width"] < 0.02
    placebo = locate_break(X, smooth_placebo(X, Y), n_boot=300, seed=1)
    assert placebo["p_smooth"] > 0.05  # the same noise around a smooth curve: no significant kink


def test_smooth_convex_curve_is_not_a_kink():
    Y = _measured(0.2 + 3 * (X - 0.05) ** 2, noise=0.005)
    assert locate_break(X, Y, n_boot=300)["p_smooth"] > 0.05


def test_binder_cumulant_tells_droplets_from_a_widened_cloud():
    rng = np.random.default_rng(0)
    gauss = gaussian_cloud_hist(0.08**2, 5000, 40, rng)
    assert abs(binder_of_hist(gauss)) < 0.15
    droplets = 0.99 * gauss + 0.01 * (np.abs(bin_centres(40) - 0.8) < 0.02)  # 1% of the neurons at |cos| 0.8
    assert binder_of_hist(droplets) < -3
    shifted = np.bincount(np.minimum((np.abs(rng.normal(0.6, 0.05, 5000)) * 40).astype(int), 39), minlength=40)
    assert binder_of_hist(shifted) > 0.5  # a cloud moved as a whole: U -> 2/3
