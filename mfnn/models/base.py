"""Parts every mfnn LightningModule shares: optimiser from config, width-aware learning rates,
the non-finite-loss guard and cheap metric logging.

A subclass implements `loss_and_metrics(batch, stage) -> (loss, {name: value})` and, if some
parameters need a learning-rate multiplier (mean-field SGD), `param_groups()`.

`steps_per_call = k > 1` (`mfnn fit --steps_per_call=k`) runs k optimiser steps inside one `training_step`
(manual optimisation), which spreads Lightning's fixed per-step cost over k steps. The data module hands
over k consecutive batches at once (`mfnn.data.base.StepGroups`); `global_step`, the log cadence and the
logged step column count optimiser steps, so a run with k > 1 logs, checkpoints and resumes at the same
steps with the same numbers as k = 1. Cadences (logging, checkpoints, callbacks' every_n_steps, max_steps,
steps_per_epoch) must be multiples of k; callbacks that act on every batch see every k-th step.
"""
from __future__ import annotations

import copy
import functools
import importlib
import inspect
import math
import warnings
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable

import mfnn.console  # noqa: F401  (drops Lightning's promotional tips)
import mfnn.lightning_log  # noqa: F401  (self.log without moving what is already on its device)
from mfnn.errors import ConfigError, require
from mfnn.memory import keep_freed_memory
from mfnn.parameterization import is_sgd_like, readout_scale, scale_param_groups  # noqa: F401 (readout_scale re-exported)


class NonFiniteLossError(FloatingPointError):
    pass


def full_precision(like: torch.Tensor):
    """Autocast off (e.g. inside a bf16-mixed run) on `like`'s device: for closed-form losses whose terms
    cancel, where bfloat16 matmuls would change the result rather than its last digits."""
    return torch.autocast(like.device.type, enabled=False)


def check_optimizer_settings(settings: dict) -> None:
    """lr > 0 and finite; weight decay, momentum, temperature >= 0 and finite (torch checks some only at the
    first step, some never: a NaN lr would train to NaN)."""
    for name in ("lr", "weight_decay", "momentum", "temperature"):
        value = settings.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        ok = math.isfinite(value) and (value > 0 if name == "lr" else value >= 0)
        require(ok, f"optimizer.init_args.{name}",
                f"must be {'> 0' if name == 'lr' else '>= 0'} and finite (got {value})")


def batch_size_of(batch) -> int:
    """Samples in a batch: the leading size of its first tensor ((x, y) tuples, modular pairs, attention dicts)."""
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(first.shape[0]) if isinstance(first, torch.Tensor) and first.dim() else 1


def optimizer_class(factory) -> type | None:
    """The optimiser class a factory builds: a class itself, functools.partial(cls, ...), or the callable
    jsonargparse makes from a config's class_path (a partial whose last positional argument is the class)."""
    if isinstance(factory, type):
        return factory
    if isinstance(factory, functools.partial):
        if isinstance(factory.func, type):
            return factory.func
        classes = [a for a in factory.args if isinstance(a, type) and issubclass(a, torch.optim.Optimizer)]
        return classes[-1] if classes else None
    return None


def optimizer_spec(factory) -> dict | None:
    """{"class_path", "init_args"} of an optimiser factory (what a checkpoint stores to rebuild it), or None
    for a factory that is not a class with keyword arguments (a lambda)."""
    cls = optimizer_class(factory)
    if cls is None:
        return None
    kwargs = dict(factory.keywords) if isinstance(factory, functools.partial) else {}
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": kwargs}


def optimizer_from_spec(spec: dict):
    """The factory of `optimizer_spec`'s dict: functools.partial(class, **init_args)."""
    module, _, name = spec["class_path"].rpartition(".")
    return functools.partial(getattr(importlib.import_module(module), name), **(spec.get("init_args") or {}))


def sgd_like_class(cls: type | None) -> bool:
    return cls is not None and (issubclass(cls, torch.optim.SGD) or bool(getattr(cls, "sgd_like", False)))


def missing_lr_message(cls: type) -> str:
    default = inspect.signature(cls).parameters.get("lr")
    default = default.default if default is not None else None
    where = "torch.optim" if getattr(torch.optim, cls.__name__, None) is cls else cls.__module__
    return (f"is required for {cls.__name__}: its default ({default}) does not follow the parameterisation "
            "(under mean_field the lr is multiplied by the width); e.g. "
            f"optimizer=functools.partial({where}.{cls.__name__}, lr=0.5), or in a config "
            f"optimizer: {{class_path: {where}.{cls.__name__}, init_args: {{lr: 0.5}}}}")


