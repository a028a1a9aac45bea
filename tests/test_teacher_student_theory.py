"""Eq. 13 of Rubin, Seroussi & Ringel (2024): the single-neuron action, the GP-phase self-consistency and the
transition, checked against the paper's u_c ~ 30.2, the fact sheet's reconstruction (0.1787 / 30.7), the Table 1
invariance, and the eps = 0 placebo."""
import math

import numpy as np
import pytest

from mfnn.theory.teacher_student import (PAPER_BASE, action, couplings, critical_point, droplet_saddle, gp_phase,
                                         gpr_2d, table1_scale)


@pytest.fixture(scope="module")
def paper_point():
    return critical_point()


def test_critical_point_matches_paper_and_sheet(paper_point):
    cp = paper_point
    assert cp["sigma2_c"] == pytest.approx(0.1787, abs=5e-4)  # the sheet's reconstruction, 4 digits
    assert cp["u_c"] == pytest.approx(30.7, abs=0.05)
    assert abs(cp["u_c"] - 30.2) / 30.2 < 0.03  # the paper's u_c ~ 30.2 (it does not state its reduced form)
    assert cp["b_c"] == pytest.approx(0.29, abs=0.005) and cp["q_c"] == pytest.approx(0.72, abs=0.005)
    # Claim IV: the new saddles sit at q of order one, behind a barrier
    assert 0.5 < cp["q_c"] < 1.5 and cp["barrier_per_d"] > 0
    # the saddle appears (spinodal) before it wins: first-order, not a continuous instability
    assert cp["spinodal_sigma2"] > cp["sigma2_c"]


def test_droplet_saddle_reaches_S0_exactly_at_u_c(paper_point):
    u4, g2 = paper_point["u_sigma4"], paper_point["g_sigma2"]
    depth = {}
    for tag, s2 in (("at", paper_point["sigma2_c"]), ("above", paper_point["sigma2_c"] * 1.02),
                    ("below", paper_point["sigma2_c"] * 0.98)):
        gp = gp_phase(u4 / s2**2, g2 / s2)
        depth[tag] = droplet_saddle(u4 / s2**2, gp["b"], gp["c"])["S_per_d"]
    assert abs(depth["at"]) < 1e-9
    assert depth["above"] > 0 > depth["below"]


def test_u_and_sigma2c_invariant_under_table1(paper_point):
    for beta in (1 / 16, 2.0):
        s = table1_scale(PAPER_BASE, beta)
        assert s["noise_scale"] == 1.0
        for s2 in (0.1, 0.18, 0.3):
            a, b = couplings(s["d"], s["n"], s["N"], s["sigma_a2"], s2), couplings(150, 3000, 700, 8 / 700, s2)
            assert a["u"] == pytest.approx(b["u"], rel=1e-12) and a["g"] == pytest.approx(b["g"], rel=1e-12)
        assert critical_point(s)["sigma2_c"] == pytest.approx(paper_point["sigma2_c"], rel=1e-9)
    # placebo: a scaling that is not Table 1 (d -> 4 d alone) changes u and moves the transition
    moved = critical_point({**PAPER_BASE, "d": 600})["sigma2_c"]
    assert abs(moved - paper_point["sigma2_c"]) > 0.05


def test_eps_zero_has_no_transition():
    cp = critical_point(eps=0.0)
    assert math.isnan(cp["sigma2_c"]) and math.isnan(cp["spinodal_sigma2"])
    # at any coupling the GP-phase b keeps the curvature positive, so S only rises from q = 0
    for u in (1.0, 30.0, 300.0, 3000.0):
        gp = gp_phase(u, u / 4, eps=0.0)
        assert (u / math.pi) * gp["b"] ** 2 < 1
        assert droplet_saddle(u, gp["b"], 0.0)["q"] is None


def test_gp_phase_solves_its_equation_and_limits():
    u, g = 30.0, 1.2
    b = gp_phase(u, g)["b"]
    A, B = g / math.pi, u / math.pi  # sigma_w^2 = 0.5: kappa = 1/2
    assert b * (1 + A / (1 - B * b * b)) == pytest.approx(1.0, abs=1e-12)
    assert gp_phase(1e-12, g)["b"] == pytest.approx(1 / (1 + A), rel=1e-9)  # no feature learning: plain GPR


def test_finite_d_gpr_tends_to_gp_phase_above_sigma2c(paper_point):
    u4, g2 = paper_point["u_sigma4"], paper_point["g_sigma2"]
    for s2 in (0.2, 0.25):
        gp = gp_phase(u4 / s2**2, g2 / s2)
        big = gpr_2d(u4 / s2**2, g2 / s2, d=10000)
        assert big["converged"] and big["droplet_mass"] == 0.0
        assert big["b"] == pytest.approx(gp["b"], abs=2e-3) and big["c"] == pytest.approx(-0.3, abs=2e-3)
    # below sigma^2_c the finite-d solution learns part of the cubic (c moves from eps toward 0)
    low = gpr_2d(u4 / 0.12**2, g2 / 0.12, d=150)
    assert low["converged"] and low["c"] > -0.28


def test_action_is_eq13():
    q = np.linspace(0, 2, 11)
    r = q**2 / (1 + 2 * (0.5 + q**2))
    u, b, c = 20.0, 0.3, -0.3
    assert np.allclose(action(q, u, b, c), q**2 - (2 * u / math.pi) * r * (b - 2 * c * r) ** 2)
