"""The whole grokking replication path at tiny size (p = 23): configs, batched seeds, the early-stopping
sweep, analysis, figures, report. Not every check passes at this size, but the AdamW nets grok and their
weights take Gromov's Fourier form."""
import json

from tests.helpers import load_script, run_tiny

gromov = load_script("replications/grokking/run.py")
nanda = load_script("replications/grokking/run_transformer.py")


def test_gromov_route_tiny(tmp_path, capsys):
    out = run_tiny(gromov, tmp_path)
    for name in ("report.md", "metrics.json", "gromov_gd_curves.png", "gromov_curves.png", "gromov_weights.png",
                 "sweep.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["checks"]) == 13
    assert not any("|" in c["name"] for c in metrics["checks"])  # a pipe would break the markdown table
    gd, adamw, sweep = (metrics["metrics"][k] for k in ("gd", "adamw", "sweep"))
    assert gd["p"] == 23 and len(gd["seeds"]) == 3 and gd["lr"] == 5
    assert sweep["fractions"] == [0.2, 0.2, 0.6, 0.6]
    # p = 23 already groks in 500 AdamW steps, every seed: generalisation after memorisation, Fourier
    # localisation and the phase relation, against seed 0's init as the null
    for seed in adamw["seeds"]:
        assert seed["final_test_acc"] >= 0.99 and seed["step_test_acc_99"] > seed["step_train_acc_100"]
        assert adamw["seed0_at_init"]["ipr_mean"] < 0.3 < seed["ipr_mean"] <= 1
        assert seed["phase_fraction_within_pi_8"] > 2 * adamw["seed0_at_init"]["phase_fraction_within_pi_8"]
    # the sweep stops once every member has settled (0.2 flat, 0.6 at 99%), before its step cap
    assert sweep["stopped_early_at"] is not None and sweep["steps"] < 600
    assert max(sweep["final_test_acc"][:2]) < 0.5 and min(sweep["final_test_acc"][2:]) >= 0.99
    assert sweep["critical_fraction_per_seed"] == [0.4, 0.4]
    printed = capsys.readouterr().out
    assert "| check | measured |" in printed and f"wrote 6 files to {out}" in printed


def test_nanda_route_tiny_over_seeds(tmp_path, capsys):
    import pytest

    out, runs = tmp_path / "out", tmp_path / "runs"
    assert nanda.main(["--tiny", "--seeds", "2", "--seed", "4", "--out", str(out), "--runs", str(runs)]) == 0
    for name in ("seed_4/report.md", "seed_4/progress.png", "seed_4/fourier.png", "seed_5/metrics.json",
                 "report.md", "metrics.json", "seeds.png"):
        assert (out / name).stat().st_size > 0, name
    per = {s: json.loads((out / f"seed_{s}" / "metrics.json").read_text()) for s in (4, 5)}
    for s, report in per.items():
        metrics = report["metrics"]
        assert metrics["seed"] == s and len(metrics["key_frequencies"]) == 2 and metrics["steps"] == 60
        n = metrics["n_key_frequencies"]
        assert 0 <= n <= 5 and len(metrics["key_frequencies_counted"]) == n
        assert [c["measured"] for c in report["checks"]][-1] == metrics["significant_logit_components"] - 4 * n
    # a seed draws its own initialisation and train split
    assert per[4]["metrics"]["final"]["train_loss"] != per[5]["metrics"]["final"]["train_loss"]
    both = json.loads((out / "metrics.json").read_text())
    assert both["metrics"]["seeds"] == [4, 5] and len(both["checks"]) == len(per[4]["checks"]) == 10
    for k, check in enumerate(both["checks"]):  # all seeds pass exactly when the combined check passes
        assert check["passed"] == all(per[s]["checks"][k]["passed"] for s in per)
        assert "every seed" in check["name"]
    printed = capsys.readouterr().out
    assert "key frequencies:" in printed and "2 seeds" in printed
    # --report-only re-reads the seed folders: the same report, no training
    first = (out / "report.md").read_text()
    assert nanda.main(["--report-only", "--seeds", "2", "--seed", "4", "--out", str(out), "--runs", str(runs)]) == 0
    assert (out / "report.md").read_text() == first
    with pytest.raises(SystemExit):  # one clear line, nothing written
        nanda.main(["--report-only", "--seed", "7", "--out", str(out), "--runs", str(runs)])
    assert "no seed_<s>/metrics.json" in capsys.readouterr().err and not (out / "seed_7").exists()


def test_gromov_refuses_unknown_parts_before_writing(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        gromov.main(["--tiny", "--parts", "gd,bogus", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    assert "--parts" in capsys.readouterr().err and not (tmp_path / "out").exists()
