"""Deep MLPs: compositional feature learning in mean-field vs lazy (NTK) output scaling.

    python replications/deep/run.py [--out DIR] [--runs DIR] [--tiny] [--seeds S ...] [--samples FILE ...]

Task: continuous XOR of features, y = x1 x2 with x ~ N(0, I_64), n = 1024 training points, trained full batch.
Network: depth-3 erf MLP (DeepMLP), f = s_N a . h_3(x); mean_field s_N = 1/N with lr x N (muP for SGD), lazy
s_N = 1/sqrt(N) (NTK), same base lr, same steps, same initial weights (configs/deep/{mean_field,lazy}.yaml);
the lazy run is repeated at width 2N (its kernel should move less still).

Measured: the centred kernel-target alignment A(K_l, y y^T) of each hidden layer's kernel K_l = h_l h_l^T / N on
2048 held-out points, at init and after training (mfnn.analysis.kernels.KernelAlignment); held-out MSE of both;
kernel regression with the initial last-layer kernel (the GP-limit readout) as the GP reference; each trained net
against its own linearization around the initial weights (the NTK predictor after the same GD steps, closed form);
neuron clouds of the middle layer (rows of W_hidden[0]) and of the input layer (rows of W_in in the (x1, x2)
plane); the middle-layer foreground against its background with permutation nulls. Every check over seeds 0, 1, 2.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.optimize import brentq

from mfnn.analysis.clouds import median_bandwidth, mmd, particles, permutation_null, sliced_wasserstein
from mfnn.analysis.kernels import kernel_regression, layer_features, neuron_target_correlation, subspace_fraction
from mfnn.analysis.linearized import empirical_ntk, infinite_width_gd, kernel_gd, linearized_gd
from mfnn.callbacks import ForegroundCheck, KernelAlignment, NeuronCloud
from mfnn.cli import MFNNCLI, wandb_offline_unless_keyed
from mfnn.experiment import CONFIGS, ReplicationCLI, existing_file, fit as fit_config, staged_output
from mfnn.foreground import resampled_background_loss
from mfnn.plotting.deep import figures
from mfnn.report import Check, Report
from mfnn.theory.kernels import KernelSpec, infinite_width_baseline, nngp, ntk

DEEP = CONFIGS / "deep"
MIDDLE = 1  # the middle hidden layer of the depth-3 net (0-based)
TINY_WIDTH = 16
TINY = ["--trainer.max_steps=20", f"--model.init_args.width={TINY_WIDTH}", "--model.init_args.input_dim=8",
        "--data.init_args.input_dim=8", "--data.init_args.train_size=64", "--data.init_args.val_size=128",
        "--data.init_args.steps_per_epoch=10"]
# Tolerances (physics; the reason for each is in the README):
MF_GAIN = 0.1  # mean-field: the last hidden kernel moves O(1) towards y y^T (init KTA ~ 0.003)
FEATURE_SHARE = 4.0  # mean-field: W_in rows concentrate in span(e1, e2), >= 4x the isotropic share 2/d
GP_BAND = 0.1  # analytic NNGP: held-out MSE / var(y) within 0.1 of the degree-2 learning-curve prediction (3x the
#               seed-to-seed spread 0.03 of the analytic baselines; the prediction's own O(1/sqrt d) error is untested)
MF_TEST = 0.5  # mean-field held-out MSE <= MF_TEST x var(y)
LIN_DEV = 0.25  # lazy: |f - f_lin|^2 / |f_lin - f_0|^2 on held-out points; 0 in the NTK limit (O(1/N)), 1 for a
#                 net that learns nothing (f = f_0); 0.25 = the deviation is at most half the size of the lazy move
EDGE = 2.0  # GD on a kernel model is stable along its top mode only while c lam_max < 2 (edge of stability)
FG_P = 0.01  # FG and BG middle-layer clouds: permutation p-value of their distance >= 0.01 (same law), every seed
N_PERM = 200  # permutations per null distribution (p resolves 1/201)
N_RESAMPLE = 64  # bootstrap draws of the background for the null of the assembled-network MSE
FG_Z = 3.0  # foreground network MSE at most 3 null stds above the mean MSE of resampled background neurons
SEEDS = (0, 1, 2)  # each a new training set and initialisation; checks hold on every seed
FG_CORR = 0.25  # foreground vs background middle-layer neurons: mean |corr(activation, y)| ratio within 1 +- FG_CORR
WIDE_RATIO = 0.85  # lazy: KTA change at 2N / at N; NTK kernels move O(1/sqrt N) (ratio 0.71) or less
RIDGES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # kernel ridge regression: ridge relative to mean(diag K)
CURVE_POINTS = 16  # held-out MSE of the infinite-width lazy net at this many times along training


def regimes(tiny: bool) -> dict[str, tuple[str, list[str]]]:
    """regime: (config, overrides). lazy_wide is the lazy run at twice the width: its kernel should move less."""
    width = TINY_WIDTH if tiny else yaml.safe_load(open(DEEP / "lazy.yaml"))["model"]["init_args"]["width"]
    fg = ["--trainer.callbacks.init_args.n_neurons=16"] if tiny else []  # ForegroundCheck is the last callback
    return {"mean_field": ("mean_field", fg), "lazy": ("lazy", []),
            "lazy_wide": ("lazy", [f"--model.init_args.width={2 * width}"])}


def fit(regime: str, config_name: str, overrides: list[str], runs: Path, extra: list[str]) -> dict:
    config = str(DEEP / f"{config_name}.yaml")
    args = [f"--trainer.logger.init_args.save_dir={runs}", *extra, *overrides,
            f"--trainer.logger.init_args.name=deep_{regime}"]
    # The same config without fitting gives the initial network (seed_everything fixes the init).
    wandb_offline_unless_keyed()
    init = MFNNCLI(args=["--config", config, *args], run=False)
    run = fit_config(config, *args)
    init.datamodule.setup("fit")
    clouds = {c.layer: c for c in run.callbacks(NeuronCloud)}
    fg = run.callbacks(ForegroundCheck)
    first = clouds[0].snapshots[0]["W"]
    assert torch.equal(first, init.model.net.W_in.detach()), "initial network differs from the trained run's init"
    return {"cli": run.cli, "init": init.model.net, "data": run.datamodule, "seconds": run.seconds,
            "kta": run.callback(KernelAlignment), "fg": fg[0] if fg else None,
            "val_curve": run.curve("val/mse"), "train_curve": run.curve("train/mse")}


@torch.no_grad()
def measure(res: dict) -> dict:
    net, init, (x, y), (xt, yt) = res["cli"].model.net, res["init"], res["data"].splits["val"], res["data"].splits["train"]
    n_probe = res["kta"].n_probe
    d = net.input_dim
    plane = torch.eye(d)[:, :2]  # span(e1, e2): the target's relevant subspace
    fg = {}
    if res["fg"] is not None and MIDDLE in res["fg"].foregrounds:  # foreground neurons of the middle layer
        f = res["fg"].foregrounds[MIDDLE]["same"]
        phi = net.neuron_features(net.hidden(x[:n_probe], MIDDLE - 1), f.W, f.b)  # (n_probe, M)
        fg = {"fg_" + k: v for k, v in res["fg"].metrics[MIDDLE]["same"].items()}
        fg.update(fg_n_neurons=f.n_neurons, fg_seconds=f.seconds, fg_corr=neuron_target_correlation(phi, y[:n_probe]),
                  fg_W=f.W.cpu(), **cloud_nulls(particles(f.neurons()).cpu(), particles(net.neurons(MIDDLE)).cpu()))
    # the lazy prediction of this net: its linearization at init, trained by the same GD (lr after the width multiplier)
    trainer = res["cli"].trainer
    lr, steps = trainer.optimizers[0].param_groups[0]["lr"], trainer.global_step
    lin = linearized_gd(init, xt, yt, x, lr, steps)
    inf = infinite_width_gd(init, xt, yt, x, lr, steps)  # the analytic NTK from the same f_0: the N -> oo lazy net
    f, f0, yv = net(x).reshape(-1).double(), init(x).reshape(-1).double(), y.reshape(-1).double()
    K0, K = empirical_ntk(init, xt, xt), empirical_ntk(net, xt, xt)  # tangent kernel at init and after training
    c = 2 * lr / len(xt)
    if res["fg"] is not None and MIDDLE in res["fg"].foregrounds:  # the null of the assembled network's MSE
        null = torch.tensor([resampled_background_loss(net, x, y, fg["fg_n_neurons"], MIDDLE, seed=s)
                             for s in range(N_RESAMPLE)])
        fg.update(fg_null_mean=float(null.mean()), fg_null_std=float(null.std()),
                  fg_null_z=float((fg["fg_fg_loss"] - null.mean()) / null.std().clamp_min(1e-12)),
                  fg_null_max=float(null.max()))
    return {
        "lin_deviation": float((f - lin["eval"]).square().sum() / (lin["eval"] - f0).square().sum()),
        "lin_val_mse": float((lin["eval"] - yv).square().mean()),
        "lin_max_step_eigen": lin["max_step_eigen"],
        "inf_deviation": float((f - inf["eval"]).square().sum() / (inf["eval"] - f0).square().sum()),
        "inf_val_mse": float((inf["eval"] - yv).square().mean()),
        "inf_curve": infinite_width_curve(init, xt, yt, x, yv, lr, steps),
        "ntk_step_eigen_final": float(c * torch.linalg.eigvalsh(K).max()),  # >= 2: GD sits at the edge of stability
        "ntk_rel_change": float((K - K0).norm() / K0.norm()),  # O(1/sqrt N) if lazy
        "W_mid": net.neurons(MIDDLE)["W"].detach().cpu(), "W_mid_init": init.neurons(MIDDLE)["W"].detach().cpu(),
        "W_in": net.W_in.detach().cpu(), "W_in_init": init.W_in.detach().cpu(),
        **fg,
        "width": net.width, "depth": net.depth, "input_dim": d, "train_size": len(xt), "val_size": len(x),
        "seconds": res["seconds"], "steps": res["kta"].steps, "base_lr": lr / net.sgd_lr_scale, "kta": res["kta"].kta,
        "kta_init": res["kta"].kta[0], "kta_final": res["kta"].kta[-1],
        "kta_gain": [b - a for a, b in zip(res["kta"].kta[0], res["kta"].kta[-1])],
        "val_mse": float((net(x) - y).square().mean()), "train_mse": float((net(xt) - yt).square().mean()),
        "init_val_mse": float((init(x) - y).square().mean()), "var_y": float(y.var()),
        "w_in_plane_share": subspace_fraction(net.W_in, plane), "w_in_plane_share_init": subspace_fraction(init.W_in, plane),
        "middle_corr_init": neuron_target_correlation(init.hidden(x[:n_probe], MIDDLE), y[:n_probe]),
        "middle_corr": neuron_target_correlation(net.hidden(x[:n_probe], MIDDLE), y[:n_probe]),
        "val_curve": res["val_curve"], "train_curve": res["train_curve"],
    }


def cloud_nulls(fg: torch.Tensor, bg: torch.Tensor) -> dict:
    """FG vs BG particle clouds (equal sizes) under two distances, each read against its permutation null
    (the same pooled particles split at random): observed value, null mean and std, z-score, p-value."""
    sigma = median_bandwidth(bg)
    out = {}
    for name, stat in (("mmd", lambda u, v: mmd(u, v, sigma)), ("sw", lambda u, v: sliced_wasserstein(u, v, 128))):
        obs, null = stat(fg, bg), permutation_null(fg, bg, stat, N_PERM)
        out[f"fg_{name}_obs"] = obs
        out[f"fg_{name}_null_mean"], out[f"fg_{name}_null_std"] = float(null.mean()), float(null.std())
        out[f"fg_{name}_z"] = float((obs - null.mean()) / null.std().clamp_min(1e-12))
        out[f"fg_{name}_p"] = float((1 + (null >= obs).sum()) / (1 + len(null)))
    return out


@torch.no_grad()
def infinite_width_curve(init, xt, yt, x, yv, lr: float, steps: int) -> list[tuple[int, float]]:
    """(step, held-out MSE) of the analytic-NTK predictor from init's f_0 at CURVE_POINTS times up to `steps`."""
    spec, scale = KernelSpec.of(init), init.sgd_lr_scale
    K, K_eval = ntk(spec, xt, width=init.width) / scale, ntk(spec, x, xt, width=init.width) / scale
    f0t, f0 = init(xt).reshape(-1).double(), init(x).reshape(-1).double()
    times = np.unique(np.linspace(0, steps, CURVE_POINTS).round().astype(int))
    return [(int(t), float((kernel_gd(K, K_eval, f0t, f0, yt, lr, int(t))["eval"] - yv).square().mean())) for t in times]


