"""The whole grokking replication path at tiny size (p = 23): configs, batched sweep, analysis,
figures, report. Not every check passes at this size, but the net groks and its weights take
Gromov's Fourier form."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(name: str, path: Path):
    """Import a replication script under a unique name (every replication has a run.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gromov = load("grokking_run", ROOT / "replications" / "grokking" / "run.py")
nanda = load("grokking_run_transformer", ROOT / "replications" / "grokking" / "run_transformer.py")


def test_gromov_route_tiny(tmp_path, capsys):
    assert gromov.main(["--tiny", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]) == 0
    out = tmp_path / "out"
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
    assert "| check | measured |" in printed and "PASS ->" in printed


def test_nanda_route_tiny(tmp_path, capsys):
    assert nanda.main(["--tiny", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]) == 0
    out = tmp_path / "out"
    for name in ("report.md", "metrics.json", "progress.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert len(metrics["key_frequencies"]) == 2 and metrics["steps"] == 60
    assert "key frequencies:" in capsys.readouterr().out
