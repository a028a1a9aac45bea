"""Weights & Biases dashboards: everything mfnn sends to wandb goes through this module.

    mfnn fit --config configs/grokking/gromov_sweep.yaml --wandb.enabled=true
    python replications/grokking/run.py --wandb.enabled=true

What a run shows: the losses and metrics the CSV logger gets (batched members named by their value,
`val/test_acc/frac=0.30`, `val/loss/seed=3`, instead of the CSV's `_k3` index), the resolved config once,
and what each callback measures (`log` / `summary` below: the neuron cloud as a table and an image per
snapshot, progress measures, kernel alignment, foreground and posterior summaries). A replication
adds one more run to its group, the report: the PASS/FAIL table as a wandb table, one summary value per
check, and every figure of the report as an image. Runs carry a group (the replication, or the config's
name) and tags (model, data, replication).

The network is never waited on for long: without an API key the run is offline; with a key, wandb gets
`MFNN_WANDB_INIT_TIMEOUT` seconds (default 15) to reach its server, after which the run goes offline with
one line saying so, unless WANDB_MODE=online was set explicitly (then it stops with one line).
Offline runs print where they were written and the `wandb sync` command that uploads them.
"""
from __future__ import annotations

import io
import math
import netrc
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger

DEFAULT_INIT_TIMEOUT = 15.0  # seconds: wandb's own default (90 s, and retries on top) stalls a compute node
REPLICATION: dict = {}  # {"name", "project"} while a replication runs with --wandb.enabled=true
_MODE_SET_BY_MFNN = False  # True when WANDB_MODE=offline came from offline_unless_keyed, not from the user


class WandbUnavailable(RuntimeError):
    """The user asked for an online run (WANDB_MODE=online) and wandb could not start one."""


# ---- mode and network ---------------------------------------------------------------------------------
def has_api_key() -> bool:
    """An API key in the environment, or a ~/.netrc entry for the wandb server in use."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC") or None).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def offline_unless_keyed() -> None:
    """wandb must never wait on the network: without an API key it runs offline (WANDB_MODE=offline)."""
    global _MODE_SET_BY_MFNN
    if "WANDB_MODE" not in os.environ and not has_api_key():
        os.environ["WANDB_MODE"] = "offline"
        _MODE_SET_BY_MFNN = True
    os.environ.setdefault("WANDB_SILENT", "true")


def init_timeout() -> float:
    text = os.environ.get("MFNN_WANDB_INIT_TIMEOUT", "")
    try:
        value = float(text) if text else DEFAULT_INIT_TIMEOUT
    except ValueError:
        raise WandbUnavailable(f"MFNN_WANDB_INIT_TIMEOUT must be a number of seconds (got {text!r})") from None
    if not value > 0 or math.isinf(value):
        raise WandbUnavailable(f"MFNN_WANDB_INIT_TIMEOUT must be a positive number of seconds (got {text!r})")
    return value


def say(line: str) -> None:
    """One line on the terminal's stderr. While a run is live wandb wraps sys.stderr to copy it into the
    run's output.log; the real stream is used so that the line shows where the user looks, at once."""
    stream = sys.__stderr__ or sys.stderr
    stream.write(line + "\n")
    stream.flush()


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def start_run(project: str, name: str | None = None, group: str | None = None, tags: list[str] | None = None,
              save_dir: str | Path | None = None, job_type: str | None = None):
    """wandb.init with a bounded wait. Offline when WANDB_MODE says so (or no key is set); otherwise online
    within init_timeout() seconds, falling back to offline with one line on stderr, or raising
    WandbUnavailable when the user set WANDB_MODE=online explicitly."""
    import wandb

    if wandb.run is not None:  # a replication fits several runs in one process: each is its own wandb run
        wandb.run.finish()
    mode = os.environ.get("WANDB_MODE", "").lower() or ("online" if has_api_key() else "offline")
    demanded_online = os.environ.get("WANDB_MODE", "").lower() == "online" and not _MODE_SET_BY_MFNN
    kwargs = dict(project=project, name=name, group=group, tags=tags, job_type=job_type,
                  dir=str(save_dir) if save_dir else None)
    if mode in ("offline", "dryrun", "disabled"):
        return wandb.init(mode="offline" if mode == "dryrun" else mode, **kwargs)
    server = os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai"
    if not has_api_key():
        raise WandbUnavailable("WANDB_MODE=online but no wandb API key is set (set WANDB_API_KEY or run "
                               "`wandb login`; or unset WANDB_MODE to log offline)")
    timeout = init_timeout()
    wandb_dir = Path(save_dir or os.environ.get("WANDB_DIR") or ".") / "wandb"
    existed = wandb_dir.exists()
    before = set(wandb_dir.glob("run-*")) if existed else set()
    try:
        return wandb.init(mode="online", settings=wandb.Settings(init_timeout=timeout), **kwargs)
    except Exception as err:  # noqa: BLE001 (no route, refused, bad key, timeout: all mean "not online now")
        reason = first_line(err)
        # The failed attempt left a run-* folder that `wandb sync` would pick up: remove what it created.
        if not existed:
            shutil.rmtree(wandb_dir, ignore_errors=True)
        else:
            for d in set(wandb_dir.glob("run-*")) - before:
                shutil.rmtree(d, ignore_errors=True)
        if demanded_online:
            raise WandbUnavailable(f"WANDB_MODE=online but wandb could not reach {server} within {timeout:g} s "
                                   f"({reason}); unset WANDB_MODE to fall back to an offline run") from None
        say(f"mfnn: wandb could not reach {server} within {timeout:g} s ({reason}); logging offline instead "
            f"(MFNN_WANDB_INIT_TIMEOUT sets the wait)")
        return wandb.init(mode="offline", **kwargs)


