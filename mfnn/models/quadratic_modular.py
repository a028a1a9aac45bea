"""The quadratic modular-addition network of Rubin, Seroussi & Ringel (ICLR 2024, Eq. 5), sampled as a Bayesian
posterior by Langevin dynamics, many chains x noise variances in one tensor program.

    f_p(x_nm) = sum_i a_pi (w_in + v_im)^2       w, v: (C, N, P) the two one-hot slots' weights   a: (C, N, P)

on two-hot inputs x_nm with the mean-removed one-hot target y_p = delta_{p, n+m mod P} - 1/P (Eq. 4). Chain c
belongs to the sigma^2 point `noise_vars[c // chains_per_point]`; its Langevin potential (temperature 1) is

    U_c = sum_{train (n,m)} |f(x_nm) - y(x_nm)|^2 / (2 sigma_c^2)  +  |w|^2/2 + |v|^2/2  +  N |a|^2 / (2 sigma_a^2)
          + P (gamma/6) sum_k (|w_k|^6 + |v_k|^6)          (the optional sextic Fourier-space potential of Claim II)

with normalised Fourier modes w_k = P^-1 sum_n w_n e^{-2 pi i kn/P}. The likelihood is a sum over pairs (not a
mean), so that the stationary law is the posterior with noise sigma^2 (fact sheet §2); the Gaussian priors come
from the Langevin optimiser's weight decay (sgd_lr_scale = the group's prior variance, weight_decay = 1).
"""
from __future__ import annotations

import math

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mfnn.data.modular import all_pairs
from mfnn.errors import require, require_positive
from mfnn.models.base import MFNNModule, documents_training_args, full_precision
from mfnn.optim.langevin import Langevin

LOG_PHI_RANGE, PHI_BINS = (-3.0, 2.0), 50  # histogram of log10(P * Phi_k); the prior sits near P * Phi = 1


