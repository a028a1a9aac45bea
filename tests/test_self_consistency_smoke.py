"""The self-consistency replication at tiny size (N = 32, 40 steps, 64 foreground neurons): seed
ensembles, converged foregrounds, nulls, placebos, the characteristic-flow view, figures and report.
The numbers are not expected to pass at this size; every output and every per-seed entry must exist."""
import json

from tests.helpers import load_script, run_tiny

self_consistency = load_script("replications/self_consistency/run.py")


def test_self_consistency_replication_tiny(tmp_path):
    out = run_tiny(self_consistency, tmp_path)
    for name in ("report.md", "metrics.json", "clover_leaf.png", "clouds_fg_bg.png", "null_scores.png",
                 "kernel_reference.png", "width_sweep.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "metrics.json").read_text())
    m = payload["metrics"]
    for group in ("mf_wd", "mf_wd0", "lazy"):
        assert len(m[group]["null"]["mmd"]) == 10  # 5 backgrounds: every seed-to-seed pair
        assert len(m[group]["seeds"]) == 2  # tiny: 2 foreground seeds
        for s in m[group]["seeds"]:
            for o in s["objectives"].values():
                assert 0 <= o["fraction_converged"] <= 1 and o["iterations"] >= 1
    assert abs(m["mf_wd"]["wd"] - 0.01) < 1e-6 and m["mf_wd0"]["wd"] == 0.0  # stored as float32
    assert set(m["mf_wd0"]["seeds"][0]["objectives"]) == {"own_term", "test_particle"}
    names = [c["name"] for c in payload["checks"]]
    flow = names.index("characteristic flow (trajectory replay): z of MMD(FG, BG)")
    assert all("[worst of 2 seeds]" in n for i, n in enumerate(names) if i != flow)
    # the analytic-NTK reference: the init null over the 5 null backgrounds, the end distance per seed
    for group in ("lazy", "mean_field"):
        k = m["kernel"][group]
        assert len(k["null"]) == 5 and len(k["seeds"]) == 2
        assert all(len(s["function_vs_other_seeds"]) == 1 and s["kernel_end"] > 0 for s in k["seeds"])
    # the width sweep beside the headline's N = 32, each width with its own null
    assert sorted(m["width_sweep"]) == ["16", "64"] and m["parts"] == ["headline", "width"]
    for w in m["width_sweep"].values():
        assert len(w["mf_wd"]["null"]["mmd"]) == 10 and len(w["mf_wd0"]["seeds"]) == 2
    assert sum(n.startswith("width 64,") for n in names) == 5


def test_self_consistency_width_part_alone(tmp_path):
    out = tmp_path / "out"
    assert self_consistency.main(["--tiny", "--parts", "width", "--out", str(out), "--runs", str(tmp_path / "runs")]) == 0
    payload = json.loads((out / "metrics.json").read_text())
    assert all(c["name"].startswith("width 64,") for c in payload["checks"]) and len(payload["checks"]) == 5
    assert (out / "width_sweep.png").stat().st_size > 0 and not (out / "clover_leaf.png").exists()
