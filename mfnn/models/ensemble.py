"""K independent copies of any MFNNModule trained as one tensor program (seed sweeps, weight-decay sweeps).

Member k is the module built under `torch.manual_seed(seeds[k])`, so it starts from exactly the weights
of a single run with `seed_everything: seeds[k]`. The K copies' parameters are stacked on a leading axis,
    stacked[name]: (K, *param.shape)
and the member's own `loss_and_metrics` runs under `torch.func.vmap` over that axis (functional_call
swaps the stacked slices into one template module). The training loss is the SUM of the members'
losses, so member k's gradient is its solo gradient; element-wise optimisers (SGD, Adam, AdamW) then
step every member exactly as its solo run would. Per-member weight decay is applied by this module
(decoupled for AdamW, added to the gradient otherwise), with the optimiser's own weight_decay set to 0.

YAML:
    model:
      class_path: mfnn.models.ensemble.Ensemble
      init_args:
        members: 16
        seed: 0                      # member k uses seed + k (or list `seeds`)
        member:                      # any MFNNModule, configured as usual
          class_path: mfnn.models.mlp.TwoLayerMLP
          init_args: {width: 64, optimizer: {class_path: torch.optim.SGD, init_args: {lr: 0.5}}}
Logged: train/loss (mean over members), train/<metric>_k{k} per member, val/<metric> (mean) and
val/<metric>_k{k}. The optimiser is the member's (one optimiser over the stacked tensors).
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mfnn.errors import require, require_positive
from mfnn.models.base import MFNNModule
from mfnn.parameterization import is_sgd_like

SEP = "__"  # parameter names "net.W_in" are stored as "net__W_in" (ParameterDict keys cannot hold dots)


class _LossOf(nn.Module):
    """forward(batch, stage) = module.loss_and_metrics(batch, stage), so functional_call can reach it."""

    def __init__(self, module: MFNNModule):
        super().__init__()
        self.module = module

    def forward(self, batch, stage):
        return self.module.loss_and_metrics(batch, stage)


class Ensemble(MFNNModule):
    """K copies of one model trained as one batched program (torch.func.vmap over stacked parameters).

    Args:
        member: builds one member (config: the member model's class_path and init_args); its optimiser is the
            ensemble's.
        members: number of copies K.
        seed: seed of member 0's initialisation; member k uses seed + k (unless `seeds` is given).
        seeds: one initialisation seed per member.
        weight_decays: one weight decay per member (default: the optimiser's, shared).
        batch_per_member: the data module gives each member its own batch (leading axis K).
        log_members: also log every member's metrics (as <stage>/<name>_k<index>).
        warmup_steps: linear learning-rate warm-up (default: the member's).
    """

    def __init__(
        self,
        member: Callable[[], MFNNModule],
        members: int = 4,
        seed: int = 0,
        seeds: list[int] | None = None,
        weight_decays: list[float] | None = None,
        batch_per_member: bool = False,
        log_members: bool = True,
        warmup_steps: int = 0,
    ):
        require_positive(members, "members")
        seeds = list(seeds) if seeds is not None else [seed + k for k in range(members)]
        require(len(seeds) == members, "seeds", f"needs one seed per member ({members}), got {len(seeds)}")
        if weight_decays is not None:
            require(len(weight_decays) == members, "weight_decays",
                    f"needs one value per member ({members}), got {len(weight_decays)}")
            require(all(w >= 0 for w in weight_decays), "weight_decays", "must be >= 0")
        modules = []
        with torch.random.fork_rng(devices=[]):  # building the members leaves the global RNG untouched
            for s in seeds:
                torch.manual_seed(s)
                modules.append(member())
        template = modules[0]
        require(isinstance(template, MFNNModule), "member", f"must build an MFNNModule (got {type(template).__name__})")
        super().__init__(optimizer=template.optimizer_factory, warmup_steps=warmup_steps or template.warmup_steps)
        self.save_hyperparameters(ignore=["member"])
        self.members, self.seeds, self.batch_per_member, self.log_members = members, seeds, batch_per_member, log_members
        # The template is kept outside the module tree: its own tensors are never trained or saved.
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "_loss_of", _LossOf(template))
        params, buffers = stack_module_state(modules)  # name -> (K, ...)
        self.stacked = nn.ParameterDict({n.replace(".", SEP): nn.Parameter(p.detach()) for n, p in params.items()})
        self._buffer_names = []
        for n, b in buffers.items():
            self.register_buffer("buf" + SEP + n.replace(".", SEP), b)
            self._buffer_names.append(n)
        wd = torch.tensor(weight_decays if weight_decays is not None else [], dtype=torch.get_default_dtype())
        self.register_buffer("member_weight_decay", wd, persistent=False)

    # ---- the batched program -----------------------------------------------------------------
    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {"module." + n.replace(SEP, "."): p for n, p in self.stacked.items()}
        buffers = {"module." + n: getattr(self, "buf" + SEP + n.replace(".", SEP)) for n in self._buffer_names}
        return params, buffers

    def member_losses(self, batch, stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Every member's (loss, metrics) on `batch`: loss (K,), each metric (K, ...)."""
        params, buffers = self._state()

        def one(p, b, data):
            return functional_call(self._loss_of, (p, b), (data, stage))

        return vmap(one, in_dims=(0, 0, 0 if self.batch_per_member else None))(params, buffers, batch)

    def predict_inputs(self, batch) -> tuple:
        return self.template.predict_inputs(batch)

    def forward(self, *args):
        """Every member's output: (K, ...)."""
        params, buffers = self._state()
        net = lambda p, b, *a: functional_call(self.template, ({k[7:]: v for k, v in p.items()},  # noqa: E731
                                                               {k[7:]: v for k, v in b.items()}), a)
        return vmap(net, in_dims=(0, 0, *[None] * len(args)))(params, buffers, *args)

    def loss_and_metrics(self, batch, stage):
        losses, metrics = self.member_losses(batch, stage)  # (K,), {name: (K,)}
        out = {name: (v if v.is_floating_point() else v.float()).detach().mean() for name, v in metrics.items()}
        out["loss"] = losses.detach().mean()  # reported as <stage>/loss
        if self.log_members and (stage != "train" or self.log_this_step):
            out.update({f"{name}_k{k}": v[k].detach() for name, v in (("loss", losses), *metrics.items())
                        for k in range(self.members) if v.dim() == 1})
        # Training: the sum gives each member its own gradient. Elsewhere report the members' mean.
        return (losses.sum() if stage == "train" else losses.mean()), out

    # ---- optimiser ------------------------------------------------------------------------------
    def param_groups(self) -> list[dict[str, Any]]:
        """The member's own groups (e.g. mean-field `sgd_lr_scale`), mapped onto the stacked tensors."""
        name_of = {id(p): n for n, p in self.template.named_parameters()}
        groups = []
        for g in self.template.param_groups():
            g = dict(g)
            g["params"] = [self.stacked[name_of[id(p)].replace(".", SEP)] for p in g["params"]]
            g["member_wd_scale"] = g.get("sgd_lr_scale", 1.0)
            groups.append(g)
        return groups

    def configure_optimizers(self):
        config = super().configure_optimizers()
        if self.member_weight_decay.numel():
            optimizer = config["optimizer"] if isinstance(config, dict) else config
            sgd_like = is_sgd_like(optimizer)
            for group in optimizer.param_groups:
                group["weight_decay"] = 0.0  # ours replaces the optimiser's
                if not sgd_like:
                    group["member_wd_scale"] = 1.0
        return config

    def on_before_optimizer_step(self, optimizer) -> None:
        if not self.member_weight_decay.numel():
            return
        sgd_like = is_sgd_like(optimizer)
        decoupled = not sgd_like and (isinstance(optimizer, torch.optim.AdamW)
                                      or optimizer.defaults.get("decoupled_weight_decay", False))
        with torch.no_grad():
            for group in optimizer.param_groups:
                wd = self.member_weight_decay / group.get("member_wd_scale", 1.0)  # (K,)
                for p in group["params"]:
                    wd_p = wd.view(-1, *[1] * (p.dim() - 1)).to(p)
                    if decoupled:  # AdamW: p <- p (1 - lr wd) before the Adam update, as AdamW does
                        p.mul_(1 - group["lr"] * wd_p)
                    elif p.grad is not None:  # L2 in the gradient, as SGD/Adam weight_decay does
                        p.grad.add_(wd_p * p)

    # ---- analysis -------------------------------------------------------------------------------
    def member_module(self, k: int) -> MFNNModule:
        """A standalone copy of member k (its current weights) for analysis and plots."""
        require(0 <= k < self.members, "member", f"must be in [0, {self.members - 1}] (got {k})")
        module = copy.deepcopy(self.template)
        params, buffers = self._state()
        state = {n[7:]: t[k].detach().clone() for n, t in {**params, **buffers}.items()}
        module.load_state_dict(state, strict=False)
        return module

    def neurons(self, layer: int = 0, member: int = 0):
        return self.member_module(member).net.neurons(layer)
