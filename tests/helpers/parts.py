"""Top-level functions for run_parts' spawn workers in the tests (workers import them by name)."""
from __future__ import annotations

import os
import time
from pathlib import Path


def square(x: int, threads) -> tuple[int, int | None]:
    return x * x, threads


def report_and_sleep(folder: str, name: str, seconds: float, threads=None) -> None:
    """Writes this worker's pid to folder/name.pid, then sleeps (a part that is still training)."""
    Path(folder, f"{name}.pid").write_text(str(os.getpid()))
    time.sleep(seconds)
