"""Tied rank-r dot-product attention and its linear positional baseline (Cui et al. 2024).

    y_hat = softmax_row((X W_Q/sqrt d)(X W_Q/sqrt d)^T) X           (identity value matrix, tied key = query)
    R(W_Q) = sum_mu sum_l |y_hat_l - y_l|^2/(2d) + (lam/2)|W_Q|^2    (lam = the optimiser's weight decay)

One module holds an ensemble W_Q: (S, A, I, d, r) -- S teachers x A sample ratios x I initialisations -- and
trains it as one tensor program: members share their teacher's sample pool, member (s, a, i) sees the first
alpha_a d samples, and since the members' risks add, full-batch GD on the sum is GD on each member.
Initialisations: "positional" W_Q = 1_d/sqrt(d), "semantic" W_Q = Q*, "random" small Gaussian.

The loss never forms y_hat: with G = x x^T/d and C = x y^T/d per sample (from the data module),
    |S X - Y|^2/(2d) = (1/2) [sum_l (S G S^T)_ll - 2 sum_l (S C)_ll + |Y|^2/d],
so the only O(d) work per step is the score projection x W_Q.
"""
from __future__ import annotations

import math

import torch
from einops import einsum
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mfnn.errors import require, require_choice, require_positive
from mfnn.models.base import MFNNModule, documents_training_args, full_precision

INITS = ("positional", "semantic", "random")


def quadratic_risk_per_sample(M: torch.Tensor, G: torch.Tensor, C: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
    """|M X - Y|^2/(2d) per sample from Grams. M: (..., n, L, L); G, C: (S, n, L, L); yy: (S, n).
    The leading axes of M start with S."""
    extra = M.dim() - G.dim()
    G, C, yy = (t.reshape(t.shape[:1] + (1,) * extra + t.shape[1:]) for t in (G, C, yy))
    # L is tiny: broadcast products beat batched matmuls of 2x2 blocks by far on CPU
    fit = (M[..., :, :, None] * G[..., None, :, :] * M[..., :, None, :]).sum((-3, -2, -1))
    cross = (M * C.transpose(-1, -2)).sum((-2, -1))
    return 0.5 * (fit - 2 * cross + yy)


@documents_training_args
class DotProductAttention(MFNNModule):
    """Ensemble of tied low-rank attention students; built on the data module's teachers at setup.

    Args:
        rank: columns r of the tied query/key matrix W_Q (d, r).
        inits: initialisations, one ensemble axis: positional (1_d/sqrt(d)), semantic (Q*), random.
        weight_decay: lambda of the ridge term (lambda/2)|W_Q|^2, added to the risk.
    """

    def __init__(
        self,
        rank: int = 1,
        inits: list[str] = ["positional", "semantic"],
        weight_decay: float = 0.01,
        optimizer: OptimizerCallable = torch.optim.SGD,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require_positive(rank, "rank")
        require(len(inits) > 0, "inits", "needs at least one initialisation")
        for name in inits:
            require_choice(name, INITS, "inits")
        require(weight_decay >= 0, "weight_decay", f"must be >= 0 (got {weight_decay})")
        self.save_hyperparameters(ignore=["optimizer"])
        self.rank, self.inits, self.lam = rank, list(inits), weight_decay
        self.W_Q: nn.Parameter | None = None  # (S, A, I, d, r), made in setup() from the teachers

    # ---- building the ensemble on the data ------------------------------------------------------
    def setup(self, stage: str) -> None:
        if self.W_Q is None:
            dm = self.trainer.datamodule
            self.build(dm.q_star.detach().cpu(), len(dm.alphas))

    def build(self, q_star: torch.Tensor, n_alphas: int, generator: torch.Generator | None = None) -> None:
        """q_star: (S, d). Semantic members start at Q* (rank 1: its first column; others small noise)."""
        S, d = q_star.shape
        if generator is None:  # a stream of its own: drawn from the global one directly, a random start under
            # seed_everything(s) with data.seed = s would be 0.1 x the teacher's own draws (W = 0.1 Q*)
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, (1,))))
        starts = []
        for name in self.inits:
            W = 0.1 * torch.randn(S, d, self.rank, generator=generator)
            if name == "positional":
                W[..., 0] = 1.0 / math.sqrt(d)
            elif name == "semantic":
                W[..., 0] = q_star
            starts.append(W)
        W = torch.stack(starts, 1)[:, None].expand(S, n_alphas, len(self.inits), d, self.rank)
        self.register_buffer("q_star", q_star.clone())
        self.W_Q = nn.Parameter(W.contiguous().clone())

    def param_groups(self):
        return [{"params": [self.W_Q], "weight_decay": self.lam}]

    # ---- model ----------------------------------------------------------------------------------
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """x: (S, n, L, d) -> softmax_row(h h^T): (S, A, I, n, L, L)."""
        d = x.shape[-1]
        h = einsum(x, self.W_Q, "s n l d, s a i d r -> s a i n l r") / math.sqrt(d)
        return torch.softmax((h[..., :, None, :] * h[..., None, :, :]).sum(-1), dim=-1)  # (L, L) blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y_hat: (S, A, I, n, L, d)."""
        return einsum(self.scores(x), x, "s a i n l k, s n k d -> s a i n l d")

    def predict_inputs(self, batch) -> tuple:
        return (batch["x"],)

    def member_risks(self, batch) -> torch.Tensor:
        """Data term of R per member: sum over its samples of |y_hat - y|^2/(2d). (S, A, I)."""
        ell = quadratic_risk_per_sample(self.scores(batch["x"]), batch["xx"], batch["xy"], batch["yy"])
        return einsum(ell, batch["weight"], "s a i n, a n -> s a i")

    def overlaps(self) -> dict[str, torch.Tensor]:
        """m = 1.Q/d, theta = Q.Q*/d, q = |Q|^2/d for the first rank column, each (S, A, I)."""
        W = self.W_Q.detach()[..., 0]
        d = W.shape[-1]
        return {"m": W.sum(-1) / d, "theta": einsum(W, self.q_star, "s a i d, s d -> s a i") / d,
                "q": W.square().sum(-1) / d}

    def loss_and_metrics(self, batch, stage):
        with full_precision(self.W_Q):  # the quadratic risk's terms cancel: no bf16 under bf16-mixed
            risks = self.member_risks(batch)
        if stage == "train":
            return risks.sum(), {}
        n = batch["weight"].sum(-1)[None, :, None]  # (1, A, 1)
        test_error = risks / n  # per-sample quadratic loss on held-out data = eps_g
        ov = self.overlaps()
        return test_error.mean(), {"test_error": test_error.mean(), "abs_m": ov["m"].abs().mean(),
                                   "abs_theta": ov["theta"].abs().mean()}

    @torch.no_grad()
    def member_metrics(self, train_batch, test_batch) -> dict[str, torch.Tensor]:
        """Per member (S, A, I): test error, training loss R/d (with the penalty), overlaps."""
        d = self.W_Q.shape[-2]
        test = self.member_risks(test_batch) / test_batch["weight"].sum(-1)[None, :, None]
        penalty = 0.5 * self.lam * self.W_Q.square().sum((-1, -2))
        train = (self.member_risks(train_batch) + penalty) / d
        return {"test_error": test, "train_loss": train, **self.overlaps()}


