"""alpha_c(omega) of the Cui et al. equations at increasing quadrature resolution, and with the authors' rules.

    python replications/attention/alpha_c_convergence.py [--out FILE] [--omegas 0 0.1 ...] [--n-gh 8 12 16] [--tiny]

For each omega: alpha_c on the 8^4 product Gauss-Hermite grid (the run's grid) by the full two-branch search;
the gap's slope and curvature in alpha there (three alphas 0.05 apart); then the training-loss gap at that
alpha with n_gh^4 product Gauss-Hermite rules of increasing n_gh, each turned into alpha_c by the slope
(mfnn.theory.attention.critical_alpha_by_resolution); and alpha_c with the authors' notebook rules
(quadrature="authors"). Writes replications/attention/alpha_c_convergence.json (read by run.py), one omega at a
time. Tens of minutes on one CPU core.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mfnn.theory.attention import AttentionSetup, AttentionTheory, critical_alpha_by_resolution  # noqa: E402

OMEGAS = [0.0, 0.1, 0.3, 0.2, 0.4]
N_GH = [8, 12, 16, 20]
DELTA = 0.05  # alpha spacing of the slope estimate


def one_omega(omega: float, n_gh: list[int], grid=(0.3, 2.3, 0.2)) -> dict:
    t = time.time()
    coarse = AttentionTheory(AttentionSetup(omega=omega, n_gh=8))
    a8 = coarse.critical_alpha(lo=grid[0], hi=grid[1], step=grid[2])
    alphas = [a8 - DELTA, a8, a8 + DELTA]
    sem, pos = coarse.branch(alphas, "semantic"), coarse.branch(alphas, "positional")
    g = np.array([s.train_loss - p.train_loss for s, p in zip(sem, pos)])
    slope, curvature = (g[2] - g[0]) / (2 * DELTA), (g[2] - 2 * g[1] + g[0]) / DELTA**2
    rows = critical_alpha_by_resolution([AttentionSetup(omega=omega, n_gh=k) for k in n_gh], a8, sem[1], pos[1], slope)
    t_res = time.time()
    authors = AttentionTheory(AttentionSetup(omega=omega, quadrature="authors")).critical_alpha(lo=grid[0], hi=grid[1], step=0.1)
    return {"omega": omega, "alpha_ref": a8, "alpha_c_grid8": a8, "gap_at_ref": g.tolist(), "slope": slope,
            "curvature": curvature, "resolutions": rows, "alpha_c_authors": authors,
            "seconds": {"resolutions": t_res - t, "authors": time.time() - t_res}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "replications" / "attention" / "alpha_c_convergence.json"))
    p.add_argument("--omegas", type=float, nargs="+", default=OMEGAS)
    p.add_argument("--n-gh", type=int, nargs="+", default=N_GH)
    p.add_argument("--tiny", action="store_true", help="seconds-long smoke run (omega = 0.3, n_gh 4 and 5)")
    args = p.parse_args(argv)
    if sorted(args.n_gh) != args.n_gh or len(args.n_gh) < 2:
        p.error("--n-gh: at least two resolutions, increasing")
    out = Path(args.out)
    if out.is_dir():
        p.error(f"--out must be a file path, got the directory {out}")
    omegas, n_gh = ([0.3], [4, 5]) if args.tiny else (args.omegas, args.n_gh)
    result = json.loads(out.read_text()) if out.exists() and not args.tiny else {}
    result.setdefault("omegas", {})
    out.parent.mkdir(parents=True, exist_ok=True)
    for w in omegas:
        res = one_omega(w, n_gh)
        result["omegas"][str(w)] = res
        print(f"[alpha_c_convergence] omega={w}: grid8 {res['alpha_c_grid8']:.4f}, "
              + ", ".join(f"n_gh={r['n_gh']}: {r['alpha_c']:.4f}" for r in res["resolutions"])
              + f", authors' rules {res['alpha_c_authors']:.4f}", flush=True)
        out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