def offline_dir(run) -> Path | None:
    """The offline run's directory (.../wandb/offline-run-<time>-<id>), or None for an online run."""
    settings = getattr(run, "settings", None)
    if settings is None or not getattr(settings, "_offline", False):
        return None
    return Path(settings.sync_dir)


def announce(run) -> None:
    """Where an offline run was written and how to upload it (one line on stderr)."""
    where = offline_dir(run)
    if where is not None:
        say(f"mfnn: wandb offline run written to {where}; upload it with `wandb sync {where}`")


# ---- the logger -----------------------------------------------------------------------------------------
MEMBER_KEY = re.compile(r"^(?P<base>.+)_k(?P<k>\d+)$")


class DashboardLogger(WandbLogger):
    """Lightning's WandbLogger with mfnn's dashboard conventions: member metrics named by value, the config
    logged once (the resolved CLI config; Lightning's own hyperparameter push would add the model's init args
    a second time, at the top level), and the offline location printed when the fit ends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.member_names: list[str] | None = None

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass  # the resolved config is logged once, by log_config

    def log_config(self, config: dict) -> None:
        super().log_hyperparams(config)

    def by_value(self, metrics: dict) -> dict:
        """`val/test_acc_k3` -> `val/test_acc/frac=0.18` (the CSV keeps `_k3`: scripts and tests read it)."""
        names = self.member_names
        if not names:
            return metrics
        out = {}
        for key, value in metrics.items():
            m = MEMBER_KEY.match(key)
            if m and int(m["k"]) < len(names):
                key = f"{m['base']}/{names[int(m['k'])]}"
            out[key] = value
        return out

    def log_metrics(self, metrics, step=None) -> None:
        super().log_metrics(self.by_value(metrics), step)

    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._experiment is not None and not getattr(self, "_announced", False):
            self._announced = True
            announce(self._experiment)


def number(x: float) -> str:
    """0.3 -> '0.30', 0.175 -> '0.175', 3 -> '3': two decimals at least, more only when needed."""
    return f"{x:.2f}" if abs(round(x, 2) - x) < 1e-12 else f"{x:g}"


def member_names(pl_module, datamodule=None) -> list[str] | None:
    """Names of a batched module's members by the value that sets them apart, or None for one network.
    ModularMLP members differ by train fraction (data.train_fractions); Ensemble members by weight decay
    (when weight_decays vary) or else by seed."""
    fractions = getattr(datamodule, "train_fractions", None)
    members = getattr(getattr(pl_module, "net", None), "members", None) or getattr(pl_module, "members", None)
    if not isinstance(members, int) or members < 2:
        return None
    names = None
    if fractions is not None and len(fractions) == members:
        names = [f"frac={number(f)}" for f in fractions]
    wd = getattr(pl_module, "member_weight_decay", None)
    if names is None and wd is not None and wd.numel() == members and len(set(wd.tolist())) == members:
        names = [f"weight_decay={number(float(w))}" for w in wd.tolist()]
    seeds = getattr(pl_module, "seeds", None)
    if names is None and seeds is not None and len(seeds) == members:
        names = [f"seed={s}" for s in seeds]
    if names is None:
        return None
    if len(set(names)) < len(names):  # repeated values: keep them apart by index
        names = [f"{n}#{k}" for k, n in enumerate(names)]
    return names


def run_tags(config) -> list[str]:
    """model / data class names (and the replication) as tags."""
    tags = []
    for part in ("model", "data"):
        cls = getattr(config.get(part), "class_path", None)
        if cls:
            tags.append(cls.rsplit(".", 1)[-1])
    if REPLICATION:
        tags.append(f"replication:{REPLICATION['name']}")
    return tags


def config_group(config) -> str | None:
    """The last --config file's name relative to configs/ (e.g. grokking/gromov_sweep), if there is one."""
    paths = config.get("config") or []
    if not paths:
        return None
    path = Path(str(getattr(paths[-1], "absolute", paths[-1]))).resolve()
    configs = Path(__file__).resolve().parents[1] / "configs"
    try:
        return str(path.relative_to(configs).with_suffix(""))
    except ValueError:
        return path.stem


