"""Two-sample cloud distances on known distributions: same law -> near the permutation floor,
shifted law -> far above it; sliced Wasserstein of a pure shift has a closed form."""
import math

import torch

from mfnn.analysis.clouds import (fourfold_order, median_bandwidth, mmd, particles, permutation_null,
                                  sliced_wasserstein, split_distance)


def gaussians(n=600, d=4, shift=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    Y = torch.randn(n, d, generator=g)
    Y[:, 0] += shift
    return X, Y


def test_mmd_same_small_shifted_large():
    X, Y = gaussians()
    sigma = median_bandwidth(X)
    assert 2.0 < sigma < 3.5  # median distance of two N(0, I_4) points is ~ sqrt(2*4)
    same = mmd(X, Y, sigma)
    null = permutation_null(X, Y, lambda u, v: mmd(u, v, sigma), n_perm=10)
    assert same < 2 * null.mean()  # same law: at the finite-sample floor
    Xs, Ys = gaussians(shift=1.0)
    shifted = mmd(Xs, Ys, sigma)
    assert shifted > 5 * same and shifted > 5 * null.max()
    assert mmd(X, X, sigma) < 1e-6
    assert mmd(Xs, Ys, sigma) < mmd(*gaussians(shift=2.0), sigma)  # monotone in the shift


def test_sliced_wasserstein_shift_closed_form():
    # A shift delta along e1 moves every projection u by delta*u1: SW_2^2 = delta^2 E[u1^2] = delta^2 / d.
    X, _ = gaussians(n=2000)
    delta = 2.0
    Y = X.clone()
    Y[:, 0] += delta
    sw = sliced_wasserstein(X, Y, n_projections=2000)
    assert abs(sw - delta / math.sqrt(4)) < 0.05
    same = sliced_wasserstein(*gaussians(n=2000))
    assert same < 0.15 < sw


def test_unequal_sizes_and_split():
    X, Y = gaussians(n=512)
    big = torch.cat([X, gaussians(n=512, seed=3)[0]])  # 1024 rows from the same law
    sigma = median_bandwidth(Y)
    d = split_distance(big, Y, lambda u, v: mmd(u, v, sigma))
    assert d < 2 * mmd(X, Y, sigma) + 0.02
    assert abs(sliced_wasserstein(big, Y) - sliced_wasserstein(X, Y)) < 0.1


def test_fourfold_order_and_particles():
    g = torch.Generator().manual_seed(0)
    t = torch.rand(1000, generator=g) * 4 + 1
    signs = torch.randint(0, 2, (1000, 2), generator=g) * 2 - 1
    diagonal = t[:, None] * signs.float()  # points on the two diagonals
    assert fourfold_order(diagonal) < -0.99
    assert fourfold_order(diagonal @ torch.tensor([[0.7071, -0.7071], [0.7071, 0.7071]])) > 0.99  # rotated to axes
    assert abs(fourfold_order(torch.randn(4000, 2, generator=g))) < 0.06
    p = particles({"W": torch.ones(5, 2), "b": torch.zeros(5), "a": torch.full((5, 1), 3.0)})
    assert p.shape == (5, 4) and p[0].tolist() == [1.0, 1.0, 0.0, 3.0]
