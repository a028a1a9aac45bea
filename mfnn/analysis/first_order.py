"""The first-order (droplet) transition of Bayesian erf students on a cubic teacher (Rubin, Seroussi & Ringel 2024).

Three parts:
1. Reading a sweep: droplet modes in the |cos(w, w*)| histogram of the neuron cloud, the noise variance where
   they appear, and the kink of the test error there.
2. A single-neuron mean-field prediction at finite input dimension d, to compare the run with.
3. Across scales (the paper's Table 1): the per-scale break of the cubic component extrapolated in d with
   mfnn.phases.extrapolate, crossings of successive scales' curves with mfnn.phases.crossing, and the neurons'
   overlaps recorded during sampling (OverlapRecorder) for the toolkit's first-order diagnostics.

The prediction (derived here, adaptive-kernel style; continuum data, |w_perp|^2 frozen at its prior value): given
the residual r(x) = y - f(x) = r1 He1(z) + r3 He3(z), z = w*.x, each neuron's overlap alpha = w.w* has density

    p(alpha) ∝ exp(-d alpha^2 / (2 sigma_w^2) + (u d / 2) m(alpha)^2),   m = r1 c1(q) alpha + r3 c3(q) alpha^3,

with q = |w|^2, c1 = E erf'(w.x) = (2/sqrt(pi)) (1+2q)^-1/2, c3 = E erf'''(w.x) = -(4/sqrt(pi)) (1+2q)^-3/2, and the
mean predictor closes the loop:  f1 = g d <c1 alpha m>,  f3 = g d <c3 alpha^3 m> / 3!,  r1 = 1 - f1,  r3 = eps - f3,
where u = n^2 sigma_a^2 / (sigma^4 d N) and g = n sigma_a^2 / (sigma^2 d). Only u, g and d enter: any (n, N, sigma_a^2)
with the same u and g is the same problem at the same sigma^2; d sets how sharp it is.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from lightning.pytorch import Callback
from scipy.optimize import least_squares

from mfnn.phases import crossing, extrapolate
from mfnn.phases.observables import Observables


# ---- reading the neuron clouds ----------------------------------------------------------------
def bin_centres(bins: int) -> np.ndarray:
    return (np.arange(bins) + 0.5) / bins


def droplet_mode(hist: np.ndarray, min_cos: float = 0.5, contrast: float = 2.0, smooth: int = 3) -> dict:
    """A second mode of the |cos| histogram at |cos| >= min_cos, at least `contrast` times higher than the
    lowest point between it and the bulk (the gap of a bimodal cloud). hist: (bins,) fractions of neurons.

    Returns {"present", "peak_cos", "dip_cos", "contrast", "mass", "alignment"}: mass = fraction of neurons
    beyond the dip, alignment = their mean |cos| (the droplet's order parameter)."""
    bins = len(hist)
    c = bin_centres(bins)
    h = np.convolve(hist, np.ones(smooth) / smooth, mode="same") if smooth > 1 else np.asarray(hist, float)
    best = {"present": False, "peak_cos": math.nan, "dip_cos": math.nan, "contrast": 0.0, "mass": 0.0,
            "alignment": math.nan}
    bulk = int(np.argmax(h))
    for j in range(bulk + 2, bins):
        if c[j] < min_cos or h[j] <= 0 or h[j] < h[j - 1] or (j + 1 < bins and h[j] < h[j + 1]):
            continue  # not a local maximum in the droplet range
        i = bulk + int(np.argmin(h[bulk:j]))  # the gap between bulk and this peak
        ratio = h[j] / max(h[i], 1e-12)
        if ratio > best["contrast"]:
            mass = float(hist[i + 1:].sum())
            align = float((hist[i + 1:] * c[i + 1:]).sum() / mass) if mass > 0 else math.nan
            best = {"present": ratio >= contrast, "peak_cos": float(c[j]), "dip_cos": float(c[i]),
                    "contrast": float(ratio), "mass": mass, "alignment": align}
    return best


def onset(noise_vars: list[float], present: list[bool]) -> dict:
    """Where droplets appear as sigma^2 decreases: the midpoint between the largest sigma^2 with a droplet mode
    and the next sigma^2 without. Also reports whether the pattern is one clean switch (all below present,
    all above absent)."""
    order = np.argsort(noise_vars)
    s2 = np.asarray(noise_vars, float)[order]
    p = np.asarray(present, bool)[order]
    if not p.any():
        return {"sigma2_c": math.nan, "last_with": math.nan, "first_without": math.nan, "clean": False}
    last = int(np.nonzero(p)[0].max())
    first_without = s2[last + 1] if last + 1 < len(s2) else math.nan
    clean = bool(p[: last + 1].all() and not p[last + 1:].any())
    s2c = 0.5 * (s2[last] + first_without) if not math.isnan(first_without) else math.nan
    return {"sigma2_c": float(s2c), "last_with": float(s2[last]), "first_without": float(first_without), "clean": clean}


def slopes_around(noise_vars: list[float], y: list[float], sigma2_c: float) -> dict:
    """Least-squares slopes of y(sigma^2) below and above sigma2_c: a kink is a change of slope there."""
    s2, y = np.asarray(noise_vars, float), np.asarray(y, float)
    lo, hi = s2 < sigma2_c, s2 > sigma2_c
    out = {"below": math.nan, "above": math.nan, "ratio": math.nan}
    if lo.sum() >= 2 and hi.sum() >= 2:
        out["below"] = float(np.polyfit(s2[lo], y[lo], 1)[0])
        out["above"] = float(np.polyfit(s2[hi], y[hi], 1)[0])
        out["ratio"] = out["below"] / out["above"] if out["above"] else math.nan
    return out


# ---- single-neuron mean-field prediction ------------------------------------------------------
def _closure(r1: float, r3: float, sigma2: float, d: int, u0: float, g0: float, sigma_w2: float, eps: float,
             alpha: np.ndarray):
    u, g = u0 / sigma2**2, g0 / sigma2
    q = alpha**2 + sigma_w2 * (d - 1) / d
    c1 = (2 / math.sqrt(math.pi)) / np.sqrt(1 + 2 * q)
    c3 = -(4 / math.sqrt(math.pi)) / (1 + 2 * q) ** 1.5
    m = r1 * c1 * alpha + r3 * c3 * alpha**3
    logp = -d * alpha**2 / (2 * sigma_w2) + 0.5 * u * d * m**2
    p = np.exp(logp - logp.max())
    p /= p.sum()
    f1 = g * d * np.sum(p * c1 * alpha * m)
    f3 = g * d * np.sum(p * c3 * alpha**3 * m) / 6
    return 1 - f1, eps - f3, p, q


def invariants(d: int, n: int, N: int, sigma_a2: float) -> dict:
    """The two couplings of the problem at sigma^2 = 1: u = n^2 sigma_a^2 / (d N) (scales as 1/sigma^4) and
    g = n sigma_a^2 / d (scales as 1/sigma^2); settings with equal u and g share their transition."""
    return {"u_sigma4": n**2 * sigma_a2 / (d * N), "g_sigma2": n * sigma_a2 / d}


def single_neuron_theory(noise_vars: list[float], d: int, n: int, N: int, sigma_a2: float, sigma_w2: float = 0.5,
                         eps: float = -0.3, specialised_cos: float = 0.6, bins: int = 40) -> list[dict]:
    """Mean-field prediction per sigma^2: residual (r1, r3), test error r1^2 + 6 r3^2 (He3 has variance 3! = 6),
    mean |alpha|, fraction of neurons with |cos| > specialised_cos, and the |cos| histogram's droplet mode."""
    inv = invariants(d, n, N, sigma_a2)
    u0, g0 = inv["u_sigma4"], inv["g_sigma2"]
    alpha = np.linspace(-1.6, 1.6, 3201)
    out, start = [], np.array([0.2, eps])
    for s2 in noise_vars:
        def residual(r):
            r1, r3, _, _ = _closure(r[0], r[1], s2, d, u0, g0, sigma_w2, eps, alpha)
            return np.array([r1 - r[0], r3 - r[1]])
        sol = least_squares(residual, start, xtol=1e-12, ftol=1e-12)
        r1, r3 = sol.x
        _, _, p, q = _closure(r1, r3, s2, d, u0, g0, sigma_w2, eps, alpha)
        cos = np.abs(alpha) / np.sqrt(q)
        hist = np.bincount(np.minimum((cos * bins).astype(int), bins - 1), weights=p, minlength=bins)
        out.append({"sigma2": float(s2), "r1": float(r1), "r3": float(r3), "converged": bool(np.abs(sol.fun).max() < 1e-6),
                    "test_error": float(r1**2 + 6 * r3**2), "overlap": float(np.sum(p * np.abs(alpha))),
                    "frac_specialised": float(np.sum(p * (cos > specialised_cos))), "cos_hist": hist,
                    "droplet": droplet_mode(hist, smooth=1), "u": u0 / s2**2, "g": g0 / s2})
    return out


# ---- across seeds: the paper's observable, a located kink, and coexistence ---------------------
def hermite_components(pred: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Least-squares fit of each predictor on (1, He1(z), He3(z)) over the held-out inputs, z = w*.x.
    pred: (C, B), z: (B,). The teacher He1 - 0.3 He3 gives exactly (0, 1, -0.3); `rest` is the mean square of
    what the fit leaves (the part of the predictor outside the teacher's directions: fitted sample noise)."""
    X = np.stack([np.ones_like(z), z, z**3 - 3 * z], 1)  # (B, 3)
    coef, *_ = np.linalg.lstsq(X, pred.T, rcond=None)  # (3, C)
    rest = ((pred.T - X @ coef) ** 2).mean(0)
    return {"c1": coef[1], "c3": coef[2], "rest": rest}


def hinge_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, grid: int = 401) -> dict:
    """Two straight segments joined at a break b: y = c0 + c1 x + c2 max(0, b - x), (weighted) least squares,
    b profiled over a fine grid strictly inside the data (each segment keeps >= 2 points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    bs = np.linspace(x[1], x[-2], grid)
    X = np.stack(np.broadcast_arrays(np.ones_like(x), x, np.maximum(0.0, bs[:, None] - x)), -1)  # (G, P, 3)
    A = np.einsum("gpi,p,gpj->gij", X, w, X)  # normal equations, one 3x3 system per candidate break
    coef = np.linalg.solve(A + 1e-12 * np.eye(3), np.einsum("gpi,p,p->gi", X, w, y)[..., None])[..., 0]  # (G, 3)
    rss = (w * (np.einsum("gpi,gi->gp", X, coef) - y) ** 2).sum(-1)
    g = int(np.argmin(rss))
    return {"break": float(bs[g]), "rss": float(rss[g]), "coef": coef[g], "slope_above": float(coef[g, 1]),
            "slope_below": float(coef[g, 1] - coef[g, 2])}


def quadratic_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> dict:
    """The smooth alternative to a kink: y = c0 + c1 x + c2 x^2, (weighted) least squares."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    sw = np.sqrt(np.ones_like(x) if w is None else np.asarray(w, float))
    X = np.stack([np.ones_like(x), x, x**2], 1)
    coef, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    return {"coef": coef, "fit": X @ coef, "rss": float(((((X @ coef) - y) * sw) ** 2).sum())}


def hierarchical_means(Y: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of the mean curve. Y: (seeds, chains, points); seeds (data sets) are resampled,
    then chains within each drawn seed, so the dataset-to-dataset spread enters the error bar. -> (n_boot, points)"""
    S, k, _ = Y.shape
    s = rng.integers(0, S, size=(n_boot, S))
    c = rng.integers(0, k, size=(n_boot, S, k))
    return Y[s[:, :, None], c].mean((1, 2))


def locate_break(x, Y: np.ndarray, n_boot: int = 1000, seed: int = 0, n_null: int = 1000) -> dict:
    """Where a curve measured over seeds x chains bends, with an error bar and a significance.

    Y: (seeds, chains, points) on the sorted grid x. Returns the two-segment break of the mean curve, its
    bootstrap replicates (hierarchical_means) with a 95% interval, the break of each seed's mean curve, and a
    p-value against the smooth (quadratic) alternative: T = RSS_quadratic - RSS_two-segment, with weights
    1/se^2 from the bootstrap, calibrated by refitting both models on the quadratic fit plus Gaussian noise
    of the measured size (a parametric bootstrap under 'no kink')."""
    x = np.asarray(x, float)
    rng = np.random.default_rng(seed)
    mean = Y.mean((0, 1))
    boots = hierarchical_means(Y, n_boot, rng)
    se = boots.std(0, ddof=1)
    w = 1.0 / np.maximum(se, 1e-12 * max(np.abs(mean).max(), 1e-12)) ** 2
    fit, quad = hinge_fit(x, mean, w), quadratic_fit(x, mean, w)
    T = quad["rss"] - fit["rss"]
    null = []
    for _ in range(n_null):
        y0 = quad["fit"] + rng.normal(size=len(x)) * se
        null.append(quadratic_fit(x, y0, w)["rss"] - hinge_fit(x, y0, w)["rss"])
    null = np.asarray(null)
    b_boot = np.array([hinge_fit(x, yb, w)["break"] for yb in boots])  # (n_boot,), kept for extrapolations
    lo, hi = np.percentile(b_boot, [2.5, 97.5])
    per_seed = [hinge_fit(x, Y[s].mean(0), w)["break"] for s in range(Y.shape[0])]
    return {"break": fit["break"], "slope_above": fit["slope_above"], "slope_below": fit["slope_below"],
            "coef": fit["coef"].tolist(), "ci95": [float(lo), float(hi)], "half_width": float((hi - lo) / 2),
            "boot_std": float(b_boot.std(ddof=1)), "T": float(T), "p_smooth": float((1 + np.sum(null >= T)) / (1 + len(null))),
            "per_seed": [float(b) for b in per_seed], "seed_mean": float(np.mean(per_seed)),
            "seed_std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else float("nan"),
            "se": se.tolist(), "mean": mean.tolist(), "boot_breaks": b_boot}


def smooth_placebo(x, Y: np.ndarray) -> np.ndarray:
    """The same measurements with any kink removed: each point's mean replaced by the weighted quadratic fit of
    the mean curve, each (seed, chain) keeping its own deviation from that mean (the real noise)."""
    mean = Y.mean((0, 1))
    quad = quadratic_fit(np.asarray(x, float), mean)
    return Y - mean + quad["fit"]


def binder_of_hist(hist: np.ndarray) -> float:
    """Binder-like cumulant of the neuron overlaps, U = 1 - <c^4> / (3 <c^2>^2), from a |cos| histogram (bin
    centres; the sign of cos does not enter). A Gaussian cloud gives 0, a Gaussian bulk with a few neurons at
    a finite |cos| (coexistence of two neuron populations) gives U << 0, a cloud moved as a whole to a
    finite |cos| gives U -> 2/3."""
    h = np.asarray(hist, float) / np.sum(hist)
    c = bin_centres(len(h))
    m2, m4 = float((h * c**2).sum()), float((h * c**4).sum())
    return 1.0 - m4 / (3 * m2**2)


def gaussian_cloud_hist(m2: float, n: int, bins: int, rng: np.random.Generator) -> np.ndarray:
    """Placebo for the cumulant: |cos| histogram of n draws of a Gaussian with the given <cos^2> (a cloud that
    only widens, as a continuous transition would), in the same bins."""
    c = np.abs(rng.normal(scale=math.sqrt(m2), size=n))
    return np.bincount(np.minimum((c * bins).astype(int), bins - 1), minlength=bins) / n


# ---- across scales -------------------------------------------------------------------------------
class OverlapRecorder(Callback):
    """Records |cos(w_i, w*)| of every neuron of every chain every `every` optimiser steps after `burn_in` (the
    raw samples the phase toolkit needs; PosteriorAverage keeps only averages). `cos`: (T, C, N) float16."""

    def __init__(self, burn_in: int = 1000, every: int = 20):
        self.burn_in, self.every, self.records = burn_in, every, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step <= self.burn_in or (step - self.burn_in) % self.every:
            return
        with torch.no_grad():
            alpha = pl_module.W.detach() @ pl_module.w_star
            cos = (alpha / pl_module.W.detach().norm(dim=-1).clamp_min(1e-12)).abs()
        self.records.append(cos.to(torch.float16).cpu().numpy())

    @property
    def cos(self) -> np.ndarray:
        return np.stack(self.records) if self.records else np.zeros((0, 0, 0), np.float16)


def parse_scales(text: str) -> list[tuple[float, int]]:
    """'1/16:4 1/8:3 1/4:2' -> [(0.0625, 4), (0.125, 3), (0.25, 2)]: Table 1 scale beta and chains per sigma^2
    (2 when an item gives only beta)."""
    out = []
    for item in text.split():
        frac, _, chains = item.partition(":")
        chains = chains or "2"
        num, _, den = frac.partition("/")
        beta = float(num) / float(den or 1)
        if not beta > 0 or not chains.isdigit() or int(chains) < 1:
            raise ValueError(f"scale items are beta[:chains] with beta > 0 (got {item!r})")
        out.append((beta, int(chains)))
    return sorted(out)


def scaled_setting(base: dict, beta: float) -> dict:
    """Table 1 at alpha = beta from the base point {d, n, N, sigma_a2}: d -> sqrt(beta) d, n -> beta n,
    N -> beta N (rounded to integers), sigma_a^2 -> sigma_a^2 / sqrt(beta) (exact); sigma^2 is unchanged."""
    return {"beta": beta, "d": max(1, round(base["d"] * math.sqrt(beta))), "n": max(1, round(base["n"] * beta)),
            "N": max(1, round(base["N"] * beta)), "sigma_a2": base["sigma_a2"] / math.sqrt(beta)}


def curve_observables(x, Y: np.ndarray, volume: float, key: str, n_boot: int = 1000, seed: int = 0) -> Observables:
    """A curve measured over (seeds, chains, points) as toolkit Observables under `key`: the mean curve and its
    hierarchical bootstrap replicates (data sets, then chains), so mfnn.phases.crossing can read it."""
    boots = hierarchical_means(Y, n_boot, np.random.default_rng(seed))
    mean = Y.mean((0, 1))
    return Observables(g=np.asarray(x, float), volume=float(volume), mean={key: mean},
                       err={key: boots.std(0, ddof=1)}, boot={key: boots})


def extrapolated_break(sizes, breaks, boots, shift_exponent: float = 1.0,
                       systematic_exponents: tuple[float, ...] = (0.5, 2.0)) -> dict:
    """sigma^2_c from per-size break points b(L) = sigma^2_c + a L^-w (mfnn.phases.extrapolate, w fixed), with the
    bootstrap error of the extrapolation combined in quadrature with a systematic one: the largest change when w
    is set to each of `systematic_exponents` instead (the same recipe as the toolkit's Binder extrapolation)."""
    main = extrapolate(sizes, breaks, boots, shift_exponent)
    others = {w: extrapolate(sizes, breaks, boots, w)["g_c"] for w in systematic_exponents}
    syst = max(abs(v - main["g_c"]) for v in others.values()) if len(sizes) > 1 else 0.0
    return {"sigma2_c": main["g_c"], "err_stat": main["err"], "err_syst": float(syst),
            "err": float(np.hypot(main["err"], syst)), "slope": main["slope"], "shift_exponent": shift_exponent,
            "alternatives": {str(w): v for w, v in others.items()}}


def successive_crossings(obs: list[Observables], sizes, key: str, half_width: int = 2) -> list[dict]:
    """Crossings of successive sizes' curves `key` (mfnn.phases.crossing), with bootstrap errors."""
    out = []
    for (La, a), (Lb, b) in zip(zip(sizes[:-1], obs[:-1]), zip(sizes[1:], obs[1:])):
        c = crossing(a, b, half_width=half_width, key=key)
        out.append({"sizes": [La, Lb], "g": c["g"], "err": c["err"], "value": c["value"]})
    return out
