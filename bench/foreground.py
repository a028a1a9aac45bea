"""Foreground training throughput: 2048 neurons as one batched program vs a Python loop over single
neurons (a few, extrapolated to 2048). Same background (N=1024 mean-field HardTanh), same fresh-data
batches of 1024, same steps.

    OMP_NUM_THREADS=1 python bench/foreground.py [--neurons 2048] [--loop 4] [--steps 50]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from mfnn.callbacks.foreground import train_foreground
from mfnn.data.synthetic import SyntheticDataModule
from mfnn.models.mlp import MLPNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=2048)
    parser.add_argument("--loop", type=int, default=4, help="single neurons trained one after another")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--width", type=int, default=1024, help="background width N")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(0)
    device = torch.device(args.device)
    net = MLPNet(2, args.width, activation="hardtanh", parameterization="mean_field").to(device)
    data = SyntheticDataModule(input_dim=2, target="xor", input_distribution="uniform")
    draw = lambda g: data.sample(args.batch, g, device)  # noqa: E731
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(**kw) -> float:
        train_foreground(net, draw, steps=2, **kw)  # warm-up
        sync()
        start = time.perf_counter()
        train_foreground(net, draw, steps=args.steps, **kw)
        sync()
        return time.perf_counter() - start

    rows = []
    for chunk in ([256, None] if device.type == "cpu" else [None]):
        t = timed(n_neurons=args.neurons, chunk=chunk)
        rows.append((f"batched, {args.neurons} neurons, chunk {chunk}", args.neurons * args.steps / t, t))
    t_loop = sum(timed(n_neurons=1, seed=j) for j in range(args.loop))
    loop_rate = args.loop * args.steps / t_loop
    rows.append((f"loop over {args.loop} single neurons", loop_rate, t_loop))
    print(f"device {device}, threads {torch.get_num_threads()}, background N={args.width}, batch {args.batch}, "
          f"{args.steps} steps")
    print(f"{'variant':<42} {'neuron-steps/s':>15} {'seconds':>9}")
    for name, rate, t in rows:
        print(f"{name:<42} {rate:>15.4g} {t:>9.2f}")
    best = max(r[1] for r in rows[:-1])
    extrapolated = args.neurons * args.steps / loop_rate
    print(f"loop extrapolated to {args.neurons} neurons: {extrapolated:.1f} s for {args.steps} steps "
          f"(batched: {args.neurons * args.steps / best:.2f} s); batched / loop throughput = {best / loop_rate:.0f}x")


if __name__ == "__main__":
    main()
