"""Samplers for the two calibration models: the 2D Ising model (square lattice, periodic, J = 1) and the
fully connected Curie-Weiss model (coupling J/N).

Ising: every chain at every temperature is one (C, L, L) tensor of +-1 spins, chain c at inverse temperature
beta[c]. Two moves:
- checkerboard Metropolis: the two sublattices of a bipartite lattice do not interact, so each half-sweep updates
  one colour everywhere at once (exact detailed balance);
- Swendsen-Wang: bonds between equal neighbours open with p = 1 - exp(-2 beta); clusters (connected components
  of open bonds, periodic wrap included) are found by scipy.sparse.csgraph over all chains at once, and each
  cluster takes a fresh random sign. Near T_c local moves decorrelate in ~L^2.17 sweeps, cluster moves in ~L^0.2.

Curie-Weiss: H = -(J / 2N) M^2 with M = sum_i s_i, so the magnetisation alone carries the physics and its
distribution is a 1-D sum, P(M) ~ binom(N, (N + M)/2) exp(beta J M^2 / 2N), M = -N, -N+2, ..., N. We sample M
exactly from it (no Markov chain, independent draws) and compute moments exactly from the same weights.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import gammaln, logsumexp

T_C_ONSAGER = 2.0 / math.log(1.0 + math.sqrt(2.0))  # 2.269185...
BINDER_CW_LIMIT = 1.0 - math.gamma(0.25) ** 4 / (24.0 * math.pi**2)  # 0.2705...: P(m) ~ exp(-N m^4 / 12) at T_c


# ---- 2D Ising ---------------------------------------------------------------------------------------------
def random_spins(chains: int, L: int, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """(C, L, L) hot start, int8 +-1."""
    s = torch.randint(0, 2, (chains, L, L), generator=generator, device=device, dtype=torch.int8)
    return (2 * s - 1).to(torch.int8)


def checkerboard(L: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of the two sublattices, (L, L) bool each. L must be even for periodic wrap to stay bipartite."""
    if L % 2:
        raise ValueError(f"checkerboard updates need an even L, got {L}")
    i = torch.arange(L, device=device)
    black = ((i[:, None] + i[None, :]) % 2 == 0)
    return black, ~black


def neighbour_sum(s: torch.Tensor) -> torch.Tensor:
    """Sum of the four periodic neighbours, (C, L, L) -> (C, L, L)."""
    return s.roll(1, -1) + s.roll(-1, -1) + s.roll(1, -2) + s.roll(-1, -2)


