"""The whole phase-transition calibration path at toy sizes (Ising L = 4, 6, 8; Curie-Weiss N = 16, 32, 64):
pilot, autocorrelation, production, per-seed and pooled analysis, placebos, figures, report. The physics is not
expected at these sizes."""
import json

from tests.helpers import load_script, run_tiny

phase_transitions = load_script("replications/phase_transitions/run.py")


def test_phase_transitions_tiny(tmp_path, capsys):
    out = run_tiny(phase_transitions, tmp_path)
    for name in ("report.md", "metrics.json", "ising_observables.png", "ising_collapse.png", "side_by_side.png",
                 "histograms.png", "cw_observables.png", "cw_collapse.png"):
        assert (out / name).stat().st_size > 0, name
    assert (tmp_path / "runs" / "ising_samples.npz").stat().st_size > 0
    payload = json.loads((out / "metrics.json").read_text())
    m = payload["metrics"]
    assert len(payload["checks"]) == 16
    assert m["seeds"] == [0, 1, 2] and len(m["ising"]["per_seed"]) == 3 and len(m["cw"]["per_seed"]) == 3
    assert set(m["ising"]["plan"]) == {"4", "6", "8"}
    assert all(p["records"] >= 20 for p in m["ising"]["plan"].values())
    assert m["synthetic_first_order"]["verdict"] == "first-order"
    assert "| check | measured |" in capsys.readouterr().out


def test_phase_transitions_rejects_missing_config(tmp_path):
    import pytest
    with pytest.raises(SystemExit):
        phase_transitions.main(["--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # arguments are validated before anything is written
