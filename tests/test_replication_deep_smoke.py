"""The deep replication path at tiny size (d = 8, N = 16, 20 steps): both fits, kernel alignment, GP reference,
figures and report, two seeds. The numbers are not expected to pass at this size; the outputs must all exist."""
import json

from tests.helpers import load_script, run_tiny

deep = load_script("replications/deep/run.py")


def test_deep_replication_tiny(tmp_path, capsys):
    out = run_tiny(deep, tmp_path)
    for name in ("report.md", "metrics.json", "kta_layers.png", "clouds.png", "test_curves.png"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "metrics.json").read_text())
    assert len(payload["checks"]) == 18
    assert payload["metrics"]["seeds"] == [0, 1] and len(payload["metrics"]["per_seed"]) == 2
    seed0 = payload["metrics"]["per_seed"][0]
    mf, lazy = seed0["mean_field"], seed0["lazy"]
    assert mf["width"] == 16 and mf["depth"] == 3 and mf["steps"][0] == 0 and mf["steps"][-1] == 20
    assert len(mf["kta_init"]) == len(mf["kta_final"]) == 3
    assert mf["kta_init"] == lazy["kta_init"]  # same initial hidden layers: only the readout scale differs
    assert mf["kta_final"] != mf["kta_init"]  # the kernel alignment is re-measured after training
    assert seed0["lazy_wide"]["width"] == 32
    assert 0 <= lazy["lin_deviation"] and 0 < mf["fg_mmd_p"] <= 1 and "fg_sw_z" in mf
    assert mf["fg_n_neurons"] == 16 and mf["fg_abs_corr"] > 0 and "fg_n_neurons" not in lazy
    assert seed0["finite_n_gp_mse"] == min(seed0["finite_n_gp_by_ridge"].values()) > 0
    assert 0 < seed0["analytic"]["best"]["nngp"] and 0 <= seed0["analytic"]["prediction"]["nngp"]["mse_over_var"] <= 1
    assert lazy["inf_deviation"] >= 0 and lazy["ntk_step_eigen_final"] > 0 and "fg_null_z" in mf
    assert "| check | measured |" in capsys.readouterr().out