@torch.no_grad()
def kernel_reference(net, data) -> dict[float, float]:
    """Held-out MSE of kernel ridge regression with net's last-hidden-layer kernel h h^T / N (finite N: rank <= N),
    for each ridge in RIDGES. With the initial net: the finite-width GP readout; with the trained mean-field net: a
    kernel that has learned features (the placebo of the rotation-invariant prediction)."""
    (xt, yt), (x, y) = data.splits["train"], data.splits["val"]
    h_train, h_val = layer_features(net, xt)[-1].double(), layer_features(net, x)[-1].double()
    K, K_val = h_train @ h_train.T, h_val @ h_train.T
    return {r: float((kernel_regression(K, K_val, yt, ridge=r) - y.double()).square().mean()) for r in RIDGES}


def dot_product_series(spec: KernelSpec, d: int, kernel=nngp, degree: int = 24) -> np.ndarray:
    """Power-series coefficients a_j of the kernel on inputs of norm sqrt(d) as a function of t = x.x'/d:
    k(t) = sum_j a_j t^j (Chebyshev fit on [-1, 1], converted to powers; the erf kernels are analytic there)."""
    t = np.cos(np.linspace(0, np.pi, 4 * degree + 1))
    x1 = torch.zeros(1, d, dtype=torch.float64)
    x1[0, 0] = math.sqrt(d)
    x2 = torch.zeros(len(t), d, dtype=torch.float64)
    x2[:, 0], x2[:, 1] = torch.from_numpy(t * math.sqrt(d)), torch.from_numpy(np.sqrt(1 - t ** 2) * math.sqrt(d))
    k = kernel(spec, x1, x2)[0].numpy()
    return np.polynomial.chebyshev.Chebyshev.fit(t, k, degree).convert(kind=np.polynomial.Polynomial).coef


