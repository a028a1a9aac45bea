"""The whole first-order replication path at tiny size (three Table 1 scales, d = 15, 19, 25), two seeds: batched
Langevin sweeps, posterior averages and recorded overlaps, per-scale breaks, their extrapolation and crossings
through mfnn.phases, the toolkit's first-order verdict, Eq. 13, droplet analysis, figures, report. The physics is
not expected at this size."""
import json

import numpy as np

from tests.helpers import load_script, run_tiny

first_order = load_script("replications/first_order/run.py")


def test_first_order_tiny(tmp_path, capsys):
    out = run_tiny(first_order, tmp_path)
    for name in ("report.md", "metrics.json", "scales.png", "sweep.png", "clouds.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "metrics.json").read_text())
    m = payload["metrics"]
    assert len(payload["checks"]) == 17
    assert m["setting"]["noise_vars"] == [0.1, 0.15, 0.2, 0.25, 0.3] and m["setting"]["samples_per_chain"] == 4
    assert [s["d"] for s in m["setting"]["scales"]] == [15, 19, 25] and m["setting"]["seeds"] == [0, 1]
    for row in m["scales"]:
        assert np.shape(row["c3_seed_chain"]) == (2, 2, 5) and len(row["cubic_break"]["per_seed"]) == 2
        assert abs(row["u_sigma4"] / m["setting"]["paper_invariants"]["u_sigma4"] - 1) < 0.1  # Table 1 keeps u
    assert np.isfinite(m["toolkit_sigma2_c"]["sigma2_c"]) and len(m["toolkit_sigma2_c_per_seed"]) == 2
    assert len(m["crossings"]) == 2 and m["first_order"]["verdict"] in ("first-order", "continuous", "inconclusive")
    assert abs(m["eq13"]["sigma2_c"] - 0.1787) < 1e-3 and np.isnan(m["eq13_eps0"]["sigma2_c"])
    assert "| check | measured |" in capsys.readouterr().out