def make_logger(config, save_dir: str | Path) -> DashboardLogger:
    """The logger for `--wandb.*` (or a replication's --wandb.enabled=true)."""
    wb = config["wandb"]
    project = REPLICATION.get("project") or wb["project"]
    group = wb.get("group") or REPLICATION.get("name") or config_group(config)
    tags = list(wb.get("tags") or []) + run_tags(config)
    rank_zero = os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"
    if not rank_zero:  # DDP workers: Lightning gives them a dummy experiment
        return DashboardLogger(project=project, name=wb["name"], save_dir=str(save_dir), group=group, tags=tags)
    run = start_run(project, wb["name"], group, tags, save_dir)
    if offline_dir(run) is None and getattr(run, "url", None):
        say(f"mfnn: wandb run {run.url}")
    return DashboardLogger(experiment=run, project=project, save_dir=str(save_dir))


# ---- what callbacks and reports send --------------------------------------------------------------------
def runs_of(trainer) -> list:
    """The wandb runs this trainer logs to (none when wandb is off, or on a DDP rank other than 0)."""
    if trainer is None or not trainer.is_global_zero:
        return []
    return [lg.experiment for lg in trainer.loggers if isinstance(lg, WandbLogger)]


def image(fig_or_path, caption: str | None = None):
    """A matplotlib Figure (rendered to PNG in memory, no backend switch) or a PNG path as a wandb.Image."""
    import wandb
    from PIL import Image

    if isinstance(fig_or_path, (str, Path)):
        return wandb.Image(str(fig_or_path), caption=caption)
    buf = io.BytesIO()
    fig_or_path.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    buf.seek(0)
    return wandb.Image(Image.open(buf).convert("RGB"), caption=caption)


def table(columns: list[str], rows: list[list]):
    import wandb

    return wandb.Table(columns=list(columns), data=[list(r) for r in rows])


def log(trainer, data: dict, step: int | None = None) -> None:
    """Log `data` (numbers, images from `image`, tables from `table`) to every wandb run of the trainer,
    at the trainer's global step (as `trainer/global_step`, the x axis Lightning's WandbLogger uses)."""
    runs = runs_of(trainer)
    if not runs or not data:
        return
    step = trainer.global_step if step is None else step
    for run in runs:
        run.log({**data, "trainer/global_step": step})


def summary(trainer, values: dict) -> None:
    """Final values (one number per key, shown in the runs table and usable as sweep metrics)."""
    for run in runs_of(trainer):
        for key, value in values.items():
            run.summary[key] = value


def wandb_enabled(trainer) -> bool:
    return bool(runs_of(trainer))


# ---- replications -----------------------------------------------------------------------------------------
def enable_for_replication(name: str, project: str = "mfnn", runs: str | Path | None = None) -> None:
    """Every fit of this process logs to wandb in group `name`, and Report.write adds the report run (its
    wandb files under `runs`, beside the training runs)."""
    offline_unless_keyed()
    REPLICATION.update(name=name, project=project, runs=str(runs) if runs else None)


