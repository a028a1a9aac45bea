"""One training run, and the command line every replication shares.

    run = fit("configs/grokking/gromov_mlp.yaml", "--trainer.max_steps=500", runs="runs/grokking")
    run.callback(NeuronCloud).snapshots, run.history("val/")["test_acc"], run.dir, run.seconds

`fit` goes through the same LightningCLI as the `mfnn` command. `ReplicationCLI` gives every
`replications/<name>/run.py` the same options (--out, --runs, --tiny, --seed, --threads), one thread policy,
argument checks before anything is written, and outputs that appear only when the run completes (written
into a hidden staging folder beside --out, then moved into place file by file). Nothing is ever deleted
that the run did not create: each training run gets a new `version_k` directory under --runs.
"""
from __future__ import annotations

import os

# OpenMP workers sleep instead of spinning while they wait: on a small CPU shared with other jobs, spinning
# made tiny-model steps 10-100x slower (measured on 2 cores). It only takes effect before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import cached_property  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Iterator, Sequence  # noqa: E402

import torch  # noqa: E402

from mfnn.cli import MFNNCLI, run as cli_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]  # the repository (configs/, replications/, runs/)
CONFIGS = ROOT / "configs"


@dataclass
class Run:
    """A finished fit: the CLI object (model, datamodule, trainer), its directory and wall time."""

    cli: MFNNCLI
    seconds: float
    overrides: list[str] = field(default_factory=list)

    @property
    def model(self):
        return self.cli.model

    @property
    def datamodule(self):
        return self.cli.datamodule

    @property
    def trainer(self):
        return self.cli.trainer

    @property
    def dir(self) -> Path:
        return Path(self.trainer.log_dir)

    def callbacks(self, kind: type) -> list:
        return [c for c in self.trainer.callbacks if isinstance(c, kind)]

    def callback(self, kind: type):
        """The run's callback of this type (the first, if several); a clear error if the config has none."""
        found = self.callbacks(kind)
        if not found:
            raise LookupError(f"the run has no {kind.__name__} callback (add it to trainer.callbacks)")
        return found[0]

    @cached_property
    def _rows(self) -> list[dict[str, str]]:
        with open(self.dir / "metrics.csv") as f:
            return list(csv.DictReader(f))

    def history(self, prefix: str = "val/") -> dict[str, list]:
        """metrics.csv as columns: the rows that log any `prefix` metric, names without the prefix,
        "step" as logged."""
        rows = [r for r in self._rows if any(v for k, v in r.items() if k.startswith(prefix))]
        if not rows:
            return {"step": []}
        cols: dict[str, list] = {"step": [int(r["step"]) for r in rows]}
        for key in rows[0]:
            if key.startswith(prefix):
                cols[key[len(prefix):]] = [float(r[key]) if r[key] else float("nan") for r in rows]
        return cols

    def curve(self, key: str) -> list[tuple[int, float]]:
        """(step, value) of every row that logs `key`."""
        return [(int(r["step"]), float(r[key])) for r in self._rows if r.get(key)]


def fit(config: str | Path | list, *overrides: str, runs: str | Path | None = None) -> Run:
    """Train one config (`mfnn fit --config CONFIG OVERRIDES...`), writing under `runs` if given. A list of
    configs composes them in order (a variant file states only its differences from the base)."""
    args = ["fit"]
    for c in config if isinstance(config, (list, tuple)) else [config]:
        args += ["--config", str(c)]
    if runs is not None:
        args.append(f"--trainer.logger.init_args.save_dir={runs}")
    # One step-counting bar per run (mfnn.callbacks.StepProgressBar; silent under CI), also for configs
    # written with the bar off; an override can still turn it off.
    args.append("--trainer.enable_progress_bar=true")
    args += list(overrides)
    start = time.perf_counter()
    cli = cli_run(*args)
    return Run(cli, time.perf_counter() - start, list(overrides))


# ---- the replication command line ------------------------------------------------------------------
def positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text})")
    return value


def nonnegative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer (got {text})")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer (got {text!r})") from None


def boolean(text: str) -> bool:
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"must be true or false (got {text!r})")
    return value


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the argument (no usage block)."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n(run with --help for the accepted options)\n")
        sys.exit(2)


