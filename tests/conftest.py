import os
import pytest
import torch

# Tiny models: one intra-op thread is fastest and immune to other processes on a 2-core box.
torch.set_num_threads(1)

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

from tests.helpers import tiny_xor_args


@pytest.fixture
def tiny_args(tmp_path):
    return lambda *extra: tiny_xor_args(tmp_path, *extra)
