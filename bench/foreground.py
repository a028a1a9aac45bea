"""Foreground training throughput: M neurons as one batched program vs a Python loop over single neurons
(a few, extrapolated to M). Same background (N=1024 mean-field HardTanh), same fresh-data batches, same steps.

    OMP_NUM_THREADS=1 python bench/foreground.py [--neurons 2048] [--loop 4] [--steps 50] [--batch 512]

`bench_foreground(...) -> dict` is the same measurement as a function (bench/run.py and the
self-consistency replication call it).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mfnn.callbacks.foreground import train_foreground  # noqa: E402
from mfnn.data.synthetic import SyntheticDataModule  # noqa: E402
from mfnn.models.mlp import MLPNet  # noqa: E402


def bench_foreground(neurons: int = 2048, loop: int = 4, steps: int = 50, width: int = 1024, batch: int = 512,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=2048)
    parser.add_argument("--loop", type=int, default=4, help="single neurons trained one after another")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--width", type=int, default=1024, help="background width N")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    r = bench_foreground(args.neurons, args.loop, args.steps, args.width, args.batch, args.device)
    print(f"device {r['device']}, threads {r['threads']}, background N={r['width']}, batch {r['batch']}, "
          f"{r['steps']} steps")
    print(f"{'variant':<42} {'neuron-steps/s':>15}")
    for chunk, rate in r["batched"].items():
        print(f"{f'batched, {args.neurons} neurons, chunk {chunk}':<42} {rate:>15.4g}")
    print(f"{f'loop over {args.loop} single neurons':<42} {r['loop_rate']:>15.4g}")
    print(f"loop extrapolated to {args.neurons} neurons: {r['loop_extrapolated_s']:.1f} s for {args.steps} steps "
          f"(batched: {r['batched_s']:.2f} s); batched / loop throughput = {r['speedup']:.0f}x")


if __name__ == "__main__":
    main()
