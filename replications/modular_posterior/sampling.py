"""One batched Langevin sweep of the quadratic modular network (all sigma^2 x chains in one run), reduced to
what the analysis needs and cached in runs/<name>/samples.pt so figures and checks can be rebuilt (--reuse)."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from mfnn.callbacks.posterior import PosteriorAverage
from mfnn.cli import run


def sample(config: Path, runs: Path, extra: list[str], reuse: bool = False, name: str | None = None) -> dict:
    name = name or config.stem
    cache = runs / name / "samples.pt"
    if reuse and cache.exists():
        return torch.load(cache)
    t0 = time.time()
    cli = run("fit", "--config", str(config), f"--trainer.logger.init_args.save_dir={runs / name}", *extra)
    post = next(c for c in cli.trainer.callbacks if isinstance(c, PosteriorAverage))
    if post.count == 0:
        raise RuntimeError(f"{config.name}: PosteriorAverage collected no samples (max_steps must exceed burn_in)")
    model, dm = cli.model, cli.datamodule
    hp = model.hparams
    train_mask = dm.splits["val"][3][0].cpu()  # (P^2,) pairs the chains were trained on
    out = {"config": config.name, "P": hp.p, "N": hp.width, "noise_vars": [float(s) for s in hp.noise_vars],
           "chains_per_point": hp.chains_per_point, "hot_chains_per_point": hp.hot_chains_per_point,
           "sigma_a2": hp.sigma_a2, "gamma": hp.gamma, "steps": int(cli.trainer.global_step), "burn_in": post.burn_in,
           "every": post.every, "samples": post.count, "train_mask": train_mask, "mean": post.mean,
           "final": {k: getattr(model, k).detach().cpu() for k in ("w", "v", "a")}, "hot": model.hot.cpu(),
           "specialised_cut": model.specialised_cut, "fit_s": time.time() - t0}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, cache)
    return out