def degree2_prediction(spec: KernelSpec, n: int, d: int, kernel=nngp, ridge: float = 0.0) -> dict:
    """Expected held-out MSE / var(y) of ridge regression with a rotation-invariant kernel on y = x1 x2 (one
    unit-variance degree-2 function), n samples in d dimensions, in the regime n ~ d^2 (deterministic equivalent).

    With k(t) = sum_j a_j t^j (t = x.x'/d): degrees 0 and 1 (1 + d functions, large eigenvalues) are learned and
    use up 1 + d samples, n_eff = n - d - 1; degree 2 has D2 = d(d+1)/2 orthonormal functions, each of eigenvalue
    mu2 = 2 a_2 / d^2 (from a_2 (x.x'/d)^2); degrees >= 3 have far more functions than samples and add
    lam_eff = k(1) - a_0 - a_1 - a_2 to the Gram matrix's diagonal: an effective ridge. The target is one of D2
    isotropic features: with ridge delta = lam_eff + ridge * k(1), kappa solves
        1 = delta / (n_eff kappa) + (D2 / n_eff) mu2 / (mu2 + kappa)
    and MSE / var(y) = (kappa / (mu2 + kappa))^2 / (1 - (D2 / n_eff) (mu2 / (mu2 + kappa))^2).
    Without the effective ridge this is 1 - n_eff / D2: what no rotation-invariant kernel can beat."""
    a = dot_product_series(spec, d, kernel)
    k1 = float(a.sum())  # k(t = 1): the diagonal
    n_eff, D2, mu2 = n - d - 1, d * (d + 1) // 2, 2 * a[2] / d ** 2
    delta = k1 - a[0] - a[1] - a[2] + ridge * k1
    gamma = D2 / n_eff
    rho = delta / (n_eff * mu2)  # in units of mu2: r = kappa / mu2 solves 1 = rho / r + gamma / (1 + r)
    g = lambda u: 1 - rho * math.exp(-u) - gamma / (1 + math.exp(u))  # noqa: E731  increasing in u = log r
    r = math.exp(brentq(g, -60, 60)) if g(-60) < 0 else 0.0  # no root: ridgeless with n_eff > D2 interpolates
    q = 1 / (1 + r)
    return {"mse_over_var": float((1 - q) ** 2 / (1 - gamma * q ** 2)), "floor": max(0.0, 1 - n_eff / D2),
            "a": a[:4].tolist(),
            "lam_eff": float(k1 - a[0] - a[1] - a[2]), "mu2": float(mu2), "n_eff": n_eff, "D2": D2}


