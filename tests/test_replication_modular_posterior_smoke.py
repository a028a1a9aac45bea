"""The whole modular-posterior replication path at tiny size (P = 7, N = 8): theory at the paper's Fig. 3 sizes,
two batched Langevin sweeps (whole table and a held-out split), analysis, figures, report. The network physics is
not expected at this size; the theory checks are."""
import json

import pytest

from tests.helpers import load_script, run_tiny

modular = load_script("replications/modular_posterior/run.py")


@pytest.mark.slow  # ~30 s of CPU (the exact single-mode quadrature and four figures), beyond the fast tier
def test_modular_posterior_tiny(tmp_path, capsys):
    out = run_tiny(modular, tmp_path)
    for name in ("report.md", "metrics.json", "theory_fig3.png", "discrepancy.png", "phi_histograms.png",
                 "fourier_neurons.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "metrics.json").read_text())
    checks = {c["name"]: c for c in payload["checks"]}
    theory = [c for name, c in checks.items() if name.startswith("theory")]
    assert len(theory) == 8 and all(c["passed"] for c in theory)  # the theory part is full size even with --tiny
    m = payload["metrics"]
    sweep = m["sweeps"][0]
    assert sweep["P"] == 7 and sweep["samples_per_chain"] == 4 and len(sweep["a_chains"]) == 2
    assert all(-1.5 < a < 0.5 for row in sweep["a_chains"] for a in row)
    assert len(m["heldout"]["test_acc"]) == 2
    assert (tmp_path / "runs" / "tiny" / "samples.pt").exists()
    assert "| check | measured |" in capsys.readouterr().out