TRAINING_ARGS_DOC = """
        optimizer: optimiser factory called with the parameter groups (config: class_path + init_args). SGD-like
            optimisers (SGD, Langevin) need an explicit lr: the rate before the parameterisation's width
            multiplier (mean_field: lr x N on each neuron's parameters); Adam-like ones may use their own default.
        warmup_steps: linear learning-rate warm-up over this many optimiser steps (0: none).
        compile: compile the network with torch.compile before training."""


def documents_training_args(cls):
    """Class decorator: append the Args lines every model shares (optimizer, warmup_steps, compile) to the
    class docstring, whose Args section must come last. Each meaning is written once; LightningCLI's
    `--help` reads the result."""
    cls.__doc__ = cls.__doc__.rstrip() + TRAINING_ARGS_DOC + "\n    "
    return cls


@documents_training_args
class MFNNModule(L.LightningModule):
    """Base of every mfnn model: optimiser from config, width-aware learning rates, non-finite-loss guard.

    Args:"""

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        warmup_steps: int = 0,
        compile: bool = False,
    ):
        super().__init__()
        require(warmup_steps >= 0, "warmup_steps", f"must be >= 0 (got {warmup_steps})")
        if isinstance(optimizer, dict):  # as stored in a checkpoint's hyperparameters (load_from_checkpoint)
            optimizer = optimizer_from_spec(optimizer)
        check_optimizer_settings(getattr(optimizer, "keywords", {}))
        self.optimizer_factory = optimizer
        self.warmup_steps = warmup_steps
        self.compile_net = compile
        self.optimizer_settings: dict | None = None  # lr, weight_decay as configured (set by configure_optimizers)

    def save_hyperparameters(self, *args, ignore=None, frame=None, logger: bool = True) -> None:
        """Lightning's, plus the optimiser as {class_path, init_args}: `load_from_checkpoint` rebuilds the
        optimiser the run trained with (subclasses pass ignore=["optimizer"]: the factory itself is not
        serialisable)."""
        super().save_hyperparameters(*args, ignore=ignore, frame=frame or inspect.currentframe().f_back,
                                     logger=logger)
        spec = optimizer_spec(self.optimizer_factory)
        if spec is not None:
            self._hparams["optimizer"] = spec
            self._hparams_initial = copy.deepcopy(self._hparams)

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets `_current_fx_name` around every hook (~40 times a step); nn.Module.__setattr__
        # scans its parameter/module/buffer dicts each time. This name is never one of those.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # ---- what subclasses provide ---------------------------------------------------------
    def loss_and_metrics(self, batch, stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def param_groups(self) -> list[dict[str, Any]]:
        """Parameter groups; a group may carry `sgd_lr_scale`: a learning-rate multiplier applied
        only under SGD-like optimisers (weight decay is divided by it so lr*wd is unchanged)."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    # ---- training -------------------------------------------------------------------------
    def configure_model(self) -> None:
        if self.compile_net and hasattr(self, "net") and not getattr(self, "_compiled", False):
            self.net.compile()
            self._compiled = True

    # ---- k optimiser steps per training_step ------------------------------------------------
    @property
    def steps_per_call(self) -> int:
        return self.__dict__.get("_steps_per_call", 1)

    @steps_per_call.setter
    def steps_per_call(self, k: int) -> None:
        require(isinstance(k, int) and not isinstance(k, bool) and k >= 1, "steps_per_call",
                f"must be an integer >= 1 (got {k!r})")
        self.__dict__["_steps_per_call"] = k
        self.automatic_optimization = k == 1

    def on_fit_start(self) -> None:
        if self.device.type == "cpu":
            keep_freed_memory()  # (mfnn.memory: a step's activations reuse the last step's memory)
        k, trainer = self.steps_per_call, self.trainer
        if k == 1:
            return
        # Lightning counts these in batches (= k optimiser steps here) or checks them every batch.
        require(trainer.world_size == 1, "steps_per_call", f"> 1 runs in one process only (got {trainer.world_size})")
        require(trainer.max_steps == -1 or trainer.max_steps % k == 0, "trainer.max_steps",
                f"must be a multiple of steps_per_call={k} (got {trainer.max_steps})")
        require(trainer.log_every_n_steps % k == 0, "trainer.log_every_n_steps",
                f"must be a multiple of steps_per_call={k} (got {trainer.log_every_n_steps})")
        require(getattr(trainer.precision_plugin, "scaler", None) is None, "trainer.precision",
                f"16-mixed (fp16 loss scaling) does not run with steps_per_call={k}: use 32-true or bf16-mixed")
        require(trainer.val_check_interval == 1.0, "trainer.val_check_interval",
                f"must be 1.0 (validate at epoch ends) with steps_per_call={k} (got {trainer.val_check_interval})")
        # Lightning's warnings that count batches, not optimiser steps, do not apply: a checkpoint at step s holds
        # the state after step s, as with k = 1, and the log cadence is in optimiser steps.
        warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
        warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging")
        for cb in trainer.callbacks:
            for attr in ("every_n_steps", "_every_n_train_steps", "record_every"):
                every = getattr(cb, attr, None)
                require(not isinstance(every, int) or every % k == 0, f"trainer.callbacks ({type(cb).__name__})",
                        f"{attr.lstrip('_')}={every} must be a multiple of steps_per_call={k}")

    def on_train_start(self) -> None:
        # Lightning keeps separate step counters for automatic (k = 1) and manual (k > 1) optimisation and
        # restores both from a checkpoint: a run resumed with another k continues from the larger one.
        loop = self.trainer.fit_loop.epoch_loop
        auto = loop.automatic_optimization.optim_progress.optimizer.step.total
        manual = loop.manual_optimization.optim_step_progress.total
        steps = max(auto.completed, manual.completed)
        for counter in (auto, manual):
            counter.ready = counter.completed = steps

    def training_step(self, batch, batch_idx):
        if self.automatic_optimization:
            return self.step_loss(batch)
        # batch: k consecutive step batches (StepGroups). The steps run on the bare optimiser with the hooks that
        # anything overrides (Lightning's wrappers cost ~1 ms a step, the point of k > 1), in Lightning's order.
        trainer = self.trainer
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        bare = optimizer.optimizer
        epoch_loop = trainer.fit_loop.epoch_loop
        progress = epoch_loop.manual_optimization.optim_step_progress  # what trainer.global_step reads
        hooks = self._step_hooks(trainer)
        for j, step_batch in enumerate(batch):
            self.__dict__["_last_in_call"] = j == len(batch) - 1  # (plain attribute: skips nn.Module's setattr)
            for fn in hooks["on_before_zero_grad"]:
                fn(optimizer)
            bare.zero_grad()
            loss = self.step_loss(step_batch)
            for fn in hooks["on_before_backward"]:
                fn(loss)
            loss.backward()  # (no fp16 loss scaler: refused in on_fit_start)
            for fn in hooks["on_after_backward"]:
                fn()
            for fn in hooks["on_before_optimizer_step"]:
                fn(optimizer)
            progress.increment_ready()
            bare.step()
            progress.increment_completed()
            if scheduler is not None:
                scheduler.step()
            if j < len(batch) - 1:
                # Lightning adds 1 per batch after the call: with this, its log cadence and logged step column
                # (`_batches_that_stepped`) count optimiser steps, exactly as with k = 1.
                epoch_loop._batches_that_stepped += 1
        self.__dict__["_last_in_call"] = True
        return loss.detach()

    HOOKS = ("on_before_zero_grad", "on_before_backward", "on_after_backward", "on_before_optimizer_step")

    def _step_hooks(self, trainer) -> dict[str, list]:
        """The per-optimiser-step hooks of the callbacks and of this module that are overridden (bound, in
        Lightning's order: callbacks first), looked up once per fit."""
        cached = self.__dict__.get("_hooks")
        if cached is not None and cached[0] is trainer:
            return cached[1]
        from lightning.pytorch.callbacks import Callback

        hooks = {}
        for name in self.HOOKS:
            fns = [(lambda f: lambda *a: f(trainer, self, *a))(getattr(cb, name)) for cb in trainer.callbacks
                   if getattr(type(cb), name) is not getattr(Callback, name)]
            if getattr(type(self), name) is not getattr(L.LightningModule, name):
                fns.append(getattr(self, name))
            hooks[name] = fns
        self.__dict__["_hooks"] = (trainer, hooks)
        return hooks

    def step_loss(self, batch) -> torch.Tensor:
        """One optimiser step's loss (checked finite, metrics logged on the cadence)."""
        loss, metrics = self.loss_and_metrics(batch, "train")
        self.check_finite(loss)
        if self.log_this_step:
            # metrics["loss"], if given, is the reported loss (e.g. an ensemble trains on a sum, reports a mean)
            reported = metrics.pop("loss", loss).detach()
            sync = self._trainer is not None and self.trainer.world_size > 1  # DDP: mean over ranks' shards
            self.log_dict({f"train/{k}": v for k, v in metrics.items()}, on_step=True, on_epoch=False,
                          prog_bar=False, sync_dist=sync)
            self.log("train/loss", reported, on_step=True, on_epoch=False, prog_bar=True, sync_dist=sync)
        return loss

    @property
    def log_this_step(self) -> bool:
        """Whether this training step's metrics reach a logger (Lightning's `log_every_n_steps` cadence),
        or are the last of an epoch / of the run (so callbacks and `callback_metrics` see fresh values).
        `self.log` costs ~1 ms of Python per call, most of a tiny model's step; off-cadence values
        would be discarded anyway. Subclasses may also skip computing metrics when this is False."""
        if not self.__dict__.get("_last_in_call", True):  # k steps per call: only the last can be on a cadence
            return False
        trainer = self._trainer
        if trainer is None or not trainer.training:
            return True
        if trainer.log_every_n_steps and trainer._logger_connector.should_update_logs:
            return True
        loop = trainer.fit_loop.epoch_loop
        last_of_epoch = loop.batch_progress.current.ready >= trainer.num_training_batches
        return last_of_epoch or (0 < trainer.max_steps <= trainer.global_step + 1)

    def validation_step(self, batch, batch_idx):
        # Every rank evaluates the whole (unsharded) validation set, so no sync is needed under DDP.
        loss, metrics = self.loss_and_metrics(batch, "val")
        loss = metrics.pop("loss", loss)
        size = batch_size_of(batch)  # given, so Lightning does not guess it from a tuple/dict of tensors
        self.log_dict({f"val/{k}": v for k, v in metrics.items()}, prog_bar=True, batch_size=size)
        self.log("val/loss", loss, prog_bar=True, batch_size=size)

    def test_step(self, batch, batch_idx):
        loss, metrics = self.loss_and_metrics(batch, "test")
        loss = metrics.pop("loss", loss)
        size = batch_size_of(batch)
        self.log_dict({f"test/{k}": v for k, v in metrics.items()}, batch_size=size)
        self.log("test/loss", loss, batch_size=size)

    def predict_inputs(self, batch) -> tuple:
        """The forward's arguments in a batch: x of an (x, y) batch by default; models with other batches
        (modular pairs, attention sequences) override it."""
        return (batch[0],)

    def predict_step(self, batch, batch_idx):
        """The model's output on a batch of the data module's predict split (`mfnn predict`)."""
        return self(*self.predict_inputs(batch))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # What a resume compares its config with (mfnn.cli.resume_differences).
        checkpoint["mfnn_optimizer_settings"] = self.optimizer_settings
        checkpoint["mfnn_model_class"] = f"{type(self).__module__}.{type(self).__qualname__}"

    def check_finite(self, loss: torch.Tensor) -> None:
        # A GPU check would force a sync every step; there we check on the logging cadence.
        if loss.device.type == "cpu":
            finite = math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss).all())
        else:
            every = max(1, self.trainer.log_every_n_steps if self._trainer else 50)
            finite = self.global_step % every != 0 or bool(torch.isfinite(loss).all())
        if not finite:
            raise NonFiniteLossError(
                f"training loss became {loss.detach().flatten()[0].item()} at step {self.global_step}"
                f" (epoch {self.current_epoch}); lower the learning rate or check the data."
            )

    def configure_optimizers(self):
        factory = self.optimizer_factory
        cls = optimizer_class(factory)
        # Python use: a bare SGD class or partial(SGD) without lr would silently train at torch's 1e-3
        # (jsonargparse's factories always carry lr; mfnn.cli checks the config for an explicit one).
        plain_partial = isinstance(factory, functools.partial) and isinstance(factory.func, type)
        no_lr = isinstance(factory, type) or (plain_partial and "lr" not in factory.keywords and not factory.args)
        if sgd_like_class(cls) and no_lr:
            raise ConfigError("optimizer.init_args.lr", missing_lr_message(cls))
        optimizer = factory(self.param_groups())
        # The settings as written (before the width scaling): what analyses of this run read back.
        first = optimizer.param_groups[0]
        self.optimizer_settings = {"lr": first["lr"], "weight_decay": first.get("weight_decay", 0.0),
                                   "sgd_like": is_sgd_like(optimizer)}
        scale_param_groups(optimizer)
        if not self.warmup_steps:
            return optimizer
        warm = self.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warm))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
