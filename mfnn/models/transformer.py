"""The one-layer transformer of Nanda et al. 2023 on (a + b) mod p.

One attention layer + ReLU MLP, no LayerNorm, tokens [a, b, =], logits read at the last position
only. Because the output depends only on the last position, only its query is formed and only its
residual stream goes through the MLP and unembed; keys/values/scores of the two input tokens are
tables over the p token values, gathered per pair.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import einsum
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from mfnn.errors import require, require_positive
from mfnn.models.base import MFNNModule, documents_training_args
from mfnn.models.modular import member_metrics


@documents_training_args
class ModularTransformer(MFNNModule):
    """One-layer, LayerNorm-free transformer on [a, b, =] (TransformerLens weight names).

    W_E (p+1, d)  W_pos (3, d)  W_Q/W_K/W_V (H, d, dh)  W_O (H, dh, d)  W_in (d, d_mlp)  b_in (d_mlp)
    W_out (d_mlp, d)  b_out (d)  W_U (d, p). The loss is cross-entropy at the last position with the
    log-softmax in float64 (float32 rounding otherwise floors the train loss and stalls cleanup).

    Args:
        p: the modulus (tokens 0..p-1 and "=" as token p).
        d_model: residual stream width d.
        n_heads: attention heads H.
        d_head: width of each head.
        d_mlp: hidden neurons of the MLP block.
    """

    def __init__(
        self,
        p: int = 113,
        d_model: int = 128,
        n_heads: int = 4,
        d_head: int = 32,
        d_mlp: int = 512,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        warmup_steps: int = 10,
        compile: bool = False,
    ):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require(p is not None and p >= 2, "p", f"must be >= 2 (got {p!r})")
        for name, v in (("d_model", d_model), ("n_heads", n_heads), ("d_head", d_head), ("d_mlp", d_mlp)):
            require_positive(v, name)
        self.save_hyperparameters(ignore=["optimizer"])
        self.p, self.d_head = p, d_head
        d, H = d_model, n_heads
        self.W_E = nn.Parameter(torch.randn(p + 1, d) / math.sqrt(d))  # token p is "="
        self.W_pos = nn.Parameter(torch.randn(3, d) / math.sqrt(d))
        self.W_Q = nn.Parameter(torch.randn(H, d, d_head) / math.sqrt(d))
        self.W_K = nn.Parameter(torch.randn(H, d, d_head) / math.sqrt(d))
        self.W_V = nn.Parameter(torch.randn(H, d, d_head) / math.sqrt(d))
        self.W_O = nn.Parameter(torch.randn(H, d_head, d) / math.sqrt(d))
        self.W_in = nn.Parameter(torch.randn(d, d_mlp) / math.sqrt(d))
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = nn.Parameter(torch.randn(d_mlp, d) / math.sqrt(d))
        self.b_out = nn.Parameter(torch.zeros(d))
        self.W_U = nn.Parameter(torch.randn(d, p) / math.sqrt(p))

    def residual_final(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Residual stream at the last position after attention: (M,) -> (M, d)."""
        p, H, e = self.p, self.W_Q.shape[0], self.d_head
        e0 = self.W_E[:p] + self.W_pos[0]  # (p, d): token a at position 0, for every value of a
        e1 = self.W_E[:p] + self.W_pos[1]
        e2 = self.W_E[p] + self.W_pos[2]  # (d,): "=" at position 2, the same for every pair
        q = einsum(e2, self.W_Q, "d, h d e -> h e") / math.sqrt(e)  # the only query the output needs
        k0, k1 = (einsum(x, self.W_K, "v d, h d e -> v h e") for x in (e0, e1))  # (p, H, e) tables
        v0, v1 = (einsum(x, self.W_V, "v d, h d e -> v h e") for x in (e0, e1))
        k2, v2 = einsum(e2, self.W_K, "d, h d e -> h e"), einsum(e2, self.W_V, "d, h d e -> h e")  # (H, e)
        s0, s1, s2 = (k0 * q).sum(-1), (k1 * q).sum(-1), (k2 * q).sum(-1)  # (p, H), (p, H), (H,)
        # index_select, not t[a]: its backward (index_add) is 3-9x faster than indexing's (index_put) on CPU
        pick = torch.index_select
        scores = torch.stack([pick(s0, 0, a), pick(s1, 0, b), s2.expand(len(a), H)], -1)  # (M, H, 3)
        attn = scores.softmax(-1)
        z = attn[..., 0, None] * pick(v0, 0, a) + attn[..., 1, None] * pick(v1, 0, b) + attn[..., 2, None] * v2
        return e2 + z.flatten(1) @ self.W_O.flatten(0, 1)  # W_O (H, e, d) -> (H e, d)

    def mlp_post(self, resid: torch.Tensor) -> torch.Tensor:
        pre = resid @ self.W_in  # (M, d_mlp)
        # The bias in pre's dtype: under bf16 autocast a float32 bias would promote the activations to float32
        # (4 casts and a float32 ReLU of (M, d_mlp), ~40% of a bf16 step); in float32 it is a no-op.
        return F.relu(pre + self.b_in.to(pre.dtype))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits at the last position: a, b (M,) -> (M, p)."""
        resid = self.residual_final(a, b)
        resid = resid + self.mlp_post(resid) @ self.W_out + self.b_out
        return resid @ self.W_U

    @staticmethod
    def per_pair_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -logits.double().log_softmax(-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)

    def predict_inputs(self, batch) -> tuple:
        return batch[0], batch[1]  # (a, b) of an (a, b, y, mask) batch

    def loss_and_metrics(self, batch, stage):
        if stage == "train":
            a, b, y, w = (t.flatten() for t in batch)  # one member: (1, M) -> (M,)
            logits = self.forward(a, b)
            loss = (w.double() * self.per_pair_loss(logits, y)).sum()
            if not self.log_this_step:  # the accuracy would be discarded
                return loss, {}
            return loss, {"acc": ((logits.argmax(-1) == y).float() * w).sum().detach()}
        a, b, y, mask = batch
        logits = self.forward(a, b)  # (P, p)
        m = member_metrics(self.per_pair_loss(logits, y)[None], logits[None], y[None], mask[:1])
        metrics = {name: v[0].float() for name, v in m.items()}
        return metrics["test_loss"], metrics
