"""The bench's roofline pieces count what they claim, and a missing peer is a printed skip, not a crash."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from bench import roofline as rl


def test_flops_and_bytes_of_a_known_step():
    a, b = torch.randn(64, 32), torch.randn(32, 16)
    flops, nbytes = rl.count_step(lambda: a @ b)
    assert flops == 2 * 64 * 32 * 16  # FlopCounterMode: one mm
    assert nbytes == 4 * (64 * 32 + 32 * 16 + 64 * 16)  # both inputs and the output, float32


def test_views_move_no_bytes_and_elementwise_has_no_flops():
    x = torch.randn(1000)
    flops, nbytes = rl.count_step(lambda: x.view(10, 100).t())
    assert (flops, nbytes) == (0, 0)
    flops, nbytes = rl.count_step(lambda: x * 2)
    assert flops == 0 and nbytes == 2 * 4 * 1000  # x in, the result out (the Python scalar is no tensor)


def test_bound_is_compute_above_the_ridge_and_memory_below():
    peak, bw = {"fp32": 50.0, "bf16": 100.0}, 10.0  # ridge 5 FLOP/byte
    big = rl.roofline(flops=1e9, nbytes=1e7, rate=10.0, peak_gflops=peak, bandwidth_gbs=bw)  # 100 FLOP/byte
    assert big["bound"] == "compute" and big["gflops"] == pytest.approx(10.0) and big["bound_share"] == pytest.approx(0.2)
    small = rl.roofline(flops=1e6, nbytes=1e7, rate=100.0, peak_gflops=peak, bandwidth_gbs=bw)  # 0.1 FLOP/byte
    assert small["bound"] == "memory" and small["gbs"] == pytest.approx(1.0) and small["bound_share"] == pytest.approx(0.1)


def test_measured_limits_are_positive_and_finite():
    assert 0 < rl.matmul_gflops(torch.float32, n=128, repeats=2) < 1e5
    assert 0 < rl.copy_gbs(megabytes=4, repeats=2) < 1e4


def test_transformer_lens_peer_skips_with_a_reason_when_absent():
    bench = importlib.import_module("bench.run")
    if importlib.util.find_spec("transformer_lens") is not None:
        pytest.skip("TransformerLens is installed: the peer runs (bench/run.py --cases c,p)")
    r = bench.transformer_lens_rate(steps=1)
    assert isinstance(r, str) and r.startswith("skipped") and "TransformerLens" in r


def test_seed_loop_peer_runs_every_seed():
    bench = importlib.import_module("bench.run")
    assert bench.seed_loop_rate(width=8, batch=8, seeds=3, steps=2) > 0
