"""`mfnn.experiment.run_parts`: parts in spawn workers, results in order, and workers that do not outlive a
parent killed outright."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mfnn.experiment import run_parts
from tests.helpers import ROOT
from tests.helpers.parts import square

PARENT = """
import sys
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from tests.helpers.parts import report_and_sleep
folder = sys.argv[1]
if sys.argv[2] == "run_parts":
    from mfnn.experiment import run_parts
    run_parts(report_and_sleep, [(folder, "a", 60), (folder, "b", 60)], 2)
else:  # a bare pool, no watchdog (the placebo)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(report_and_sleep, [folder, folder], ["a", "b"], [60, 60]))
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has exited (nobody has reaped it yet)


def workers_after_parent_killed(tmp_path: Path, how: str, wait_s: float) -> list[int]:
    """Starts a parent running two 60-s parts, kills it with SIGKILL once both workers are up, and returns the
    worker pids still alive after `wait_s` seconds, or sooner once none is (killing those before returning)."""
    tmp_path.mkdir()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path), how], cwd=ROOT)
    pid_files = [tmp_path / "a.pid", tmp_path / "b.pid"]
    deadline = time.monotonic() + 60
    while not all(p.exists() and p.read_text() for p in pid_files):
        assert time.monotonic() < deadline and parent.poll() is None, "the workers did not start"
        time.sleep(0.1)
    pids = [int(p.read_text()) for p in pid_files]
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + wait_s
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def test_parts_come_back_in_order_with_threads_shared_out():
    results = run_parts(square, [(1,), (2,), (3,)], 2)
    assert [r[0] for r in results] == [1, 4, 9] and all(r[1] >= 1 for r in results)
    assert run_parts(square, [(5,)], 1) == [(25, None)]  # jobs = 1: here, torch's own thread count


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads process states from /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    # (the watchdog polls every second: 5 s is ample)
    assert workers_after_parent_killed(tmp_path / "watched", "run_parts", wait_s=5.0) == []
    # Placebo: a pool without the watchdog leaves both workers running, here for 2 s (two polls' worth).
    assert len(workers_after_parent_killed(tmp_path / "bare", "bare", wait_s=2.0)) == 2