@torch.no_grad()
def analytic_references(init, data) -> dict:
    """The infinite-width references of the initial net on this seed's data (all n training points): NNGP (the
    GP-limit readout) and NTK (the infinite-width lazy net trained to convergence) held-out MSE by ridge, and the
    degree-2 learning-curve prediction for each kernel."""
    (xt, yt), (x, y) = data.splits["train"], data.splits["val"]
    spec = KernelSpec.of(init)
    out = infinite_width_baseline(spec, xt, yt.reshape(-1), x, y.reshape(-1), RIDGES, width=init.width)
    out["prediction"] = {"nngp": degree2_prediction(spec, len(xt), xt.shape[1], nngp),
                         "ntk": degree2_prediction(spec, len(xt), xt.shape[1], lambda *a: ntk(*a, width=init.width))}
    out["prediction_by_ridge"] = {r: degree2_prediction(spec, len(xt), xt.shape[1], nngp, r)["mse_over_var"] for r in RIDGES}
    return out


def main(argv=None) -> int:
    cli = ReplicationCLI("deep", __doc__, threads=1)  # small matmuls: 1 thread under load
    cli.add_argument("--seeds", type=int, nargs="+", default=None,
                     help=f"seeds, each a new training set and initialisation (default {' '.join(map(str, SEEDS))}; "
                          "--seed S runs S alone)")
    cli.add_argument("--samples", type=existing_file, nargs="+", default=None,
                     help="re-report saved per-seed measurements (runs/deep/measure_seed*.pt) instead of training")
    args = cli.parse(argv)
    seeds = args.seeds if args.seeds is not None else ([args.seed] if args.seed is not None else
                                                     list(SEEDS[:2] if args.tiny else SEEDS))  # tiny: 2 keep it fast
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        cli.error(f"argument --seeds: distinct non-negative integers expected (got {seeds})")
    start = time.perf_counter()
    if args.samples:
        per_seed = [torch.load(p, weights_only=False) for p in args.samples]
    else:
        per_seed = []
        for seed in seeds:
            extra = [*(TINY if args.tiny else []), f"--seed_everything={seed}", f"--data.init_args.seed={seed}"]
            res = {regime: fit(regime, name, overrides, args.runs, extra)
                   for regime, (name, overrides) in regimes(args.tiny).items()}
            m = {regime: measure(r) for regime, r in res.items()}
            gp = kernel_reference(res["mean_field"]["init"], res["mean_field"]["data"])
            trained = kernel_reference(res["mean_field"]["cli"].model.net, res["mean_field"]["data"])
            analytic = analytic_references(res["lazy"]["init"], res["lazy"]["data"])
            print(f"[seed {seed}] analytic NNGP / NTK held-out MSE / var(y): {analytic['best']['nngp'] / analytic['var_y']:.3f}"
                  f" / {analytic['best']['ntk'] / analytic['var_y']:.3f} (predicted "
                  f"{analytic['prediction']['nngp']['mse_over_var']:.3f} / {analytic['prediction']['ntk']['mse_over_var']:.3f})",
                  flush=True)
            for regime in m:
                print(f"[seed {seed}, {regime}] KTA init {[round(v, 3) for v in m[regime]['kta_init']]} -> "
                      f"{[round(v, 3) for v in m[regime]['kta_final']]}, val MSE {m[regime]['val_mse']:.3g}, "
                      f"linearization deviation {m[regime]['lin_deviation']:.3g}, {m[regime]['seconds']:.0f} s", flush=True)
            per_seed.append({"seed": seed, "m": m, "gp_by_ridge": gp, "trained_kernel_by_ridge": trained,
                             "analytic": analytic})
            args.runs.mkdir(parents=True, exist_ok=True)
            torch.save(per_seed[-1], args.runs / f"measure_seed{seed}.pt")  # re-report later with --samples
            del res
    report = build_report(per_seed, start, args.tiny)
    first = per_seed[0]
    with staged_output(args.out) as out:
        report.figures = figures(first["m"], out, first["analytic"], first["seed"])
        report.write(out)
    return 0


