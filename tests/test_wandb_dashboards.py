"""What an offline wandb run holds, read back from its run-<id>.wandb file with wandb's own record schema
(mfnn.dashboards.read_offline_run): group and tags, the config once, metrics with batched members named by
value, the neuron cloud as a table and an image per snapshot, kernel alignment, progress measures, and a
replication's report run (PASS/FAIL table, summary values, figures). No network."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import wandb

from mfnn import dashboards
from mfnn.cli import run
from mfnn.report import Check, Report
from tests.helpers import ROOT, offline_run


def steps_of(history: list[dict], key: str) -> list[int]:
    return [row["trainer/global_step"] for row in history if key in row]


def history_keys(history: list[dict]) -> set[str]:
    return {k for row in history for k in row}


def test_xor_run_logs_config_once_group_tags_cloud_history_and_kernel_alignment(tiny_args):
    cli = run(*tiny_args("--wandb.enabled=true", "--wandb.tags=[smoke]",
                         "--trainer.callbacks+=mfnn.callbacks.KernelAlignment",
                         "--trainer.callbacks.every_n_steps=10", "--trainer.callbacks.n_probe=64"))
    r, run_dir = offline_run(Path(cli.trainer.log_dir))
    assert r["group"] == "two_layer_xor"  # the config's name
    assert {"TwoLayerMLP", "SyntheticDataModule", "smoke"} <= set(r["tags"])
    # The resolved config, once: nested as in config.yaml, and no second, flat copy of the model's arguments
    # (Lightning's own hyperparameter push would add `width`, `activation`, ... at the top level).
    assert r["config"]["model"]["init_args"]["width"] == 32
    assert not {"width", "activation", "parameterization"} & set(r["config"])
    # The neuron cloud at every snapshot (steps 0, 10, ..., 40), as a table and as an image; the figure once.
    for key in ("cloud/layer0/table", "cloud/layer0/image"):
        assert steps_of(r["history"], key) == [0, 10, 20, 30, 40], key
    assert steps_of(r["history"], "cloud/layer0/figure") == [40]
    last = [row for row in r["history"] if "cloud/layer0/table" in row][-1]["cloud/layer0/table"]
    assert last["_type"] == "table-file"
    table = json.loads((run_dir / "files" / last["path"]).read_text())
    assert table["columns"] == ["w0", "w1", "b", "a"] and len(table["data"]) == 32  # biases included
    assert (cli.model.net.W_in.detach()[:, 0].tolist() == pytest.approx([row[0] for row in table["data"]]))
    image = [row for row in r["history"] if "cloud/layer0/image" in row][0]["cloud/layer0/image"]
    assert image["_type"] == "image-file" and (run_dir / "files" / image["path"]).stat().st_size > 5_000
    # Kernel alignment of the hidden layer on the same cadence, and its final value in the summary.
    assert steps_of(r["history"], "kernel_alignment/layer0") == [0, 10, 20, 30, 40]
    assert 0 < r["summary"]["kernel_alignment/layer0"] <= 1
    assert "val/mse" in history_keys(r["history"])
    # (The line saying where the offline run went and how to sync it: tests/test_wandb_network.py, which reads
    # a real process's stderr; wandb's console capture hides it from pytest's in-process capture.)


def test_batched_members_are_logged_by_value(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs/grokking/gromov_sweep.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--wandb.enabled=true",
              "--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.width=16",
              "--model.init_args.members=3", "--data.init_args.train_fractions=[0.3,0.175,0.5]",
              "--trainer.max_steps=10", "--data.init_args.steps_per_epoch=5", "--trainer.log_every_n_steps=5")
    r, _ = offline_run(Path(cli.trainer.log_dir))
    keys = history_keys(r["history"])
    assert {f"val/test_acc/frac={f}" for f in ("0.30", "0.175", "0.50")} <= keys, sorted(keys)
    assert "val/test_acc" in keys  # the members' mean keeps its name
    assert not [k for k in keys if k.endswith("_k0")]  # no index-named member in the dashboard
    assert r["group"] == "grokking/gromov_sweep"
    # The CSV keeps the index names that scripts and tests read.
    header = next(csv.reader(open(Path(cli.trainer.log_dir) / "metrics.csv")))
    assert {"val/test_acc_k0", "val/test_acc_k2"} <= set(header)


def test_ensemble_members_are_named_by_seed(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs/ensemble/xor_seeds.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--wandb.enabled=true", "--trainer.max_steps=10",
              "--trainer.log_every_n_steps=5", "--trainer.check_val_every_n_epoch=1",
              "--trainer.enable_progress_bar=false", "--model.init_args.members=3", "--model.init_args.seeds=[7,8,9]",
              "--model.init_args.member.init_args.width=8", "--data.init_args.batch_size=16",
              "--data.init_args.val_size=16", "--data.init_args.steps_per_epoch=5")
    r, _ = offline_run(Path(cli.trainer.log_dir))
    keys = history_keys(r["history"])
    assert {"val/mse/seed=7", "val/mse/seed=8", "val/mse/seed=9", "train/loss/seed=9"} <= keys


def test_member_names():
    class Net:
        members = 3

    class Module:
        net = Net()

    class Data:
        train_fractions = [0.1, 0.175, 0.1]

    assert dashboards.member_names(Module(), Data()) == ["frac=0.10#0", "frac=0.175#1", "frac=0.10#2"]
    Data.train_fractions = [0.3]  # one fraction for three members: not a naming
    assert dashboards.member_names(Module(), Data()) is None
    Net.members = 1
    assert dashboards.member_names(Module(), None) is None


def test_progress_measures_table_figure_and_phases(tmp_path):
    cli = run("fit", "--config", str(ROOT / "configs" / "grokking" / "nanda_transformer.yaml"),
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.accelerator=cpu", "--wandb.enabled=true",
              "--model.init_args.p=11", "--data.init_args.p=11", "--model.init_args.d_model=16",
              "--model.init_args.n_heads=2", "--model.init_args.d_head=8", "--model.init_args.d_mlp=32",
              "--trainer.max_steps=20", "--data.init_args.steps_per_epoch=10",
              "--trainer.callbacks.init_args.every_n_steps=10", "--trainer.callbacks.init_args.n_key_freqs=3")
    r, run_dir = offline_run(Path(cli.trainer.log_dir))
    keys = history_keys(r["history"])
    assert {"progress/gini_W_E", "progress/sum_sq_weights", "progress/history", "progress/figure"} <= keys
    row = [row for row in r["history"] if "progress/history" in row][0]["progress/history"]
    table = json.loads((run_dir / "files" / row["path"]).read_text())
    assert {"step", "test_acc", "restricted_loss", "excluded_loss", "gini_W_E"} <= set(table["columns"])
    assert [d[table["columns"].index("step")] for d in table["data"]] == [0, 10, 20]
    assert {"progress/phase/memorisation_end", "progress/phase/cleanup_end", "progress/key_freqs"} <= set(r["summary"])


def test_replication_report_becomes_a_run_with_table_summary_and_figures(tmp_path, monkeypatch):
    from mfnn.plotting import save, subplots

    monkeypatch.setattr(dashboards, "REPLICATION", {})
    dashboards.enable_for_replication("demo", runs=tmp_path / "runs")
    out = tmp_path / "out"
    fig, ax = subplots()
    ax.plot([0, 1], [1, 0])
    save(fig, out / "curve.png")
    report = Report("demo replication", metrics={"width": 16, "nested": {"acc": 0.5}, "label": "text"})
    report.add(Check("accuracy", 0.97, 0.95, kind="min", source="paper Fig. 1"),
               Check("loss |Δ|", 0.2, 0.0, tolerance=0.1, source="paper Eq. 3"),  # fails
               Check("bimodal", True, True, kind="true"))  # a True/False check in the same table
    report.figures.append(("a curve", "curve.png"))
    report.write(out)
    files = sorted((tmp_path / "runs").rglob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    r = dashboards.read_finished_run(files[0])
    assert r["group"] == "demo" and r["job_type"] == "report" and "report" in r["tags"]
    row = [row for row in r["history"] if "report/checks" in row][0]
    table = json.loads((files[0].parent / "files" / row["report/checks"]["path"]).read_text())
    assert table["columns"] == ["check", "measured", "value", "criterion", "result", "source"]
    assert [d[4] for d in table["data"]] == ["PASS", "FAIL", "PASS"]
    assert [d[1] for d in table["data"]] == ["0.97", "0.2", "True"] and [d[2] for d in table["data"]][:2] == [0.97, 0.2]
    assert row["figures/curve"]["_type"] == "image-file" and row["figures/curve"]["caption"] == "a curve"
    s = r["summary"]
    assert s["checks/passed"] == 2 and s["checks/total"] == 3 and s["checks/all_pass"] is False
    assert s["check/accuracy"] == pytest.approx(0.97) and s["check/loss |Δ|/passed"] is False
    assert s["metrics/width"] == 16 and s["metrics/nested/acc"] == 0.5 and "metrics/label" not in s


def test_replication_option_is_validated_and_enables_the_group(tmp_path, monkeypatch, capsys):
    from mfnn.experiment import ReplicationCLI

    monkeypatch.setattr(dashboards, "REPLICATION", {})
    cli = ReplicationCLI("demo", "a demo")
    with pytest.raises(SystemExit):
        cli.parse(["--wandb.enabled=maybe", "--out", str(tmp_path / "o")])
    assert "must be true or false" in capsys.readouterr().err and not dashboards.REPLICATION
    cli.parse(["--wandb.enabled=false", "--out", str(tmp_path / "o")])
    assert not dashboards.REPLICATION
    cli.parse(["--wandb.enabled", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r")])
    assert dashboards.REPLICATION["name"] == "demo"


@pytest.mark.slow  # a whole replication at tiny size, with wandb: ~1 minute of CPU under load
def test_a_replication_logs_its_training_runs_and_its_report(tmp_path, monkeypatch):
    from tests.helpers import load_script

    monkeypatch.setattr(dashboards, "REPLICATION", {})
    first_order = load_script("replications/first_order/run.py")
    out, runs = tmp_path / "out", tmp_path / "runs"
    assert first_order.main(["--tiny", "--out", str(out), "--runs", str(runs), "--wandb.enabled=true"]) == 0
    wandb.finish()
    read = [dashboards.read_finished_run(f) for f in sorted(runs.rglob("offline-run-*/run-*.wandb"))]
    assert {r["group"] for r in read} == {"first_order"}
    reports = [r for r in read if r["job_type"] == "report"]
    training = [r for r in read if r["job_type"] != "report"]
    assert len(reports) == 1 and training
    assert all("replication:first_order" in r["tags"] for r in read)
    payload = json.loads((out / "metrics.json").read_text())
    summary = reports[0]["summary"]
    assert summary["checks/total"] == len(payload["checks"])
    assert summary["checks/passed"] == sum(c["passed"] for c in payload["checks"])
    figures = {k for row in reports[0]["history"] for k in row if k.startswith("figures/")}
    assert {f"figures/{p.stem}" for p in out.glob("*.png")} == figures and figures
