"""Foreground training throughput: M neurons as one batched program vs a Python loop over single neurons
(a few, extrapolated to M), same background (N mean-field HardTanh), same fresh-data batches, same steps.
`bench/foreground.py` prints it; the self-consistency report quotes it."""
from __future__ import annotations

import time

import torch

from mfnn.data.synthetic import SyntheticDataModule
from mfnn.foreground.train import train_foreground
from mfnn.models.mlp import MLPNet


def foreground_throughput(neurons: int = 2048, loop: int = 4, steps: int = 50, width: int = 1024, batch: int = 512,
                     device: str | None = None, chunks: tuple[int | None, ...] | None = None) -> dict:
    """Neuron-steps per second of train_foreground, batched (one row per chunk size) and as a loop over
    `loop` single neurons, and the loop's time extrapolated to `neurons` neurons.
    Returns {"device", "threads", "width", "batch", "steps", "neurons", "batched": {chunk: rate},
    "loop_rate", "speedup" (best batched / loop), "loop_extrapolated_s", "batched_s"}."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    chunks = chunks or ((256, None) if device.type == "cpu" else (None,))
    torch.manual_seed(0)
    net = MLPNet(2, width, activation="hardtanh", parameterization="mean_field").to(device)
    data = SyntheticDataModule(input_dim=2, target="xor", input_distribution="uniform")
    draw = lambda g: data.sample(batch, g, device)  # noqa: E731
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(**kw) -> float:
        train_foreground(net, draw, steps=2, **kw)  # warm-up
        sync()
        start = time.perf_counter()
        train_foreground(net, draw, steps=steps, **kw)
        sync()
        return time.perf_counter() - start

    batched = {str(c): neurons * steps / timed(n_neurons=neurons, chunk=c) for c in chunks}
    loop_rate = loop * steps / sum(timed(n_neurons=1, seed=j) for j in range(loop))
    best = max(batched.values())
    return {"device": str(device), "threads": torch.get_num_threads(), "width": width, "batch": batch, "steps": steps,
            "neurons": neurons, "batched": batched, "loop_neurons": loop, "loop_rate": loop_rate,
            "speedup": best / loop_rate, "loop_extrapolated_s": neurons * steps / loop_rate,
            "batched_s": neurons * steps / best}