def seed_checks(ps: dict) -> list[tuple[str, float | bool, float | bool, str, str]]:
    """(name, measured, limit, kind, source) of every check on one seed; build_report applies the rule."""
    m, an = ps["m"], ps["analytic"]
    mf, lz, wide = m["mean_field"], m["lazy"], m["lazy_wide"]
    var_y, N, d = mf["var_y"], mf["width"], mf["input_dim"]
    pred = an["prediction"]["nngp"]["mse_over_var"]
    src = "mean-field vs lazy"
    rows = [
        ("mean-field: KTA gain of the last hidden layer", mf["kta_gain"][-1], MF_GAIN, "min",
         f"{src}: O(1) kernel change towards y yᵀ"),
        ("mean-field: trained KTA rises with depth (A1 < A2 < A3)",
         all(a < b for a, b in zip(mf["kta_final"], mf["kta_final"][1:])), True, "true",
         f"{src}: compositional, deeper layers align more"),
        ("mean-field: W_in norm share in span(e1,e2) / isotropic 2/d", mf["w_in_plane_share"] / (2 / d), FEATURE_SHARE,
         "min", "first layer finds the relevant plane"),
        ("mean-field: held-out MSE / var(y)", mf["val_mse"] / var_y, MF_TEST, "max", f"{src}: feature learning generalises"),
        ("GP: analytic NNGP (best ridge) held-out MSE / var(y), against the degree-2 prediction", an["best"]["nngp"] / an["var_y"],
         (pred - GP_BAND, pred + GP_BAND), "band", "rotation-invariant kernel: learns x1 x2 only as n / (d(d+1)/2) allows"),
        ("placebo: kernel of the trained mean-field net (best ridge) held-out MSE / var(y)",
         min(ps["trained_kernel_by_ridge"].values()) / var_y, round(pred - GP_BAND, 4), "max",
         "the GP band must fail on a kernel that has learned the features"),
        ("lazy: largest abs KTA change over layers", max(abs(g) for g in lz["kta_gain"]), round(1 / math.sqrt(N), 4),
         "max", "NTK: kernels move O(1/sqrt N)"),
        (f"lazy: largest abs KTA change at N = {wide['width']} / at N = {N}",
         max(abs(g) for g in wide["kta_gain"]) / max(max(abs(g) for g in lz["kta_gain"]), 1e-12), WIDE_RATIO, "max",
         "lazy kernel freezes as N grows"),
        ("lazy: top NTK mode of the trained net, c lam_max", lz["ntk_step_eigen_final"], EDGE, "max",
         "GD stays below the edge of stability (else the kernel is driven, not lazy)"),
        ("lazy: held-out deviation from its linearization, abs(f - f_lin)^2 / abs(f_lin - f_0)^2", lz["lin_deviation"],
         LIN_DEV, "max", f"{src}: the lazy net is its NTK predictor (a net that learns nothing scores 1)"),
        (f"lazy: linearization deviation at N = {wide['width']} < at N = {N}", wide["lin_deviation"] < lz["lin_deviation"],
         True, "true", "NTK: the deviation shrinks with width"),
        (f"lazy: distance to the analytic (N = oo) NTK predictor at N = {wide['width']} < at N = {N}",
         wide["inf_deviation"] < lz["inf_deviation"], True, "true",
         "NTK: a lazy net approaches the infinite-width predictor as N grows"),
        ("placebo: the mean-field net's deviation from its own linearization", mf["lin_deviation"], LIN_DEV, "min",
         "the linearization test must fail on a feature learner"),
        ("mean-field held-out MSE < lazy held-out MSE", mf["val_mse"] < lz["val_mse"], True, "true",
         f"{src}: mean-field test error below lazy's"),
        ("mean-field held-out MSE < analytic NTK (trained to convergence, best ridge)", mf["val_mse"] < an["best"]["ntk"],
         True, "true", f"{src}: below the infinite-width lazy net at any training time"),
    ]
    if "fg_corr" in mf:
        rows += [
            (f"mean-field middle-layer FG network MSE: z against {N_RESAMPLE} resampled-BG networks", mf["fg_null_z"],
             FG_Z, "max", f"{src}: foreground reacts to the frozen layers around it"),
            ("mean-field middle layer: mean abs corr(activation, y), FG / BG",
             float(mf["fg_corr"].abs().mean() / mf["middle_corr"].abs().mean()), (1 - FG_CORR, 1 + FG_CORR), "band",
             "FG neurons land in the BG law"),
            ("middle-layer FG vs BG cloud: MMD permutation p-value", mf["fg_mmd_p"], FG_P, "min",
             "FG neurons land in the BG law (null: the pooled clouds split at random)"),
        ]
    return rows


