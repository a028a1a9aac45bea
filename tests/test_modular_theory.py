"""Mean-field theory of the modular-addition network (mfnn/theory/modular.py) at the paper's Fig. 3 parameters
(N = 1000, P = 401, sigma_a^2 = 0.002/N, gamma = 1e-4) and at the network's own normalisation."""
import math

import numpy as np
import pytest

from mfnn.theory.modular import (ModularMeanField, coupling, critical_coupling, crossing, mode_action, network_design,
                                 phi_star, saddles)

FIG3 = dict(P=401, N=1000, sigma_a2=0.002 / 1000, gamma=1e-4)


@pytest.fixture(scope="module")
def fig3_sweep():
    th = ModularMeanField(**FIG3, form="paper")
    s2 = np.linspace(0.15, 0.26, 441)
    sol = th.sweep(s2)
    return th, s2, np.array([r["a"] for r in sol]), np.array([r["p_on"] for r in sol])


def test_saddles_are_stationary_and_degenerate_at_c_star():
    g = 1e-4
    c = critical_coupling(g)
    minus, plus = saddles(c, g)
    for phi in (minus, plus):  # d S_hat / d Phi = 1 - 2 c Phi + gamma Phi^2 = 0
        assert abs(1 - 2 * c * phi + g * phi * phi) < 1e-9
    assert plus == pytest.approx(phi_star(g), rel=1e-9)
    assert abs(float(mode_action(plus, c, g))) < 1e-9 * plus  # degenerate with Phi = 0
    assert math.isnan(saddles(0.9 * math.sqrt(g), g)[1])  # no non-trivial saddle below the spinodal


def test_gmfl2_onset_and_discrepancy_range(fig3_sweep):
    # The paper: GMFL-II from sigma^2 ~ 0.175 (+-5%: the paper reads it off a figure); a from -1 to ~ -0.7 (+-0.05).
    th, s2, a, p_on = fig3_sweep
    onset_II = crossing(s2, p_on, 1 - 1 / th.P)  # the Phi = 0 saddle's weight falls below 1/P
    assert onset_II == pytest.approx(0.175, rel=0.05)
    assert np.interp(onset_II, s2, a) == pytest.approx(-0.7, abs=0.05)
    assert a[s2 >= 0.245].max() == pytest.approx(-1.0, abs=1e-3)  # GFL: a = -1 (lambda = 0)
    assert np.all(np.diff(a) <= 0) and a[0] > -0.7  # |a| grows with sigma^2 up to the a = -1 plateau


def test_gmfl1_onset_closed_form_and_finite_P_window(fig3_sweep):
    th, s2, a, p_on = fig3_sweep
    t = th.thresholds()
    assert t["sigma2_I"] == pytest.approx(0.2360, abs=1e-4)  # sheet §6 closed form
    assert t["sigma2_II"] == pytest.approx(0.1760, abs=1e-4)
    assert t["sigma2_I"] == pytest.approx(0.227, rel=0.05)  # the paper's value, 4% below the P -> infinity one
    # the paper's 0.227 lies inside the finite-P crossover: below the kink, above where half the modes are Fourier
    assert crossing(s2, p_on, 0.5) < 0.227 < crossing(s2, p_on, 1 / th.P)


def test_table1_scaling_invariance_and_placebo():
    th = ModularMeanField(**FIG3, form="paper")
    base = th.thresholds()
    for beta in (0.25, 4.0, 16.0):
        t = th.scaled(beta).thresholds()
        assert beta * t["sigma2_I"] == pytest.approx(base["sigma2_I"], rel=1e-12)
        assert beta * t["sigma2_II"] == pytest.approx(base["sigma2_II"], rel=1e-12)
        assert coupling(th.P * math.sqrt(beta), th.N * beta**2, th.sigma_a2 / beta, 0.2 / beta) == pytest.approx(
            coupling(th.P, th.N, th.sigma_a2, 0.2), rel=1e-12)
    # finite-P curves a(beta sigma^2) converge as beta grows (the saddle point sharpens)
    x = np.linspace(0.16, 0.25, 46)
    curves = {b: np.array([r["a"] for r in th.scaled(b).sweep(x / b)]) for b in (0.25, 1.0, 4.0)}
    assert np.abs(curves[0.25] - curves[1.0]).max() > np.abs(curves[1.0] - curves[4.0]).max()
    # placebo: N -> beta N (not beta^2 N) moves the transition (so the invariance is not by construction)
    wrong = ModularMeanField(P=th.P * 2, N=th.N * 4, sigma_a2=th.sigma_a2 / 4, gamma=th.gamma)  # beta = 4, N x 4
    assert abs(4 * wrong.thresholds()["sigma2_I"] - base["sigma2_I"]) > 0.2 * base["sigma2_I"]


def test_network_forms_gp_limit_and_agreement_at_the_design_point():
    # At large sigma^2 every form sits in the GP phase: network forms give a = -sigma^2 / (4 sigma_a^2 + sigma^2) (Eq. 21)
    # (the exact form with a weak sextic term: a strong one also shrinks the Gaussian fluctuations at small P)
    for form, gamma in (("network", 11.0), ("exact", 1e-3)):
        r = ModularMeanField(P=23, N=200, sigma_a2=0.005, gamma=gamma, form=form).solve(1.0)
        assert r["a"] == pytest.approx(-1.0 / (1.0 + 4 * 0.005), abs=2e-3), form
    # at the sampled networks' design (all-Fourier eigenvalue = A/4) the two-delta and the exact quadrature agree
    d = network_design(41, 128, 11.0)
    kw = dict(P=41, N=128, sigma_a2=d["sigma_a2"], gamma=11.0)
    two, ex = ModularMeanField(**kw, form="network"), ModularMeanField(**kw, form="exact", grid=500)
    for f in (0.6, 0.9, 1.3):
        assert two.solve(f * d["A"])["a"] == pytest.approx(ex.solve(f * d["A"])["a"], abs=0.01)


def test_exact_quadrature_gaussian_moment():
    # with no coupling and a negligible sextic term, Phi and Psi are exponential with mean 1/P: <Phi Psi> = 1/P^2
    th = ModularMeanField(P=23, N=1, sigma_a2=1, gamma=1e-6, form="exact", grid=1500)
    moment, _ = th.mode_moment(0.0)
    assert moment == pytest.approx(1 / 23**2, rel=0.01)
