"""`mfnn fit|validate|test --config configs/<x>.yaml`: LightningCLI in subclass mode.

Every model is an `MFNNModule`, every data module a `LightningDataModule`, named by `class_path`.
Replications call `run(...)`, the same path as the command line.
"""
from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

from jsonargparse.typing import PositiveFloat
from lightning.pytorch import LightningDataModule
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException, SIGTERMException

import mfnn.registry  # noqa: F401  (imports every model/data class so short class_paths resolve)
from mfnn.distributed import RANK_DIR_ENV, RankHeartbeat
from mfnn.config_files import resolve_config_args
from mfnn.dashboards import WandbUnavailable, make_logger, member_names, offline_unless_keyed
from mfnn.errors import ConfigError
from mfnn.models.base import MFNNModule, NonFiniteLossError


NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value",
         "- Expected a <class 'NoneType'>", "- Not a valid subclass", "Subclass types expect", "- a class path",
         "- a dict with", "- a dict without")


SKIP_REASONS = ("Expected a path but", "Expected a dot import path", "Type typing.", "Got value:", "Given value",
                "Expected a <class 'NoneType'>", "Expected a <class 'torch.Tensor'>")


def concise_parse_error(message: str) -> str:
    """jsonargparse's union errors list every subtype tried; keep the field path and the real reason."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    keys = []
    for key in re.findall(r'Parser key "([^"]+)"', message):  # outermost first, one per nesting level
        if not keys or keys[-1] != key:
            keys.append(key)
    classes = [m.group(1) for ln in lines for m in [re.search(r"given class_path '([^']+)'", ln)] if m]
    reasons = [r for r in (ln.lstrip("- ") for ln in lines) if not r.startswith(NOISE) and "Parser key" not in r
               and "given class_path" not in r and not r.startswith(SKIP_REASONS)]
    path = ".init_args.".join(keys) if keys else ""
    unknown = re.search(r"Option '([^']+)' is not accepted", message)
    if unknown:
        where = f"{path}.init_args.{unknown.group(1)}" if path else unknown.group(1)
        owner = f" by {classes[-1]}" if classes else ""
        return f"{where}: unknown field (not accepted{owner})"
    reason = reasons[0] if reasons else lines[-1] if lines else message
    given = re.findall(r"Given value: (.*?)(?:\. Got value:|$)", message, flags=re.M)
    if given and "NestedArg" not in given[0] and given[0] not in reason:
        reason += f" (got {given[0]})"
    return f"{path}: {reason}" if path else reason


class ConciseArgumentParser(LightningArgumentParser):
    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG"):
            return super().error(message, ex)
        sys.stderr.write(f"mfnn: error: {concise_parse_error(message)}\n"
                         f"(run `mfnn fit --help` for the accepted options; JSONARGPARSE_DEBUG=true for details)\n")
        sys.exit(2)


wandb_offline_unless_keyed = offline_unless_keyed  # the name replication scripts import


class ConfigToLoggers(SaveConfigCallback):
    """Writes config.yaml into the run directory and pushes the full config to wandb (once), with the
    batched members' names by value."""

    def save_config(self, trainer, pl_module, stage) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                if hasattr(logger, "log_config"):
                    logger.member_names = member_names(pl_module, trainer.datamodule)
                    logger.log_config(self.config.as_dict())
                else:
                    logger.log_hyperparams(self.config.as_dict())