def quadratic_table(w: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The output on every pair: w, v, a: (C, N, P) -> f: (C, P^2, P), pair index n * P + m.
    Broadcasting w_n + v_m over the table avoids a gather (whose backward is a slow scatter)."""
    C, N, P = w.shape
    h = (w[..., :, None] + v[..., None, :]).square().reshape(C, N, P * P)  # (C, N, P^2)
    return torch.bmm(h.transpose(1, 2), a)


def table_sse(w: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """sum over all P^2 pairs and P outputs of (f - y)^2 without building the (C, P^2, P) output: (C,).

    With h_i(n, m) = alpha_in + beta_im + 2 w_in v_im (alpha = w^2, beta = v^2) every sum over the table factorises
    into sums over n and over m:
        sum f^2 = P (|alpha^T a|^2 + |beta^T a|^2) + 2 (s_alpha^T a).(s_beta^T a)
                  + 4 <alpha^T a, w^T (s_v a)> + 4 <beta^T a, v^T (s_w a)> + 4 sum_ij (w w^T)_ij (v v^T)_ij (a a^T)_ij
    (s_x = row sums; alpha^T a is (P, P)), and sum f . y = sum_ip a_ip (2 (w_i * v_i)_p - 2 s_w s_v / P) with a
    circular convolution (the alpha, beta terms cancel against the mean-removed target). N^2 P work per chain
    instead of N P^3."""
    P = w.shape[-1]
    alpha, beta = w.square(), v.square()  # (C, N, P)
    s_alpha, s_beta, s_w, s_v = alpha.sum(-1), beta.sum(-1), w.sum(-1), v.sum(-1)  # (C, N)
    t = lambda x: x.transpose(1, 2)  # noqa: E731
    alpha_a, beta_a = t(alpha) @ a, t(beta) @ a  # (C, P, P): sum_i alpha_in a_ip
    f_sq = (P * (alpha_a.square().sum((-1, -2)) + beta_a.square().sum((-1, -2)))
            + 2 * ((s_alpha[:, None, :] @ a) * (s_beta[:, None, :] @ a)).sum((-1, -2))
            + 4 * (alpha_a * (t(w) @ (s_v[..., None] * a))).sum((-1, -2))
            + 4 * (beta_a * (t(v) @ (s_w[..., None] * a))).sum((-1, -2))
            + 4 * ((w @ t(w)) * (v @ t(v)) * (a @ t(a))).sum((-1, -2)))
    conv = torch.fft.irfft(torch.fft.rfft(w, dim=-1) * torch.fft.rfft(v, dim=-1), n=P, dim=-1)  # (w_i * v_i)_p
    b = 2 * conv - 2 * (s_w * s_v)[..., None] / P  # (C, N, P): sum_nm y_p(nm) h_i(nm)
    f_y = (a * b).sum((-1, -2))
    return f_sq - 2 * f_y + P * (P - 1)  # sum y^2 = P^2 (1 - 1/P)


def fourier_power(w: torch.Tensor) -> torch.Tensor:
    """|w_k|^2 with w_k = P^-1 sum_n w_n e^{-2 pi i kn/P}, every k: (..., P) -> (..., P)."""
    P = w.shape[-1]
    return torch.fft.fft(w, dim=-1).abs().square() / P**2


def sextic_potential(w: torch.Tensor, gamma: float) -> torch.Tensor:
    """Gamma = P (gamma/6) sum_k |w_k|^6 per chain: (C, N, P) -> (C,)."""
    P = w.shape[-1]
    return P * gamma / 6 * fourier_power(w).pow(3).sum((-1, -2))


def fourier_start(C: int, N: int, P: int, phi: float) -> torch.Tensor:
    """Weights (C, N, P) whose modes k = 1 .. P-1 all have |w_k|^2 = phi, with uniform random phases (w_{-k} = conj)."""
    if phi == 0:
        return torch.zeros(C, N, P)
    K = (P - 1) // 2
    phase = torch.rand(C, N, K) * 2 * math.pi
    k = torch.arange(1, K + 1, dtype=torch.float32)
    n = torch.arange(P, dtype=torch.float32)
    # w_n = sum_k w_k e^{2 pi i kn/P} over k and -k = 2 sqrt(phi) sum_{k>0} cos(2 pi kn/P + phase_k)
    angle = 2 * math.pi * k[:, None] * n[None, :] / P  # (K, P)
    return 2 * math.sqrt(phi) * torch.cos(angle[None, None] + phase[..., None]).sum(-2)


@documents_training_args
class QuadraticModular(MFNNModule):
    """Chains x sigma^2 points of f_p = sum_i a_pi (w_i . x)^2 on (n + m) mod P, sampled by Langevin dynamics.

    Args:
        p: the modulus P (an odd prime).
        width: hidden neurons N.
        noise_vars: likelihood noise variances sigma^2, one posterior per value.
        chains_per_point: independent Langevin chains per sigma^2.
        sigma_a2: prior variance of the readout weights, times N.
        gamma: strength of the sextic Fourier-space potential (0: none).
        hot_chains_per_point: chains per point started on the Fourier (learned) side instead of the prior.
    """

    def __init__(
        self,
        p: int = 23,
        width: int = 128,
        noise_vars: list[float] = [1e-3],  # noqa: B006 (jsonargparse needs a literal default)
        chains_per_point: int = 3,
        sigma_a2: float = 4e-7,
        gamma: float = 11.0,
        hot_chains_per_point: int = 0,
        optimizer: OptimizerCallable = Langevin,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require(p is not None and p >= 3 and all(p % q for q in range(2, int(p**0.5) + 1)), "p",
                f"must be an odd prime (got {p!r}): the Fourier analysis assumes it")
        require_positive(width, "width")
        require(len(noise_vars) > 0 and all(s > 0 for s in noise_vars), "noise_vars",
                f"must be a non-empty list of positive variances (got {noise_vars})")
        require_positive(chains_per_point, "chains_per_point")
        require_positive(sigma_a2, "sigma_a2")
        require(gamma >= 0, "gamma", f"must be >= 0 (0 = no sextic potential; got {gamma})")
        require(0 <= hot_chains_per_point < chains_per_point, "hot_chains_per_point",
                f"must be in [0, chains_per_point) (got {hot_chains_per_point})")
        require(hot_chains_per_point == 0 or gamma > 0, "hot_chains_per_point", "a hot start needs gamma > 0 (Phi*)")
        self.save_hyperparameters(ignore=["optimizer"])
        self.P, self.N, self.k, self.sigma_a2, self.gamma = p, width, chains_per_point, sigma_a2, gamma
        C = len(noise_vars) * chains_per_point
        self.register_buffer("noise_var", torch.tensor(noise_vars, dtype=torch.float32).repeat_interleave(chains_per_point))
        _, _, s = all_pairs(p)  # pair index n * P + m, as in quadratic_table
        self.register_buffer("target", nn.functional.one_hot(s, p).float() - 1.0 / p, persistent=False)  # (P^2, P)
        # Start chains from the prior (the GP side of the transition); the last `hot_chains_per_point` chains of each
        # point start from the other side, every mode k != 0 of every neuron at |w_k|^2 = |v_k|^2 = Phi* with random
        # phases, so that a first-order transition's hysteresis would show as cold and hot chains disagreeing.
        hot = (torch.arange(C) % chains_per_point >= chains_per_point - hot_chains_per_point).float()[:, None, None]
        self.register_buffer("hot", hot.flatten().bool(), persistent=False)
        phi0 = math.sqrt(3.0 / gamma) if gamma > 0 else 0.0
        self.w = nn.Parameter(torch.randn(C, width, p) + hot * fourier_start(C, width, p, phi0))
        self.v = nn.Parameter(torch.randn(C, width, p) + hot * fourier_start(C, width, p, phi0))
        self.a = nn.Parameter(torch.randn(C, width, p) * math.sqrt(sigma_a2 / width))

    @property
    def chains(self) -> int:
        return self.w.shape[0]

    def forward(self) -> torch.Tensor:
        return quadratic_table(self.w, self.v, self.a)  # (C, P^2, P) on every pair

    def predict_inputs(self, batch) -> tuple:
        return ()  # the output is the whole table, whatever the batch

    def param_groups(self):
        # Prior variance of each group = its Langevin step scale (weight_decay=1 -> precision 1/variance).
        return [{"params": [self.w, self.v], "sgd_lr_scale": 1.0},
                {"params": [self.a], "sgd_lr_scale": self.sigma_a2 / self.N}]

    def loss_and_metrics(self, batch, stage):
        with full_precision(self.w):  # a posterior's potential (its terms cancel in table_sse): no bf16 under bf16-mixed
            return self.potential_and_metrics(batch, stage)

    def potential_and_metrics(self, batch, stage):
        if stage != "train":  # validation: the whole table, one number per run for the logs
            with torch.no_grad():
                mse = (self() - self.target).square().sum(-1).mean()
            return mse, {"mse": mse}
        n, m, _, weight = batch  # (1, M) each: one split shared by every chain; weight 0 marks padding
        keep = weight[0] > 0
        if int(keep.sum()) == self.P * self.P:  # the whole table: the factorised sum, ~P/N times cheaper
            sse = table_sse(self.w, self.v, self.a)
        else:
            mask = torch.zeros(self.P * self.P, device=n.device).index_put_((n[0] * self.P + m[0],), keep.float())
            sse = ((self() - self.target).square().sum(-1) * mask).sum(-1)  # (C,): sum over the train pairs
        loss = (sse / (2 * self.noise_var)).sum()  # chains are independent: their potentials add
        if self.gamma > 0:
            loss = loss + (sextic_potential(self.w, self.gamma) + sextic_potential(self.v, self.gamma)).sum()
        return loss, {"mse": sse.detach().mean() / keep.sum()}

    # ---- order parameters ----------------------------------------------------------------------
    def order_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Phi_k = |w_k|^2, Psi_k = |v_k|^2 for k = 1 .. (P-1)/2 (k and -k are conjugate): two (C, N, K)."""
        K = (self.P - 1) // 2
        with torch.no_grad():
            return fourier_power(self.w)[..., 1:K + 1], fourier_power(self.v)[..., 1:K + 1]

    def phi_histogram(self, phi: torch.Tensor) -> torch.Tensor:
        """(C, N, K) -> (C, PHI_BINS): fraction of (neuron, k) modes per bin of log10(P Phi)."""
        lo, hi = LOG_PHI_RANGE
        x = torch.log10((self.P * phi).clamp_min(1e-30)).flatten(1)
        idx = ((x - lo) / (hi - lo) * PHI_BINS).long().clamp(0, PHI_BINS - 1)
        hist = torch.zeros(x.shape[0], PHI_BINS, device=x.device).scatter_add_(1, idx, torch.ones_like(x))
        return hist / x.shape[1]

    def posterior_statistics(self, x_val=None) -> dict[str, torch.Tensor]:
        """What PosteriorAverage accumulates: the output on every pair, the Phi and Psi histograms, and the
        fraction of modes that are Fourier neurons (`specialised_cut`)."""
        with torch.no_grad():
            phi, psi = self.order_parameters()
            stats = {"val_pred": self(), "phi_hist": self.phi_histogram(phi),
                     "psi_hist": self.phi_histogram(psi)}
            if self.gamma > 0:
                cut = self.specialised_cut
                stats["frac_on"] = ((phi > cut) & (psi > cut)).float().mean((-1, -2))  # (C,)
            return stats

    @property
    def specialised_cut(self) -> float:
        """A mode counts as a Fourier neuron when Phi and Psi both exceed half the mean-field minimum
        Phi* = sqrt(3/gamma) (the two saddles of the action sit at 0 and ~Phi*)."""
        return 0.5 * math.sqrt(3.0 / self.gamma)

    def phase_relation(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per (chain, neuron, k): the phase mismatch Delta = arg a_k - arg w_k - arg v_k (Gromov's algorithm has
        Delta = 0, with the readout's frequency component carrying the sum of the input phases), and Phi, Psi."""
        K = (self.P - 1) // 2
        with torch.no_grad():
            wk, vk, ak = (torch.fft.fft(t, dim=-1)[..., 1:K + 1] for t in (self.w, self.v, self.a))
            delta = torch.angle(ak * wk.conj() * vk.conj())
            return delta, wk.abs().square() / self.P**2, vk.abs().square() / self.P**2
