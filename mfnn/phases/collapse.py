"""Finite-size data collapse with the Houdayer-Hartmann quality function (Phys. Rev. B 70, 014418 (2004)).

Scaling form y(g, L) = L^{kappa} F((g - g_c) L^{1/nu}): with kappa = gamma/nu for chi, -beta/nu for <|m|>,
0 for the Binder cumulant. Each point (x, Y) = ((g - g_c) L^{1/nu}, y L^{-kappa}) of one size is compared with
the master curve estimated from the other sizes: each other size's curve interpolated at x (a straight line
through the bracketing pair in the original; a local cubic by default here), averaged with inverse-variance
weights. The quality

    S = (1/n) sum_points (Y - Y_master)^2 / (dY^2 + dY_master^2)

is a reduced chi^2: about 1 for a collapse consistent with the error bars, >> 1 for a wrong one. S is
minimised over (g_c, nu, kappa) with Nelder-Mead; the uncertainties are the spread of the minimiser over
bootstrap replicates of the data (each replicate refitted from the central solution).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from mfnn.phases.observables import Observables

TOO_FEW = 1e12  # S where fewer than 3 points overlap another size (finite, so Nelder-Mead can walk away from it)
RESTARTS = 4  # Nelder-Mead rounds at most
MAX_EVALUATIONS = 1500  # three parameters converge in a few hundred evaluations from a sensible start


def _master(x: np.ndarray, xo: np.ndarray, Yo: np.ndarray, dYo: np.ndarray, order: int):
    """Another size's curve at x: Lagrange interpolation through order + 1 neighbouring points (the pair
    bracketing x for order 1), its propagated error, and where x lies inside that size's range."""
    n = len(xo)
    k = np.searchsorted(xo, x)  # xo[k-1] < x <= xo[k]
    inside = (k > 0) & (k < n)
    first = np.clip(k - 1 - (order - 1) // 2, 0, max(n - order - 1, 0))  # window of order + 1 points
    idx = first[:, None] + np.arange(min(order + 1, n))[None, :]  # (P, order + 1)
    xs, Ys, dYs = xo[idx], Yo[idx], dYo[idx]
    w = np.ones_like(xs)
    for a in range(xs.shape[1]):  # Lagrange basis l_a(x) = prod_{b != a} (x - x_b) / (x_a - x_b)
        for b in range(xs.shape[1]):
            if a != b:
                w[:, a] *= (x - xs[:, b]) / (xs[:, a] - xs[:, b])
    return (w * Ys).sum(1), (w**2 * dYs**2).sum(1), inside


def quality(g_c: float, nu: float, kappa: float, data: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]],
            order: int = 3) -> float:
    """Houdayer-Hartmann S. data: per size (L, g (G,), y (G,), dy (G,)), g ascending.

    The master curve at a point is the error-weighted mean over the other sizes of each size's local
    interpolation at that x: a straight line through the bracketing pair for order = 1 (Houdayer and
    Hartmann's construction), a cubic through the four nearest points for order = 3 (default: with a coarse
    control grid at large L the straight line's curvature error exceeds the statistical errors and biases the
    fit; see tests/test_phases.py)."""
    if nu <= 0:
        return TOO_FEW
    if len({len(d[1]) for d in data}) != 1:  # sizes on different grids: pair by pair
        return _quality_pairs(g_c, nu, kappa, data, order)
    L = np.array([d[0] for d in data])[:, None]  # (n, 1)
    g, y, dy = (np.stack([d[k] for d in data]) for k in (1, 2, 3))  # (n, G) each
    x, Y, dY = (g - g_c) * L ** (1.0 / nu), y * L ** (-kappa), dy * L ** (-kappa)
    n, G = x.shape
    m = min(order + 1, G)
    # k[i, j, p] = number of points of size j below point p of size i (np.searchsorted for every pair at once)
    k = (x[None, :, None, :] < x[:, None, :, None]).sum(-1)  # (n_i, n_j, G)
    inside = (k > 0) & (k < G) & ~np.eye(n, dtype=bool)[:, :, None]
    first = np.clip(k - 1 - (order - 1) // 2, 0, max(G - m, 0))
    idx = first[..., None] + np.arange(m)  # (n_i, n_j, G, m)
    j = np.arange(n)[None, :, None, None]
    xs, Ys, dYs = x[j, idx], Y[j, idx], dY[j, idx]
    xp = x[:, None, :, None]  # the point being compared, (n_i, 1, G, 1)
    w = np.ones_like(xs)
    for a in range(m):  # Lagrange basis l_a(x) = prod_{b != a} (x - x_b) / (x_a - x_b)
        for b in range(m):
            if a != b:
                w[..., a] *= (xp[..., 0] - xs[..., b]) / (xs[..., a] - xs[..., b])
    Ym, var = (w * Ys).sum(-1), (w**2 * dYs**2).sum(-1)  # (n_i, n_j, G)
    weight = np.where(inside, 1.0 / np.maximum(var, 1e-300), 0.0)
    wsum = weight.sum(1)  # (n_i, G)
    ok = wsum > 0
    if ok.sum() < 3:
        return TOO_FEW
    master = (weight * np.where(inside, Ym, 0.0)).sum(1)[ok] / wsum[ok]
    return float(np.mean((Y[ok] - master) ** 2 / (dY[ok] ** 2 + 1.0 / wsum[ok])))


def _quality_pairs(g_c, nu, kappa, data, order):
    pts = []
    for L, g, y, dy in data:
        s = L ** (-kappa)
        pts.append(((g - g_c) * L ** (1.0 / nu), y * s, dy * s))
    total, count = 0.0, 0
    for i, (x, Y, dY) in enumerate(pts):
        wsum, wy = np.zeros_like(x), np.zeros_like(x)
        for j, (xo, Yo, dYo) in enumerate(pts):
            if j == i or len(xo) < 2:
                continue
            Ym, var, inside = _master(x, xo, Yo, dYo, order)
            w = np.where(inside, 1.0 / np.maximum(var, 1e-300), 0.0)
            wsum, wy = wsum + w, wy + w * Ym
        ok = wsum > 0
        if not ok.any():
            continue
        Ym, var_m = wy[ok] / wsum[ok], 1.0 / wsum[ok]
        total += float(np.sum((Y[ok] - Ym) ** 2 / (dY[ok] ** 2 + var_m)))
        count += int(ok.sum())
    return total / count if count >= 3 else TOO_FEW


def _data(obs: dict[int, Observables], key: str, window: tuple[float, float] | None, boot: int | None = None):
    out = []
    for L in sorted(obs):
        o = obs[L]
        sel = np.ones(len(o.g), dtype=bool) if window is None else (o.g >= window[0]) & (o.g <= window[1])
        order = np.argsort(o.g[sel])
        y = o.mean[key] if boot is None else o.boot[key][boot]
        dy = np.maximum(o.err[key], 1e-12)
        out.append((float(L), o.g[sel][order], y[sel][order], dy[sel][order]))
    return out


def collapse(obs: dict[int, Observables], key: str, start: tuple[float, float, float], window=None,
             fix_g_c: float | None = None, fix_kappa: float | None = None, n_boot: int = 40, order: int = 3,
             max_evaluations: int = MAX_EVALUATIONS) -> dict:
    """Best collapse of `key` over sizes: g_c, nu, kappa (the exponent of L in front of the scaling function)
    with bootstrap errors, and S at the minimum. `start` = (g_c, nu, kappa); `fix_g_c` / `fix_kappa` hold one
    at a given value (e.g. kappa = 0 for the Binder cumulant)."""
    free = [fix_g_c is None, True, fix_kappa is None]

    def unpack(p):
        full, it = [], iter(p)
        for f, s, fixed in zip(free, start, (fix_g_c, None, fix_kappa)):
            full.append(next(it) if f else fixed)
        return full

    def fit(data, p0, rounds: int = RESTARTS):
        # Nelder-Mead restarted from its own result with a fresh simplex until S stops improving: a single
        # run from a far start can stall on S's plateaus (seen on the planted collapse in tests/test_phases.py)
        p, s_best = np.asarray(p0, dtype=float), np.inf
        for _ in range(rounds):
            res = minimize(lambda q: quality(*unpack(q), data, order), p, method="Nelder-Mead",
                           options={"xatol": 1e-5, "fatol": 1e-5, "maxfev": max_evaluations})
            improved = s_best - float(res.fun) > 1e-4 * max(float(res.fun), 1e-12)
            if float(res.fun) < s_best:
                p, s_best = res.x, float(res.fun)
            if not improved:
                break
        return p, s_best

    p0 = np.array([s for s, f in zip(start, free) if f], dtype=float)
    best, s_min = fit(_data(obs, key, window), p0)
    n_rep = min(n_boot, min(len(o.boot[key]) for o in obs.values()))
    reps = np.array([fit(_data(obs, key, window, b), best, rounds=2)[0] for b in range(n_rep)])
    full = unpack(best)
    full_reps = np.array([unpack(r) for r in reps]) if n_rep else np.empty((0, 3))
    err = full_reps.std(0, ddof=1) if n_rep > 1 else np.full(3, np.nan)
    names = ["g_c", "nu", "kappa"]
    return {"key": key, "S": s_min, **{n: float(v) for n, v in zip(names, full)},
            **{n + "_err": float(e) if f else 0.0 for n, e, f in zip(names, err, free)},
            "window": list(window) if window is not None else None, "n_boot": n_rep, "order": order,
            "points": sum(len(d[1]) for d in _data(obs, key, window))}


def scaled(obs: dict[int, Observables], key: str, g_c: float, nu: float, kappa: float) -> dict[int, tuple]:
    """Per size (x, Y, dY) of the collapse, for plotting."""
    return {L: ((o.g - g_c) * L ** (1 / nu), o.mean[key] * L ** (-kappa), o.err[key] * L ** (-kappa))
            for L, o in sorted(obs.items())}


def power_law(sizes, values, errs) -> dict:
    """Weighted least-squares slope of log(value) vs log(L): the exponent of value ~ L^slope, with its error
    from the fit and the chi^2 per degree of freedom."""
    L, v, e = (np.asarray(a, dtype=float) for a in (sizes, values, errs))
    x, y, w = np.log(L), np.log(v), (v / np.maximum(e, 1e-300)) ** 2  # d log v = dv / v
    X = np.stack([np.ones_like(x), x], 1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    coef = cov @ X.T @ (w * y)
    chi2 = float(np.sum(w * (y - X @ coef) ** 2))
    dof = max(len(L) - 2, 1)
    return {"slope": float(coef[1]), "slope_err": float(np.sqrt(cov[1, 1])), "amplitude": float(np.exp(coef[0])),
            "chi2_dof": chi2 / dof}
