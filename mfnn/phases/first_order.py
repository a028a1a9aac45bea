"""First-order or continuous? Three finite-size signatures of a discontinuous transition, read at the largest
sizes, and a verdict that states its evidence.

1. Coexistence: at the transition the |m| histogram has two peaks (disordered near 0, ordered at m*), while at
   a continuous transition it has one peak that moves to 0 as L grows (P(m) of the Landau phi^4 form never has
   a third peak at m = 0).
2. Negative Binder dip: a mixture of the two phases with weight p on the ordered one has U ~ 1 - 1/(3p), so U
   dips below zero near the transition, deeper with L; at a continuous transition U stays in [0, 2/3] (up to
   O(1/volume) and noise).
3. Latent jump: the distance between the two peaks stays finite as L grows (a continuous order parameter's
   peak position shrinks like L^{-beta/nu}).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

from mfnn.phases.observables import Observables

DIP_DEPTH = 0.05  # Binder dip counted as negative below -0.05: a continuous U >= -O(1/volume) - noise
VALLEY = 0.8  # two peaks count as separate modes when the valley between them is <= 80% of the lower peak
MIN_PEAK = 0.1  # ... and the lower peak is >= 10% of the higher one (a noise bump is not a phase)
JUMP_KEEP = 0.7  # the jump persists if it keeps >= 70% of its value from one size to the next


def modes(values, grid_points: int = 256) -> dict:
    """Peaks of the density of |values| (Gaussian KDE, Scott's bandwidth, reflected at 0 so |m| has no edge
    artefact). Returns the peak positions and heights, and whether the two highest form separate modes."""
    x = np.abs(np.asarray(values, dtype=float)).ravel()
    if np.ptp(x) == 0:
        return {"peaks": [float(x[0])], "bimodal": False, "valley_ratio": 1.0, "jump": 0.0}
    kde = gaussian_kde(np.concatenate([x, -x]))
    grid = np.linspace(0.0, x.max() * 1.05, grid_points)
    dens = kde(grid)
    inner = (dens[1:-1] > dens[:-2]) & (dens[1:-1] >= dens[2:])
    peaks = list(np.nonzero(inner)[0] + 1)
    if dens[0] >= dens[1]:
        peaks = [0] + peaks
    peaks = sorted(peaks, key=lambda k: -dens[k])[:2]
    out = {"peaks": [float(grid[k]) for k in sorted(peaks)], "heights": [float(dens[k]) for k in sorted(peaks)],
           "bimodal": False, "valley_ratio": 1.0, "jump": 0.0}
    if len(peaks) == 2:
        a, b = sorted(peaks)
        low_peak = min(dens[a], dens[b])
        valley = float(dens[a:b + 1].min() / low_peak)
        out.update(valley_ratio=valley, jump=float(grid[b] - grid[a]),
                   bimodal=bool(valley <= VALLEY and low_peak >= MIN_PEAK * max(dens[a], dens[b])))
    return out


def diagnose(samples: dict[int, np.ndarray], obs: dict[int, Observables], g_c: float | None = None,
             window: float | None = None) -> dict:
    """samples: size -> (G, chains, T) as for `observables`; obs: their Observables. Looks for coexistence
    at every control value within `window` of g_c (all values when either is None) and returns per-size
    evidence and a verdict."""
    per_size = {}
    for L in sorted(obs):
        o, x = obs[L], np.asarray(samples[L])
        near = np.ones(len(o.g), bool) if g_c is None or window is None else np.abs(o.g - g_c) <= window
        scans = {int(i): modes(x[i]) for i in np.nonzero(near)[0]}
        bimodal = {i: m for i, m in scans.items() if m["bimodal"]}
        # strongest coexistence: the deepest valley among bimodal points
        best = min(bimodal, key=lambda i: bimodal[i]["valley_ratio"]) if bimodal else None
        k = int(np.argmin(o.mean["binder"]))
        # the dip's significance: at each g, the share of bootstrap replicates below -DIP_DEPTH; the ratio
        # estimator U is heavy-tailed in a mixed phase (a replicate with few ordered chains gives U ~ 0, one
        # with very few gives U << 0), so a replicate share is safer than a standard error
        share = np.mean(o.boot["binder"] < -DIP_DEPTH, axis=0)  # (G,)
        j = int(np.argmax(share))
        entry = {
            "binder_min": float(o.mean["binder"][k]), "binder_min_err": float(o.err["binder"][k]),
            "binder_min_g": float(o.g[k]),
            "binder_dip_confidence": float(share[j]), "binder_dip_g": float(o.g[j]),
            "binder_at_dip": float(o.mean["binder"][j]),
            "bimodal": best is not None,
            "coexistence_g": float(o.g[best]) if best is not None else None,
            "jump": bimodal[best]["jump"] if best is not None else 0.0,
            "valley_ratio": bimodal[best]["valley_ratio"] if best is not None else 1.0,
        }
        if scans:  # the highest peak of |m| at the control value closest to g_c (the middle one without g_c)
            target = g_c if g_c is not None else float(np.median(o.g))
            entry["peak_at_g_c"] = scans[min(scans, key=lambda i: abs(o.g[i] - target))]["peaks"][-1]
        per_size[L] = entry
    sizes = sorted(per_size)
    big = per_size[sizes[-1]]
    prev = per_size[sizes[-2]] if len(sizes) > 1 else None
    dip = big["binder_at_dip"] < -DIP_DEPTH and big["binder_dip_confidence"] >= 0.95
    persists = bool(big["bimodal"] and prev is not None and prev["bimodal"] and big["jump"] >= JUMP_KEEP * prev["jump"])
    evidence = {"coexistence_at_largest_size": big["bimodal"], "negative_binder_dip": bool(dip),
                "jump_persists_with_size": persists}
    n = sum(evidence.values())
    if big["bimodal"] and (dip or persists):
        verdict = "first-order"
    elif n == 0:
        verdict = "continuous"
    else:
        verdict = "inconclusive"
    return {"verdict": verdict, "evidence": evidence, "per_size": per_size,
            "rules": {"binder_dip_below": -DIP_DEPTH, "valley_ratio_max": VALLEY, "min_peak_ratio": MIN_PEAK,
                      "jump_keep": JUMP_KEEP}}
