"""Networks that learn (a + b) mod p.

ModularMLP (Gromov 2023): two layers, quadratic activation, no biases, MSE on one-hot targets,
    f(a, b) = s_N * W_out^T (W_in[:, a] + W_in[:, p + b])^2      W_in: (N, 2p)  W_out: (N, p)
The input is the concatenation of two one-hot vectors, so W_in x is a gather of two columns
(no dense matmul on one-hot vectors). s_N = 1/N (mean field) as in Gromov's f = (1/N) W2 phi(W1 x).
A leading `members` axis K holds K independent networks trained in one tensor program
(critical-fraction sweeps): every weight has shape (K, ...), and the loss is the sum of the
members' own mean losses, so each member's gradient (and AdamW step) is that of its solo run.
The one-layer transformer of Nanda et al. 2023 lives in mfnn/models/transformer.py.
"""
from __future__ import annotations

from typing import Literal

import torch
from einops import rearrange
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torchmetrics.functional.classification import multiclass_accuracy

from mfnn.errors import require, require_choice, require_positive
from mfnn.models.base import MFNNModule, documents_training_args
from mfnn.parameterization import PARAMETERIZATIONS, Parameterization, outgoing_std, readout_scale, sgd_lr_scale


def member_metrics(loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, train_mask: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
    """Per-member train/test loss and accuracy over all pairs. loss, y, train_mask: (K, P); logits (K, P, p);
    outputs (K,). Accuracy is torchmetrics' micro multiclass accuracy per member, the other split ignored."""
    train, test = train_mask.float(), (~train_mask).float()
    n_train, n_test = train.sum(1).clamp_min(1), test.sum(1).clamp_min(1)
    pred, num_classes = logits.argmax(-1), logits.shape[-1]

    def accuracy(keep: torch.Tensor) -> torch.Tensor:
        return multiclass_accuracy(pred, torch.where(keep, y, -1), num_classes=num_classes, average="micro",
                                   multidim_average="samplewise", ignore_index=-1, validate_args=False)

    return {"train_loss": (loss * train).sum(1) / n_train, "test_loss": (loss * test).sum(1) / n_test,
            "train_acc": accuracy(train_mask), "test_acc": accuracy(~train_mask)}


# ---------------------------------------------------------------------------------------------
# Gromov: two-layer quadratic MLP
# ---------------------------------------------------------------------------------------------
class ModularMLPNet(nn.Module):
    """K independent two-layer quadratic nets on one-hot (a, b). Weights are O(1) at init."""

    def __init__(self, p: int, width: int, members: int = 1, parameterization: str = "mean_field",
                 init_std_in: float = 1.0, init_std_out: float = 1.0):
        super().__init__()
        self.p, self.width, self.members = p, width, members
        self.readout_scale = readout_scale(parameterization, width)
        self.sgd_lr_scale = sgd_lr_scale(parameterization, width)
        self.W_in = nn.Parameter(torch.randn(members, width, 2 * p) * init_std_in)  # (K, N, 2p)
        self.W_out = nn.Parameter(torch.randn(members, width, p) * outgoing_std(parameterization, width, init_std_out))

    def hidden(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: (K, M) or (M,) shared by all members -> post-activations (K, M, N)."""
        K, two_p, N = self.members, 2 * self.p, self.width
        # Rows to gather must be contiguous: a strided gather along the last axis is ~10x slower.
        W = rearrange(self.W_in, "k n d -> (k d) n").contiguous() if K > 1 else self.W_in[0].t().contiguous()
        if a.dim() == 1:
            a, b = a.expand(K, -1), b.expand(K, -1)
        offset = torch.arange(K, device=a.device)[:, None] * two_p  # member k's rows start at k * 2p
        pre = W.index_select(0, (offset + a).flatten()) + W.index_select(0, (offset + self.p + b).flatten())
        return rearrange(pre, "(k m) n -> k m n", k=K).square()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # Scale the (N, p) readout rather than the (M, p) output: same function, fewer multiplies.
        return torch.bmm(self.hidden(a, b), self.W_out * self.readout_scale)  # (K, M, p)

    def neurons(self, layer: int = 0, member: int = 0) -> dict[str, torch.Tensor | None]:
        require(layer == 0, "layer", f"the modular MLP has one hidden layer (got {layer})")
        return {"W": self.W_in[member], "b": None, "a": self.W_out[member]}


def one_hot_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """mean_c (out_c - onehot(y)_c)^2 per sample without building the one-hot: (..., p), (...) -> (...)."""
    target_logit = out.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return (out.square().sum(-1) - 2 * target_logit + 1) / out.shape[-1]


@documents_training_args
class ModularMLP(MFNNModule):
    """Gromov's grokking MLP on (a + b) mod p; `members` independent copies (one per data split).

    Args:
        p: the modulus (inputs are one-hot a and b, outputs p logits).
        width: hidden neurons N (quadratic activation).
        members: independent copies trained at once, one per data split (must match the data module's
            train_fractions).
        parameterization: readout scaling with N: mean_field (1/N), ntk (1/sqrt(N)) or standard.
        init_std_in: std of the input weights at initialisation.
        init_std_out: std of the readout weights at initialisation.
        loss: mse on one-hot targets (Gromov) or cross_entropy.
    """

    def __init__(
        self,
        p: int = 97,
        width: int = 500,
        members: int = 1,
        parameterization: Parameterization = "mean_field",
        init_std_in: float = 1.0,
        init_std_out: float = 1.0,
        loss: Literal["mse", "cross_entropy"] = "mse",
        optimizer: OptimizerCallable = torch.optim.AdamW,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__(optimizer=optimizer, warmup_steps=warmup_steps, compile=compile)
        require(p is not None and p >= 2, "p", f"must be >= 2 (got {p!r})")
        require_positive(width, "width")
        require_positive(members, "members")
        require_choice(parameterization, PARAMETERIZATIONS, "parameterization")
        require_choice(loss, ("mse", "cross_entropy"), "loss")
        require(init_std_in >= 0 and init_std_out >= 0, "init_std_in", "init stds must be >= 0")
        self.save_hyperparameters(ignore=["optimizer"])
        self.loss_name = loss
        self.net = ModularMLPNet(p, width, members, parameterization, init_std_in, init_std_out)

    def forward(self, a, b):
        return self.net(a, b)

    def predict_inputs(self, batch) -> tuple:
        return batch[0], batch[1]  # (a, b) of an (a, b, y, mask) batch

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if data is not None and hasattr(data, "members"):
            require(data.members == self.net.members, "model.init_args.members",
                    f"the model has {self.net.members} members but data.train_fractions lists {data.members}")
            require(data.p == self.net.p, "model.init_args.p", f"is {self.net.p} but data.init_args.p is {data.p}")

    def per_pair_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = out.float()  # bf16-mixed: the loss in float32
        if self.loss_name == "mse":
            return one_hot_mse(out, y)
        return -out.log_softmax(-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)

    def param_groups(self):
        return [{"params": list(self.net.parameters()), "sgd_lr_scale": self.net.sgd_lr_scale}]

    def loss_and_metrics(self, batch, stage):
        if stage == "train":
            a, b, y, w = batch  # (K, M)
            out = self.net(a, b)  # (K, M, p)
            loss_km = self.per_pair_loss(out, y)
            loss = (w * loss_km).sum()  # sum over members of each member's mean loss
            acc = ((out.argmax(-1) == y).float() * w).sum() / self.net.members
            return loss, {"acc": acc.detach()}
        a, b, y, mask = batch  # (P,), (K, P)
        out = self.net(a, b)  # (K, P, p)
        y = y.expand_as(mask)
        m = member_metrics(self.per_pair_loss(out, y), out, y, mask)
        metrics = {name: v.mean() for name, v in m.items()}
        if self.net.members > 1:
            metrics.update({f"{name}_k{k}": m[name][k] for name in ("train_acc", "test_acc", "test_loss")
                            for k in range(self.net.members)})
        return m["test_loss"].mean(), metrics
