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


# ---- across scales ---------------------------------------------------------------------------------
from mfnn.analysis.first_order import (curve_observables, extrapolated_break, parse_scales,  # noqa: E402
                                       scaled_setting, successive_crossings)
from mfnn.theory.teacher_student import couplings  # noqa: E402


def test_table1_scales_keep_u_and_g_up_to_rounding():
    base = {"d": 150, "n": 3000, "N": 700, "sigma_a2": 8 / 700}
    assert parse_scales("1/8:3 1/16:4 1/4") == [(1 / 16, 4), (1 / 8, 3), (1 / 4, 2)]
    ref = couplings(150, 3000, 700, 8 / 700, 0.18)
    for beta, d in ((1 / 16, 38), (1 / 8, 53), (1 / 4, 75), (2.0, 212)):
        st = scaled_setting(base, beta)
        assert st["d"] == d and st["sigma_a2"] == 8 / 700 / beta**0.5
        c = couplings(st["d"], st["n"], st["N"], st["sigma_a2"], 0.18)
        assert abs(c["u"] / ref["u"] - 1) < 0.02 and abs(c["g"] / ref["g"] - 1) < 0.02  # rounding of d, n, N only


def test_extrapolated_break_recovers_a_planted_limit():
    d = np.array([38.0, 53.0, 75.0])
    rng = np.random.default_rng(0)
    breaks = 0.18 - 1.5 / d
    boots = [b + 0.002 * rng.normal(size=500) for b in breaks]
    ex = extrapolated_break(d, breaks, boots, shift_exponent=1.0)
    assert abs(ex["sigma2_c"] - 0.18) < 1e-9 and abs(ex["slope"] + 1.5) < 1e-9
    assert 0.002 < ex["err_stat"] < 0.05  # the replicate spread propagates through the extrapolation
    assert ex["err_syst"] > 0.005  # a different shift exponent moves a planted 1/d limit: the systematic is not zero
    # placebo: breaks that do not move with d extrapolate to themselves with no systematic
    flat = extrapolated_break(d, np.full(3, 0.15), [np.full(500, 0.15)] * 3)
    assert abs(flat["sigma2_c"] - 0.15) < 1e-12 and flat["err"] < 1e-12


def test_crossings_of_planted_curves():
    rng = np.random.default_rng(1)
    small = (-0.1 * (0.15 - X))[None, None] + 0.001 * rng.normal(size=(3, 2, len(X)))
    large = (-0.2 * (0.15 - X))[None, None] + 0.001 * rng.normal(size=(3, 2, len(X)))
    obs = [curve_observables(X, Y, 100, "c3", n_boot=200) for Y in (small, large)]
    (c,) = successive_crossings(obs, [38, 75], "c3")
    assert abs(c["g"] - 0.15) < 3 * c["err"] + 0.003 and c["err"] < 0.01
    # placebo: parallel curves never cross
    (none,) = successive_crossings([obs[0], curve_observables(X, small + 0.05, 100, "c3", n_boot=200)], [38, 75], "c3")
    assert np.isnan(none["g"])
