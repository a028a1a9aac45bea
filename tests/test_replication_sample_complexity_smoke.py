"""The whole sample-complexity path at tiny size (network d = 4, 8; GP d = 3, 4, 6; three seeds): batched
collapsed-readout Langevin, nested GP solves, crossings, bootstrap exponents, collapse, figures, report, and
the re-analysis of saved curves. The physics is not expected at this size."""
import json

import numpy as np

from tests.helpers import load_script, run_tiny

sample_complexity = load_script("replications/first_order/sample_complexity.py")


def test_sample_complexity_tiny(tmp_path, capsys):
    out = run_tiny(sample_complexity, tmp_path)
    for name in ("sample_complexity.md", "sample_complexity.json", "sample_complexity.png", "sample_complexity_nstar.png"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "report.md").exists() and not (out / "metrics.json").exists()  # first_order's own report stays
    payload = json.loads((out / "sample_complexity.json").read_text())
    m = payload["metrics"]
    assert len(payload["checks"]) == 7
    assert m["setting"]["seeds"] == 3 and m["setting"]["net_d"] == [4, 8]
    curves = m["network"]["curves"]["8"]
    assert curves["n"] == [8, 32, 128] and np.shape(curves["A3"]) == (3, 3) and np.shape(curves["A3_chain"]) == (3, 3, 1)
    assert np.all(np.isfinite(curves["A3"])) and np.all(np.asarray(curves["train_mse"]) > 0)
    assert np.shape(m["network"]["per_seed"]["nstar"]) == (3, 2) and len(m["gp"]["per_seed"]["exponent"]) == 3
    assert len(m["collapse_spread"]["network"]) == len(m["collapse_spread"]["x"])
    assert "| check | measured |" in capsys.readouterr().out
    # the saved curves re-analyse to the same report without sampling
    saved = tmp_path / "runs" / "sample_complexity_curves.json"
    again = tmp_path / "again"
    assert sample_complexity.main(["--tiny", "--out", str(again), "--curves", str(saved)]) == 0
    assert json.loads((again / "sample_complexity.json").read_text())["checks"] == payload["checks"]