def metropolis_sweep(s: torch.Tensor, beta: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One checkerboard Metropolis sweep of every chain; s (C, L, L) int8, beta (C,). Returns the new spins."""
    L = s.shape[-1]
    sf = s.float()
    b = beta.float().view(-1, 1, 1)
    for mask in checkerboard(L, s.device):
        dE = 2.0 * sf * neighbour_sum(sf)  # energy change of flipping each spin, (C, L, L)
        accept = torch.rand(sf.shape, generator=generator, device=s.device) < torch.exp(-b * dE)
        sf = torch.where(accept & mask, -sf, sf)
    return sf.to(torch.int8)


def swendsen_wang_sweep(s: torch.Tensor, beta: torch.Tensor, rng: np.random.Generator,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """One Swendsen-Wang update of every chain. Bonds are drawn on s's device; clusters are labelled on the
    CPU by scipy (weakly connected components of the directed bond graph = clusters, without symmetrising)."""
    C, L, _ = s.shape
    p_open = (1.0 - torch.exp(-2.0 * beta.double())).float().view(-1, 1, 1).to(s.device)  # (C, 1, 1)
    site = torch.arange(C * L * L, device=s.device).reshape(C, L, L)
    rows, cols = [], []
    for dim in (1, 2):  # bonds to the right and downwards; roll wraps periodically
        open_ = (s == s.roll(-1, dim)) & (torch.rand(s.shape, generator=generator, device=s.device) < p_open)
        rows.append(site[open_])
        cols.append(site.roll(-1, dim)[open_])
    r, c = torch.cat(rows).cpu().numpy(), torch.cat(cols).cpu().numpy()
    graph = csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(C * L * L, C * L * L))
    n, label = connected_components(graph, directed=True, connection="weak")
    new_sign = torch.from_numpy(rng.choice(np.array([-1, 1], dtype=np.int8), size=n))
    return new_sign[torch.from_numpy(label).long()].reshape(C, L, L).to(s.device)


def magnetisation(s: torch.Tensor) -> torch.Tensor:
    """Magnetisation per spin, (C, L, L) -> (C,)."""
    return s.float().mean((-1, -2))


def energy(s: torch.Tensor) -> torch.Tensor:
    """Energy per spin, -sum_<ij> s_i s_j / L^2, (C,)."""
    sf = s.float()
    return -(sf * (sf.roll(1, -1) + sf.roll(1, -2))).mean((-1, -2))


def simulate_ising(L: int, temperatures, chains: int, sweeps: int, burn_in: int, seed: int = 0,
                   cluster: bool = True, metropolis_per_step: int = 1, device="cpu") -> dict:
    """Run chains x temperatures independent chains of the L x L Ising model as one tensor program.

    One step = (one Swendsen-Wang update if `cluster`) + `metropolis_per_step` checkerboard sweeps; `burn_in` steps
    are discarded, then m is recorded after each of `sweeps` steps. Returns m as (T, chains, sweeps) numpy and the
    energy per spin alike.
    """
    temps = np.asarray(temperatures, dtype=float)
    gen = torch.Generator(device=device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    beta = torch.tensor(np.repeat(1.0 / temps, chains), device=device)  # chain c at temps[c // chains]
    s = random_spins(len(beta), L, gen, device)
    ms, es = [], []
    for step in range(burn_in + sweeps):
        if cluster:
            s = swendsen_wang_sweep(s, beta, rng, gen)
        for _ in range(metropolis_per_step):
            s = metropolis_sweep(s, beta, gen)
        if step >= burn_in:
            ms.append(magnetisation(s))
            es.append(energy(s))
    shape = (len(temps), chains, sweeps)
    return {"m": torch.stack(ms, -1).cpu().numpy().reshape(shape), "e": torch.stack(es, -1).cpu().numpy().reshape(shape),
            "temperatures": temps, "L": L}


# ---- Curie-Weiss --------------------------------------------------------------------------------------------
def curie_weiss_log_weights(N: int, temperature: float, J: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """m = M/N on its N + 1 values and log P(m) (normalised): binomial entropy + beta J N m^2 / 2."""
    k = np.arange(N + 1)  # number of up spins
    M = 2 * k - N
    logw = gammaln(N + 1) - gammaln(k + 1) - gammaln(N - k + 1) + (J / temperature) * M.astype(float) ** 2 / (2 * N)
    return M / N, logw - logsumexp(logw)


def curie_weiss_moments(N: int, temperature: float, J: float = 1.0) -> dict:
    """Exact <|m|>, <m^2>, <m^4>, the Binder cumulant and chi = N (<m^2> - <|m|>^2) at finite N."""
    m, logp = curie_weiss_log_weights(N, temperature, J)
    p = np.exp(logp)
    a, m2, m4 = (p * np.abs(m)).sum(), (p * m**2).sum(), (p * m**4).sum()
    return {"abs_m": a, "m2": m2, "m4": m4, "binder": 1.0 - m4 / (3.0 * m2**2), "chi": N * (m2 - a**2)}


def sample_curie_weiss(N: int, temperatures, samples: int, rng: np.random.Generator, J: float = 1.0) -> np.ndarray:
    """Exact independent draws of m at each temperature, (T, samples)."""
    out = np.empty((len(temperatures), samples))
    for i, T in enumerate(temperatures):
        m, logp = curie_weiss_log_weights(N, float(T), J)
        p = np.exp(logp)
        out[i] = rng.choice(m, size=samples, p=p / p.sum())
    return out
