"""Where a success probability crosses 1/2 as a system size (or any control) grows, with an error bar.

Input: at each size x_j a set of independent trials (seeds, members, teachers), each a success or a failure.
Model: P(success | x) = 1 / (1 + exp(-(t - t_c) / w)), t = log x (or x itself), fitted by binomial maximum
likelihood. The threshold x_c is where P = 1/2; w is its width in t (P goes from 10% to 90% over 2 ln 9 w).

Error bars: a bootstrap over trials (each size's outcomes resampled with replacement, the fit repeated), and,
when no size has an intermediate success rate (the jump falls between two grid points, every replicate too), the
grid's resolution: the location is then only known to lie in that gap, and its spread is the gap / sqrt(12) of
a uniform position in it. The two are combined in quadrature, like binder_critical_point's statistical and
systematic errors. A bootstrap cannot see past a rate of exactly 0 or 1 (its resamples stay there), so when the
grid does not resolve the width the fit can pin t_c too tightly; the reported error is therefore the larger of
that and half the 68% profile-likelihood interval of t_c (w profiled out).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.special import expit, log_expit


def _loglik(a, b, t, k, n):
    """Binomial log-likelihood of z = a + b t for every replicate: a, b (R,); k (R, S) -> (R,)."""
    z = a[:, None] + b[:, None] * t
    return np.sum(k * log_expit(z) + (n - k) * log_expit(-z), axis=1)


def _fit(t: np.ndarray, k: np.ndarray, n: np.ndarray, w_bounds: tuple[float, float], t_bounds) -> tuple[np.ndarray, np.ndarray]:
    """Binomial maximum likelihood of (t_c, w) from k successes of n trials at each t, for many replicates at
    once: k (R, S) -> t_c, w each (R,). In z = a + b t (b = 1/w, t_c = -a/b) the log-likelihood is concave, so:
    profile over a log grid of w (a 1-D Newton solve for a at each), then joint Newton steps from the best grid
    point, each kept only if it raises the likelihood, with b held inside 1/w_bounds (a perfectly separated
    data set pushes w to its lower bound, where t_c sits between the last failure and the first success)."""
    R = len(k)
    b_lo, b_hi = 1 / w_bounds[1], 1 / w_bounds[0]
    grid = np.geomspace(b_lo, b_hi, 32)
    best_ll, best_a, best_b = np.full(R, -np.inf), np.zeros(R), np.zeros(R)
    t_mid = 0.5 * (t[0] + t[-1])
    for b in grid:
        bb = np.full(R, b)
        a = -b * np.full(R, t_mid)
        cap = max(2.0, b * (t[-1] - t[0]) / 4)
        for _ in range(15):  # Newton in a at fixed b: concave; steps capped at a quarter of the range in t
            p = expit(a[:, None] + b * t)
            g = np.sum(k - n * p, 1)
            h = np.sum(n * p * (1 - p), 1) + 1e-12
            a = a + np.clip(g / h, -cap, cap)
        a = np.clip(a, -b * t_bounds[1], -b * t_bounds[0])
        ll = _loglik(a, bb, t, k, n)
        better = ll > best_ll
        best_ll, best_a, best_b = np.where(better, ll, best_ll), np.where(better, a, best_a), np.where(better, b, best_b)
    a, b, ll = best_a, best_b, best_ll
    for _ in range(20):  # joint Newton polish
        p = expit(a[:, None] + b[:, None] * t)
        r, v = k - n * p, n * p * (1 - p)
        g = np.stack([r.sum(1), (r * t).sum(1)], 1)  # (R, 2)
        H = np.stack([np.stack([v.sum(1), (v * t).sum(1)], -1), np.stack([(v * t).sum(1), (v * t * t).sum(1)], -1)], 1)
        det = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2
        ok = det > 1e-12
        safe = np.where(ok, det, 1.0)
        da = np.where(ok, (H[:, 1, 1] * g[:, 0] - H[:, 0, 1] * g[:, 1]) / safe, 0.0)
        db = np.where(ok, (H[:, 0, 0] * g[:, 1] - H[:, 0, 1] * g[:, 0]) / safe, 0.0)
        a_new, b_new = a + da, np.clip(b + db, b_lo, b_hi)
        ll_new = _loglik(a_new, b_new, t, k, n)
        keep = ll_new > ll
        a, b, ll = np.where(keep, a_new, a), np.where(keep, b_new, b), np.where(keep, ll_new, ll)
    return np.clip(-a / b, *t_bounds), 1 / b


def _profile_interval(t, k, n, w_bounds, level: float = 0.5) -> tuple[float, float]:
    """The 68% profile-likelihood interval of t_c: every t_c whose best log-likelihood over w is within `level`
    (= 1/2: one standard error) of the maximum. Unlike the bootstrap it sees how far a wider threshold could move
    t_c when the grid does not resolve the width (a jump from 0% to ~90% between two sizes)."""
    # t_c beyond the measured sizes is never within one standard error of a bracketed maximum: search between them
    tc_grid = np.linspace(t[0], t[-1], 1201)
    w_grid = np.geomspace(w_bounds[0], w_bounds[1], 60)
    z = (t[None, None, :] - tc_grid[:, None, None]) / w_grid[None, :, None]  # (T, W, S)
    ll = np.sum(k * log_expit(z) + (n - k) * log_expit(-z), axis=-1).max(1)  # (T,)
    inside = tc_grid[ll >= ll.max() - level]
    return float(inside.min()), float(inside.max())


def _wilson(k: np.ndarray, n: np.ndarray, z: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial rate at z standard errors (z = 1: ~68%); sane at k = 0 or n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def success_threshold(sizes: Sequence[float], outcomes: Sequence[Sequence[bool]], log: bool = True,
                      n_boot: int = 500, rng: np.random.Generator | None = None) -> dict:
    """The size at which the success probability crosses 1/2, from independent trials at each size.

    sizes: (S,) control values (positive if log). outcomes: per size, the trials' successes (any length >= 1).
    Returns x_c with err = hypot(err_stat, err_grid), a 68% bootstrap interval, the width w (in log x when log)
    with its bootstrap error, the 10-90% span of x, per-size rates with 68% Wilson intervals, and flags:
    bracketed (the rate is below 1/2 at the smallest size and above it at the largest: otherwise x_c is an
    extrapolation and is reported as nan) and resolved (some size has a rate strictly between 0 and 1)."""
    rng = rng or np.random.default_rng(0)
    x = np.asarray(sizes, dtype=float)
    order = np.argsort(x)
    x = x[order]
    trials = [np.asarray(outcomes[i], dtype=bool) for i in order]
    if len(x) < 2 or any(len(o) == 0 for o in trials):
        raise ValueError("success_threshold needs >= 2 sizes, each with >= 1 trial")
    if log and (x <= 0).any():
        raise ValueError("log=True needs positive sizes")
    t = np.log(x) if log else x.copy()
    k = np.array([o.sum() for o in trials], dtype=float)
    n = np.array([len(o) for o in trials], dtype=float)
    rate = k / n
    lo, hi = _wilson(k, n)
    spacing = float(np.min(np.diff(t)))
    span = float(t[-1] - t[0])
    # w below a tenth of the grid spacing cannot be told from a step; above ten spans from a flat line
    w_bounds = (spacing / 10, 10 * span)
    t_bounds = (t[0] - span, t[-1] + span)
    bracketed = bool(rate[0] < 0.5 < rate[-1])
    resolved = bool(((rate > 0) & (rate < 1)).any())
    per_size = {"sizes": x.tolist(), "successes": k.astype(int).tolist(), "trials": n.astype(int).tolist(),
                "rate": rate.tolist(), "rate_lo": lo.tolist(), "rate_hi": hi.tolist()}
    if not bracketed:
        nan = float("nan")
        return {"x_c": nan, "err": nan, "err_stat": nan, "err_grid": nan, "err_profile": nan,
                "profile68": [nan, nan], "width_resolved": False, "ci68": [nan, nan], "width": nan,
                "width_err": nan, "span_10_90": [nan, nan], "bracketed": False, "resolved": resolved, "log": log,
                "n_boot": n_boot, "per_size": per_size}
    # replicate 0: the data; then n_boot resamples of each size's trials (a binomial draw at its observed rate)
    kb = np.concatenate([k[None], rng.binomial(n.astype(int), rate, size=(n_boot, len(t)))]).astype(float)
    fit_tc, fit_w = _fit(t, kb, n, w_bounds, t_bounds)
    tc, w = float(fit_tc[0]), float(fit_w[0])
    boot_tc, boot_w = fit_tc[1:], fit_w[1:]
    err_stat_t = float(np.std(boot_tc, ddof=1)) if n_boot > 1 else 0.0
    # an unresolved jump: t_c lies somewhere between the last failing and the first succeeding size
    if resolved:
        err_grid_t = 0.0
    else:
        below = t[rate < 0.5].max()
        above = t[rate > 0.5].min()
        err_grid_t = float(above - below) / math.sqrt(12)
    prof_lo, prof_hi = _profile_interval(t, k, n, w_bounds)
    err_profile_t = 0.5 * (prof_hi - prof_lo)
    # the width is measured only when two or more sizes sit on the slope and the fit leaves the lower bound
    width_resolved = bool(((rate > 0) & (rate < 1)).sum() >= 2 and w > 1.5 * w_bounds[0])
    to_x = np.exp if log else (lambda v: v)
    x_c = float(to_x(tc))
    # errors in x: delta method around x_c for log (dx = x_c dt); the interval is mapped exactly
    scale = x_c if log else 1.0
    q16, q84 = np.percentile(boot_tc, [16, 84]) if n_boot > 1 else (tc, tc)
    half_10_90 = math.log(9) * w  # P = 10% and 90% at t_c -+ w ln 9
    err_t = max(math.hypot(err_stat_t, err_grid_t), err_profile_t)
    return {"x_c": x_c, "err": scale * err_t, "err_stat": scale * err_stat_t, "err_grid": scale * err_grid_t,
            "err_profile": scale * err_profile_t, "profile68": [float(to_x(prof_lo)), float(to_x(prof_hi))],
            "ci68": [float(to_x(q16)), float(to_x(q84))], "t_c": tc, "width_resolved": width_resolved,
            "width": w, "width_err": float(np.std(boot_w, ddof=1)) if n_boot > 1 else 0.0,
            "span_10_90": [float(to_x(tc - half_10_90)), float(to_x(tc + half_10_90))],
            "bracketed": True, "resolved": resolved, "log": log, "n_boot": n_boot, "per_size": per_size}


def logistic(x, x_c: float, width: float, log: bool = True) -> np.ndarray:
    """The fitted curve P(x) of success_threshold (for plots and planted tests)."""
    t = np.log(np.asarray(x, dtype=float)) if log else np.asarray(x, dtype=float)
    t_c = math.log(x_c) if log else x_c
    return expit((t - t_c) / width)