def build_report(per_seed: list[dict], start: float, tiny: bool) -> Report:
    seeds = [ps["seed"] for ps in per_seed]
    rows = [seed_checks(ps) for ps in per_seed]
    report = Report("Deep MLP (depth 3, erf): mean-field feature learning vs lazy (GP-like) kernels on y = x1 x2")
    table = [f"| check | rule | {' | '.join(f'seed {s}' for s in seeds)} | mean ± spread |",
             "|---|---|" + "---|" * len(seeds) + "---|"]
    for j, (name, _, limit, kind, source) in enumerate(rows[0]):
        vals = [r[j][1] for r in rows]
        if kind == "true":
            measured, crit = all(vals), True
            check = Check(f"{name} (every seed)", measured, True, kind="true", source=source)
            spread = f"{sum(map(bool, vals))}/{len(vals)}"
        elif kind == "band":  # lo <= value <= hi on every seed: the seed farthest from the band's centre
            lo, hi = limit
            centre = (lo + hi) / 2
            worst = max(vals, key=lambda v: abs(v - centre))
            check = Check(f"{name} (seed farthest from {centre:.3g})", float(worst), round(centre, 4), round((hi - lo) / 2, 4),
                          kind="abs", source=source)
            spread = f"{np.mean(vals):.3g} ± {np.std(vals, ddof=1):.2g}" if len(vals) > 1 else f"{vals[0]:.3g}"
        else:
            worst = min(vals) if kind == "min" else max(vals)
            check = Check(f"{name} ({'smallest' if kind == 'min' else 'largest'} over seeds)", float(worst), limit,
                          kind=kind, source=source)
            spread = f"{np.mean(vals):.3g} ± {np.std(vals, ddof=1):.2g}" if len(vals) > 1 else f"{vals[0]:.3g}"
        report.add(check)
        cells = " | ".join(str(v) if isinstance(v, bool) else f"{v:.4g}" for v in vals)
        table.append(f"| {name} | {check.criterion} | {cells} | {spread} |")
    report.sections.append("## Every check per seed\n\nRule: a check passes when it holds on every seed (the value "
                           "in the PASS/FAIL table is the worst seed).\n\n" + "\n".join(table))
    first, m = per_seed[0], per_seed[0]["m"]
    mf, lz, wide = m["mean_field"], m["lazy"], m["lazy_wide"]
    var_y, N, d = mf["var_y"], mf["width"], mf["input_dim"]
    meas = [f"| quantity (seed {seeds[0]}) | mean-field | lazy (NTK) | lazy, N = {wide['width']} |", "|---|---|---|---|"]
    def row(name, f):  # noqa: E306
        meas.append(f"| {name} | {f(mf)} | {f(lz)} | {f(wide)} |")
    for l in range(len(mf["kta_init"])):
        row(f"KTA hidden layer {l + 1}: init → trained", lambda r: f"{r['kta_init'][l]:.4f} → {r['kta_final'][l]:.4f}")
    row(f"W_in norm share in span(e1, e2): init → trained (isotropic 2/d = {2 / d:.3f})",
        lambda r: f"{r['w_in_plane_share_init']:.3f} → {r['w_in_plane_share']:.3f}")
    row("middle layer: mean abs corr(neuron, y): init → trained",
        lambda r: f"{r['middle_corr_init'].abs().mean():.3f} → {r['middle_corr'].abs().mean():.3f}")
    row(f"held-out MSE (var(y) = {var_y:.3f})", lambda r: f"{r['val_mse']:.4f}")
    row("held-out MSE of its linearization (empirical NTK at init, same GD steps)", lambda r: f"{r['lin_val_mse']:.4f}")
    row("deviation from the linearization abs(f - f_lin)^2 / abs(f_lin - f_0)^2", lambda r: f"{r['lin_deviation']:.4f}")
    row("held-out MSE of the analytic NTK predictor (N = oo, same f_0, same GD steps)", lambda r: f"{r['inf_val_mse']:.4f}")
    row("distance to it abs(f - f_oo)^2 / abs(f_oo - f_0)^2", lambda r: f"{r['inf_deviation']:.4f}")
    row("top NTK mode c lam_max (c = 2 lr / n): init → trained (GD unstable at 2)",
        lambda r: f"{r['lin_max_step_eigen']:.2f} → {r['ntk_step_eigen_final']:.2f}")
    row("NTK relative change abs(K_T - K_0) / abs(K_0)", lambda r: f"{r['ntk_rel_change']:.3f}")
    row("held-out MSE at init", lambda r: f"{r['init_val_mse']:.4f}")
    row("train MSE", lambda r: f"{r['train_mse']:.4g}")
    row("wall time of the fit (s; mean-field includes the foreground)", lambda r: f"{r['seconds']:.0f}")
    report.sections.append("## Measurements\n\n" + "\n".join(meas))
    ref = ["| seed | analytic NNGP | analytic NTK (trained to convergence) | predicted NNGP / NTK | finite-N GP readout "
           f"(empirical init kernel, rank <= {N}) | trained mean-field kernel (placebo) | lazy, N = {N} | "
           f"mean-field |", "|---|---|---|---|---|---|---|---|"]
    for ps in per_seed:
        an, mm = ps["analytic"], ps["m"]
        v = mm["mean_field"]["var_y"]
        ref.append(f"| {ps['seed']} | {an['best']['nngp'] / an['var_y']:.3f} | {an['best']['ntk'] / an['var_y']:.3f} | "
                   f"{an['prediction']['nngp']['mse_over_var']:.3f} / {an['prediction']['ntk']['mse_over_var']:.3f} | "
                   f"{min(ps['gp_by_ridge'].values()) / v:.3f} | {min(ps['trained_kernel_by_ridge'].values()) / v:.3f} | "
                   f"{mm['lazy']['val_mse'] / v:.3f} | {mm['mean_field']['val_mse'] / v:.3f} |")
    an, pr = first["analytic"], first["analytic"]["prediction"]["nngp"]
    by_ridge = ", ".join(f"{r:g}: {an['nngp'][r] / an['var_y']:.3f} / {an['prediction_by_ridge'][r]:.3f}" for r in RIDGES)
    report.sections.append(
        "## GP and lazy references\n\nHeld-out MSE / var(y), best ridge (ridges "
        + ", ".join(f"{r:g}" for r in RIDGES) + " relative to mean(diag K)), on all "
        f"{mf['train_size']} training points. Analytic kernels: the infinite-width NNGP (the GP-limit readout) and NTK "
        "(the infinite-width lazy net trained to convergence) of the same depth, activation and init stds "
        "(mfnn.theory.kernels). Prediction: the degree-2 learning curve of a rotation-invariant kernel "
        f"(d = {d}: D2 = d(d+1)/2 = {pr['D2']} degree-2 functions against n_eff = n - d - 1 = {pr['n_eff']} samples; "
        f"no rotation-invariant kernel beats 1 - n_eff/D2 = {pr['floor']:.3f}; the NNGP's degree-2 eigenvalue "
        f"mu2 = {pr['mu2']:.3g} against its effective ridge from degrees >= 3, {pr['lam_eff']:.3g}, sets how close it "
        "gets).\n\n" + "\n".join(ref)
        + f"\n\nAnalytic NNGP by ridge (seed {seeds[0]}), measured / predicted: {by_ridge}.")
    if "fg_corr" in mf:
        fg_rows = [f"| seed | FG network MSE | BG MSE | resampled BG MSE ({N_RESAMPLE} draws: mean ± std, max) | z | "
                   "FG/resampled | abs corr FG / BG | MMD (null mean ± std) | MMD z, p | SW (null mean ± std) | SW z, p |",
                   "|---|---|---|---|---|---|---|---|---|---|---|"]
        for ps in per_seed:
            f = ps["m"]["mean_field"]
            fg_rows.append(
                f"| {ps['seed']} | {f['fg_fg_loss']:.4f} | {f['fg_bg_loss']:.4f} | {f['fg_null_mean']:.4f} ± "
                f"{f['fg_null_std']:.4f}, {f['fg_null_max']:.4f} | {f['fg_null_z']:.1f} | "
                f"{f['fg_fg_loss'] / f['fg_null_mean']:.2f} | "
                f"{float(f['fg_corr'].abs().mean() / f['middle_corr'].abs().mean()):.3f} | "
                f"{f['fg_mmd_obs']:.4f} ({f['fg_mmd_null_mean']:.4f} ± {f['fg_mmd_null_std']:.4f}) | "
                f"{f['fg_mmd_z']:.1f}, {f['fg_mmd_p']:.3f} | {f['fg_sw_obs']:.4f} ({f['fg_sw_null_mean']:.4f} ± "
                f"{f['fg_sw_null_std']:.4f}) | {f['fg_sw_z']:.1f}, {f['fg_sw_p']:.3f} |")
        report.sections.append(
            f"## Middle-layer foreground, per seed\n\n{mf['fg_n_neurons']} fresh middle-layer neurons, each trained alone "
            "against the recorded background trajectory (layers below give its input, layers above the backpropagated "
            "signal), then assembled in place of the middle layer (mfnn.callbacks.ForegroundCheck). Cloud distances "
            f"on particles (W row, b, outgoing column) against a permutation null ({N_PERM} random splits of the pooled "
            "FG and BG particles): MMD with the BG's median bandwidth, sliced Wasserstein (128 directions).\n\n"
            + "\n".join(fg_rows))
    report.sections.append(
        f"Setup: depth {mf['depth']}, width N = {N}, d = {d}, n = {mf['train_size']} train / {mf['val_size']} held-out "
        f"points, {mf['steps'][-1]} full-batch GD steps per regime at base lr {mf['base_lr']:g} (mean-field) and "
        f"{lz['base_lr']:g} (lazy), seeds {', '.join(map(str, seeds))} (each a new training set and initialisation)."
        "\n\nFinite-N GP readout (seed " + str(seeds[0]) + "): kernel ridge regression with the initial "
        f"last-hidden-layer kernel h hᵀ/N of the N = {N} net, held-out MSE by relative ridge "
        + ", ".join(f"{r:g}: {v:.3f}" for r, v in first["gp_by_ridge"].items()) + ".\n\nLinearization: each "
        "trained net against its first-order Taylor expansion around its initial weights, trained by the same "
        "full-batch GD in closed form (empirical NTK, mfnn.analysis.linearized); the analytic predictor replaces the "
        "empirical NTK by the infinite-width one (same f_0, same GD).")
    total = time.perf_counter() - start
    report.sections.append(f"Total wall time {total:.0f} s in this process ({'tiny' if tiny else 'full'} run, "
                           f"torch threads {torch.get_num_threads()}); fits per seed: "
                           + "; ".join(f"seed {ps['seed']} " + ", ".join(f"{r} {ps['m'][r]['seconds']:.0f} s" for r in ps['m'])
                                       for ps in per_seed) + ".")
    skip = ("middle_corr", "fg_corr", "fg_W", "W_mid", "W_in")
    report.metrics = {"seeds": seeds, "per_seed": [], "seconds": total, "tiny": tiny}
    for ps in per_seed:
        entry = {r: {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in mm.items() if not k.startswith(skip)}
                 for r, mm in ps["m"].items()}
        for r, mm in ps["m"].items():
            entry[r]["middle_abs_corr_init"] = float(mm["middle_corr_init"].abs().mean())
            entry[r]["middle_abs_corr"] = float(mm["middle_corr"].abs().mean())
            if "fg_corr" in mm:
                entry[r]["fg_abs_corr"] = float(mm["fg_corr"].abs().mean())
        an = ps["analytic"]
        entry.update(seed=ps["seed"], finite_n_gp_mse=min(ps["gp_by_ridge"].values()),
                     finite_n_gp_by_ridge={str(k): v for k, v in ps["gp_by_ridge"].items()},
                     trained_kernel_by_ridge={str(k): v for k, v in ps["trained_kernel_by_ridge"].items()},
                     analytic={"nngp_by_ridge": {str(k): v for k, v in an["nngp"].items()},
                               "ntk_by_ridge": {str(k): v for k, v in an["ntk"].items()}, "best": an["best"],
                               "var_y": an["var_y"], "prediction": an["prediction"],
                               "nngp_prediction_by_ridge": {str(k): v for k, v in an["prediction_by_ridge"].items()}})
        report.metrics["per_seed"].append(entry)
    return report


if __name__ == "__main__":
    sys.exit(main())
