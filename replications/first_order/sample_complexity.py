"""Sample complexity of the cubic teacher: a Langevin-sampled finite erf network against its NNGP
(Rubin, Seroussi & Ringel 2024, App. A.1; Rubin, Davidovich & Ringel 2025).

    python replications/first_order/sample_complexity.py [--out DIR] [--tiny] [--seed S] [--threads T]

Teacher y = He1(w*.x) + eps He3(w*.x), eps = -0.3 (the first-order replication's), x ~ N(0, I_d). Student
f(x) = sum_i a_i erf(w_i . x), priors w ~ N(0, sigma_w^2/d), a ~ N(0, sigma_a^2/N), likelihood noise sigma^2,
width N = d. Per (d, n): seeds x chains as one tensor program, sampled by `mfnn.optim.Langevin` on the input
weights with the readout integrated out exactly (it is Gaussian given W). The NNGP (the N -> oo limit of the same
prior: sigma_a^2 times the analytic erf kernel of `mfnn.theory.kernels`) is solved on the same nested data sets.
Observable: the cubic alignment A3 = c3 / eps of the posterior-mean predictor on held-out points (c3 = its He3
coefficient); n* = where A3 crosses LEVEL; n* ~ d^x fitted for both, with a bootstrap over seeds. Writes
sample_complexity.md, sample_complexity.json and sample_complexity*.png beside the first-order report.
--seed S: the data sets are seeds S, S+1, S+2 (default 0, 1, 2). --curves FILE: re-analyse saved curves.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.ticker import NullLocator

from mfnn.analysis.first_order import hermite_components
from mfnn.analysis.sample_complexity import bootstrap_exponent, collapse_spread, gp_nested_means, per_seed_exponents
from mfnn.experiment import ReplicationCLI, existing_file, staged_output
from mfnn.optim.langevin import Langevin
from mfnn.plotting import colormaps, save, subplots
from mfnn.report import Check, Report
from mfnn.theory.kernels import dual_kernels

RUBIN24 = "Rubin, Seroussi & Ringel 2024 (arXiv 2310.03789), App. A.1 [V]"
RUBIN25 = "Rubin, Davidovich & Ringel 2025 (arXiv 2512.04165) [S]"

EPS = -0.3  # the teacher's cubic coefficient (first-order replication, the 2024 paper)
SIGMA_W2, SIGMA_A2, NOISE_VAR = 0.5, 1.0, 0.05  # priors and likelihood noise (README: why)
LEVEL = 0.3  # n* is where A3 reaches this (README: why)
NET_TOL = 0.3  # the network's exponent: 1 +- 0.3 around the sources' x = 1 (well clear of the GP's >= 2)
GP_MIN = 2.0  # the GP's exponent must be clearly above the network's: >= 2 (sources: x = 3)
LINEAR_LEVEL = 0.8  # placebo: the GP's linear alignment c1 crosses 0.8 at n ~ d, so its exponent is ~1
OTHER_LEVELS = (0.2, 0.25, 0.35, 0.4)  # second view: how the exponents move with the level
X_GRID = np.round(np.arange(0.0, 4.001, 0.05), 2)  # trial exponents of the collapse against n / d^x

SIZES = {
    # net_d, n/d grid of the network (n <= net_nmax: the largest d stops at n/d = 8, past its crossing), seeds,
    # chains, steps, burn-in, sample every, lr (prior units), gp_d, the GP's largest n, held-out points
    "full": dict(net_d=(16, 32, 64, 128), n_over_d=(0.5, 1, 2, 4, 8, 16), net_nmax=1024, seeds=3, chains=2,
                 steps=1000, burn=500, every=10, lr=0.02, gp_d=(4, 6, 8, 11, 16, 22), gp_nmax=8192, test=4000),
    "tiny": dict(net_d=(4, 8), n_over_d=(1, 4, 16), net_nmax=128, seeds=3, chains=1, steps=40, burn=20, every=5,
                 lr=0.02, gp_d=(3, 4, 6), gp_nmax=512, test=500),
}


# ---- data ------------------------------------------------------------------------------------------------
def teacher(x: torch.Tensor) -> torch.Tensor:
    z = x[..., 0]  # w* = e_1
    return z + EPS * (z**3 - 3 * z)


def gp_grid(size: dict, d: int) -> list[int]:
    """The GP's own n grid at d: from 2 (below where it learns the linear part) to 16 d^3 (past where it learns
    the cubic at the largest d that fits), at most gp_nmax."""
    return geometric_grid(2, min(size["gp_nmax"], 2 ** math.ceil(math.log2(16 * d**3))))


def net_grid(size: dict, d: int) -> list[int]:
    """The network's n grid at d: n/d on the fixed grid, up to net_nmax."""
    return [n for n in (int(round(q * d)) for q in size["n_over_d"]) if n <= size["net_nmax"]]


