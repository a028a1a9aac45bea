"""`mfnn fit|validate|test --config configs/<x>.yaml`: LightningCLI in subclass mode.

Every model is an `MFNNModule`, every data module a `LightningDataModule`, named by `class_path`.
Replications call `run(...)`, the same path as the command line.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from lightning.pytorch import LightningDataModule
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

import mfnn.registry  # noqa: F401  (imports every model/data class so short class_paths resolve)
from mfnn.errors import ConfigError
from mfnn.models.base import MFNNModule, NonFiniteLossError


def wandb_offline_unless_keyed() -> None:
    """wandb must never wait on the network: without an API key it runs offline."""
    has_key = os.environ.get("WANDB_API_KEY") or (Path.home() / ".netrc").exists() and "api.wandb.ai" in (
        Path.home() / ".netrc").read_text(errors="ignore")
    if not has_key:
        os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")


NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value",
         "- Expected a <class 'NoneType'>", "- Not a valid subclass", "Subclass types expect", "- a class path",
         "- a dict with", "- a dict without")


def concise_parse_error(message: str) -> str:
    """jsonargparse's union errors list every subtype tried; keep the field path and the real reason."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    keys = [m.group(1) for ln in lines for m in [re.match(r'Parser key "([^"]+)"', ln)] if m]
    classes = [m.group(1) for ln in lines for m in [re.search(r"given class_path '([^']+)'", ln)] if m]
    reasons = [ln.lstrip("- ") for ln in lines if not ln.startswith(NOISE) and not ln.startswith("Parser key")
               and "given class_path" not in ln]
    path = ".init_args.".join(keys) if keys else ""
    unknown = re.search(r"Option '([^']+)' is not accepted", message)
    if unknown:
        where = f"{path}.init_args.{unknown.group(1)}" if path else unknown.group(1)
        owner = f" by {classes[-1]}" if classes else ""
        return f"{where}: unknown field (not accepted{owner})"
    reason = reasons[-1] if reasons else message
    return f"{path}: {reason}" if path else reason


class ConciseArgumentParser(LightningArgumentParser):
    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG"):
            return super().error(message, ex)
        sys.stderr.write(f"mfnn: error: {concise_parse_error(message)}\n"
                         f"(run `mfnn fit --help` for the accepted options; JSONARGPARSE_DEBUG=1 for details)\n")
        sys.exit(2)


class ConfigToLoggers(SaveConfigCallback):
    """Writes config.yaml into the run directory and pushes the full config to wandb."""

    def save_config(self, trainer, pl_module, stage) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_hyperparams(self.config.as_dict())


class MFNNCLI(LightningCLI):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", ConfigToLoggers)
        kwargs.setdefault("trainer_defaults", {
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                       "init_args": {"save_dir": "runs", "name": "default"}},
        })
        kwargs.setdefault("parser_class", ConciseArgumentParser)
        kwargs.setdefault("auto_configure_optimizers", False)  # the model owns its optimiser
        super().__init__(MFNNModule, LightningDataModule, *args, subclass_mode_model=True,
                         subclass_mode_data=True, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0})
        parser.add_argument("--wandb.enabled", type=bool, default=False,
                            help="Also log to Weights & Biases (offline unless an API key is set).")
        parser.add_argument("--wandb.project", type=str, default="mfnn")
        parser.add_argument("--wandb.name", type=str | None, default=None)

    def instantiate_trainer(self, **kwargs):
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config["wandb"]["enabled"]:
            loggers = kwargs.get("logger", self._get(self.config_init, "trainer", default={}).get("logger"))
            loggers = list(loggers) if isinstance(loggers, (list, tuple)) else [] if loggers in (None, True, False) else [loggers]
            save_dir = loggers[0].log_dir if loggers else "runs"  # the wandb files live in the run directory
            loggers.append(WandbLogger(project=config["wandb"]["project"], name=config["wandb"]["name"],
                                       save_dir=save_dir, offline=os.environ.get("WANDB_MODE") == "offline"))
            kwargs["logger"] = loggers
        return super().instantiate_trainer(**kwargs)


def config_error_in(err: BaseException) -> str | None:
    """jsonargparse wraps errors raised while building classes; find ours and say where it sits."""
    seen, e = set(), err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConfigError):
            text = str(err)
            where = ("model.init_args." if "MFNNModule" in text else "data.init_args." if "DataModule" in text
                     else "trainer.callbacks: " if "Callback" in text else "")
            return where + str(e)
        e = e.__cause__ or e.__context__
    return None


def run(*args: str) -> MFNNCLI:
    """Programmatic `mfnn ARGS...`; returns the CLI object (its .trainer, .model, .datamodule)."""
    wandb_offline_unless_keyed()
    return MFNNCLI(args=list(args))


def main(argv: list[str] | None = None) -> None:
    wandb_offline_unless_keyed()
    try:
        MFNNCLI(args=argv)
    except (ConfigError, ValueError) as err:
        message = config_error_in(err)
        if message is None:
            raise
        print(f"mfnn: error: invalid config value: {message}", file=sys.stderr)
        sys.exit(2)
    except NonFiniteLossError as err:
        print(f"mfnn: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
