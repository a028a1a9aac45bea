"""Bayesian two-layer erf students in the teacher-student setting of Rubin, Seroussi & Ringel (ICLR 2024).

    f_c(x) = sum_i a_ci erf(w_ci . x)          W: (C, N, d)   a: (C, N)

C independent chains share one tensor program (a leading `chains` axis on every weight). Chain c belongs to
the sigma^2 point `noise_vars[c // chains_per_point]`; its Langevin potential is

    U_c = sum_mu (f_c(x_mu) - y_mu)^2 / (2 sigma_c^2)  +  d |w_ci|^2 / (2 sigma_w^2)  +  N a_ci^2 / (2 sigma_a^2)

The likelihood term is the model's loss (temperature 1); the priors come from the Langevin optimiser's weight
decay through `param_groups` (sgd_lr_scale = the group's prior variance, weight_decay = 1), so each group also
steps in units of its own prior width.
"""
from __future__ import annotations

import math

import torch
from einops import einsum
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mfnn.errors import require, require_positive
from mfnn.models.base import MFNNModule, documents_training_args, full_precision
from mfnn.optim.langevin import Langevin

COS_BINS = 40  # resolution of the |cos(w, w*)| histograms


def erf_student_forward(W: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """W: (C, N, d), a: (C, N), x: (B, d) -> f: (C, B)."""
    h = torch.erf(einsum(W, x, "c n d, b d -> c n b"))
    return einsum(a, h, "c n, c n b -> c b")


def teacher_overlaps(W: torch.Tensor, w_star: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each neuron's projection alpha = w . w* and cosine with w*. W: (..., N, d) -> two (..., N)."""
    alpha = W @ w_star
    return alpha, alpha / W.norm(dim=-1).clamp_min(1e-12)


@documents_training_args
class ErfStudent(MFNNModule):
    """Chains x sigma^2 points of a two-layer erf network sampled by Langevin dynamics (Bayesian posterior).

    Args:
        input_dim: input dimension d.
        width: hidden neurons N.
        noise_vars: likelihood noise variances sigma^2, one posterior per value.
        chains_per_point: independent Langevin chains per sigma^2.
        sigma_w2: prior variance of the input weights, times d (w ~ N(0, sigma_w2 / d)).
        sigma_a2: prior variance of the readout weights, times N (a ~ N(0, sigma_a2 / N)).
        teacher_index: the input coordinate the single-index teacher w* points along.
        specialised_cos: |cos(w, w*)| above which a neuron counts as specialised to the teacher.
    """

    def __init__(
        self,
        input_dim: int = 150,
        width: int = 700,
        noise_vars: list[float] = [0.18],
        chains_per_point: int = 1,
        sigma_w2: float = 0.5,
        sigma_a2: float = 8 / 700,
        teacher_index: int = 0,
        specialised_cos: float = 0.5,
        optimizer: OptimizerCallable = Langevin,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require_positive(input_dim, "input_dim")
        require_positive(width, "width")
        require(len(noise_vars) > 0 and all(s > 0 for s in noise_vars), "noise_vars",
                f"must be a non-empty list of positive variances (got {noise_vars})")
        require_positive(chains_per_point, "chains_per_point")
        require_positive(sigma_w2, "sigma_w2")
        require_positive(sigma_a2, "sigma_a2")
        require(0 <= teacher_index < input_dim, "teacher_index", f"must be in [0, {input_dim - 1}] (got {teacher_index})")
        require(0 < specialised_cos < 1, "specialised_cos", f"must be in (0, 1) (got {specialised_cos})")
        self.save_hyperparameters(ignore=["optimizer"])
        self.d, self.N, self.k = input_dim, width, chains_per_point
        self.sigma_w2, self.sigma_a2, self.specialised_cos = sigma_w2, sigma_a2, specialised_cos
        C = len(noise_vars) * chains_per_point
        # chain c sits at sigma^2 point c // chains_per_point
        self.register_buffer("noise_var", torch.tensor(noise_vars, dtype=torch.float32).repeat_interleave(chains_per_point))
        w_star = torch.zeros(input_dim)
        w_star[teacher_index] = 1.0
        self.register_buffer("w_star", w_star)
        # Start every chain from the prior.
        self.W = nn.Parameter(torch.randn(C, width, input_dim) * math.sqrt(sigma_w2 / input_dim))
        self.a = nn.Parameter(torch.randn(C, width) * math.sqrt(sigma_a2 / width))

    @property
    def chains(self) -> int:
        return self.W.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return erf_student_forward(self.W, self.a, x)  # (C, B)

    def param_groups(self):
        # Prior variance of each group = its Langevin step scale (weight_decay=1 -> precision 1/variance).
        return [{"params": [self.W], "sgd_lr_scale": self.sigma_w2 / self.d},
                {"params": [self.a], "sgd_lr_scale": self.sigma_a2 / self.N}]

    def neurons(self, layer: int = 0, chain: int = 0) -> dict[str, torch.Tensor | None]:
        """One chain's particles, in the NeuronCloud format."""
        require(layer == 0, "layer", f"an ErfStudent has one hidden layer (got {layer})")
        return {"W": self.W[chain], "b": None, "a": self.a[chain, :, None]}

    def order_parameters(self) -> dict[str, torch.Tensor]:
        """Per chain (C,): mean |alpha| and the fraction of neurons whose |cos(w, w*)| > specialised_cos."""
        alpha, cos = teacher_overlaps(self.W.detach(), self.w_star)
        return {"overlap": alpha.abs().mean(-1), "frac_specialised": (cos.abs() > self.specialised_cos).float().mean(-1)}

    def loss_and_metrics(self, batch, stage):
        with full_precision(self.W):  # a posterior's potential and its order parameters: no bf16 under bf16-mixed
            return self.potential_and_metrics(batch, stage)

    def potential_and_metrics(self, batch, stage):
        x, y = batch
        f = self(x)
        sse = (f - y).square().sum(-1)  # (C,)
        loss = (sse / (2 * self.noise_var)).sum()  # chains are independent: their potentials add
        mse = sse.detach() / x.shape[0]
        metrics = {"mse": mse.mean(), **{k: v.mean() for k, v in self.order_parameters().items()}}
        return loss, metrics

    def cos_histogram(self, bins: int = COS_BINS) -> torch.Tensor:
        """Per chain (C, bins): the fraction of neurons in each |cos(w, w*)| bin on [0, 1] (the neuron cloud
        seen along the teacher; two separated modes = droplets of specialised neurons)."""
        _, cos = teacher_overlaps(self.W.detach(), self.w_star)
        idx = (cos.abs() * bins).long().clamp_max(bins - 1)  # (C, N)
        hist = torch.zeros(self.chains, bins, device=cos.device).scatter_add_(1, idx, torch.ones_like(cos))
        return hist / self.N

    def posterior_statistics(self, x_val: torch.Tensor) -> dict[str, torch.Tensor]:
        """What PosteriorAverage accumulates: the posterior-mean predictor, the order parameters and the
        |cos| histogram of the neuron cloud."""
        with torch.no_grad():
            return {"val_pred": self(x_val), **self.order_parameters(), "cos_hist": self.cos_histogram()}