def pool_size(size: dict, d: int) -> int:
    """Training points drawn per (seed, d): every n of the network and the GP at this d is a prefix of them."""
    net = max(net_grid(size, d)) if d in size["net_d"] else 0
    return max(net, max(gp_grid(size, d)) if d in size["gp_d"] else 0)


def data(d: int, seeds: int, n_max: int, test: int, base_seed: int):
    """Nested training sets (seed s's first n points, for every n) and one held-out set per d, shared by the
    network and the GP (paired comparison). n_max = pool_size(...), so both draw the same points.
    x: (S, n_max, d), x_test: (test, d)."""
    xs = [torch.randn(n_max, d, generator=torch.Generator().manual_seed(1000 * (base_seed + s) + d), dtype=torch.float64)
          for s in range(seeds)]
    x_test = torch.randn(test, d, generator=torch.Generator().manual_seed(10**6 + d), dtype=torch.float64)
    return torch.stack(xs), x_test


# ---- the finite network: Langevin on W with the readout integrated out -------------------------------------
def readout_marginal(phi: torch.Tensor, y: torch.Tensor, noise_var: float, sigma_a2: float):
    """-log p(y | W) with a ~ N(0, sigma_a2/N I) integrated out, and the posterior-mean readout.

    phi: (..., n, N) features erf(W x), y: (..., n). With A = phi^T phi / s2 + (N / sigma_a2) I and
    b = phi^T y / s2 (Woodbury and the determinant lemma on y ~ N(0, s2 I + sigma_a2/N phi phi^T)):
        -log p = y.y / (2 s2) - b^T A^-1 b / 2 + log det A / 2 + n/2 log(2 pi s2) + N/2 log(sigma_a2 / N)
    The N x N algebra runs in float64 (A's condition number grows like n / s2). Returns ((...,), (..., N))."""
    n, N = phi.shape[-2:]
    A = (phi.transpose(-1, -2) @ phi).double() / noise_var + (N / sigma_a2) * torch.eye(N, dtype=torch.float64)
    b = (phi.transpose(-1, -2) @ y[..., None]).double()[..., 0] / noise_var  # (..., N)
    L = torch.linalg.cholesky(A)
    u = torch.linalg.solve_triangular(L, b[..., None], upper=False)[..., 0]
    nll = (y.double().square().sum(-1) / (2 * noise_var) - u.square().sum(-1) / 2
           + torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
           + n / 2 * math.log(2 * math.pi * noise_var) + N / 2 * math.log(sigma_a2 / N))
    mean_a = torch.cholesky_solve(b[..., None], L)[..., 0]
    return nll, mean_a


