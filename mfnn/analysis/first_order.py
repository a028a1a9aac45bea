"""The first-order (droplet) transition of Bayesian erf students on a cubic teacher (Rubin, Seroussi & Ringel 2024).

Two parts:
1. Reading a sweep: droplet modes in the |cos(w, w*)| histogram of the neuron cloud, the noise variance where
   they appear, and the kink of the test error there.
2. A single-neuron mean-field prediction at finite input dimension d, to compare the run with.

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
from scipy.optimize import least_squares


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
