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


def test_every_seed_passes_only_when_all_seeds_pass_and_shows_the_deciding_seed():
    from mfnn.report import every_seed, seed_check_table

    def seed(acc: float, epoch: float, keys: int) -> list[Check]:
        return [Check("final accuracy", acc, 0.99, kind="min"), Check("phase ends [needs 10k]", epoch, 1400, 0.5, kind="rel"),
                Check("key frequencies", keys, 4, 1)]
    per_seed = {0: seed(1.0, 1200, 3), 1: seed(0.995, 2000, 4), 2: seed(0.97, 1500, 6)}
    acc, phase, keys = every_seed(per_seed)
    assert not acc.passed and acc.measured == 0.97 and "seed 2" in acc.name   # the failing seed decides
    assert phase.passed and phase.measured == 2000 and "seed 1" in phase.name  # all pass: the closest to failing
    assert phase.name.startswith("phase ends, every seed")                       # per-seed notes dropped
    assert not keys.passed and keys.measured == 6
    table = seed_check_table(per_seed)
    assert "| final accuracy | 1 PASS | 0.995 PASS | 0.97 FAIL | 0.9883 ± 0.016 | >= 0.99 | FAIL |" in table
    assert "| phase ends | 1200 PASS | 2000 PASS | 1500 PASS |" in table
    assert every_seed({0: seed(1.0, 1400, 4)})[0].passed
    import pytest
    with pytest.raises(ValueError):
        every_seed({0: seed(1.0, 1400, 4), 1: seed(1.0, 1400, 4)[:2]})
