"""Reductions of one cached sweep (sampling.py) to per-chain observables, and the theory at the same sizes."""
from __future__ import annotations

import math

import numpy as np
import torch

from mfnn.data.modular import all_pairs
from mfnn.models.quadratic_modular import LOG_PHI_RANGE, PHI_BINS
from mfnn.theory.modular import ModularMeanField, crossing

JUMP_LEVEL = 0.1  # the transition is where the fraction of Fourier modes crosses 10% (two-delta theory: ~1.03 A)
AWAY = 0.01  # "away from the transition": the two-delta theory has p_on < 1% or > 99% there


def chain_observables(r: dict) -> dict:
    """Per chain (C,): discrepancy a on the training pairs, test-pair statistics, Fourier-mode fraction."""
    P = r["P"]
    _, _, s = all_pairs(P)
    y = torch.nn.functional.one_hot(s, P).double() - 1.0 / P  # (P^2, P)
    f = r["mean"]["val_pred"].double()  # (C, P^2, P) posterior-mean output on every pair
    train = r["train_mask"].bool()
    test = ~train

    def component(mask):  # target component <f, y> / <y, y> over the pairs in mask
        return ((f[:, mask] * y[mask]).sum((-1, -2)) / y[mask].square().sum()).numpy()

    out = {"a": component(train) - 1.0, "frac_on": r["mean"]["frac_on"].double().numpy()}
    if test.any():
        out["test_component"] = component(test)
        # the part of f that is a function of n alone plus m alone (row + column means): what a fit to part of a
        # table whose rows and columns sum to zero carries over to the other part with the opposite sign
        F = f.reshape(-1, P, P, P)  # (C, n, m, p)
        additive = F.mean(2, keepdim=True) + F.mean(1, keepdim=True) - F.mean((1, 2), keepdim=True)
        out["test_component_additive"] = ((additive.reshape(f.shape)[:, test] * y[test]).sum((-1, -2))
                                          / y[test].square().sum()).numpy()
        out["test_mse"] = (f[:, test] - y[test]).square().sum(-1).mean(-1).numpy()
        out["test_acc"] = (f[:, test].argmax(-1) == s[test]).double().mean(-1).numpy()
        out["train_acc"] = (f[:, train].argmax(-1) == s[train]).double().mean(-1).numpy()
    return out


def grouped(x: np.ndarray, r: dict) -> np.ndarray:
    """(C,) -> (S, k): chains grouped by sigma^2 point."""
    return np.asarray(x).reshape(len(r["noise_vars"]), r["chains_per_point"])


def cold_columns(r: dict) -> slice:
    return slice(0, r["chains_per_point"] - r["hot_chains_per_point"])


def theory_curves(r: dict, points: int = 41, grid: int = 500) -> dict:
    """Two-delta ("network") and quadrature ("exact") theory at this sweep's P, N, sigma_a^2, gamma."""
    kw = dict(P=r["P"], N=r["N"], sigma_a2=r["sigma_a2"], gamma=r["gamma"])
    two, exact = ModularMeanField(**kw, form="network"), ModularMeanField(**kw, form="exact", grid=grid)
    s2 = np.asarray(r["noise_vars"])
    fine = np.linspace(0.8 * s2.min(), 1.1 * s2.max(), points)
    out = {"thresholds": two.thresholds(), "fine": fine}
    for name, th in (("two_delta", two), ("exact", exact)):
        sol_fine, sol_pts = th.sweep(fine), th.sweep(s2)
        out[name] = {"a_fine": np.array([x["a"] for x in sol_fine]), "p_fine": np.array([x["p_on"] for x in sol_fine]),
                     "a": np.array([x["a"] for x in sol_pts]), "p_on": np.array([x["p_on"] for x in sol_pts]),
                     "u": np.array([x["u"] for x in sol_pts])}
        out[name]["jump"] = crossing(fine, out[name]["p_fine"], JUMP_LEVEL)
    return out


def network_jump(s2, frac_on_cold: np.ndarray) -> np.ndarray:
    """Per seed (column): the sigma^2 where that chain's Fourier-mode fraction crosses JUMP_LEVEL."""
    return np.array([crossing(s2, frac_on_cold[:, j], JUMP_LEVEL) for j in range(frac_on_cold.shape[1])])


