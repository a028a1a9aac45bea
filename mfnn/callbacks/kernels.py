"""KernelAlignment: every hidden layer's kernel-target alignment on a fixed probe set during fit
(the measurement is `mfnn.analysis.kernels.layer_alignments`)."""
from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch  # noqa: F401

from mfnn import dashboards
from mfnn.analysis.kernels import layer_alignments
from mfnn.errors import require


class KernelAlignment(L.Callback):
    """Every `every_n_steps` steps (and at start and end of fit): the KTA of each hidden layer's kernel
    on the first `n_probe` validation points (fixed for the whole fit). Saved as kernel_alignment.json
    in the run directory: {"layers": depth, "steps": [...], "kta": [[A_0, ..., A_{depth-1}], ...]}.

    Args:
        every_n_steps: recording interval in optimiser steps.
        n_probe: number of validation points in the fixed probe set.
        analytic: also record, per layer, the centred alignment A(K_l, Lambda_l) between the layer's kernel and
            its infinite-width NNGP kernel at initialisation (`mfnn.theory.kernels.layer_nngp`; MLPs only), saved
            as "nngp_alignment": 1 - O(1/sqrt N) at init, staying there while training is lazy, falling when the
            layer learns features. Costs O(n_probe^2) memory per layer (HardTanh and tanh kernels use quadrature:
            slow for large probes).
    """

    def __init__(self, every_n_steps: int = 100, n_probe: int = 2048, analytic: bool = False):
        require(every_n_steps > 0, "every_n_steps", f"must be > 0 (got {every_n_steps})")
        require(n_probe > 1, "n_probe", f"must be > 1 (got {n_probe})")
        self.every_n_steps, self.n_probe, self.analytic = every_n_steps, n_probe, analytic
        self.nngp_alignment: list[list[float]] = []
        self.nngp_kernels: list[torch.Tensor] | None = None  # Lambda_l on the probe, computed once
        self.steps: list[int] = []
        self.kta: list[list[float]] = []
        self.probe: tuple[torch.Tensor, torch.Tensor] | None = None

    def record(self, trainer, pl_module) -> None:
        if self.probe is None:
            x, y = next(iter(trainer.datamodule.val_dataloader()))[:2]
            self.probe = (x[: self.n_probe], y[: self.n_probe])
        step = int(trainer.global_step)
        if self.steps and self.steps[-1] == step:
            return
        net = getattr(pl_module, "net", pl_module)
        if self.analytic:
            self.nngp_alignment.append(self.analytic_alignment(net))
        self.steps.append(step)
        self.kta.append(layer_alignments(net, *self.probe))
        dashboards.log(trainer, {f"kernel_alignment/layer{l}": a for l, a in enumerate(self.kta[-1])}, step=step)

    def on_train_start(self, trainer, pl_module):
        self.record(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % self.every_n_steps == 0:
            self.record(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module):
        self.record(trainer, pl_module)
        if trainer.is_global_zero:
            out = Path(trainer.log_dir or trainer.default_root_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "kernel_alignment.json").write_text(json.dumps(self.state_dict()))
            dashboards.summary(trainer, {f"kernel_alignment/layer{l}": a for l, a in enumerate(self.kta[-1])})

    def state_dict(self):
        state = {"layers": len(self.kta[0]) if self.kta else 0, "steps": self.steps, "kta": self.kta}
        if self.analytic:
            state["nngp_alignment"] = self.nngp_alignment
        return state

    def load_state_dict(self, state_dict):
        self.steps, self.kta = list(state_dict["steps"]), [list(k) for k in state_dict["kta"]]
        self.nngp_alignment = [list(k) for k in state_dict.get("nngp_alignment", [])]

    def analytic_alignment(self, net) -> list[float]:
        """A(K_l, Lambda_l) for every hidden layer l of `net` on the probe (Lambda_l computed on first use)."""
        from mfnn.analysis.kernels import alignment, layer_kernels
        from mfnn.theory.kernels import KernelSpec, layer_nngp  # theory imports the models: import on use

        x = self.probe[0]
        if self.nngp_kernels is None:
            self.nngp_kernels = layer_nngp(KernelSpec.of(net), x)
        return [alignment(K.to(torch.float64), L.to(K.device)) for K, L in zip(layer_kernels(net, x), self.nngp_kernels)]