def flat_numbers(d: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of a nested dict as flat `a/b/c` keys (lists and strings left out)."""
    out = {}
    for key, value in d.items():
        k = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_numbers(value, k + "/"))
        elif isinstance(value, bool):
            out[k] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[k] = float(value)
    return out


def log_report(report, out_dir: str | Path) -> None:
    """A replication's report as its own wandb run in the replication's group: the PASS/FAIL table, one
    summary value per check (`check/<name>` measured, `check/<name>/passed`), the report's numbers
    (`metrics/...`), and every PNG in `out_dir` as an image (captioned from the report's figure list)."""
    if not REPLICATION:
        return
    out = Path(out_dir)
    name = REPLICATION["name"]
    save_dir = REPLICATION.get("runs")
    if save_dir:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    run = start_run(REPLICATION["project"], f"{name} report", group=name, tags=[f"replication:{name}", "report"],
                    save_dir=save_dir, job_type="report")
    from mfnn.report import fmt

    # "measured" as report.md prints it (numbers and True/False share the column), "value" as a number to plot
    rows = [[c.name, fmt(c.measured), float(c.measured) if isinstance(c.measured, (int, float)) else None,
             c.criterion, "PASS" if c.passed else "FAIL", c.source] for c in report.checks]
    captions = {fname: cap for cap, fname in report.figures}
    media = {f"figures/{p.relative_to(out).with_suffix('').as_posix()}": image(p, captions.get(p.name))
             for p in sorted(out.rglob("*.png"))}
    run.log({"report/checks": table(["check", "measured", "value", "criterion", "result", "source"], rows), **media})
    for c in report.checks:
        key = f"check/{c.name}"
        if isinstance(c.measured, (int, float)) and not (isinstance(c.measured, float) and math.isnan(c.measured)):
            run.summary[key] = c.measured
        run.summary[f"{key}/passed"] = c.passed
    run.summary["checks/passed"] = sum(c.passed for c in report.checks)
    run.summary["checks/total"] = len(report.checks)
    run.summary["checks/all_pass"] = report.passed
    for key, value in flat_numbers(report.metrics, "metrics/").items():
        run.summary[key] = value
    where = offline_dir(run)
    run.finish()
    if where is not None:
        say(f"mfnn: wandb offline report run written to {where}; upload it with `wandb sync {where}`")


# ---- reading an offline run back ---------------------------------------------------------------------------
def offline_records(path: str | Path):
    """The records of an offline run file (run-<id>.wandb), parsed with wandb's own protobuf schema.

    The file is a LevelDB-style log (the format wandb's `sync` uploads): a 7-byte header (":W&B", magic,
    version), then 32 KiB blocks of chunks [crc32 (4 bytes) | length (2) | type (1) | data], where a record is
    one FULL chunk or FIRST, MIDDLE..., LAST chunks. wandb no longer ships a Python reader for it (its
    `wandb beta leet` viewer is in Go), hence these few lines."""
    import struct
    import zlib

    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a wandb run file")
    block, header = 32768, 7
    i, pending = header, b""
    while i + header <= len(data):
        left = block - i % block
        if left < header:  # a block's tail too short for a chunk header is zero padding
            i += left
            continue
        crc, n, kind = struct.unpack_from("<IHB", data, i)
        if kind == 0 and n == 0:  # zero-filled rest of a block
            i += left
            continue
        chunk = data[i + header:i + header + n]
        i += header + n
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise ValueError(f"{path}: corrupt record at byte {i - n - header}")
        pending += chunk
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def read_offline_run(path: str | Path) -> dict:
    """An offline run as plain data: {"group", "tags", "name", "job_type", "config": {key: value},
    "history": [row dict, ...], "summary": {key: value}, "files": [media paths], "finished": bool (the run's
    exit record is written: wandb's service writes the file asynchronously, so a run just finished may
    still be incomplete for a moment)}. Nested keys are joined
    with "." (wandb splits dotted keys into nested ones); media values are wandb's JSON descriptors
    ({"_type": "image-file" | "table-file", "path": ...})."""
    import json

    def put(d: dict, item) -> None:
        key = ".".join(item.nested_key) if item.nested_key else item.key
        d[key] = json.loads(item.value_json)

    path = Path(path)
    if path.is_dir():  # an offline-run-* directory
        path = next(path.glob("run-*.wandb"))
    out = {"group": None, "tags": [], "name": None, "job_type": None, "config": {}, "history": [], "summary": {},
           "files": [], "finished": False}
    for record in offline_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out.update(group=run.run_group or None, tags=list(run.tags), name=run.display_name or None,
                       job_type=run.job_type or None)
            for item in run.config.update:
                put(out["config"], item)
        elif kind == "config":
            for item in record.config.update:
                put(out["config"], item)
        elif kind == "history":
            row: dict = {}
            for item in record.history.item:
                put(row, item)
            out["history"].append(row)
        elif kind == "summary":
            for item in record.summary.update:
                put(out["summary"], item)
        elif kind == "files":
            out["files"] += [f.path for f in record.files.files]
        elif kind == "exit":
            out["finished"] = True
    # media descriptors arrive as nested keys (img._type, img.path, ...): fold them back into one dict each
    for d in [*out["history"], out["summary"]]:
        media = {}
        for key in [k for k in d if k.endswith("._type")]:
            base = key[: -len("._type")]
            media[base] = {k[len(base) + 1:]: d.pop(k) for k in [k for k in d if k.startswith(base + ".")]}
        d.update(media)
    return out


def read_finished_run(path: str | Path, timeout_s: float = 120.0) -> dict:
    """read_offline_run once the run's exit record is on disk (polling; an error after timeout_s)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            run = read_offline_run(path)
        except ValueError:  # wandb is still writing: a half-written chunk fails its checksum
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        if run["finished"]:
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: the run's exit record did not appear within {timeout_s:g} s")
        time.sleep(0.2)
