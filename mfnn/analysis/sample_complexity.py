"""Sample complexity from learning curves: the n at which an alignment crosses a level, and how it scales with d.

    A(n)          an alignment of the learned predictor with (a component of) the target, per seed, on an n grid
    n*            first upward crossing of A(n) through `level`, linear in log n between the bracketing grid points
    n* ~ d^x      the exponent x by least squares in log n* vs log d

Error bars come from a bootstrap over seeds (data sets): each replicate resamples, for every d independently
(the data sets of different d are independent), the seeds with replacement, averages their curves, and reads
n* and x off the averaged curves. A replicate where some curve never crosses the level gives no exponent; the
fraction of replicates that do is reported, so a level at the edge of the grid is visible.

Also the GP (kernel ridge) posterior mean on nested training sets: one Cholesky factor of the largest Gram
matrix serves every smaller n, because the factor of a leading block is the leading block of the factor.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from mfnn.phases import power_law

__all__ = ["crossing", "exponent", "per_seed_exponents", "bootstrap_exponent", "gp_nested_means", "collapse_spread"]


def crossing(n, A, level: float) -> float:
    """First n where A(n) reaches `level` from below, interpolated linearly in log n; nan if A never reaches it
    or is already at the level at the first grid point (the crossing is then below the grid: unresolved).

    n: (G,) ascending; A: (G,)."""
    n, A = np.asarray(n, dtype=float), np.asarray(A, dtype=float)
    above = np.nonzero(A >= level)[0]
    if len(above) == 0 or above[0] == 0:
        return math.nan
    i = above[0]
    t = (level - A[i - 1]) / (A[i] - A[i - 1])
    return float(math.exp(math.log(n[i - 1]) + t * (math.log(n[i]) - math.log(n[i - 1]))))


def exponent(d, nstar) -> dict:
    """Unweighted least-squares fit log n* = log c + x log d: x, c and x's standard error from the fit's
    residuals (nan with 2 points). nan everywhere if any n* is nan."""
    d, nstar = np.asarray(d, dtype=float), np.asarray(nstar, dtype=float)
    if len(d) < 2 or not np.all(np.isfinite(nstar)):
        return {"exponent": math.nan, "exponent_se": math.nan, "amplitude": math.nan}
    X = np.stack([np.ones_like(d), np.log(d)], 1)
    coef, *_ = np.linalg.lstsq(X, np.log(nstar), rcond=None)
    se = math.nan
    if len(d) > 2:
        resid = np.log(nstar) - X @ coef
        cov = np.linalg.inv(X.T @ X) * (resid @ resid) / (len(d) - 2)
        se = float(math.sqrt(cov[1, 1]))
    return {"exponent": float(coef[1]), "exponent_se": se, "amplitude": float(math.exp(coef[0]))}


def per_seed_exponents(d_values, n_grids, curves, level: float) -> dict:
    """Each seed's own n*(d) and exponent. curves[k]: (S, G_k) alignments at d_values[k] on n_grids[k]; seed s
    is row s at every d. Returns nstar (S, D) and exponent (S,)."""
    S = min(len(c) for c in curves)
    nstar = np.array([[crossing(n, c[s], level) for n, c in zip(n_grids, curves)] for s in range(S)])
    return {"nstar": nstar, "exponent": np.array([exponent(d_values, row)["exponent"] for row in nstar])}


def bootstrap_exponent(d_values, n_grids, curves, level: float, reps: int = 1000, seed: int = 0) -> dict:
    """n*(d) of the seed-averaged curves and the exponent x, with bootstrap intervals over seeds.

    curves[k]: (S_k, G_k) alignments at d_values[k] on the ascending grid n_grids[k].
    Returns nstar (D,), nstar_ci95 (D, 2), exponent, exponent_ci95, exponent_sd (spread of the replicates),
    a weighted power-law fit (`mfnn.phases.power_law`, errors = bootstrap sd of log n*), and defined_fraction
    (replicates where every curve crosses)."""
    rng = np.random.default_rng(seed)
    curves = [np.asarray(c, dtype=float) for c in curves]
    nstar = np.array([crossing(n, c.mean(0), level) for n, c in zip(n_grids, curves)])
    boot_n = np.full((reps, len(curves)), math.nan)
    for r in range(reps):
        for k, (n, c) in enumerate(zip(n_grids, curves)):
            boot_n[r, k] = crossing(n, c[rng.integers(0, len(c), len(c))].mean(0), level)
    defined = np.all(np.isfinite(boot_n), 1)
    boot_x = np.array([exponent(d_values, row)["exponent"] for row in boot_n[defined]])
    out = {"level": level, "d": [float(v) for v in d_values], "nstar": nstar, "defined_fraction": float(defined.mean()),
           "nstar_ci95": np.array([np.nanpercentile(boot_n[:, k], [2.5, 97.5]) if np.isfinite(boot_n[:, k]).any()
                                   else [math.nan, math.nan] for k in range(len(curves))]),
           **exponent(d_values, nstar)}
    if len(boot_x):
        out["exponent_ci95"] = np.percentile(boot_x, [2.5, 97.5])
        out["exponent_sd"] = float(boot_x.std())
    else:
        out["exponent_ci95"], out["exponent_sd"] = np.array([math.nan, math.nan]), math.nan
    log_sd = np.array([np.log(col[np.isfinite(col)]).std() if np.isfinite(col).sum() > 1 else math.nan
                       for col in boot_n.T])
    if np.all(np.isfinite(nstar)) and np.all(log_sd > 0):
        out["weighted"] = power_law(d_values, nstar, nstar * log_sd)  # d n* = n* d log n*
    return out


def collapse_spread(n_grids, curves, scale, points: int = 50) -> float:
    """How well curves A_k(n) collapse against n / scale_k: the mean over a common log(n / scale) window of the
    across-curve variance, divided by the variance of all the curves' values in that window (0 = a perfect
    collapse, ~1 = no better than the curves' own spread). curves[k]: (G_k,); scale[k] > 0."""
    logs = [np.log(np.asarray(n, float) / s) for n, s in zip(n_grids, scale)]
    lo, hi = max(l[0] for l in logs), min(l[-1] for l in logs)
    if hi <= lo:
        return math.nan
    grid = np.linspace(lo, hi, points)
    Y = np.stack([np.interp(grid, l, np.asarray(c, float)) for l, c in zip(logs, curves)])  # (K, points)
    total = Y.var()
    return float(Y.var(0).mean() / total) if total > 0 else math.nan


@torch.no_grad()
def gp_nested_means(K_train: torch.Tensor, K_test: torch.Tensor, y: torch.Tensor, noise_var: float, ns) -> torch.Tensor:
    """GP posterior means K_test[:, :n] (K_train[:n, :n] + noise_var I)^-1 y[:n] for every n in ns, from one
    Cholesky factor of the largest block.

    K_train: (n_max, n_max), K_test: (m, n_max), y: (n_max,). Returns (len(ns), m)."""
    A = K_train.clone()
    A.diagonal().add_(noise_var)
    L = torch.linalg.cholesky(A)
    out = []
    for n in ns:
        Ln = L[:n, :n]
        alpha = torch.cholesky_solve(y[:n, None].to(L), Ln)[:, 0]
        out.append(K_test[:, :n].to(L) @ alpha)
    return torch.stack(out)
