"""Foreground training throughput: M neurons as one batched program vs a Python loop over single neurons
(a few, extrapolated to M). Same background (N=1024 mean-field HardTanh), same fresh-data batches, same steps.

    OMP_NUM_THREADS=1 python bench/foreground.py [--neurons 2048] [--loop 4] [--steps 50] [--batch 512]

The measurement is `mfnn.foreground.throughput.foreground_throughput`.
"""
from __future__ import annotations

import argparse
import os

import torch

from mfnn.foreground.throughput import foreground_throughput


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
    r = foreground_throughput(args.neurons, args.loop, args.steps, args.width, args.batch, args.device)
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