def sample_network(x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, width: int, chains: int, steps: int,
                   burn: int, every: int, lr: float, seed: int) -> dict:
    """Posterior-mean predictor of the two-layer erf net on every seed's training set.

    x: (S, n, d), y: (S, n), x_test: (m, d). Input weights W: (S, chains, N, d), sampled by Langevin with the
    prior as weight decay (precision d / sigma_w2) and the step in prior units (lr x sigma_w2 / d); each sample
    contributes E[f | W] = erf(W x_test) E[a | W, data] (Rao-Blackwellised: no readout noise in the average).
    Returns pred (S, chains, m), the training mse of the last sample's mean readout (S, chains), and the
    largest |cos(w_i, w*)| over neurons averaged over samples (S, chains)."""
    S, n, d = x.shape
    x, y, x_test = x.float(), y.float(), x_test.float()
    g = torch.Generator().manual_seed(seed)
    W = torch.nn.Parameter(torch.randn(S, chains, width, d, generator=g) * math.sqrt(SIGMA_W2 / d))  # prior draw
    opt = Langevin([W], lr=lr * SIGMA_W2 / d, temperature=1.0, weight_decay=d / SIGMA_W2, seed=seed)
    pred = torch.zeros(S, chains, len(x_test))
    cos_max = torch.zeros(S, chains)
    count = 0
    for step in range(steps):
        phi = torch.erf(torch.einsum("scNd,snd->scnN", W, x))  # (S, chains, n, N)
        nll, mean_a = readout_marginal(phi, y[:, None], NOISE_VAR, SIGMA_A2)
        opt.zero_grad()
        nll.sum().backward()
        opt.step()
        if step >= burn and (step - burn) % every == 0:
            with torch.no_grad():
                phi_test = torch.erf(torch.einsum("scNd,md->scmN", W, x_test))
                pred += (phi_test @ mean_a.float()[..., None])[..., 0]
                cos_max += (W[..., 0].abs() / W.norm(dim=-1)).amax(-1)
                count += 1
    with torch.no_grad():
        train_mse = ((phi @ mean_a.float()[..., None])[..., 0] - y[:, None]).square().mean(-1)
    return {"pred": pred / count, "train_mse": train_mse, "cos_max": cos_max / count, "samples": count}


