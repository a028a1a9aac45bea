"""The whole first-order replication path at tiny size (d = 8, N = 16): batched Langevin sweep, posterior
averages, droplet analysis, theory, figures, report. The physics is not expected at this size."""
import json

from tests.helpers import load_script, run_tiny

first_order = load_script("replications/first_order/run.py")


def test_first_order_tiny(tmp_path, capsys):
    out = run_tiny(first_order, tmp_path)
    for name in ("report.md", "metrics.json", "sweep.png", "clouds.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "metrics.json").read_text())
    m = payload["metrics"]
    assert len(payload["checks"]) == 6
    assert m["setting"]["noise_vars"] == [0.15, 0.25] and m["setting"]["samples_per_chain"] == 4
    assert len(m["per_point"]) == 2 and len(m["per_point"][0]["test_error_chains"]) == 2
    assert all(p["test_error_chains"][0] > 0 for p in m["per_point"])
    assert len(m["theory"]["per_point"]) == 2
    assert "| check | measured |" in capsys.readouterr().out
