"""The whole grokking replication path at tiny size (p = 23): configs, batched sweep, analysis,
figures, report. Not every check passes at this size, but the net groks and its weights take
Gromov's Fourier form."""
import json

from tests.helpers import load_script, run_tiny

gromov = load_script("replications/grokking/run.py")
nanda = load_script("replications/grokking/run_transformer.py")


def test_gromov_route_tiny(tmp_path, capsys):
    out = run_tiny(gromov, tmp_path)
    for name in ("report.md", "metrics.json", "gromov_curves.png", "gromov_weights.png", "sweep.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["checks"]) == 9
    assert not any("|" in c["name"] for c in metrics["checks"])  # a pipe would break the markdown table
    main, sweep = metrics["metrics"]["main"], metrics["metrics"]["sweep"]
    assert main["p"] == 23 and sweep["fractions"] == [0.2, 0.6]
    # p = 23 already groks in 500 steps: generalisation, Fourier localisation and the phase relation
    assert main["final_test_acc"] >= 0.99 and main["step_test_acc_99"] > main["step_train_acc_100"]
    assert 0 < main["ipr_initial"] < 0.3 < main["ipr_final"] <= 1
    assert main["phase_fraction_within_pi_8"] > 2 * main["phase_fraction_within_pi_8_init"]
    assert sweep["final_test_acc"][0] < 0.5 <= 0.99 <= sweep["final_test_acc"][1]
    printed = capsys.readouterr().out
    assert "| check | measured |" in printed and f"wrote 5 files to {out}" in printed


def test_nanda_route_tiny(tmp_path, capsys):
    out = run_tiny(nanda, tmp_path)
    for name in ("report.md", "metrics.json", "progress.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert len(metrics["key_frequencies"]) == 2 and metrics["steps"] == 60
    assert "key frequencies:" in capsys.readouterr().out