class ReplicationCLI:
    """The options every replication takes, validated before anything is written.

    --out DIR     report.md, metrics.json and figures (default: the replication's folder; with --tiny,
                  runs/<name>/tiny_report, so a smoke run never replaces the committed report)
    --runs DIR    training run directories (default runs/<name>; each run is a new version_k inside)
    --tiny        the same code path at tiny sizes, in seconds
    --seed S      the seed of the replication's runs (default: the configs' own)
    --threads T   torch intra-op threads (default: OMP_NUM_THREADS if set, else the replication's own choice)
    """

    def __init__(self, name: str, description: str, threads: int | None = None, out: Path | None = None):
        self.name, self.default_threads, self.parts = name, threads, None
        self.default_out = out or ROOT / "replications" / name
        self.parser = OneLineParser(prog=f"replications/{name}/run.py", description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        add = self.parser.add_argument
        add("--out", default=None, help="report directory (default: the replication's folder)")
        add("--runs", default=str(ROOT / "runs" / name), help="training run directories (new version_k each run)")
        add("--tiny", action="store_true", help="tiny sizes: the same code path in seconds")
        add("--seed", type=nonnegative_int, default=None, help="seed of the runs (default: the configs' own)")
        add("--threads", type=positive_int, default=None,
            help="torch intra-op threads (default: OMP_NUM_THREADS if set, else the replication's choice)")
        add("--wandb.enabled", dest="wandb", type=boolean, nargs="?", const=True, default=False,
            help="log every training run and the report to wandb, grouped under the replication's name")
        add("--wandb.project", dest="wandb_project", default="mfnn", help="wandb project (default: mfnn)")

    def add_argument(self, *args, **kwargs):
        return self.parser.add_argument(*args, **kwargs)

    def add_parts(self, parts: Sequence[str]) -> None:
        """--parts (a comma-separated subset of `parts`; always run and reported in this order) and --jobs
        (worker processes for `run_parts`: default one per part, at most one per core; 1 with --tiny). parse()
        turns them into args.parts (a list) and args.jobs (an int)."""
        self.parts = list(parts)
        self.add_argument("--parts", default=",".join(parts), help=f"comma-separated subset of {','.join(parts)} "
                          "(default: all)")
        self.add_argument("--jobs", type=positive_int, default=None, help="run the parts in this many worker "
                          "processes (default: one per part, at most one per core; 1 with --tiny)")

    def error(self, message: str):
        """Stop with one line (exit 2), e.g. for a value that only the script can check."""
        self.parser.error(message)

    def parse(self, argv: list[str] | None = None, known_only: bool = False):
        """Parse and validate; set the thread count; check that --out and --runs can be written.
        known_only: return (args, the remaining arguments) for scripts that pass the rest to the CLI."""
        if known_only:
            args, rest = self.parser.parse_known_args(argv)
        else:
            args, rest = self.parser.parse_args(argv), []
        if self.parts is not None:
            names = [t.strip() for t in args.parts.split(",") if t.strip()]
            unknown = [n for n in names if n not in self.parts]
            if unknown or not names:
                self.parser.error(f"argument --parts: unknown part(s) {unknown or args.parts!r}; choose from "
                                  f"{', '.join(self.parts)}")
            args.parts = [n for n in self.parts if n in names]
            if args.jobs is None:
                args.jobs = 1 if args.tiny else min(len(args.parts), os.cpu_count() or 1)
        default_out = ROOT / "runs" / self.name / "tiny_report" if args.tiny else self.default_out
        args.out = Path(args.out) if args.out else default_out
        args.runs = Path(args.runs)
        for option, path in (("--out", args.out), ("--runs", args.runs)):
            problem = unwritable(path)
            if problem:
                self.parser.error(f"argument {option}: cannot write to {path} ({problem})")
        threads = args.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or self.default_threads
        if threads:
            torch.set_num_threads(threads)
        if args.wandb:
            from mfnn.dashboards import enable_for_replication
            enable_for_replication(self.name, args.wandb_project, runs=args.runs)
        return (args, rest) if known_only else args


def run_parts(run_part, jobs_args: list[tuple], jobs: int) -> list:
    """run_part(*args, threads) for each args in jobs_args, in `jobs` spawn worker processes (torch threads
    shared out among them) or, with jobs = 1, here. run_part must be a top-level function (workers import it)."""
    if jobs <= 1:
        return [run_part(*job, None) for job in jobs_args]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, torch.get_num_threads() // min(jobs, len(jobs_args)))
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        return list(pool.map(run_part, *zip(*jobs_args), [threads] * len(jobs_args)))


def exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """In a run_parts worker: exit once the process that started it is gone (killed outright, a pool's workers
    would otherwise train on, unseen, until they finish). A daemon thread polls the parent pid."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="mfnn-exit-with-parent", daemon=True).start()


def unwritable(path: Path) -> str | None:
    """Why files cannot be created at `path` (None if they can), without leaving anything behind."""
    if path.exists() and not path.is_dir():
        return "it is a file"
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    try:
        with tempfile.TemporaryDirectory(dir=parent, prefix=".mfnn-write-test-"):
            pass
    except OSError as err:
        return err.strerror or str(err)
    return None


@contextlib.contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """A hidden staging folder beside `out`; on success its files move into `out` (replacing same-named
    files, leaving others), on failure nothing in `out` changes."""
    out = Path(out)
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=f".{out.name}.staging-") as tmp:
        staging = Path(tmp)
        yield staging
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        for src in files:
            dst = out / src.relative_to(staging)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        print(f"wrote {len(files)} files to {out}")
