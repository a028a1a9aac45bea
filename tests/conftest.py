import os
import pytest
import torch

# Tiny models: one intra-op thread is fastest and immune to other processes on a 2-core box.
torch.set_num_threads(1)

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import logging
import sys

from tests.helpers import tiny_xor_args


@pytest.fixture(autouse=True)
def lightning_logs_to_current_stderr():
    """Lightning's console handlers keep the stream of the test that imported it; pytest closes that stream
    after the test, and later log lines then print "--- Logging error ---" tracebacks. Point them here."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning_fabric", "lightning"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.stream = sys.stderr  # (setStream would flush the closed one)
    yield


@pytest.fixture
def tiny_args(tmp_path):
    return lambda *extra: tiny_xor_args(tmp_path, *extra)
