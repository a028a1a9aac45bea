"""Background states recorded during training, replayed by the foreground (mode "trajectory")."""
from __future__ import annotations

import copy
from bisect import bisect_right

import torch


class Trajectory:
    """Background states recorded during training: `at(step)` is the background as it was before
    optimiser step `step` (the latest recorded state at or before it). Memory: one flat copy of the
    state per record (depth 3, N = 256, d = 64: 0.55 MB), so record every k steps for long deep runs.
    States go into preallocated 32 MB blocks: thousands of small clones between a training step's large
    temporaries fragment the C heap (measured: 3.6 MB of RSS per recorded step at N = 1024)."""

    BLOCK_BYTES = 32 * 2**20  # glibc always mmaps blocks this large: they never pin the heap

    def __init__(self, net):
        self.net = copy.deepcopy(net).requires_grad_(False)
        state = self.net.state_dict()
        self.layout = [(k, v.shape, v.numel()) for k, v in state.items()]
        self.numel = sum(n for _, _, n in self.layout)
        self.dtype, self.device = next(iter(state.values())).dtype, next(iter(state.values())).device
        self.rows = max(1, self.BLOCK_BYTES // (self.numel * torch.finfo(self.dtype).bits // 8))
        self.blocks: list[torch.Tensor] = []
        self.steps: list[int] = []
        self.current = -1

    def record(self, step: int, net) -> None:
        if self.steps and self.steps[-1] >= step:
            return
        i = len(self.steps)
        if i // self.rows == len(self.blocks):
            self.blocks.append(torch.empty(self.rows, self.numel, dtype=self.dtype, device=self.device))
        row = self.blocks[i // self.rows][i % self.rows]
        state = net.state_dict()
        offset = 0
        for k, _, n in self.layout:
            row[offset:offset + n].copy_(state[k].detach().reshape(-1))
            offset += n
        self.steps.append(step)

    def __len__(self) -> int:
        return len(self.steps)

    def state(self, i: int) -> dict[str, torch.Tensor]:
        """The i-th recorded state as a state_dict of views into the block."""
        row, out, offset = self.blocks[i // self.rows][i % self.rows], {}, 0
        for k, shape, n in self.layout:
            out[k] = row[offset:offset + n].view(shape)
            offset += n
        return out

    def at(self, step: int):
        i = max(0, bisect_right(self.steps, step) - 1)
        if i != self.current:
            self.net.load_state_dict(self.state(i))
            self.current = i
        return self.net
