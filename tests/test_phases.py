"""The phase-transition toolkit against known answers: a planted finite-size collapse, the exact Curie-Weiss
Binder cumulant at T_c, and first-order vs continuous verdicts."""
import math

import numpy as np
import pytest

from mfnn.phases import binder_critical_point, collapse, diagnose, integrated_autocorrelation_time, observables, quality
from mfnn.phases.ising import BINDER_CW_LIMIT, curie_weiss_moments, sample_curie_weiss
from mfnn.phases.observables import Observables
from mfnn.phases.synthetic import first_order_samples

G_C, NU, KAPPA = 0.7, 1.3, 0.4  # planted


def planted(sizes=(16, 32, 64, 128), rel_noise=0.01, n_boot=60, seed=0):
    """y = L^kappa F((g - g_c) L^(1/nu)) with 1% Gaussian noise and matching bootstrap replicates; and a Binder-
    like U = F_U(x) + 0.05 L^-1 (a correction to scaling, so crossings drift as L^-(1/nu + 1))."""
    rng = np.random.default_rng(seed)
    g = np.linspace(0.55, 0.85, 21)
    obs = {}
    for L in sizes:
        x = (g - G_C) * L ** (1 / NU)
        y = L**KAPPA * np.exp(-0.5 * x**2) * (1 + 0.3 * x) + 0.0
        u = 2 / 3 / (1 + np.exp(x)) + 0.5 / L
        sd_y, sd_u = rel_noise * np.abs(y) + 1e-3, 2e-3 * np.ones_like(u)
        mean = {"y": y + rng.normal(0, sd_y), "binder": u + rng.normal(0, sd_u)}
        boot = {"y": mean["y"] + rng.normal(0, sd_y, (n_boot, len(g))),
                "binder": mean["binder"] + rng.normal(0, sd_u, (n_boot, len(g)))}
        obs[L] = Observables(g=g, volume=float(L), mean=mean, err={"y": sd_y, "binder": sd_u}, boot=boot)
    return obs


def test_planted_collapse_recovers_g_c_nu_kappa():
    obs = planted(sizes=(16, 32, 64))
    fit = collapse(obs, "y", start=(0.65, 1.0, 0.0), n_boot=4)
    # the fitted values agree with the planted ones within 4 bootstrap errors, and those errors are small
    for name, true in (("g_c", G_C), ("nu", NU), ("kappa", KAPPA)):
        assert abs(fit[name] - true) <= 4 * fit[name + "_err"] + 1e-4, (name, fit)
        assert fit[name + "_err"] < 0.05 * abs(true)
    assert fit["S"] < 2.0  # a reduced chi^2: ~1 when the collapse matches the error bars
    # placebo: a wrong exponent makes S much larger
    data = [(float(L), o.g, o.mean["y"], o.err["y"]) for L, o in sorted(obs.items())]
    assert quality(G_C, 0.6, KAPPA, data) > 20 * fit["S"]


def test_binder_crossings_extrapolate_to_planted_g_c():
    res = binder_critical_point(planted())
    assert abs(res["g_c"] - G_C) <= 3 * res["err"] + 1e-4, res
    assert res["err"] < 0.01
    # successive crossings move towards g_c (the planted correction makes them drift)
    gs = [c["g"] for c in res["crossings"]]
    assert abs(gs[-1] - G_C) < abs(gs[0] - G_C)


def test_curie_weiss_binder_at_t_c_exact():
    # the exact finite-N sum converges to 1 - Gamma(1/4)^4 / (24 pi^2) with an O(N^-1/2) correction
    assert BINDER_CW_LIMIT == pytest.approx(0.270520, abs=1e-6)
    gaps = [abs(curie_weiss_moments(N, 1.0)["binder"] - BINDER_CW_LIMIT) for N in (256, 4096, 65536, 2**20)]
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 2e-3
    assert gaps[-2] / gaps[-1] == pytest.approx(4.0, rel=0.15)  # 16x the size, 4x smaller: N^-1/2
    # mean-field limits on both sides: U -> 2/3 ordered, U -> 0 disordered
    assert curie_weiss_moments(4096, 0.8)["binder"] == pytest.approx(2 / 3, abs=1e-3)
    u_hot = [curie_weiss_moments(N, 1.3)["binder"] for N in (4096, 16384)]
    assert 0 < u_hot[1] < u_hot[0] / 3 and u_hot[0] < 5e-3  # Gaussian m up to an O(1/N) correction


