"""Roofline numbers for `make bench`: the machine's measured limits and what one training step asks of them.

- matmul peak: best-of-N GFLOP/s of a square matmul (fp32 and bf16), this thread's CPU time;
- copy bandwidth: best-of-N GB/s of a large tensor copy (bytes read + written);
- FLOPs per step: `torch.utils.flop_counter.FlopCounterMode` (matmul-like ops: mm, bmm, addmm, conv, attention;
  elementwise work is not counted, so memory-bound steps show few FLOPs);
- bytes per step: the sum of every non-view aten op's input and output tensor sizes (`BytesCounter`), i.e. the
  traffic with no reuse between ops, an upper estimate of what the step moves through memory.
A step is against the compute bound when its intensity (FLOPs / byte) is above the ridge point
(peak / bandwidth), else against the memory bound; the share of that bound says how close it runs.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 1024, repeats: int = 5) -> float:
    """Best-of-`repeats` rate of an (n, n) @ (n, n) matmul in `dtype`, GFLOP/s of this thread's CPU time."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up (kernel selection, page faults)
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        a @ b
        best = min(best, time.thread_time() - start)
    return 2 * n**3 / best / 1e9


def copy_gbs(megabytes: int = 64, repeats: int = 5) -> float:
    """Best-of-`repeats` bandwidth of a float32 tensor copy, GB/s counting the bytes read and written."""
    src = torch.randn(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        dst.copy_(src)
        best = min(best, time.thread_time() - start)
    return 2 * src.nbytes / best / 1e9


class BytesCounter(TorchDispatchMode):
    """Sums the sizes of the input and output tensors of every aten op that is not a view."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not getattr(func, "is_view", False):
            tensors = [t for t in tree_flatten((args, kwargs or {}, out))[0] if isinstance(t, torch.Tensor)]
            self.bytes += sum(t.numel() * t.element_size() for t in tensors)
        return out


def count_step(step: Callable[[], object]) -> tuple[int, int]:
    """(FLOPs, bytes) of one call of `step` (a full training step: forward, backward, optimiser)."""
    flops = FlopCounterMode(display=False)
    moved = BytesCounter()
    with flops, moved:
        step()
    return flops.get_total_flops(), moved.bytes


def roofline(flops: float, nbytes: float, rate: float, peak_gflops: dict[str, float], bandwidth_gbs: float) -> dict:
    """Achieved GFLOP/s and GB/s of `rate` steps/s, their shares of the measured limits, and which bound applies.
    peak_gflops: {"fp32": ..., "bf16": ...}; the bound is judged against the fp32 peak (the default precision)."""
    gflops, gbs = flops * rate / 1e9, nbytes * rate / 1e9
    ridge = peak_gflops["fp32"] / bandwidth_gbs  # FLOPs per byte where the two bounds meet
    intensity = flops / nbytes if nbytes else float("inf")
    bound = "compute" if intensity >= ridge else "memory"
    share = gflops / peak_gflops["fp32"] if bound == "compute" else gbs / bandwidth_gbs
    return {"gflops": gflops, "fp32_share": gflops / peak_gflops["fp32"], "bf16_share": gflops / peak_gflops["bf16"],
            "gbs": gbs, "bw_share": gbs / bandwidth_gbs, "intensity": intensity, "ridge": ridge, "bound": bound,
            "bound_share": share}
