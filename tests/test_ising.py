"""The Ising samplers against exact enumeration of the 4 x 4 periodic lattice (2^16 states), and the
Curie-Weiss sampler against its exact 1-D distribution."""
import itertools

import numpy as np
import pytest
import torch

from mfnn.phases.ising import (curie_weiss_moments, energy, magnetisation, sample_curie_weiss, simulate_ising,
                               swendsen_wang_sweep)


def exact_4x4(T: float) -> dict:
    states = np.array(list(itertools.product([-1, 1], repeat=16)), dtype=np.int8).reshape(-1, 4, 4)
    s = torch.from_numpy(states)
    m, e = magnetisation(s).double().numpy(), energy(s).double().numpy()
    w = np.exp(-16 * e / T)
    w /= w.sum()
    return {"abs_m": (w * np.abs(m)).sum(), "m2": (w * m**2).sum(), "e": (w * e).sum()}


@pytest.mark.parametrize("cluster,metropolis", [(False, 1), (True, 0)])
def test_ising_samplers_match_exact_4x4(cluster, metropolis):
    T = np.array([2.0, 2.5])
    run = simulate_ising(4, T, chains=64, sweeps=150, burn_in=30, seed=1, cluster=cluster,
                         metropolis_per_step=metropolis)
    for i, t in enumerate(T):
        ex = exact_4x4(t)
        for key, x in (("abs_m", np.abs(run["m"][i])), ("m2", run["m"][i] ** 2), ("e", run["e"][i])):
            per_chain = x.mean(-1)  # chains are independent: their spread is an honest standard error
            z = (per_chain.mean() - ex[key]) / (per_chain.std(ddof=1) / np.sqrt(len(per_chain)))
            assert abs(z) < 4.5, (cluster, t, key, per_chain.mean(), ex[key])


def test_swendsen_wang_keeps_frozen_lattice_at_zero_temperature():
    """beta -> infinity: every bond between equal spins opens, an all-up lattice is one cluster."""
    s = torch.ones(3, 6, 6, dtype=torch.int8)
    out = swendsen_wang_sweep(s, torch.full((3,), 1e6), np.random.default_rng(0))
    assert all(abs(int(c.sum())) == 36 for c in out)


def test_curie_weiss_sampler_matches_exact_moments():
    rng = np.random.default_rng(0)
    m = sample_curie_weiss(256, [1.0], 20000, rng)[0]
    ex = curie_weiss_moments(256, 1.0)
    assert np.mean(m**2) == pytest.approx(ex["m2"], rel=0.03)
    assert np.mean(np.abs(m)) == pytest.approx(ex["abs_m"], rel=0.02)
