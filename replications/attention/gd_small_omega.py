"""GD against the theory at small omega: the two end states of full-batch GD across d and training time.

    python replications/attention/gd_small_omega.py [--out FILE] [--tiny]

At omega = 0 and alpha near the critical ratio, trains the attention ensemble (mfnn.models.attention, with the
optimiser of configs/attention/attention.yaml) from the positional start (Q = 1_d/sqrt d) and the
semantic start (Q = Q*) for d in DIMS with three teachers each (one tensor program per d), and at d = 1000 with
longer training and with a smaller learning rate. Records per member the overlaps m = 1.Q/d, theta = Q.Q*/d,
q = |Q|^2/d, the training loss R/d and the norm of the gradient of R/d at the end (is GD still moving?).
Writes replications/attention/gd_small_omega.json (after every run; a rerun keeps the finished ones), read by
run.py. On one CPU core: d = 500 about 5 min, d = 1000 about 12 min, the two d = 500 variants about 20 min each.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mfnn.data.attention import AttentionDataModule  # noqa: E402
from mfnn.models.attention import DotProductAttention  # noqa: E402

OMEGA, ALPHAS, SEEDS = 0.0, [0.5, 0.75], 3
DIMS = [500, 1000, 2000, 4000]
# (name, d, lr, steps): the paper's protocol (lr 0.15, 5000 steps) at every d, and at d = 500 trained 4x longer and
# with a 3x smaller learning rate for 3x the steps (the same gradient-flow time as the protocol)
RUNS = ([(f"d{d}", d, 0.15, 5000) for d in DIMS[:2]] + [("d500_long", 500, 0.15, 20000), ("d500_small_lr", 500, 0.05, 15000)]
        + [(f"d{d}", d, 0.15, 5000) for d in DIMS[2:]])
TINY = [("tiny", 40, 0.15, 50)]


def train(d: int, lr: float, steps: int, seeds: int, record_every: int = 500) -> dict:
    """Full-batch GD on the ensemble, as `mfnn fit` with configs/attention/attention.yaml runs it (SGD with weight
    decay lam on the summed risk, the data module's full training split every step), in a plain loop: at small d
    the Lightning step overhead would be most of the time."""
    dm = AttentionDataModule(dim=d, sigma=0.5, omega=OMEGA, alphas=ALPHAS, seeds=seeds, test_size=1000, seed=0)
    dm.setup()
    train_split, test_split = dm.splits["train"], dm.splits["val"]
    model = DotProductAttention(rank=1, inits=["positional", "semantic"], weight_decay=0.01)
    model.build(dm.q_star, len(ALPHAS))
    opt = torch.optim.SGD(model.param_groups(), lr=lr)
    history = {"step": [], "m": [], "theta": []}
    for step in range(steps + 1):
        if step % record_every == 0:
            ov = model.overlaps()
            history["step"].append(step)
            history["m"].append(ov["m"].double().tolist())
            history["theta"].append(ov["theta"].double().tolist())
        if step == steps:
            break
        opt.zero_grad()
        model.member_risks(train_split).sum().backward()
        opt.step()
    metrics = model.member_metrics(train_split, test_split)  # each (S, A, I)
    out = {k: v.detach().double().tolist() for k, v in metrics.items()}
    # GD's step is lr * grad R; how far m and theta would still move in 5000 more steps at the final gradient
    opt.zero_grad()
    model.member_risks(train_split).sum().backward()
    grad_R = (model.W_Q.grad + model.lam * model.W_Q.detach())[..., 0]  # (S, A, I, d), the decay included
    out["m_drift_5000"] = (-5000 * lr * grad_R.sum(-1) / d).double().tolist()
    out["theta_drift_5000"] = (-5000 * lr * (grad_R * dm.q_star[:, None, None]).sum(-1) / d).double().tolist()
    out["q_star_norm2"] = (dm.q_star.square().sum(-1) / d).double().tolist()  # |Q*|^2/d per teacher
    out["history"] = history
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "replications" / "attention" / "gd_small_omega.json"))
    p.add_argument("--tiny", action="store_true", help="seconds-long smoke run (d = 40)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists() and out.is_dir():
        p.error(f"--out must be a file path, got the directory {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    result = {"omega": OMEGA, "alphas": ALPHAS, "inits": ["positional", "semantic"], "runs": {}}
    done = json.loads(out.read_text())["runs"] if out.exists() and not args.tiny else {}
    for name, d, lr, steps in (TINY if args.tiny else RUNS):
        old = done.get(name)
        if old and (old["dim"], old["lr"], old["steps"]) == (d, lr, steps):  # resume: keep finished runs
            result["runs"][name] = old
            continue
        t = time.time()
        res = train(d, lr, steps, 1 if args.tiny else SEEDS)
        res.update(dim=d, lr=lr, steps=steps, seconds=time.time() - t)
        result["runs"][name] = res
        print(f"[gd_small_omega] {name}: d={d} lr={lr} steps={steps} {res['seconds']:.0f} s", flush=True)
        out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
