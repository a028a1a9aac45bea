"""The degree-2 learning curve behind the deep replication's GP check: a rotation-invariant kernel learns y = x1 x2
from n samples in d dimensions as the deterministic equivalent says; checked against kernel ridge regression on
Gaussian data (small d, a few seeds), with a kernel that has no degree >= 3 part (the floor 1 - n_eff / D2) and one
whose degree-3 part acts as a ridge, and against a placebo kernel that is not rotation-invariant."""
import math

import torch

from mfnn.analysis.kernels import kernel_regression
from tests.helpers import load_script

deep = load_script("replications/deep/run.py")
D, N_TRAIN, N_TEST = 20, 160, 2000


def poly_kernel(coefs):
    """k(x, x') = sum_j c_j (x.x'/d)^j, in the (spec, x1, x2) signature degree2_prediction calls."""
    def k(spec, x1, x2):
        t = x1 @ x2.T / x1.shape[1]
        return sum(c * t ** j for j, c in enumerate(coefs))
    return k


def measured(coefs, seeds=(0, 1, 2), plane=None):
    errs = []
    for s in seeds:
        g = torch.Generator().manual_seed(s)
        x, xt = torch.randn(N_TRAIN, D, generator=g, dtype=torch.float64), torch.randn(N_TEST, D, generator=g, dtype=torch.float64)
        y, yt = x[:, 0] * x[:, 1], xt[:, 0] * xt[:, 1]
        if plane is not None:  # placebo: the kernel sees the target's plane, blown up (not rotation-invariant)
            x, xt = x * plane, xt * plane
        k = poly_kernel(coefs)
        pred = kernel_regression(k(None, x, x), k(None, xt, x), y, ridge=1e-8)
        errs.append(float((pred - yt).square().mean() / yt.var()))
    return sum(errs) / len(errs)


def test_floor_without_higher_degrees():
    coefs = (1.0, 1.0, 1.0)  # degrees 0-2 only: no effective ridge, the prediction is the floor 1 - n_eff / D2
    pred = deep.degree2_prediction(None, N_TRAIN, D, poly_kernel(coefs))
    n_eff, D2 = N_TRAIN - D - 1, D * (D + 1) // 2
    assert math.isclose(pred["mse_over_var"], 1 - n_eff / D2, rel_tol=1e-6) and math.isclose(pred["floor"], 1 - n_eff / D2)
    # kernel ridge regression on Gaussian data, 3 seeds: within 0.1 (the prediction ignores O(1/d) terms: the
    # fluctuations of |x|^2 / d and the lower-degree parts of t^j; they moved it by up to 0.08 at d = 20-28)
    assert abs(measured(coefs) - pred["mse_over_var"]) < 0.1


def test_higher_degrees_act_as_a_ridge():
    coefs = (1.0, 1.0, 1.0, 0.5)  # a degree-3 part: D3 = 1540 functions against 160 samples, an effective ridge
    pred = deep.degree2_prediction(None, N_TRAIN, D, poly_kernel(coefs))["mse_over_var"]
    floor = deep.degree2_prediction(None, N_TRAIN, D, poly_kernel(coefs[:3]))["mse_over_var"]
    assert pred > floor + 0.1  # the effective ridge costs learning ...
    assert abs(measured(coefs) - pred) < 0.1  # ... by as much as kernel regression loses (0.50 vs 0.52)


def test_placebo_anisotropic_kernel_beats_the_floor():
    plane = torch.ones(D, dtype=torch.float64)
    plane[:2] = 3.0  # the kernel weighs x1, x2 up: it has "found" the target's plane
    floor = deep.degree2_prediction(None, N_TRAIN, D, poly_kernel((1.0, 1.0, 1.0)))["mse_over_var"]
    assert measured((1.0, 1.0, 1.0), plane=plane) < floor - 0.2
