import json

from mfnn.report import Check, Report


def test_checks_and_files(tmp_path):
    r = Report("demo")
    r.add(Check("abs ok", 1.02, 1.0, 0.05), Check("rel bad", 1.5, 1.0, 0.1, kind="rel"),
          Check("min ok", 0.995, 0.99, kind="min"), Check("max bad", 3.0, 2.0, kind="max"),
          Check("nan fails", float("nan"), 1.0, 10.0))
    assert [c.passed for c in r.checks] == [True, False, True, False, False]
    assert not r.passed
    r.write(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.count("PASS") == 2 and md.count("FAIL") == 3
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["passed"] is False and len(data["checks"]) == 5