def test_toolkit_on_exact_curie_weiss_samples():
    """Sampled moments agree with the exact ones within their bootstrap errors; crossings sit at T_c = 1."""
    rng = np.random.default_rng(1)
    T = np.linspace(0.9, 1.1, 11)
    obs = {}
    for N in (64, 256, 1024):
        samples = sample_curie_weiss(N, T, 4000, rng).reshape(len(T), 200, 20)  # 200 "chains" of 20 draws
        obs[N] = observables(T, samples, volume=N, n_boot=100, rng=rng)
        exact = np.array([curie_weiss_moments(N, t)["binder"] for t in T])
        z = (obs[N]["binder"] - exact) / obs[N].err["binder"]
        assert np.all(np.abs(z) < 4.5), z
    res = binder_critical_point(obs, shift_exponent=1.0)
    assert abs(res["g_c"] - 1.0) < max(3 * res["err"], 0.002), res


def test_verdicts_first_order_vs_continuous():
    rng = np.random.default_rng(2)
    g = np.linspace(-0.05, 0.05, 11)
    fo = first_order_samples((8, 16, 32), g, chains=400, rng=rng)
    fo_obs = {L: observables(g, x, volume=L**2, n_boot=60, rng=rng) for L, x in fo.items()}
    res = diagnose(fo, fo_obs)
    assert res["verdict"] == "first-order", res["evidence"]
    assert all(res["evidence"].values())
    assert res["per_size"][32]["jump"] == pytest.approx(0.6, abs=0.1)

    T = np.linspace(0.95, 1.05, 11)
    cw = {N: sample_curie_weiss(N, T, 400, rng).reshape(len(T), 400, 1) for N in (256, 1024, 4096)}
    cw_obs = {N: observables(T, x, volume=N, n_boot=60, rng=rng) for N, x in cw.items()}
    res = diagnose(cw, cw_obs)
    assert res["verdict"] == "continuous", res


def test_integrated_autocorrelation_time_of_ar1():
    """AR(1) with coefficient a has tau_int = (1 + a) / (2 (1 - a))."""
    rng = np.random.default_rng(3)
    a, T = 0.8, 20000
    x = np.zeros((8, T))
    for t in range(1, T):
        x[:, t] = a * x[:, t - 1] + rng.normal(size=8)
    assert integrated_autocorrelation_time(x) == pytest.approx((1 + a) / (2 * (1 - a)), rel=0.1)
    assert integrated_autocorrelation_time(rng.normal(size=(8, 5000))) == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_first_order_verdict_over_seeds(seed):
    """The verdict and all three signatures hold for other draws of the planted two-phase data."""
    rng = np.random.default_rng(seed)
    g = np.linspace(-0.05, 0.05, 11)
    fo = first_order_samples((8, 16, 32), g, chains=400, rng=rng)
    res = diagnose(fo, {L: observables(g, x, volume=L**2, n_boot=60, rng=rng) for L, x in fo.items()})
    assert res["verdict"] == "first-order" and all(res["evidence"].values()), res["evidence"]


def test_original_straight_line_master_curve_on_a_fine_grid():
    """order=1 is Houdayer and Hartmann's own construction; on a grid fine enough for straight lines it recovers
    the planted values as well (on the coarse grid above its curvature error biases g_c, hence cubic by default)."""
    rng = np.random.default_rng(4)
    g = np.linspace(0.6, 0.8, 81)
    obs = {}
    for L in (16, 32, 64):
        x = (g - G_C) * L ** (1 / NU)
        y = L**KAPPA * np.exp(-0.5 * x**2) * (1 + 0.3 * x)
        sd = 0.01 * np.abs(y) + 1e-3
        mean = y + rng.normal(0, sd)
        obs[L] = Observables(g=g, volume=float(L), mean={"y": mean}, err={"y": sd},
                             boot={"y": mean + rng.normal(0, sd, (4, len(g)))})
    fit = collapse(obs, "y", start=(0.65, 1.0, 0.0), n_boot=0, order=1)
    assert fit["g_c"] == pytest.approx(G_C, abs=0.003)
    assert fit["nu"] == pytest.approx(NU, rel=0.05)
    assert fit["kappa"] == pytest.approx(KAPPA, abs=0.03)


def test_vectorised_quality_equals_pairwise():
    """The all-pairs-at-once S equals the size-by-size loop (used when sizes sit on different grids)."""
    from mfnn.phases.collapse import _quality_pairs
    obs = planted()
    data = [(float(L), o.g, o.mean["y"], o.err["y"]) for L, o in sorted(obs.items())]
    rng = np.random.default_rng(5)
    for _ in range(5):
        p = (G_C + 0.05 * rng.normal(), NU + 0.3 * rng.normal(), KAPPA + 0.3 * rng.normal())
        for order in (1, 3):
            assert quality(*p, data, order) == pytest.approx(_quality_pairs(*p, data, order), rel=1e-9)
