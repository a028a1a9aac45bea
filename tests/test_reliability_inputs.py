"""Bad inputs a user or a scheduler hands mfnn, each reproduced: a checkpoint that does not match or cannot be
read, a run without a logger, a replication given a bad argument or an unwritable folder, a replication stopped
half-way. Each must stop with one line, write nothing, and never touch what the run did not create."""
import os
from pathlib import Path

import pytest

from mfnn.cli import main
from mfnn.experiment import ReplicationCLI, staged_output
from tests.helpers import ROOT, load_script, tiny_xor_args


def error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ": error:" in ln]


def files_under(path: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}


def refused(argv, capsys, code: int = 2) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == code
    (line,) = error_lines(capsys)
    return line


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished tiny XOR run; its last.ckpt."""
    runs = tmp_path_factory.mktemp("trained") / "runs"
    main(tiny_xor_args(runs))
    (ckpt,) = runs.rglob("last.ckpt")
    return ckpt


# ---- resuming: the checkpoint must match the config (item 4) and be readable (item 10) ----------------------
@pytest.mark.parametrize("change,field", [
    ("--model.init_args.width=64", "model.init_args.width"),
    ("--model.init_args.optimizer.init_args.lr=0.3", "lr"),
])
def test_resume_with_other_settings_names_each_field(trained, tmp_path, monkeypatch, capsys, change, field):
    monkeypatch.chdir(tmp_path)
    line = refused(tiny_xor_args(tmp_path / "runs", "--trainer.max_steps=60", change, f"--ckpt_path={trained}"),
                   capsys)
    assert "ckpt_path" in line and field in line and "--allow_resume_changes" in line, line
    assert not (tmp_path / "runs").exists(), "a refused resume writes nothing"


def test_resume_changes_allowed_on_request_and_max_steps_may_grow(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(tiny_xor_args(tmp_path / "longer", "--trainer.max_steps=60", f"--ckpt_path={trained}"))
    main(tiny_xor_args(tmp_path / "insisted", "--trainer.max_steps=60", "--model.init_args.optimizer.init_args.lr=0.3",
                       "--allow_resume_changes=true", f"--ckpt_path={trained}"))
    assert list((tmp_path / "longer").rglob("last.ckpt")) and list((tmp_path / "insisted").rglob("last.ckpt"))


def test_a_checkpoint_of_another_model_is_refused(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = str(ROOT / "configs" / "grokking" / "gromov_mlp.yaml")
    line = refused(["fit", "--config", config, f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
                    f"--ckpt_path={trained}"], capsys)
    assert "ckpt_path" in line and "ModularMLP" in line or "model" in line, line


@pytest.mark.parametrize("damage,says", [
    (lambda p, good: p.write_bytes(good[: len(good) // 3]), ""),   # truncated mid-write
    (lambda p, good: p.write_bytes(b""), "empty"),
    (lambda p, good: p.write_bytes(os.urandom(4096)), ""),          # not a checkpoint at all
    (lambda p, good: None, "no such file"),                         # missing
], ids=["truncated", "empty", "corrupt", "missing"])
def test_a_bad_checkpoint_file_is_one_line_naming_it(trained, tmp_path, monkeypatch, capsys, damage, says):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.ckpt"
    damage(bad, trained.read_bytes())
    line = refused(tiny_xor_args(tmp_path / "runs", f"--ckpt_path={bad}"), capsys)
    assert str(bad) in line and says in line.lower(), line
    assert not (tmp_path / "runs").exists()


# ---- values only torch or Lightning would check (item 11) ------------------------------------------------
@pytest.mark.parametrize("bad,field", [
    ("--trainer.accelerator=gpu", "accelerator"),
    ("--data.init_args.input_dim=3", "input_dim"),
])
def test_values_only_lightning_checks_are_one_line(tmp_path, monkeypatch, capsys, bad, field):
    if bad.endswith("gpu"):
        import torch
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_xor_args(tmp_path / "runs", bad))
    assert exit_info.value.code != 0
    lines = error_lines(capsys)
    assert len(lines) == 1 and field in lines[0], lines
    assert not any(tmp_path.rglob("*.yaml")), "nothing is written for a refused run"


def test_an_unwritable_save_dir_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("user data\n")
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_xor_args(blocker / "runs"))
    assert exit_info.value.code != 0
    lines = error_lines(capsys)
    assert len(lines) == 1 and str(blocker) in lines[0], lines
    assert blocker.read_text() == "user data\n"


# ---- outputs always go to a run directory (item 9) -----------------------------------------------------
def test_logger_false_leaves_the_working_directory_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("mine: do not overwrite\n")
    main([*tiny_xor_args(tmp_path / "runs"), "--trainer.logger=false",
          "--trainer.default_root_dir=" + str(tmp_path / "runs")])
    assert (tmp_path / "config.yaml").read_text() == "mine: do not overwrite\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "runs"]
    (run_dir,) = [p.parent for p in (tmp_path / "runs").rglob("metrics.csv")]
    assert (run_dir / "config.yaml").exists() and list(run_dir.rglob("last.ckpt"))


# ---- replication scripts (items 1, 6, 7, 12) ----------------------------------------------------------
SCRIPTS = ["grokking/run.py", "self_consistency/run.py", "first_order/run.py", "deep/run.py", "attention/run.py"]
BAD_ARGS = [("--tinny", "unrecognized"), ("--seed -1", "--seed"), ("--threads 0", "--threads"),
            ("--out /proc/nope/x", "--out"), ("--runs /proc/nope/x", "--runs")]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("bad,names", BAD_ARGS, ids=[b for b, _ in BAD_ARGS])
def test_replication_argument_errors_come_first_and_are_one_line(script, bad, names, tmp_path, monkeypatch, capsys):
    module = load_script(f"replications/{script}")
    before = files_under(ROOT / "runs") if (ROOT / "runs").exists() else {}
    committed = files_under(ROOT / "replications" / Path(script).parent)
    with pytest.raises(SystemExit) as exit_info:
        module.main(bad.split())
    assert exit_info.value.code == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and names in lines[0], lines
    assert (files_under(ROOT / "runs") if (ROOT / "runs").exists() else {}) == before
    assert files_under(ROOT / "replications" / Path(script).parent) == committed


def test_replication_cli_validates_its_own_arguments(capsys):
    cli = ReplicationCLI("example", "an example")
    cli.add_argument("--width", type=int, default=8)
    for bad in (["--width", "abc"], ["--seed", "x"], ["--threads", "-2"]):
        with pytest.raises(SystemExit):
            cli.parse(bad)
        assert len(error_lines(capsys)) == 1


def test_a_stopped_replication_leaves_its_folder_as_it_was(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("the earlier report\n")
    (out / "notes.txt").write_text("the user's own file\n")
    for stop in (KeyboardInterrupt, RuntimeError):
        with pytest.raises(stop):
            with staged_output(out) as staging:
                (staging / "report.md").write_text("half a new report\n")
                (staging / "figure.png").write_bytes(b"png")
                raise stop()
        assert files_under(out) == {out / "report.md": b"the earlier report\n", out / "notes.txt": b"the user's own file\n"}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["report"], "no staging folder is left behind"
    with staged_output(out) as staging:
        (staging / "report.md").write_text("the new report\n")
    assert (out / "report.md").read_text() == "the new report\n" and (out / "notes.txt").exists()


# ---- the debug hint works (item 13) -------------------------------------------------------------------
def test_the_debug_hint_names_a_setting_that_works(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    args = tiny_xor_args(tmp_path / "runs", "--model.init_args.width=abc")
    with pytest.raises(SystemExit):
        main(args)
    hint = capsys.readouterr().err
    assert "JSONARGPARSE_DEBUG=true" in hint, hint
    env = {**os.environ, "JSONARGPARSE_DEBUG": "true", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "mfnn.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode != 0 and "Invalid boolean" not in out.stderr
    assert "width" in out.stderr and len(out.stderr.splitlines()) > 3  # the details the hint promised