def phi_histograms(r: dict) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-averaged histograms of log10(P Phi_k) per sigma^2 (cold chains pooled): (S, bins), bin centres."""
    hist = grouped(np.arange(len(r["hot"])), r)
    h = r["mean"]["phi_hist"].double().numpy()
    pooled = np.stack([h[row[cold_columns(r)]].mean(0) for row in hist])
    lo, hi = LOG_PHI_RANGE
    centres = lo + (np.arange(PHI_BINS) + 0.5) * (hi - lo) / PHI_BINS
    return pooled, centres


def bimodality(hist: np.ndarray, centres: np.ndarray, log_cut: float) -> dict:
    """Mass above the cut, the two peaks (below / above the cut) and the deepest bin between them."""
    below, above = centres < log_cut, centres >= log_cut
    mass_above = float(hist[above].sum())
    if mass_above == 0:
        return {"mass_above": 0.0, "dip_ratio": math.nan, "bimodal": False}
    i_lo = int(np.argmax(np.where(below, hist, -1)))
    i_hi = int(np.argmax(np.where(above, hist, -1)))
    dip = float(hist[i_lo:i_hi + 1].min())
    ratio = dip / min(hist[i_lo], hist[i_hi])
    return {"mass_above": mass_above, "dip_ratio": ratio, "peak_low": float(centres[i_lo]),
            "peak_high": float(centres[i_hi]), "bimodal": bool(ratio < 0.5)}


def phase_relation(w: torch.Tensor, v: torch.Tensor, a: torch.Tensor, cut: float) -> dict:
    """Delta = arg a_k - arg w_k - arg v_k over (neuron, k), split into Fourier modes (Phi, Psi > cut) and the rest.
    Gromov's solution: Delta = 0 on every Fourier mode. R = |mean e^{i Delta}| (1 = locked, ~1/sqrt(n) = random).
    Placebo: the same Fourier modes with v_k taken from the next neuron (v rolled by one along the neuron axis), which
    keeps every marginal but breaks the pairing within a neuron."""
    P = w.shape[-1]
    K = (P - 1) // 2
    wk, vk, ak = (torch.fft.fft(t.double(), dim=-1)[..., 1:K + 1] for t in (w, v, a))
    delta = torch.angle(ak * wk.conj() * vk.conj()).flatten()
    delta_shuffled = torch.angle(ak * wk.conj() * vk.roll(1, dims=-2).conj()).flatten()
    phi, psi = (wk.abs().square() / P**2).flatten(), (vk.abs().square() / P**2).flatten()
    on = (phi > cut) & (psi > cut)

    def R(mask):
        n = int(mask.sum())
        return (float(torch.exp(1j * delta[mask]).mean().abs()) if n else math.nan), n

    r_on, n_on = R(on)
    r_off, n_off = R(~on)
    n = int(on.sum())
    r_shuffled = float(torch.exp(1j * delta_shuffled[on]).mean().abs()) if n else math.nan
    return {"R_fourier": r_on, "n_fourier": n_on, "R_other": r_off, "n_other": n_off, "R_shuffled": r_shuffled,
            "delta_fourier": delta[on].numpy(), "delta_other": delta[~on].numpy(),
            "delta_shuffled": delta_shuffled[on].numpy()}


def readout_self_energy(w: torch.Tensor, v: torch.Tensor, sigma_a2: float, noise_var: torch.Tensor) -> torch.Tensor:
    """kappa = (sigma_a^2 / (N sigma^2)) sum_{pairs} h_i^2, mean over neurons, per chain (C,): how much one neuron's
    own data term sharpens its readout posterior beyond the prior. The mean-field theory drops it (O(1/N) at fixed u);
    kappa << 1 is where it can be exact."""
    N = w.shape[1]
    h2 = (w[..., :, None] + v[..., None, :]).double().pow(4).sum((-1, -2))  # (C, N)
    return sigma_a2 / N * h2.mean(-1) / noise_var.double()