@documents_training_args
class LinearPositional(MFNNModule):
    """Linear baseline y_hat = B Z with B: (L, L) per member, B: (S, A, L, L) for the ensemble.

    Args:
        weight_decay: lambda of the ridge term on B.
    """

    def __init__(self, weight_decay: float = 1e-4, optimizer: OptimizerCallable = torch.optim.Adam,
                 warmup_steps: int = 0, compile: bool = False):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require(weight_decay >= 0, "weight_decay", f"must be >= 0 (got {weight_decay})")
        self.save_hyperparameters(ignore=["optimizer"])
        self.lam = weight_decay
        self.B: nn.Parameter | None = None

    def setup(self, stage: str) -> None:
        if self.B is None:
            dm = self.trainer.datamodule
            self.build(dm.seeds, len(dm.alphas))

    def build(self, seeds: int, n_alphas: int) -> None:
        self.B = nn.Parameter(torch.full((seeds, n_alphas, 2, 2), 0.5))

    def param_groups(self):
        return [{"params": [self.B], "weight_decay": self.lam}]

    def member_risks(self, batch) -> torch.Tensor:
        S, A = self.B.shape[:2]
        B = self.B[:, :, None].expand(S, A, batch["yy"].shape[1], 2, 2)
        ell = quadratic_risk_per_sample(B, batch["zz"], batch["zy"], batch["yy"])  # (S, A, n)
        return einsum(ell, batch["weight"], "s a n, a n -> s a")

    def loss_and_metrics(self, batch, stage):
        with full_precision(self.B):  # the quadratic risk's terms cancel: no bf16 under bf16-mixed
            risks = self.member_risks(batch)
        if stage == "train":
            return risks.sum(), {}
        test_error = risks / batch["weight"].sum(-1)[None]
        return test_error.mean(), {"test_error": test_error.mean()}

    @torch.no_grad()
    def member_metrics(self, train_batch, test_batch) -> dict[str, torch.Tensor]:
        return {"test_error": self.member_risks(test_batch) / test_batch["weight"].sum(-1)[None]}
