"""Deep MLPs: compositional feature learning in mean-field vs lazy (NTK) output scaling.

    python replications/deep/run.py [--out DIR] [--runs DIR] [--tiny] [--seed S]

Task: continuous XOR of features, y = x1 x2 with x ~ N(0, I_64), n = 1024 training points, trained full batch.
Network: depth-3 erf MLP (DeepMLP), f = s_N a . h_3(x); mean_field s_N = 1/N with lr x N (muP for SGD), lazy
s_N = 1/sqrt(N) (NTK), same base lr, same steps, same initial weights (configs/deep/{mean_field,lazy}.yaml);
the lazy run is repeated at width 2N (its kernel should move less still).

Measured: the centred kernel-target alignment A(K_l, y y^T) of each hidden layer's kernel K_l = h_l h_l^T / N on
2048 held-out points, at init and after training (mfnn.analysis.kernels.KernelAlignment); held-out MSE of both;
kernel regression with the initial last-layer kernel (the GP-limit readout) as the GP reference; neuron clouds of
the middle layer (rows of W_hidden[0]) and of the input layer (rows of W_in in the (x1, x2) plane).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
import yaml

from mfnn.analysis.kernels import kernel_regression, layer_features, neuron_target_correlation, subspace_fraction
from mfnn.callbacks import ForegroundCheck, KernelAlignment, NeuronCloud
from mfnn.cli import MFNNCLI, wandb_offline_unless_keyed
from mfnn.experiment import CONFIGS, ReplicationCLI, fit as fit_config, staged_output
from mfnn.plotting.deep import figures
from mfnn.report import Check, Report

DEEP = CONFIGS / "deep"
MIDDLE = 1  # the middle hidden layer of the depth-3 net (0-based)
TINY_WIDTH = 16
TINY = ["--trainer.max_steps=20", f"--model.init_args.width={TINY_WIDTH}", "--model.init_args.input_dim=8",
        "--data.init_args.input_dim=8", "--data.init_args.train_size=64", "--data.init_args.val_size=128",
        "--data.init_args.steps_per_epoch=10"]
# Tolerances (physics, fixed before the full run):
MF_GAIN = 0.1  # mean-field: the last hidden kernel moves O(1) towards y y^T (init KTA ~ 0.003)
FEATURE_SHARE = 4.0  # mean-field: W_in rows concentrate in span(e1, e2), >= 4x the isotropic share 2/d
GP_FLOOR = 0.8  # GP reference (best ridge): a rotation-invariant kernel with n < d(d+1)/2 misses the degree-2 target
MF_TEST = 0.5  # mean-field held-out MSE <= MF_TEST x var(y)
GP_BAND = 0.25  # lazy held-out MSE within GP_BAND x var(y) of the GP reference
FG_LOSS = 2.0  # middle-layer foreground network MSE <= FG_LOSS x MSE of as many neurons resampled from the BG
FG_CORR = 0.25  # foreground vs background middle-layer neurons: mean |corr(activation, y)| ratio within 1 +- FG_CORR
WIDE_RATIO = 0.85  # lazy: KTA change at 2N / at N; NTK kernels move O(1/sqrt N) (ratio 0.71) or less


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
                  fg_W=f.W.cpu())
    return {
        **fg,
        "width": net.width, "depth": net.depth, "input_dim": d, "train_size": len(xt), "val_size": len(x),
        "seconds": res["seconds"], "steps": res["kta"].steps, "kta": res["kta"].kta,
        "kta_init": res["kta"].kta[0], "kta_final": res["kta"].kta[-1],
        "kta_gain": [b - a for a, b in zip(res["kta"].kta[0], res["kta"].kta[-1])],
        "val_mse": float((net(x) - y).square().mean()), "train_mse": float((net(xt) - yt).square().mean()),
        "init_val_mse": float((init(x) - y).square().mean()), "var_y": float(y.var()),
        "w_in_plane_share": subspace_fraction(net.W_in, plane), "w_in_plane_share_init": subspace_fraction(init.W_in, plane),
        "middle_corr_init": neuron_target_correlation(init.hidden(x[:n_probe], MIDDLE), y[:n_probe]),
        "middle_corr": neuron_target_correlation(net.hidden(x[:n_probe], MIDDLE), y[:n_probe]),
        "val_curve": res["val_curve"], "train_curve": res["train_curve"],
    }


RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # relative to mean(diag K)


@torch.no_grad()
def gp_reference(init, data) -> dict[float, float]:
    """Held-out MSE of kernel ridge regression with the initial last-hidden-layer kernel (the GP-limit readout),
    for each ridge in RIDGES. Its minimum over ridges is the best any such GP-like predictor does (an oracle)."""
    (xt, yt), (x, y) = data.splits["train"], data.splits["val"]
    h_train, h_val = layer_features(init, xt)[-1].double(), layer_features(init, x)[-1].double()
    K, K_val = h_train @ h_train.T, h_val @ h_train.T
    return {r: float((kernel_regression(K, K_val, yt, ridge=r) - y.double()).square().mean()) for r in RIDGES}


def main(argv=None) -> int:
    cli = ReplicationCLI("deep", __doc__, threads=1)  # small matmuls: 1 thread under load
    args = cli.parse(argv)
    start = time.perf_counter()
    extra = TINY if args.tiny else []
    if args.seed is not None:
        extra = [*extra, f"--seed_everything={args.seed}", f"--data.init_args.seed={args.seed}"]
    res = {regime: fit(regime, name, overrides, args.runs, extra)
           for regime, (name, overrides) in regimes(args.tiny).items()}
    m = {regime: measure(r) for regime, r in res.items()}
    gp_by_ridge = gp_reference(res["mean_field"]["init"], res["mean_field"]["data"])
    for regime in m:
        print(f"[{regime}] KTA init {[round(v, 3) for v in m[regime]['kta_init']]} -> "
              f"{[round(v, 3) for v in m[regime]['kta_final']]}, val MSE {m[regime]['val_mse']:.3g}, "
              f"train MSE {m[regime]['train_mse']:.3g}, {m[regime]['seconds']:.0f} s", flush=True)
    report = build_report(m, gp_by_ridge, start, args.tiny)
    gp_mse = min(gp_by_ridge.values())
    with staged_output(args.out) as out:
        report.figures = figures(m, res, out, gp_mse, MIDDLE)
        report.write(out)
    return 0


def build_report(m: dict, gp_by_ridge: dict, start: float, tiny: bool) -> Report:
    gp_mse = min(gp_by_ridge.values())
    mf, lz, wide = m["mean_field"], m["lazy"], m["lazy_wide"]
    var_y, N, d = mf["var_y"], mf["width"], mf["input_dim"]
    lazy_bound = 1 / math.sqrt(N)
    report = Report("Deep MLP (depth 3, erf): mean-field feature learning vs lazy (GP-like) kernels on y = x1 x2")
    src = "mean-field vs lazy"
    report.add(
        Check("mean-field: KTA gain of the last hidden layer", mf["kta_gain"][-1], MF_GAIN, kind="min",
              source=f"{src}: O(1) kernel change towards y yᵀ"),
        Check("mean-field: trained KTA rises with depth (A1 < A2 < A3)",
              all(a < b for a, b in zip(mf["kta_final"], mf["kta_final"][1:])), True, kind="true",
              source=f"{src}: compositional, deeper layers align more"),
        Check("lazy: largest abs KTA change over layers", max(abs(g) for g in lz["kta_gain"]), round(lazy_bound, 4),
              kind="max", source="NTK: kernels move O(1/sqrt N)"),
        Check(f"lazy: largest abs KTA change at N = {wide['width']} / at N = {N}",
              max(abs(g) for g in wide["kta_gain"]) / max(max(abs(g) for g in lz["kta_gain"]), 1e-12), WIDE_RATIO,
              kind="max", source="lazy kernel freezes as N grows"),
        Check("mean-field: W_in norm share in span(e1,e2) / isotropic 2/d", mf["w_in_plane_share"] / (2 / d),
              FEATURE_SHARE, kind="min", source="first layer finds the relevant plane"),
        Check("GP reference (best ridge): held-out MSE / var(y)", gp_mse / var_y, GP_FLOOR, kind="min",
              source="kernel, n < d(d+1)/2: degree 2 not learnable"),
        Check("lazy: abs(held-out MSE − GP reference) / var(y)", abs(lz["val_mse"] - gp_mse) / var_y, GP_BAND, kind="max",
              source=f"{src}: lazy is GP-like"),
        Check("mean-field: held-out MSE / var(y)", mf["val_mse"] / var_y, MF_TEST, kind="max",
              source=f"{src}: feature learning generalises"),
        Check("mean-field held-out MSE < lazy held-out MSE", mf["val_mse"] < lz["val_mse"], True, kind="true",
              source=f"{src}: mean-field test error below lazy's"),
    )
    has_fg = "fg_corr" in mf
    if has_fg:
        fg_ratio = float(mf["fg_corr"].abs().mean() / mf["middle_corr"].abs().mean())
        report.add(
            Check("mean-field middle-layer FG network MSE / MSE of resampled BG neurons",
                  mf["fg_fg_loss"] / mf["fg_resampled_loss"], FG_LOSS, kind="max",
                  source=f"{src}: foreground reacts to the frozen layers around it"),
            Check("mean-field middle layer: mean abs corr(activation, y), FG / BG", fg_ratio, 1.0, FG_CORR,
                  source="FG neurons land in the BG law"),
        )
    total = time.perf_counter() - start
    rows = [f"| quantity | mean-field | lazy (NTK) | lazy, N = {wide['width']} |", "|---|---|---|---|"]
    def row(name, f):  # noqa: E306
        rows.append(f"| {name} | {f(mf)} | {f(lz)} | {f(wide)} |")
    for l in range(len(mf["kta_init"])):
        row(f"KTA hidden layer {l + 1}: init → trained", lambda r: f"{r['kta_init'][l]:.4f} → {r['kta_final'][l]:.4f}")
    row("W_in norm share in span(e1, e2): init → trained (isotropic 2/d = "
        f"{2 / d:.3f})", lambda r: f"{r['w_in_plane_share_init']:.3f} → {r['w_in_plane_share']:.3f}")
    row("middle layer: mean abs corr(neuron, y): init → trained",
        lambda r: f"{r['middle_corr_init'].abs().mean():.3f} → {r['middle_corr'].abs().mean():.3f}")
    row(f"held-out MSE (var(y) = {var_y:.3f}; GP reference {gp_mse:.3f})", lambda r: f"{r['val_mse']:.4f}")
    if has_fg:
        rows.append(f"| middle-layer foreground ({mf['fg_n_neurons']} neurons, trained alone against the recorded "
                    f"background): mean abs corr(activation, y) | {mf['fg_corr'].abs().mean():.3f} | – | – |")
        rows.append(f"| middle-layer foreground network held-out MSE (background {mf['fg_bg_loss']:.4f}, resampled "
                    f"background neurons {mf['fg_resampled_loss']:.4f}) | {mf['fg_fg_loss']:.4f} | – | – |")
        rows.append(f"| middle-layer MMD(FG, BG) on particles (W row, b, outgoing column) | {mf['fg_mmd']:.4f} | – | – |")
    row("held-out MSE at init", lambda r: f"{r['init_val_mse']:.4f}")
    row("train MSE", lambda r: f"{r['train_mse']:.4g}")
    row("wall time of the fit (s; mean-field includes the foreground)", lambda r: f"{r['seconds']:.0f}")
    report.sections.append("## Measurements\n\n" + "\n".join(rows))
    report.sections.append(
        f"Setup: depth {mf['depth']}, width N = {N}, d = {d}, n = {mf['train_size']} train / {mf['val_size']} held-out "
        f"points, {mf['steps'][-1]} full-batch GD steps per regime. Lazy tolerance 1/sqrt(N) = {lazy_bound:.4f}.\n\n"
        "GP reference: kernel ridge regression with the initial last-hidden-layer kernel, held-out MSE by relative "
        "ridge " + ", ".join(f"{r:g}: {v:.3f}" for r, v in gp_by_ridge.items()) + "; the checks use the best "
        "(an oracle choice on the held-out set, so a lower bound for GP-like predictors).\n\n"
        "Foreground (mfnn.callbacks.ForegroundCheck, mean-field run only): fresh neurons of the middle layer, each "
        "trained alone against the recorded background trajectory (layers below give its input, layers above the "
        "backpropagated signal), then assembled into a network in place of the middle layer.")
    report.sections.append(f"Total wall time {total:.0f} s ({'tiny' if tiny else 'full'} run, "
                           f"torch threads {torch.get_num_threads()}).")
    report.metrics = {r: {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in mm.items()
                          if not k.startswith(("middle_corr", "fg_corr", "fg_W"))} for r, mm in m.items()}
    for r, mm in m.items():
        report.metrics[r]["middle_abs_corr_init"] = float(mm["middle_corr_init"].abs().mean())
        report.metrics[r]["middle_abs_corr"] = float(mm["middle_corr"].abs().mean())
        if "fg_corr" in mm:
            report.metrics[r]["fg_abs_corr"] = float(mm["fg_corr"].abs().mean())
    report.metrics.update(gp_reference_mse=gp_mse, gp_reference_by_ridge={str(k): v for k, v in gp_by_ridge.items()},
                          lazy_bound=lazy_bound, seconds=total, tiny=tiny)
    return report


if __name__ == "__main__":
    sys.exit(main())
