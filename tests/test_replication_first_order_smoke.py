"""The whole first-order replication path at tiny size (d = 8, N = 16), two seeds: batched Langevin sweeps,
posterior averages, two-segment fits, droplet analysis, theory, figures, report. The physics is not expected at this size."""
import json

import numpy as np

from tests.helpers import load_script, run_tiny

first_order = load_script("replications/first_order/run.py")


def test_first_order_tiny(tmp_path, capsys):
    out = run_tiny(first_order, tmp_path)
    for name in ("report.md", "metrics.json", "sweep.png", "clouds.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "metrics.json").read_text())
    m = payload["metrics"]
    assert len(payload["checks"]) == 14
    assert m["setting"]["noise_vars"] == [0.1, 0.15, 0.2, 0.25, 0.3] and m["setting"]["samples_per_chain"] == 4
    assert m["setting"]["seeds"] == [0, 1] and len(m["per_seed"]) == 2
    assert len(m["per_point"]) == 5 and np.shape(m["per_point"][0]["test_error_seed_chain"]) == (2, 2)
    assert all(np.all(np.asarray(p["test_error_seed_chain"]) > 0) for p in m["per_point"])
    assert len(m["cubic_break"]["per_seed"]) == 2 and m["cubic_break"]["ci95"][0] <= m["cubic_break"]["ci95"][1]
    assert len(m["theory"]["per_point"]) == 5
    assert "| check | measured |" in capsys.readouterr().out
