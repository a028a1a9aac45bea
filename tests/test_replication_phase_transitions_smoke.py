"""The whole phase-transition path at toy sizes (Ising L = 4, 6, 8; Curie-Weiss N = 16, 32, 64; the width threshold
at p = 7, 11): pilot, autocorrelation, production, per-seed and pooled analysis, placebos, training, figures, report.
The physics is not expected at these sizes."""
import json

import pytest

from tests.helpers import load_script, run_tiny

phase_transitions = load_script("replications/phase_transitions/run.py")


def test_phase_transitions_tiny(tmp_path, capsys):
    out = run_tiny(phase_transitions, tmp_path)
    for name in ("report.md", "metrics.json", "ising_observables.png", "ising_collapse.png", "side_by_side.png",
                 "histograms.png", "cw_observables.png", "cw_collapse.png", "width_threshold.png"):
        assert (out / name).stat().st_size > 0, name
    assert (tmp_path / "runs" / "ising_samples.npz").stat().st_size > 0
    payload = json.loads((out / "metrics.json").read_text())
    m = payload["metrics"]
    assert len([c for c in payload["checks"] if not c["name"].startswith("attention")]) == 16 + 7
    assert m["parts"] == ["ising", "curie_weiss", "width", "attention"] and m["jobs"] == 1
    assert "attention" in m and (out / "attention_collapse.png").stat().st_size > 0  # the part ran in this path
    assert m["seeds"] == [0, 1, 2] and len(m["ising"]["per_seed"]) == 3 and len(m["cw"]["per_seed"]) == 3
    assert set(m["ising"]["plan"]) == {"4", "6", "8"}
    assert all(p["records"] >= 20 for p in m["ising"]["plan"].values())
    assert m["synthetic_first_order"]["verdict"] == "first-order"
    w = m["width"]
    assert set(w["runs"]) == {f"p{p}_N{N}" for p in (7, 11) for N in (2, 6, 12)}
    assert all(len(r["generalised"]) == 4 for r in w["runs"].values())
    assert w["phase_cancellation"]["n_min"] == 6 and w["full_solution_count"] == {"7": 18, "11": 30}
    assert all(a["all_frequencies"]["accuracy"] == 1.0 for a in w["analytic"].values())
    assert "| check | measured |" in capsys.readouterr().out


@pytest.mark.slow  # ~20-50 s (four Lightning fits); the fast tier runs this part inside test_phase_transitions_tiny
def test_phase_transitions_tiny_attention_part(tmp_path):
    """The attention part alone at toy sizes (d = 10, 23; 10 GD steps): its checks, figures and metrics."""
    attention_d = load_script("replications/phase_transitions/attention_d.py")
    out = tmp_path / "out"
    assert attention_d.main(["--tiny", "--out", str(out), "--runs", str(tmp_path / "runs")]) == 0
    for name in ("attention_report.md", "attention_metrics.json", "attention_order_parameters.png",
                 "attention_collapse.png", "attention_d_scaling.png", "attention_overlaps.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "attention_metrics.json").read_text())
    names = [c["name"] for c in payload["checks"]]
    assert all(n.startswith("attention") for n in names) and any("placebo" in n for n in names)
    m = payload["metrics"]["attention"]
    assert m["dims"] == [10, 23] and m["teachers"] == 6
    for d in ("10", "23"):
        theta, frac = m["per_run"][d]["theta"], m["fraction_semantic"][d]["mean"]
        assert len(theta) == 6 and len(theta[0]) == len(m["alphas"]) == len(frac)
        assert all(0.0 <= f <= 1.0 for f in frac)
        assert all(e > 0 for e in m["fraction_semantic"][d]["err"])  # floored: no zero error bars
    assert len(m["seed_groups"]) == 3
    assert set(m["d_scaling"]["ours"]) == {"positional", "semantic", "random"}
    # the semantic start keeps a larger overlap with the teacher than the positional start (10 steps from Q*)
    ours = m["d_scaling"]["ours"]
    assert min(ours["semantic"]["theta"]["mean"]) > max(ours["positional"]["theta"]["mean"])


def test_phase_transitions_rejects_missing_config(tmp_path):
    import pytest
    with pytest.raises(SystemExit):
        phase_transitions.main(["--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # arguments are validated before anything is written


def test_phase_transitions_rejects_unknown_parts(tmp_path, capsys):
    import pytest
    with pytest.raises(SystemExit) as exit_info:
        phase_transitions.main(["--tiny", "--parts", "width,bogus", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "--parts" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