# ---- the NNGP -----------------------------------------------------------------------------------------------
def erf_nngp(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Prior covariance of f: sigma_a2 E[erf(w.x1) erf(w.x2)], w ~ N(0, sigma_w2/d I) (Williams' closed form in
    `mfnn.theory.kernels.dual_kernels`; no bias). (n1, d), (n2, d) -> (n1, n2) in the inputs' dtype."""
    d = x1.shape[1]
    c = SIGMA_W2 * (x1 @ x2.T) / d
    q1, q2 = SIGMA_W2 * x1.square().sum(1) / d, SIGMA_W2 * x2.square().sum(1) / d
    return SIGMA_A2 * dual_kernels("erf", q1[:, None], q2[None, :], c, derivative=False)[0]


def gp_curves(x: torch.Tensor, x_test: torch.Tensor, ns) -> torch.Tensor:
    """GP posterior means on the nested sets x[s, :n] for every n in ns: (S, len(ns), m). In float32: the
    Gram matrix's condition number is at most ~ n / (d noise_var) ~ 1e4 here, and float64 would double the
    time of the largest solve (n = 8192); tests/test_sample_complexity.py checks float32 against float64."""
    n_max = max(ns)
    x, x_test = x.float(), x_test.float()
    return torch.stack([gp_nested_means(erf_nngp(xs[:n_max], xs[:n_max]), erf_nngp(x_test, xs[:n_max]),
                                        teacher(xs[:n_max]), NOISE_VAR, ns) for xs in x]).double()


# ---- alignments ---------------------------------------------------------------------------------------------
def alignments(pred: np.ndarray, x_test: torch.Tensor) -> dict[str, np.ndarray]:
    """pred (..., m) -> A3 = c3 / eps, A1 = c1 (least squares on 1, He1, He3 of w*.x; exact for the teacher) and
    A_f = <f, y> / <y, y> on the held-out points, each of shape (...)."""
    z, y = x_test[:, 0].numpy(), teacher(x_test).numpy()
    flat = pred.reshape(-1, pred.shape[-1])
    h = hermite_components(flat, z)
    shape = pred.shape[:-1]
    return {"A3": (h["c3"] / EPS).reshape(shape), "A1": h["c1"].reshape(shape),
            "Af": (flat @ y / (y @ y)).reshape(shape)}


def geometric_grid(lo: int, hi: int) -> list[int]:
    """Integers from lo to hi, spaced by sqrt(2)."""
    k = np.arange(0, int(math.floor(2 * math.log2(hi / lo))) + 1)
    return sorted({int(round(lo * 2 ** (j / 2))) for j in k} | {hi})


# ---- the replication ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    cli = ReplicationCLI("first_order", __doc__.splitlines()[0], threads=1)
    cli.add_argument("--curves", type=existing_file, default=None,
                     help="re-analyse saved learning curves (runs/first_order/sample_complexity_curves.json) "
                          "instead of sampling")
    args = cli.parse(argv)
    size = SIZES["tiny" if args.tiny else "full"]
    base_seed = args.seed or 0
    if args.curves:
        saved = json.loads(Path(args.curves).read_text())
        net, gp = (restore(saved[k]) for k in ("network", "gp"))
        timings = {k: v for k, v in saved["timings"].items() if k != "analysis_s"}
    else:
        net, gp, timings = replicate(size, base_seed)
        args.runs.mkdir(parents=True, exist_ok=True)
        (args.runs / "sample_complexity_curves.json").write_text(  # re-analyse later with --curves
            json.dumps(jsonable({"network": net, "gp": gp, "timings": timings})))
    with staged_output(args.out) as out:
        analyse(size, net, gp, timings, out, time.time())
    return 0


def restore(curves: dict) -> dict:
    """Saved curves back to arrays, keyed by int d."""
    return {int(d): {k: (np.array(v, dtype=float) if isinstance(v, list) and k != "n" else v) for k, v in c.items()}
            for d, c in curves.items()}


def replicate(size: dict, base_seed: int):
    t0, cpu0, timings = time.time(), time.process_time(), {}
    S = size["seeds"]
    net, gp = {}, {}
    # The network: per d, one tensor program per n (seeds x chains batched); nested data sets.
    for d in size["net_d"]:
        ns = net_grid(size, d)
        x, x_test = data(d, S, pool_size(size, d), size["test"], base_seed)
        t = time.time()
        runs = [sample_network(x[:, :n], teacher(x[:, :n]), x_test, width=d, chains=size["chains"],
                               steps=size["steps"], burn=size["burn"], every=size["every"], lr=size["lr"],
                               seed=base_seed * 7919 + 31 * d + i) for i, n in enumerate(ns)]
        pred = torch.stack([r["pred"] for r in runs], 1).numpy()  # (S, n, chains, m)
        al_chain = alignments(pred, x_test)
        al = alignments(pred.mean(2), x_test)  # the posterior mean: chains averaged first
        net[d] = {"n": ns, **al, "A3_chain": al_chain["A3"],
                  "train_mse": torch.stack([r["train_mse"] for r in runs], 1).numpy(),
                  "cos_max": torch.stack([r["cos_max"] for r in runs], 1).numpy(), "seconds": time.time() - t}
        # the GP on the network's own grid (same data sets, same held-out points)
        net[d]["gp_A3"] = alignments(gp_curves(x, x_test, ns).numpy(), x_test)["A3"]
        timings[f"network_d{d}_s"] = net[d]["seconds"]
        print(f"[network d={d}] {net[d]['seconds']:.0f} s; A3 (seed mean) "
              + " ".join(f"{n}:{a:.2f}" for n, a in zip(ns, net[d]["A3"].mean(0))), flush=True)
    # The GP on its own grid, out to where it learns the cubic.
    for d in size["gp_d"]:
        t = time.time()
        ns = gp_grid(size, d)
        x, x_test = data(d, S, pool_size(size, d), size["test"], base_seed)
        gp[d] = {"n": ns, **alignments(gp_curves(x, x_test, ns).numpy(), x_test), "seconds": time.time() - t}
        timings[f"gp_d{d}_s"] = gp[d]["seconds"]
        print(f"[GP d={d}] {gp[d]['seconds']:.0f} s; A3 (seed mean) "
              + " ".join(f"{n}:{a:.2f}" for n, a in zip(ns, gp[d]["A3"].mean(0))), flush=True)
    timings["sampling_s"] = time.time() - t0
    timings["sampling_cpu_s"] = time.process_time() - cpu0  # this process's CPU time: the cost on an idle core
    return net, gp, timings


def analyse(size: dict, net: dict, gp: dict, timings: dict, out: Path, t0: float) -> None:
    nd, gd = list(net), list(gp)
    fit_net = bootstrap_exponent(nd, [net[d]["n"] for d in nd], [net[d]["A3"] for d in nd], LEVEL)
    fit_gp = bootstrap_exponent(gd, [gp[d]["n"] for d in gd], [gp[d]["A3"] for d in gd], LEVEL)
    fit_lin = bootstrap_exponent(gd, [gp[d]["n"] for d in gd], [gp[d]["A1"] for d in gd], LINEAR_LEVEL)
    seeds_net = per_seed_exponents(nd, [net[d]["n"] for d in nd], [net[d]["A3"] for d in nd], LEVEL)
    seeds_gp = per_seed_exponents(gd, [gp[d]["n"] for d in gd], [gp[d]["A3"] for d in gd], LEVEL)
    # collapse: the x for which the seed-mean curves collapse best against n / d^x
    spread_net = [collapse_spread([net[d]["n"] for d in nd], [net[d]["A3"].mean(0) for d in nd], [d**x for d in nd])
                  for x in X_GRID]
    spread_gp = [collapse_spread([gp[d]["n"] for d in gd], [gp[d]["A3"].mean(0) for d in gd], [d**x for d in gd])
                 for x in X_GRID]
    by_level = {lv: {"network": bootstrap_exponent(nd, [net[d]["n"] for d in nd], [net[d]["A3"] for d in nd], lv, reps=300),
                     "gp": bootstrap_exponent(gd, [gp[d]["n"] for d in gd], [gp[d]["A3"] for d in gd], lv, reps=300)}
                for lv in OTHER_LEVELS}
    x_collapse_net = float(X_GRID[int(np.nanargmin(spread_net))])
    x_collapse_gp = float(X_GRID[int(np.nanargmin(spread_gp))])

    xn, xg, xl = fit_net["exponent"], fit_gp["exponent"], fit_lin["exponent"]
    rep = Report("Sample complexity of the cubic teacher: Langevin-sampled erf network vs its NNGP")
    rep.add(
        Check(f"network: exponent x of n*(d) ~ d^x at A3 = {LEVEL}, d = {nd}", xn, 1.0, NET_TOL, "abs",
              f"{RUBIN25}: P* ~ d for a two-layer erf net on He3 (N ~ d); {RUBIN24}: n ~ d conjectured"),
        Check("network: every seed's own exponent within 1 +- 0.3 (largest |x_seed - 1|)",
              float(np.max(np.abs(seeds_net["exponent"] - 1))), NET_TOL, kind="max",
              source="each data set on its own, not only their average"),
        Check("network: exponent resolved, half-width of its 95% bootstrap interval", float(np.ptp(fit_net["exponent_ci95"]) / 2),
              NET_TOL, kind="max", source="an interval wider than the tolerance cannot confirm or refute x = 1"),
        Check(f"GP (NNGP, same priors and noise): exponent at A3 = {LEVEL}, d = {gd}", xg, GP_MIN, kind="min",
              source=f"{RUBIN24}: the NNGP needs n = O(d^3) for the cubic term"),
        Check("GP exponent above the network's: lower end of the GP's 95% interval minus the upper end of the network's",
              float(fit_gp["exponent_ci95"][0] - fit_net["exponent_ci95"][1]), 0.0, kind="min",
              source=f"{RUBIN24}: n ~ d^3 (GP) vs n ~ d (network)"),
        Check(f"placebo: the GP's linear component (c1 = {LINEAR_LEVEL}) through the same fit is below the GP rule",
              xl, GP_MIN, kind="max", source="the >= 2 rule must fail on a component learnt at n ~ d (it would pass "
              "whatever was measured if the grid or the fit forced large exponents)"),
        Check("placebo: the GP's cubic exponent fails the network's rule, |x - 1|", abs(xg - 1), NET_TOL, kind="min",
              source="the network's 1 +- 0.3 rule must fail on a learner whose n* grows faster than d"),
    )
    timings["analysis_s"] = time.time() - t0
    rep.metrics = {
        "setting": {"teacher": f"He1 + {EPS} He3", "sigma_w2": SIGMA_W2, "sigma_a2": SIGMA_A2, "noise_var": NOISE_VAR,
                    "width": "N = d", "level": LEVEL, "linear_level": LINEAR_LEVEL,
                    **{k: (list(v) if isinstance(v, tuple) else v) for k, v in size.items()}},
        "network": {"fit": fit_net, "per_seed": seeds_net, "collapse_x": x_collapse_net,
                    "curves": {d: {k: net[d][k] for k in ("n", "A3", "A1", "Af", "A3_chain", "train_mse", "cos_max", "gp_A3")}
                               for d in nd}},
        "gp": {"fit": fit_gp, "per_seed": seeds_gp, "linear_fit": fit_lin, "collapse_x": x_collapse_gp,
               "curves": {d: {k: gp[d][k] for k in ("n", "A3", "A1", "Af")} for d in gd}},
        "other_levels": by_level,
        "collapse_spread": {"x": X_GRID, "network": spread_net, "gp": spread_gp},
        "timings": timings,
    }
    rep.sections.append(tables(nd, gd, net, gp, fit_net, fit_gp, fit_lin, seeds_net, seeds_gp, x_collapse_net,
                               x_collapse_gp, timings, by_level))
    figures(nd, gd, net, gp, fit_net, fit_gp, spread_net, spread_gp, x_collapse_net, x_collapse_gp, out)
    rep.figures += [("A3 against n, n/d and n/d^x: network (solid) and NNGP (dashed)", "sample_complexity.png"),
                    ("n*(d) at A3 = 0.3 with bootstrap intervals and power-law fits", "sample_complexity_nstar.png")]
    rep.metrics = jsonable(rep.metrics)
    rep.write(out, report_name="sample_complexity.md", metrics_name="sample_complexity.json")


def jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def ms(values) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "–"
    return f"{v.mean():.3g} ± {v.std(ddof=1) if len(v) > 1 else 0:.2g}"


def chain_gap(A3_chain: np.ndarray) -> str:
    """Mean over seeds of the spread of A3 between a seed's chains (a mixing check: chains started from
    independent prior draws should agree to within the posterior's own sampling noise)."""
    if A3_chain.shape[-1] < 2:
        return "–"
    return f"{np.mean(np.ptp(A3_chain, axis=-1)):.3f}"


def tables(nd, gd, net, gp, fit_net, fit_gp, fit_lin, seeds_net, seeds_gp, xc_net, xc_gp, timings, by_level) -> str:
    lines = ["## Thresholds and exponents", "",
             f"n* = first crossing of the cubic alignment A3 = c3/eps through {LEVEL} (linear in log n), read off the "
             "seed-averaged curve; interval: bootstrap over seeds (1000 replicates, 95%).", "",
             "| learner | d | n* | 95% interval | n*/d | n*/d^3 | per seed |", "|---|---|---|---|---|---|---|"]
    for name, ds, fit, seeds in (("network", nd, fit_net, seeds_net), ("GP", gd, fit_gp, seeds_gp)):
        for k, d in enumerate(ds):
            lo, hi = fit["nstar_ci95"][k]
            ps = ", ".join(f"{v:.0f}" if np.isfinite(v) else "–" for v in seeds["nstar"][:, k])
            lines.append(f"| {name} | {d} | {fit['nstar'][k]:.0f} | [{lo:.0f}, {hi:.0f}] | {fit['nstar'][k] / d:.2f} "
                         f"| {fit['nstar'][k] / d**3:.3g} | {ps} |")
    lines += ["", "| fit | exponent x | 95% interval | bootstrap sd | per seed (mean ± sd) | per seed | collapse x |",
              "|---|---|---|---|---|---|---|"]
    for name, fit, seeds, xc in (("network, A3", fit_net, seeds_net, xc_net), ("GP, A3", fit_gp, seeds_gp, xc_gp),
                                 (f"GP, c1 = {LINEAR_LEVEL} (placebo)", fit_lin, None, None)):
        lo, hi = fit["exponent_ci95"]
        per = seeds["exponent"] if seeds is not None else []
        lines.append(f"| {name} | {fit['exponent']:.3f} | [{lo:.2f}, {hi:.2f}] | {fit['exponent_sd']:.3f} | {ms(per)} | "
                     + (", ".join(f"{v:.2f}" for v in per) or "–") + f" | {xc if xc is not None else '–'} |")
    lines += ["", "Local exponents between successive d (log n* ratio / log d ratio, seed-averaged curves): "
              + "; ".join(f"{name} " + ", ".join(f"{a}→{b}: {math.log(fit['nstar'][k + 1] / fit['nstar'][k]) / math.log(b / a):.2f}"
                                                 for k, (a, b) in enumerate(zip(ds[:-1], ds[1:])))
                          for name, ds, fit in (("network", nd, fit_net), ("GP", gd, fit_gp))) + "."]
    lines += ["", "Second view, the level: exponents (95% bootstrap interval, 300 replicates) at other levels of A3.", "",
              "| level | network x | GP x |", "|---|---|---|"]
    for lv, fits in sorted(by_level.items()):
        cells = []
        for f in (fits["network"], fits["gp"]):
            lo, hi = f["exponent_ci95"]
            cells.append(f"{f['exponent']:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(f["exponent"]) else "– (not crossed)")
        lines.append(f"| {lv} | " + " | ".join(cells) + " |")
    lines += ["", "Collapse x: the exponent for which the seed-averaged A3 curves collapse best against n/d^x (least "
              "across-d variance on the common window, `collapse_spread`).", "", "## Curves (seed mean ± sd)", ""]
    for d in nd:
        lines += [f"Network d = {d} (N = {d}); {net[d]['seconds']:.0f} s", "",
                  "| n | n/d | A3 | A3 per seed | A3 chain gap | A1 | A_f | GP A3 | train mse | max \\|cos(w, w*)\\| |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for j, n in enumerate(net[d]["n"]):
            lines.append(f"| {n} | {n / d:g} | {ms(net[d]['A3'][:, j])} | "
                         + ", ".join(f"{v:.2f}" for v in net[d]["A3"][:, j]) + f" | {chain_gap(net[d]['A3_chain'][:, j])}"
                         + f" | {ms(net[d]['A1'][:, j])} | {ms(net[d]['Af'][:, j])} | {ms(net[d]['gp_A3'][:, j])} "
                         f"| {ms(net[d]['train_mse'][:, j].ravel())} | {ms(net[d]['cos_max'][:, j].ravel())} |")
        lines.append("")
    lines += ["GP (NNGP), A3 seed mean ± sd", "", "| n | " + " | ".join(f"d = {d}" for d in gd) + " |",
              "|---|" + "---|" * len(gd)]
    for n in sorted({n for d in gd for n in gp[d]["n"]}):
        cells = [ms(gp[d]["A3"][:, list(gp[d]["n"]).index(n)]) if n in gp[d]["n"] else "" for d in gd]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "## Wall times", "", " ".join(f"{k} = {v:.0f} s;" for k, v in timings.items())]
    return "\n".join(lines)


def figures(nd, gd, net, gp, fit_net, fit_gp, spread_net, spread_gp, xc_net, xc_gp, out: Path) -> None:
    cmap = colormaps["viridis"]
    all_d = sorted(set(nd) | set(gd))
    colour = {d: cmap(0.85 * i / max(len(all_d) - 1, 1)) for i, d in enumerate(all_d)}  # no pale yellow end
    fig, axes = subplots(1, 4, figsize=(19, 4.4), layout="constrained")
    for d in nd:
        n, A = np.array(net[d]["n"]), net[d]["A3"]
        for ax, scale in ((axes[0], 1), (axes[1], d)):
            ax.errorbar(n / scale, A.mean(0), A.std(0, ddof=1), color=colour[d], marker="o", ms=4, capsize=2,
                        label=f"network d={d}")
        axes[1].plot(n / d, net[d]["gp_A3"].mean(0), ":", color=colour[d], label=f"GP d={d}, same data")
    for d in gd:
        n, A = np.array(gp[d]["n"]), gp[d]["A3"]
        axes[0].plot(n, A.mean(0), "--", color=colour[d], label=f"GP d={d}")
        axes[2].plot(n / d**3, A.mean(0), "--", color=colour[d], label=f"GP d={d}")
    for ax, xl in zip(axes[:3], ("n", "n / d", "n / d³")):
        ax.set_xscale("log")
        ax.axhline(LEVEL, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(xl)
        ax.set_ylabel("cubic alignment A3 = c3 / ε")
        ax.legend(fontsize=7, ncol=2 if ax is axes[0] else 1)
    axes[0].set_title("A3 against n (dotted: the level of n*)")
    axes[1].set_title("network against n / d (dotted: the GP on the same data)")
    axes[2].set_title("NNGP against n / d³")
    axes[3].plot(X_GRID, spread_net, "-", color="k", label="network")
    axes[3].plot(X_GRID, spread_gp, "--", color="k", label="GP")
    axes[3].axvline(xc_net, color="k", lw=0.8)
    axes[3].axvline(xc_gp, color="k", lw=0.8, ls="--")
    axes[3].set_xlabel("x")
    axes[3].set_ylabel("across-d variance / total (0 = collapse)")
    axes[3].set_title(f"collapse against n / d^x: best x = {xc_net:g} (net), {xc_gp:g} (GP)")
    axes[3].legend(fontsize=8)
    save(fig, out / "sample_complexity.png")

    fig, ax = subplots(figsize=(6, 4.5), layout="constrained")
    for name, ds, fit, marker, ls in (("network", nd, fit_net, "o", "-"), ("GP", gd, fit_gp, "s", "--")):
        d = np.array(ds, float)
        ns, ci = fit["nstar"], fit["nstar_ci95"]
        ax.errorbar(d, ns, [ns - ci[:, 0], ci[:, 1] - ns], fmt=marker, capsize=3,
                    label=f"{name}: x = {fit['exponent']:.2f} [{fit['exponent_ci95'][0]:.2f}, {fit['exponent_ci95'][1]:.2f}]")
        if np.isfinite(fit["exponent"]):
            dd = np.geomspace(d.min(), d.max(), 20)
            ax.plot(dd, fit["amplitude"] * dd ** fit["exponent"], ls, color="grey", lw=1)
    if np.isfinite(fit_gp["exponent"]) and max(nd) > max(gd):  # where the GP would need to go at the network's d
        dd = np.geomspace(max(gd), max(nd), 20)
        ax.plot(dd, fit_gp["amplitude"] * dd ** fit_gp["exponent"], ":", color="tab:orange", lw=1,
                label="GP fit extrapolated (not measured)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted(set(nd) | set(gd))
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("d")
    ax.set_ylabel(f"n* (A3 = {LEVEL})")
    ax.set_title("samples needed to learn the cubic component")
    ax.legend(fontsize=8)
    save(fig, out / "sample_complexity_nstar.png")


if __name__ == "__main__":
    raise SystemExit(main())