class RunCheckpoint(ModelCheckpoint):
    """last.ckpt every `every_n_train_steps` steps, at the end of training, and when the run is stopped by
    SIGTERM or Ctrl-C (at the next step boundary, so the state is consistent; a second Ctrl-C interrupts
    at once). A run killed outright (SIGKILL) resumes from the latest periodic one.

    Args:
        min_seconds: a periodic save is skipped while less than this many seconds have passed since the last
            save (the first periodic save of a fit always happens). A save costs 2-8 ms; a tiny model does 100
            steps in ~15 ms, so without the floor checkpoints were a third of its run. 0: every period."""

    stopped_by: str | None = None
    _previous_sigint = None  # set while a fit runs (on_exception may come before on_train_start)

    def __init__(self, *args, min_seconds: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if not min_seconds >= 0:
            raise ConfigError("checkpoint.min_seconds", f"must be >= 0 (got {min_seconds})")
        self.min_seconds = min_seconds
        self._saved_at: float | None = None  # time.monotonic() of this fit's last save

    def on_train_start(self, trainer, pl_module):
        super().on_train_start(trainer, pl_module)
        RunCheckpoint.stopped_by = None  # a fresh run (a process may fit several)
        self._previous_sigint = None
        self._saved_at = None
        if trainer.is_global_zero and threading_main():
            def stop_at_next_step(signum, frame):
                signal.signal(signal.SIGINT, self._previous_sigint or signal.default_int_handler)
                trainer._signal_connector.received_sigterm = True
                RunCheckpoint.stopped_by = "SIGINT"
            self._previous_sigint = signal.signal(signal.SIGINT, stop_at_next_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._saved_at is not None and time.monotonic() - self._saved_at < self.min_seconds:
            return  # (the next period's save catches up; the end of training and a stop always save)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        self._saved_at = time.monotonic()

    def restore_sigint(self):
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def save_last_now(self, trainer) -> None:
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_end(self, trainer, pl_module):
        self.restore_sigint()
        self.save_last_now(trainer)

    def on_exception(self, trainer, pl_module, exception):
        self.restore_sigint()
        if isinstance(exception, SIGTERMException):
            RunCheckpoint.stopped_by = RunCheckpoint.stopped_by or "SIGTERM"
            self.save_last_now(trainer)
            if trainer.is_global_zero:
                sys.stderr.write(f"mfnn: stopped by {RunCheckpoint.stopped_by} at step {trainer.global_step}; "
                                 f"checkpoint {self.last_model_path} (resume with --ckpt_path={self.last_model_path})\n")


class PredictionsToRunDir(Callback):
    """`mfnn predict` writes the model's outputs to <run dir>/predictions.pt (a list, one tensor per batch)."""

    def on_predict_start(self, trainer, pl_module):
        self.outputs = []

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.outputs.append(outputs.detach().cpu())

    def on_predict_end(self, trainer, pl_module):
        import torch

        path = Path(trainer.log_dir) / "predictions.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.outputs, path)
        if trainer.is_global_zero:
            shapes = ", ".join(str(tuple(p.shape)) for p in self.outputs)
            sys.stderr.write(f"mfnn: wrote predictions {shapes} to {path}\n")


def load_checkpoint(path: Path) -> tuple[dict | None, str | None]:
    """(the checkpoint, None), or (None, why `path` is not a Lightning checkpoint this run can resume from)."""
    import torch

    if not path.is_file():
        return None, "no such file"
    if path.stat().st_size == 0:
        return None, "the file is empty"
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 (truncated, corrupt, not a torch file: say so in one line)
        return None, f"not a readable checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    if not isinstance(state, dict) or "state_dict" not in state or "global_step" not in state:
        return None, "not a Lightning checkpoint (no state_dict / global_step)"
    return state, None


def resume_differences(state: dict, config) -> list[str]:
    """Model class, model init_args and optimiser settings of a checkpoint that differ from the config."""
    model = config.get("model")
    init_args = _plain(getattr(model, "init_args", None)) or {}
    saved = dict(state.get("hyper_parameters", {}))
    out = []
    saved_class = saved.pop("_class_path", None) or state.get("mfnn_model_class")
    if saved_class and getattr(model, "class_path", None) and saved_class != model.class_path:
        out.append(f"model.class_path: checkpoint {saved_class}, config {model.class_path}")
    for key, value in saved.items():
        if key.startswith("_") or key not in init_args or key == "optimizer":  # optimiser: compared below
            continue
        if _plain(init_args[key]) != _plain(value):
            out.append(f"model.init_args.{key}: checkpoint {_plain(value)!r}, config {_plain(init_args[key])!r}")
    saved_opt = state.get("mfnn_optimizer_settings") or {}
    opt = _plain(init_args.get("optimizer"))
    opt_args = (opt.get("init_args") or {}) if isinstance(opt, dict) else {}
    for key in ("lr", "weight_decay"):
        if key in saved_opt and key in opt_args and float(opt_args[key]) != float(saved_opt[key]):
            out.append(f"model.init_args.optimizer.init_args.{key}: checkpoint {saved_opt[key]!r}, "
                       f"config {opt_args[key]!r}")
    return out


def _plain(value):
    """Config values compare as plain Python (tuples as lists, Namespaces as dicts)."""
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


RUN_FILES = {"config.yaml", "hparams.yaml", "metrics.csv"}  # what a run writes before its first step
CREATED_DIRS: list[Path] = []  # parents of the claimed version directory that the claim created


def discard_claimed_run() -> None:
    """A run refused during setup leaves nothing: remove the version directory this process claimed, if it holds
    only the files a run writes before training (never anything else)."""
    claimer, _, claimed = os.environ.get("MFNN_RUN_VERSION", "").partition(":")
    if claimer != str(os.getpid()) or not claimed or not Path(claimed).is_dir():
        return
    run = Path(claimed)
    entries = list(run.iterdir())
    if any(e.is_dir() or e.name not in RUN_FILES for e in entries):
        return
    for e in entries:
        e.unlink()
    run.rmdir()
    for d in CREATED_DIRS:  # innermost first; only if still empty
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    CREATED_DIRS.clear()
    os.environ.pop("MFNN_RUN_VERSION", None)


def stopped_exit_code() -> int:
    """128 + the signal number, as a shell reports a process ended by that signal."""
    return 128 + (signal.SIGINT if RunCheckpoint.stopped_by == "SIGINT" else signal.SIGTERM)


def claim_version(logger: CSVLogger) -> None:
    """Give the logger a version directory that no concurrent run can also take: mkdir fails if it exists.
    DDP workers (started after this, with the environment inherited) reuse the one rank 0 claimed."""
    claimer, _, claimed = os.environ.get("MFNN_RUN_VERSION", "").partition(":")
    root = Path(logger.root_dir)
    if claimer == str(os.getppid()) and Path(claimed).parent == root:  # a DDP worker of the claiming process
        logger._version = int(claimed.rsplit("_", 1)[1])
        return
    created = [p for p in (root, *root.parents) if not p.exists()]  # removed again if the run is refused
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError("trainer.logger.init_args.save_dir", f"cannot create {root}: {err.strerror or err}") from None
    k = logger._get_next_version()
    while True:
        try:
            os.mkdir(root / f"version_{k}")
            break
        except FileExistsError:
            k += 1
    logger._version = k
    CREATED_DIRS[:] = created
    os.environ["MFNN_RUN_VERSION"] = f"{os.getpid()}:{root / f'version_{k}'}"


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
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        # Periodic last.ckpt: a killed run loses at most 100 steps, or about a second where 100 steps take less.
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                             "checkpoint.every_n_train_steps": 100})
        parser.add_argument("--allow_resume_changes", type=bool, default=False,
                            help="Resume from --ckpt_path even if model or optimiser settings differ from it.")
        parser.add_argument("--collective_timeout", type=PositiveFloat, default=300.0,
                            help="Seconds a DDP process waits for the others inside one collective before it stops "
                                 "with a line naming the stuck rank (Lightning's own default is 30 minutes).")
        parser.add_argument("--steps_per_call", type=int, default=1,
                            help="Optimiser steps per training_step (k > 1 spreads Lightning's per-step cost; same results).")
        parser.add_argument("--wandb.enabled", type=bool, default=False,
                            help="Also log to Weights & Biases (offline unless an API key is set).")
        parser.add_argument("--wandb.project", type=str, default="mfnn")
        parser.add_argument("--wandb.name", type=str | None, default=None)
        parser.add_argument("--wandb.group", type=str | None, default=None,
                            help="wandb run group (default: the replication, or the config file's name).")
        parser.add_argument("--wandb.tags", type=list[str], default=[],
                            help="extra wandb tags (the model and data class names are always added).")

    def _parse_ckpt_path(self) -> None:
        """Resuming: the checkpoint must be readable and built from the same model and optimiser settings as
        the config (Lightning would otherwise let the checkpoint's hyperparameters silently win). Trainer
        settings such as a longer max_steps may change; anything else needs --allow_resume_changes=true."""
        if not self.config.get("subcommand"):
            return
        config = self.config[self.config.subcommand]
        ckpt_path = config.get("ckpt_path")
        if not ckpt_path or ckpt_path in ("last", "best", "hpc", "registry"):
            return
        state, problem = load_checkpoint(Path(ckpt_path))
        if problem:
            raise ConfigError("ckpt_path", f"{ckpt_path}: {problem}")
        if config.get("allow_resume_changes"):
            return
        differences = resume_differences(state, config)
        if differences:
            raise ConfigError("ckpt_path", f"{ckpt_path} was trained with other settings: " + "; ".join(differences)
                              + " (resume with the checkpoint's settings, or pass --allow_resume_changes=true)")

    def parse_arguments(self, parser, args) -> None:
        self.raw_args = list(sys.argv[1:] if args is None else args)  # for the explicit-lr check
        super().parse_arguments(parser, args)

    def check_explicit_lr(self, config) -> None:
        """An SGD-like optimiser must be given its lr: jsonargparse fills torch's default (1e-3), which does
        not follow the parameterisation (the mean-field XOR net learns nothing at 1e-3)."""
        from mfnn.models.base import missing_lr_message, optimizer_class, sgd_like_class

        opt = getattr(getattr(config.get("model"), "init_args", None), "optimizer", None)
        path = getattr(opt, "class_path", None)
        if not path:
            return
        module, _, name = path.rpartition(".")
        try:
            import importlib
            cls = optimizer_class(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            return  # jsonargparse reports it
        if not sgd_like_class(cls):
            return
        try:
            given = self.parser.parse_args(self.raw_args, defaults=False)
        except (SystemExit, Exception):  # noqa: BLE001 (the check is best effort; the real parse succeeded)
            return
        given = given.get(self.subcommand) if self.subcommand else given
        given_opt = getattr(getattr(given.get("model") if given else None, "init_args", None), "optimizer", None)
        if getattr(getattr(given_opt, "init_args", None), "lr", None) is None:
            raise ConfigError("model.init_args.optimizer.init_args.lr", missing_lr_message(cls))

    # Written in both the model's and the data module's init_args by some configs: they must agree.
    SHARED_FIELDS = ("input_dim", "p")

    def before_instantiate_classes(self) -> None:
        """Checks that need the whole config, before anything is built or written (the checkpoint: _parse_ckpt_path)."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        self.check_explicit_lr(config)
        model, data = config.get("model"), config.get("data")
        m = getattr(model, "init_args", None) or {}
        d = getattr(data, "init_args", None) or {}
        accelerator = str((config.get("trainer") or {}).get("accelerator", "auto"))
        if accelerator in ("gpu", "cuda"):
            import torch
            if not torch.cuda.is_available():
                raise ConfigError("trainer.accelerator", f"is {accelerator} but torch sees no GPU on this machine "
                                  f"(torch {torch.__version__}); use cpu or auto")
        for key in self.SHARED_FIELDS:
            if key in m and key in d and m[key] is not None and d[key] is not None and m[key] != d[key]:
                raise ConfigError(f"model.init_args.{key}", f"is {m[key]} but data.init_args.{key} is {d[key]}: "
                                  "set both to the same value")

    def _instantiate_trainer(self, config: dict, callbacks: list):
        # One step-counting bar instead of Lightning's per-epoch ones, unless the config names a progress bar
        # (StepProgressBar itself prints nothing under CI).
        from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

        from mfnn.callbacks.progress_bar import StepProgressBar

        named = [c for c in [*(config.get("callbacks") or []), *callbacks] if isinstance(c, ProgressBar)]
        if config.get("enable_progress_bar", True) is not False and not named:
            callbacks = [*callbacks, StepProgressBar()]
        return super()._instantiate_trainer(config, callbacks)

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        config = self.config[self.subcommand] if self.subcommand else self.config
        self.model.steps_per_call = config.get("steps_per_call", 1)

    def instantiate_trainer(self, **kwargs):
        config = self.config[self.subcommand] if self.subcommand else self.config
        loggers = kwargs.get("logger", self._get(self.config_init, "trainer", default={}).get("logger"))
        loggers = list(loggers) if isinstance(loggers, (list, tuple)) else [] if loggers in (None, True, False) else [loggers]
        if not any(isinstance(lg, CSVLogger) for lg in loggers):  # CSV is always on: outputs go to a run directory
            loggers.insert(0, CSVLogger(save_dir="runs", name="default"))
        for lg in loggers:
            if isinstance(lg, CSVLogger) and lg._version is None and self.subcommand is not None:
                claim_version(lg)
        kwargs["logger"] = loggers
        from mfnn.dashboards import REPLICATION

        if (config["wandb"]["enabled"] or REPLICATION) and self.subcommand is not None:
            save_dir = loggers[0].log_dir  # the wandb files live in the run directory
            loggers.append(make_logger(config, save_dir))
            kwargs["logger"] = loggers
        trainer = super().instantiate_trainer(**kwargs)
        if trainer.world_size > 1 or trainer.num_nodes > 1:
            os.environ[RANK_DIR_ENV] = str(Path(loggers[0].log_dir) / ".ranks")  # the other ranks inherit it
            trainer.callbacks.append(RankHeartbeat(config["collective_timeout"]))
        if self.subcommand == "predict":
            trainer.callbacks.append(PredictionsToRunDir())
        return trainer


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


def config_file_problem(argv: list[str]) -> str | None:
    """The first --config file that is not a YAML mapping, said in one line with its name (jsonargparse would
    say "Unexpected config:" for an empty file and drop the file name from a syntax error)."""
    import yaml

    paths = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--config"]
    paths += [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    for path in paths:
        p = Path(path)
        if not p.is_file():
            continue  # jsonargparse's own message names it
        try:
            content = yaml.safe_load(p.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            reason = getattr(err, "problem", None) or str(err).splitlines()[0]
            return f"--config {path}: not valid YAML{where}: {reason}"
        if content is None:
            return f"--config {path}: the file is empty"
        if not isinstance(content, dict):
            return f"--config {path}: expected a mapping of fields (model:, data:, trainer:, ...), got {type(content).__name__}"
    return None


def exit_stopped_or_offline(err: BaseException) -> None:
    """The exits `run` and `main` share: a run stopped by SIGTERM / Ctrl-C (checkpoint saved) exits with
    128 + the signal number; a wandb that cannot be reached prints one line and exits 1."""
    if isinstance(err, WandbUnavailable):
        discard_claimed_run()
        print(f"mfnn: error: wandb: {err}", file=sys.stderr)
        sys.exit(1)
    sys.exit(stopped_exit_code())


def run(*args: str) -> MFNNCLI:
    """Programmatic `mfnn ARGS...`; returns the CLI object (its .trainer, .model, .datamodule).
    A run stopped by SIGTERM / Ctrl-C (checkpoint saved) exits the process with 128 + the signal number."""
    wandb_offline_unless_keyed()
    try:
        return MFNNCLI(args=resolve_config_args(list(args)))
    except (SIGTERMException, WandbUnavailable) as err:
        exit_stopped_or_offline(err)


def main(argv: list[str] | None = None) -> None:
    wandb_offline_unless_keyed()
    resolved = resolve_config_args(list(sys.argv[1:] if argv is None else argv))  # shipped configs by name
    if argv is None:  # (LightningCLI warns when given args as well as a command line)
        sys.argv[1:] = resolved
    else:
        argv = resolved
    problem = config_file_problem(resolved)
    if problem:
        print(f"mfnn: error: {problem}", file=sys.stderr)
        sys.exit(2)
    try:
        MFNNCLI(args=argv)
    except (SIGTERMException, WandbUnavailable) as err:
        exit_stopped_or_offline(err)
    except (ConfigError, ValueError) as err:
        message = config_error_in(err)
        if message is None:
            raise
        message = " ".join(message.split())  # one line
        discard_claimed_run()
        print(f"mfnn: error: invalid config value: {message}", file=sys.stderr)
        sys.exit(2)
    except NonFiniteLossError as err:
        print(f"mfnn: error: {err}", file=sys.stderr)
        sys.exit(1)
    except MisconfigurationException as err:  # a trainer setting only Lightning checks
        discard_claimed_run()
        print(f"mfnn: error: invalid trainer setting: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as err:
        from mfnn.distributed import is_collective_timeout

        message = getattr(err, "mfnn_message", None)
        if message is None and is_collective_timeout(err):  # outside training (setup, teardown): no step records
            message = (f"a collective between the processes timed out ({' '.join(str(err).split())[:200]}): "
                       "another process is stopped, frozen or far slower")
        if message is None:
            raise
        print(f"mfnn: error: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
