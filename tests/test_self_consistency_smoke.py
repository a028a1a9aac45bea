"""The self-consistency replication at tiny size (N = 32, 40 steps, 64 foreground neurons): seed
ensembles, converged foregrounds, nulls, placebos, the characteristic-flow view, figures and report.
The numbers are not expected to pass at this size; every output and every per-seed entry must exist."""
import json

from tests.helpers import load_script, run_tiny

self_consistency = load_script("replications/self_consistency/run.py")


def test_self_consistency_replication_tiny(tmp_path):
    out = run_tiny(self_consistency, tmp_path)
    for name in ("report.md", "metrics.json", "clover_leaf.png", "clouds_fg_bg.png", "null_scores.png"):
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
    assert all("[worst of 2 seeds]" in c["name"] for c in payload["checks"][:-1])
