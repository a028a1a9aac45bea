"""The critical point from Binder-cumulant crossings of successive sizes, extrapolated in L.

Near a continuous transition U_L(g) = F((g - g_c) L^{1/nu}) + O(L^-omega): curves of different sizes cross at
g_c up to a shift that vanishes as L^-(1/nu + omega). Each crossing is the root of a quadratic fitted to
U_L' - U_L over the points around its sign change; the same recipe is applied to every bootstrap replicate.
"""
from __future__ import annotations

import numpy as np

from mfnn.phases.observables import Observables


def _sign_change(diff: np.ndarray) -> int | None:
    """Index i with a sign change between diff[i] and diff[i+1]; with several (noise), the one whose sides
    agree most with one sign left and the other right."""
    s = np.sign(diff)
    cands = [i for i in range(len(s) - 1) if s[i] * s[i + 1] < 0]
    if not cands:
        return None
    score = [np.sum(s[: i + 1] == s[i]) + np.sum(s[i + 1:] == s[i + 1]) for i in cands]
    return cands[int(np.argmax(score))]


def _root(g: np.ndarray, diff: np.ndarray, i: int, half_width: int) -> float:
    lo, hi = max(0, i + 1 - half_width), min(len(g), i + 1 + half_width)
    gg, dd = g[lo:hi], diff[lo:hi]
    coef = np.polyfit(gg - g[i], dd, deg=min(2, len(gg) - 1))
    roots = np.roots(coef)
    roots = roots[np.isreal(roots)].real + g[i]
    inside = roots[(roots >= gg[0]) & (roots <= gg[-1])]
    if len(inside) == 0:  # fall back to the linear interpolation of the bracketing pair
        return float(g[i] - diff[i] * (g[i + 1] - g[i]) / (diff[i + 1] - diff[i]))
    return float(inside[np.argmin(np.abs(inside - 0.5 * (g[i] + g[i + 1])))])


def crossing(a: Observables, b: Observables, half_width: int = 3, key: str = "binder") -> dict:
    """Where the curves `key` of two sizes cross: estimate, bootstrap error and replicates. Both sizes must
    share the control grid."""
    if a.g.shape != b.g.shape or not np.allclose(a.g, b.g):
        raise ValueError("Binder crossings need both sizes on the same control grid")
    g = a.g
    diff = b.mean[key] - a.mean[key]
    i = _sign_change(diff)
    if i is None:
        return {"g": float("nan"), "err": float("nan"), "boot": np.full(len(a.boot[key]), np.nan), "value": float("nan")}
    g_star = _root(g, diff, i, half_width)
    boot = []
    for da, db in zip(a.boot[key], b.boot[key]):  # replicate by replicate, around the same sign change
        d = db - da
        j = _sign_change(d[max(0, i - half_width): i + half_width + 1])
        boot.append(_root(g, d, j + max(0, i - half_width), half_width) if j is not None else np.nan)
    boot = np.asarray(boot)
    value = float(np.interp(g_star, g, 0.5 * (a.mean[key] + b.mean[key])))
    return {"g": g_star, "err": float(np.nanstd(boot, ddof=1)), "boot": boot, "value": value,
            "failed_replicates": int(np.isnan(boot).sum())}


def extrapolate(sizes, g_star, boot, shift_exponent: float) -> dict:
    """Least-squares g*(L) = g_c + a L^-w over the crossings (L = geometric mean of each pair, w = 1/nu + omega
    fixed), applied to the central crossings and to each bootstrap replicate (error = replicate spread)."""
    L = np.asarray(sizes, dtype=float)
    g_star = np.asarray(g_star, dtype=float)
    X = np.stack([np.ones_like(L), L**-shift_exponent], 1)
    if len(L) == 1:
        return {"g_c": float(g_star[0]), "err": float(np.nanstd(boot[0], ddof=1)), "slope": 0.0}
    coef = np.linalg.lstsq(X, g_star, rcond=None)[0]
    B = np.asarray(boot, dtype=float).T  # (B, pairs)
    B = B[~np.isnan(B).any(1)]
    reps = np.linalg.lstsq(X, B.T, rcond=None)[0][0] if len(B) else np.array([np.nan])
    return {"g_c": float(coef[0]), "err": float(np.std(reps, ddof=1)), "slope": float(coef[1])}


def binder_critical_point(obs: dict[int, Observables], shift_exponent: float = 2.0,
                          systematic_exponents: tuple[float, ...] = (1.0, 3.0), half_width: int = 3) -> dict:
    """Crossings of successive sizes and their extrapolation to L -> infinity.

    obs: size -> Observables on a shared grid. The error bar is the bootstrap error of the extrapolation
    combined in quadrature with a systematic one: the largest change of g_c when the shift exponent is set to
    each of `systematic_exponents` instead (the correction exponent omega is rarely known)."""
    sizes = sorted(obs)
    pairs = list(zip(sizes[:-1], sizes[1:]))
    cross = [crossing(obs[a], obs[b], half_width) for a, b in pairs]
    ok = [k for k, c in enumerate(cross) if np.isfinite(c["g"])]
    Lp = [np.sqrt(pairs[k][0] * pairs[k][1]) for k in ok]
    gs = [cross[k]["g"] for k in ok]
    boots = [cross[k]["boot"] for k in ok]
    if not ok:
        return {"pairs": pairs, "crossings": cross, "g_c": float("nan"), "err": float("nan")}
    main = extrapolate(Lp, gs, boots, shift_exponent)
    others = [extrapolate(Lp, gs, boots, w)["g_c"] for w in systematic_exponents]
    syst = float(max(abs(o - main["g_c"]) for o in others)) if len(ok) > 1 else 0.0
    return {"pairs": pairs, "crossings": [{k: v for k, v in c.items() if k != "boot"} for c in cross],
            "g_c": main["g_c"], "err_stat": main["err"], "err_syst": syst, "err": float(np.hypot(main["err"], syst)),
            "shift_exponent": shift_exponent, "largest_pair": {"g": cross[ok[-1]]["g"], "err": cross[ok[-1]]["err"]}}
