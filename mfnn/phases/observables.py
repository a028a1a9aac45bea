"""Order-parameter moments per (control value g, size L) with bootstrap error bars.

Input convention (shared by the whole package): for one size, `samples` is an array (G, chains, T) of order-
parameter values m at G control values, from `chains` independent chains / seeds / members, each with T
(possibly correlated) records; T = 1 for one value per seed. Moments pool every record of a chain; the
bootstrap resamples whole chains, so correlations inside a chain never shrink the error bars.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Observables:
    """Estimates at each control value (G,), their bootstrap standard errors (G,) and replicates (B, G)."""

    g: np.ndarray
    volume: float
    mean: dict[str, np.ndarray]
    err: dict[str, np.ndarray]
    boot: dict[str, np.ndarray]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.mean[key]


def _derived(abs_m: np.ndarray, m2: np.ndarray, m4: np.ndarray, volume: float) -> dict[str, np.ndarray]:
    return {"abs_m": abs_m, "m2": m2, "m4": m4,
            "chi": volume * (m2 - abs_m**2),  # chi = L_eff (<m^2> - <|m|>^2)
            "binder": 1.0 - m4 / (3.0 * m2**2)}


def observables(g, samples, volume: float, n_boot: int = 200, rng: np.random.Generator | None = None) -> Observables:
    """<|m|>, <m^2>, <m^4>, chi = volume (<m^2> - <|m|>^2) and the Binder cumulant U = 1 - <m^4> / (3 <m^2>^2).

    g (G,); samples (G, chains, T) or (G, chains); volume = L_eff (L^d for a lattice, N for a network width).
    """
    g = np.asarray(g, dtype=float)
    x = np.asarray(samples, dtype=float)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[0] != len(g):
        raise ValueError(f"samples must be (G={len(g)}, chains, T), got {x.shape}")
    if x.shape[1] < 2:
        raise ValueError("the bootstrap needs at least two independent chains per point")
    rng = rng or np.random.default_rng(0)
    # per-chain moments, (G, chains); chains are the independent units
    per_chain = [np.abs(x).mean(-1), (x**2).mean(-1), (x**4).mean(-1)]
    mean = _derived(*(p.mean(-1) for p in per_chain), volume)
    idx = rng.integers(0, x.shape[1], size=(n_boot, x.shape[1]))  # (B, chains), one draw shared by all g
    boot = _derived(*(p[:, idx].mean(-1).T for p in per_chain), volume)  # each (B, G)
    err = {k: v.std(0, ddof=1) for k, v in boot.items()}
    return Observables(g=g, volume=float(volume), mean=mean, err=err, boot=boot)


def integrated_autocorrelation_time(x, c: float = 5.0) -> float:
    """tau_int = 1/2 + sum_t rho(t) of a series, x (chains, T) or (T,), with Sokal's automatic window (the
    first W >= c tau_int(W)); rho is the chain-averaged normalised autocorrelation. The effective number of
    independent records in a chain of length T is T / (2 tau_int)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    T = x.shape[-1]
    d = x - x.mean(-1, keepdims=True)
    f = np.fft.rfft(d, n=2 * T, axis=-1)
    acov = np.fft.irfft(f * np.conj(f), axis=-1)[:, :T].mean(0) / T  # chain-averaged autocovariance
    if acov[0] <= 0:
        return 0.5
    rho = acov / acov[0]
    tau = 0.5 + np.cumsum(rho[1:])  # tau(W) for W = 1, 2, ...
    window = np.arange(1, T)
    ok = window >= c * tau
    return float(tau[np.argmax(ok)] if ok.any() else tau[-1])


def value_at(obs: Observables, key: str, g0: float, half_width: int = 3) -> dict:
    """`key` at a control value g0 between grid points: a quadratic through the nearest 2*half_width points,
    for the estimate and for every bootstrap replicate (error = replicate spread)."""
    i = int(np.argsort(np.abs(obs.g - g0))[0])
    lo = max(0, min(i - half_width + 1, len(obs.g) - 2 * half_width))
    sl = slice(lo, lo + 2 * half_width)
    gg = obs.g[sl] - g0
    deg = min(2, len(gg) - 1)
    est = float(np.polyval(np.polyfit(gg, obs.mean[key][sl], deg), 0.0))
    reps = np.polyfit(gg, obs.boot[key][:, sl].T, deg)[-1]  # constant term = value at g0, (B,)
    return {"value": est, "err": float(np.std(reps, ddof=1)), "boot": reps}
