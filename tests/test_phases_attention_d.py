"""Known-answer tests of the attention part's estimators (replications/phase_transitions/attention_d.py) on planted
data: a logistic threshold, crossings of planted finite-size curves, the rule-of-succession error floor, the
teacher-split null, and the semantic / positional rule."""
import numpy as np
import pytest

from tests.helpers import load_script

attention_d = load_script("replications/phase_transitions/attention_d.py")


def planted(dims, alphas, teachers, alpha_c=1.3, nu=1.0, rng=None):
    """0/1 outcomes with P(semantic) = 1/(1 + exp(-(alpha - alpha_c) d^(1/nu) / 4)): curves of all d cross at
    alpha_c and sharpen like d^(-1/nu). Per d: (G, teachers)."""
    rng = rng or np.random.default_rng(0)
    out = {}
    for d in dims:
        p = 1.0 / (1.0 + np.exp(-(np.asarray(alphas)[:, None] - alpha_c) * d ** (1 / nu) / 4.0))
        out[d] = (rng.random((len(alphas), teachers)) < p).astype(float)
    return out


def test_logistic_threshold_recovers_a_planted_midpoint_and_width():
    rng = np.random.default_rng(1)
    alphas = np.linspace(0.5, 2.5, 21)
    p = 1.0 / (1.0 + np.exp(-(alphas[:, None] - 1.4) / 0.2))
    y = (rng.random((21, 2000)) < p).astype(float)
    a50, w = attention_d.logistic_threshold(alphas, y)
    assert a50 == pytest.approx(1.4, abs=0.02) and w == pytest.approx(0.2, rel=0.1)


def test_crossings_and_collapse_find_the_planted_alpha_c():
    dims, alphas = [8, 16, 32], np.round(np.arange(0.9, 1.71, 0.05), 3)  # widths 4/d: 0.5 ... 0.125
    rng = np.random.default_rng(2)
    outcomes = planted(dims, alphas, 400, rng=rng)
    obs = {d: attention_d.fraction_observables(alphas, outcomes[d], d, 100, rng) for d in dims}
    cr = attention_d.crossings_extrapolated(obs, "abs_m", shift_exponent=1.0, systematic=(0.5, 2.0), half_width=2)
    assert cr["found"] == 2
    assert abs(cr["g_c"] - 1.3) <= max(3 * cr["err"], 0.02)
    fit = attention_d.collapse(obs, "abs_m", (1.2, 2.0, 0.0), fix_kappa=0.0, n_boot=3, max_evaluations=400)
    assert fit["g_c"] == pytest.approx(1.3, abs=0.03) and fit["nu"] == pytest.approx(1.0, rel=0.25)
    assert fit["g_c_err"] < attention_d.MAX_ALPHA_C_ERR
    delta = attention_d.MAX_ALPHA_C_ERR
    assert attention_d.profile_ratio(obs, fit, delta, 400) > attention_d.PIN_RATIO
    # placebo: outcomes shuffled over alpha carry no alpha_c, and the profile says so (its bootstrap error need not)
    shuffled = {d: attention_d.fraction_observables(alphas, rng.permuted(outcomes[d], axis=0), d, 100, rng) for d in dims}
    bad = attention_d.collapse(shuffled, "abs_m", (1.2, 2.0, 0.0), fix_kappa=0.0, n_boot=0, max_evaluations=400)
    assert attention_d.profile_ratio(shuffled, bad, delta, 400) < attention_d.PIN_RATIO


def test_fraction_error_is_floored_at_the_binomial_error():
    alphas = [1.0, 2.0]
    outcomes = np.array([[0.0] * 8, [1.0] * 8])  # 0/8 and 8/8: bootstrap spread zero
    obs = attention_d.fraction_observables(alphas, outcomes, 10, 50, np.random.default_rng(0))
    p = 1 / 10  # rule of succession (0 + 1) / (8 + 2)
    assert obs.err["abs_m"] == pytest.approx(np.sqrt(p * (1 - p) / 8))
    assert obs.mean["abs_m"].tolist() == [0.0, 1.0]


def test_teacher_split_null_matches_the_sampling_spread():
    rng = np.random.default_rng(3)
    values = rng.normal(0.0, 1.0, size=(5, 40))  # 5 sizes, 40 teachers, sd 1
    null = attention_d.teacher_split_null(values, 2000, rng)
    # half-vs-half difference: sd sqrt(4/40) per size, so the RMS over sizes has median ~ sqrt(0.1)
    assert np.median(null) == pytest.approx(np.sqrt(0.1), rel=0.15)


def test_semantic_rule_is_even_in_Q():
    theta, m = np.array([0.5, -0.5, 0.05, -0.02]), np.array([0.01, -0.01, 0.25, 0.3])
    assert attention_d.semantic(theta, m).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert attention_d.semantic(-theta, -m).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_theory_alpha_c_reads_the_converged_table():
    th = attention_d.theory_alpha_c(0.3)
    assert th["n_gh"] == 16 and 1.2 < th["value"] < 1.3 and 0 < th["error"] < 0.05


def test_an_off_grid_midpoint_is_labelled_on_its_own_side():
    alphas = [1.0, 1.25, 1.5, 2.0, 3.0, 4.0]
    assert [attention_d.grid_side(alphas, a) for a in (0.47, 1.0, 2.4, 4.0, 6.5)] == \
        ["below", "on", "on", "on", "above"]
    fraction = [0.44, 0.78, 0.67, 0.78, 0.89, 0.89]  # d = 10 of the committed run: mostly semantic already
    low = attention_d.off_grid_label(alphas, {"alpha_50": 0.47, "alpha_50_err": 0.49}, fraction)
    assert low.startswith("< 1 (off the grid") and "fraction 0.44 at α = 1" in low
    high = attention_d.off_grid_label(alphas, {"alpha_50": 8.2, "alpha_50_err": 2.0}, [0.0, 0.1, 0.1, 0.2, 0.2, 0.3])
    assert high.startswith("> 4 (off the grid") and "fraction 0.30 at α = 4" in high
