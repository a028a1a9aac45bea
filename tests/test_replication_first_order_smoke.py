"""The whole first-order replication path at tiny size (d = 8, N = 16): batched Langevin sweep, posterior
averages, droplet analysis, theory, figures, report. The physics is not expected at this size."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("first_order_run", ROOT / "replications" / "first_order" / "run.py")
first_order = importlib.util.module_from_spec(spec)
spec.loader.exec_module(first_order)


def test_first_order_tiny(tmp_path, capsys):
    assert first_order.main(["--tiny", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]) == 0
    out = tmp_path / "out"
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
