"""The whole grokking replication path at tiny size (p = 11): configs, batched sweep, analysis,
figures, report. The numbers are not expected to pass at this size; the outputs must all exist."""
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
    assert len(metrics["checks"]) == 7
    assert metrics["metrics"]["main"]["p"] == 11 and metrics["metrics"]["sweep"]["fractions"] == [0.3, 0.7]
    assert 0 < metrics["metrics"]["main"]["ipr_initial"] <= 1
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
