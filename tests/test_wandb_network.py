"""wandb with a key but no network (a cluster compute node): a bounded wait, then an offline run with one
line saying so; with WANDB_MODE=online set explicitly, one error line instead (no traceback). Real `mfnn fit`
subprocesses, all started at once; the server is a closed local port and the wait is 2 s
(MFNN_WANDB_INIT_TIMEOUT), so each case takes about a process start."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import tiny_xor_args

KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters: the shape of a wandb API key
NO_SERVER = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once
WAIT_S = 2


def env_for(case: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(OMP_NUM_THREADS="1", HOME=str(home), MFNN_WANDB_INIT_TIMEOUT=str(WAIT_S), PYTHONWARNINGS="ignore",
               NETRC=str(home / "no-netrc"))
    if case in ("key_no_network", "key_no_network_online"):
        env.update(WANDB_API_KEY=KEY, WANDB_BASE_URL=NO_SERVER)
    if case in ("key_no_network_online", "no_key_online"):
        env["WANDB_MODE"] = "online"
    return env


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The three cases run concurrently: {case: (returncode, stderr, save_dir, seconds)}."""
    procs = {}
    for case in ("key_no_network", "key_no_network_online", "no_key_online"):
        d = tmp_path_factory.mktemp(case)
        args = [a for a in tiny_xor_args(d / "runs", "--wandb.enabled=true", "--trainer.max_steps=10")]
        procs[case] = (subprocess.Popen([sys.executable, "-m", "mfnn.cli", *args], cwd=d, env=env_for(case, d),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
                       d / "runs", time.perf_counter())
    out = {}
    for case, (proc, runs, start) in procs.items():
        _, err = proc.communicate(timeout=600)
        out[case] = (proc.returncode, err, runs, time.perf_counter() - start)
    return out


def mfnn_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("mfnn:")]


def test_key_without_network_falls_back_to_offline_with_one_line(results):
    code, err, runs, _ = results["key_no_network"]
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    lines = mfnn_lines(err)
    fallback = [ln for ln in lines if "could not reach" in ln]
    assert len(fallback) == 1 and NO_SERVER in fallback[0] and f"within {WAIT_S} s" in fallback[0]
    assert "logging offline" in fallback[0]
    offline = list(runs.rglob("offline-run-*/run-*.wandb"))
    assert len(offline) == 1, "the run was logged offline"
    assert not list(runs.rglob("wandb/run-*")), "the failed online attempt leaves no run folder to sync"
    assert any(f"wandb sync {offline[0].parent}" in ln for ln in lines)


def test_demanded_online_without_network_is_one_error_line(results):
    code, err, runs, _ = results["key_no_network_online"]
    assert code == 1
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert errors == [ln for ln in errors if ln.startswith("mfnn: error: wandb: WANDB_MODE=online")] and len(errors) == 1
    assert NO_SERVER in errors[0]
    assert not [p for p in runs.rglob("*") if p.is_file()], "nothing is left of the refused run"


def test_demanded_online_without_key_is_one_error_line(results):
    code, err, runs, _ = results["no_key_online"]
    assert code == 1
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith("mfnn: error: wandb: WANDB_MODE=online but no wandb API key")
    assert not [p for p in runs.rglob("*") if p.is_file()], "nothing is left of the refused run"


def test_the_wait_is_bounded(results):
    """A no-network start costs the configured wait plus a process start, not wandb's 90 s and retries. The
    bound is against the no-key case of the same batch (no wandb call at all) so that a loaded machine's
    slower start does not count: the difference must stay well under wandb's default init_timeout."""
    base = results["no_key_online"][3]
    for case in ("key_no_network", "key_no_network_online"):
        assert results[case][3] - base < 45, (case, results[case][3], base)
