"""replications/attention/gd_small_omega.py: its tiny path trains the attention ensemble in a plain loop exactly as
`mfnn fit` does (the same end state as the CLI on the same data), and writes what run.py reads."""
import json
from pathlib import Path

import numpy as np
import pytest

from mfnn.cli import run
from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_plain_loop_matches_the_cli(tmp_path):
    script = load_script("replications/attention/gd_small_omega.py")
    out = tmp_path / "gd.json"
    assert script.main(["--tiny", "--out", str(out)]) == 0
    res = json.loads(out.read_text())["runs"]["tiny"]
    assert res["dim"] == 40 and np.array(res["m"]).shape == (1, 2, 2)  # (teachers, alphas, starts)
    assert res["history"]["step"][0] == 0 and np.isfinite(res["m_drift_5000"]).all()
    cli = run("fit", "--config", str(ROOT / "configs" / "attention" / "attention.yaml"), "--trainer.max_steps", "50",
              "--data.init_args.dim", "40", "--data.init_args.omega", "0.0", "--data.init_args.alphas", "[0.5, 0.75]",
              "--data.init_args.seeds", "1", "--data.init_args.test_size", "1000",
              "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"))
    dm = cli.datamodule
    ref = cli.model.member_metrics(dm.splits["train"], dm.splits["val"])
    for key in ("m", "theta", "train_loss"):
        assert np.array(res[key]) == pytest.approx(ref[key].double().numpy(), rel=1e-5, abs=1e-7)
