"""What a scheduler or a careless user does to a run: kill it, stop it, start two at once, point it at a bad
checkpoint. Real subprocesses and real signals."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, tiny_xor_args

# A checkpoint every 100 steps; 30 steps an epoch, so a checkpoint can fall mid-epoch (step 100 = 3 x 30 + 10).
# The run is long enough that the signal, sent once the first checkpoint exists, still lands mid-run when the
# machine is loaded (a tiny step is ~1 ms: 600 steps were sometimes over before the test process got to send it).
STEPS = 3000
LONG = (f"--trainer.max_steps={STEPS}", "--data.init_args.steps_per_epoch=30", "--checkpoint.every_n_train_steps=100")


def cli_process(save_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    args = tiny_xor_args(save_dir, *LONG, *extra)
    return subprocess.Popen([sys.executable, "-m", "mfnn.cli", *args], cwd=save_dir.parent, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path.name} appeared: {proc.stderr.read()}"
        assert time.time() - start < timeout, f"no {path} after {timeout} s"
        time.sleep(0.2)
    time.sleep(0.5)  # let the write finish


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    return state["state_dict"] | {"_step": torch.tensor(state["global_step"])}


def last_ckpt(save_dir: Path) -> Path:
    return save_dir / "two_layer_xor" / "version_0" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    save_dir = tmp_path_factory.mktemp("full") / "runs"
    proc = cli_process(save_dir)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    return weights(last_ckpt(save_dir))


def resume_and_compare(save_dir: Path, uninterrupted) -> None:
    ckpt = last_ckpt(save_dir)
    saved_at = int(weights(ckpt)["_step"])
    assert 0 < saved_at < STEPS, saved_at
    resumed_dir = save_dir.parent / "resumed"
    proc = cli_process(resumed_dir, f"--ckpt_path={ckpt}")
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    final = weights(last_ckpt(resumed_dir))
    assert int(final["_step"]) == STEPS
    for name, t in uninterrupted.items():
        assert torch.equal(final[name], t), name  # bit-identical to the run that was never stopped


def test_sigkill_mid_run_leaves_a_checkpoint_that_resumes_exactly(tmp_path, uninterrupted):
    save_dir = tmp_path / "runs"
    proc = cli_process(save_dir)
    wait_for(last_ckpt(save_dir), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    resume_and_compare(save_dir, uninterrupted)


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stop_signal_saves_a_checkpoint_and_exits_nonzero(tmp_path, uninterrupted, sig, code):
    save_dir = tmp_path / "runs"
    proc = cli_process(save_dir)
    wait_for(last_ckpt(save_dir), proc)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == code
    err = [ln for ln in proc.stderr.read().splitlines() if ln.startswith("mfnn:")]
    assert len(err) == 1 and "stopped by" in err[0] and "--ckpt_path=" in err[0], err
    resume_and_compare(save_dir, uninterrupted)


def test_two_runs_started_together_get_their_own_directories(tmp_path):
    save_dir = tmp_path / "runs"
    procs = [cli_process(save_dir, "--trainer.max_steps=30", f"--seed_everything={s}") for s in (1, 2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    runs = sorted((save_dir / "two_layer_xor").iterdir())
    assert [r.name for r in runs] == ["version_0", "version_1"]
    seeds = sorted(int(next(ln for ln in (r / "config.yaml").read_text().splitlines()
                            if ln.startswith("seed_everything:")).split()[1]) for r in runs)
    assert seeds == [1, 2]
    for r in runs:  # each run's files are its own: one checkpoint, one header in metrics.csv
        assert [p.name for p in (r / "checkpoints").iterdir()] == ["last.ckpt"]
        assert (r / "metrics.csv").read_text().count("epoch") == 1



def test_a_frozen_ddp_rank_is_named_within_the_collective_timeout(tmp_path):
    """SIGSTOP the second process of a 2-process run: the first stops after --collective_timeout with one line
    naming rank 1 and kills it (without the timeout it would wait Lightning's 30 minutes, silently)."""
    save_dir = tmp_path / "runs"
    proc = cli_process(save_dir, "--trainer.max_steps=1000000", "--data.init_args.train_size=128",
                       "--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.accelerator=cpu",
                       "--collective_timeout=3")
    rank1 = save_dir / "two_layer_xor" / "version_0" / ".ranks" / "rank1"
    wait_for(rank1, proc)
    start = time.time()
    while not (rank1.read_text().split() and int(rank1.read_text().split()[0]) >= 5):  # training, not setting up
        assert proc.poll() is None and time.time() - start < 240, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.2)
    (child,) = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                    text=True).stdout.split()]
    os.kill(child, signal.SIGSTOP)
    stopped_at = time.time()
    try:
        code = proc.wait(timeout=120)
    finally:
        if Path(f"/proc/{child}").exists():
            os.kill(child, signal.SIGKILL)
    assert code == 1
    assert time.time() - stopped_at < 90
    stderr = proc.stderr.read()
    errors = [ln for ln in stderr.splitlines() if ln.startswith("mfnn: error:")]
    assert len(errors) == 1 and "rank 0 waited 3 s (--collective_timeout)" in errors[0], stderr[-3000:]
    assert "for rank 1 (last at step" in errors[0], errors[0]
    assert not Path(f"/proc/{child}").exists() or "Z (zombie)" in Path(f"/proc/{child}/status").read_text()


# ---- bad input: one line naming the qualified field, exit 2, nothing written -------------------------------
FIELDS = {  # every numeric field of the XOR config, and what is wrong with each value
    "model.init_args.input_dim": ["0", "-1", "abc", "2.5", "nan"],
    "model.init_args.width": ["0", "-4", "abc", "inf", "100000000000"],
    "model.init_args.init_std_in": ["-1", "nan", "inf", "abc"],
    "model.init_args.init_std_bias": ["-1", "nan", "inf"],
    "model.init_args.init_std_out": ["-1", "nan", "inf"],
    "model.init_args.warmup_steps": ["-1", "abc"],
    "model.init_args.optimizer.init_args.lr": ["0", "-0.1", "nan", "inf", "abc"],
    "model.init_args.optimizer.init_args.weight_decay": ["-1", "nan", "inf"],
    "model.init_args.optimizer.init_args.momentum": ["-1", "nan"],
    "data.init_args.input_dim": ["0", "-1", "abc"],
    "data.init_args.batch_size": ["0", "-1", "abc"],
    "data.init_args.val_size": ["0", "-1", "abc"],
    "data.init_args.steps_per_epoch": ["0", "-2", "abc"],
    "data.init_args.train_size": ["0", "-5", "abc"],
    "data.init_args.noise_std": ["-1", "nan", "inf"],
}
CASES = [(f, v) for f, values in FIELDS.items() for v in values]


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*")}


@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={v}" for f, v in CASES])
def test_every_bad_value_is_one_line_naming_the_field(tmp_path, monkeypatch, capsys, field, value):
    from mfnn.cli import main

    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_xor_args(tmp_path / "runs", f"--{field}={value}"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("mfnn: error:")]
    assert len(lines) == 1, err
    short = field.replace(".init_args.", ".")  # jsonargparse may report the path without init_args
    assert field in lines[0] or short in lines[0] or field.split(".")[-1] in lines[0].split(":")[2], lines[0]
    assert "Traceback" not in err
    assert files_under(tmp_path) == before, "a bad value must not write anything"


SETUP_ERRORS = [  # values only the assembled run can check (raised in setup, after the run directory is claimed)
    ("grokking/gromov_sweep.yaml", "--model.init_args.members=3", "model.init_args.members"),
    ("self_consistency/lazy.yaml", "--trainer.callbacks.init_args.layers=5", "trainer.callbacks.ForegroundCheck.layers"),
]


@pytest.mark.parametrize("config,bad,field", SETUP_ERRORS, ids=[f for _, _, f in SETUP_ERRORS])
def test_errors_raised_in_setup_leave_nothing_behind(tmp_path, monkeypatch, capsys, config, bad, field):
    from mfnn.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(ROOT / "configs" / config), f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}",
              "--trainer.enable_progress_bar=false", bad])
    assert exit_info.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("mfnn: error:")]
    assert len(lines) == 1 and field in lines[0], lines
    assert list(tmp_path.iterdir()) == [], "the refused run's directory must be gone"


@pytest.mark.parametrize("content,says", [("", "the file is empty"), ("model:\n  init_args: {width: 3\n  x: [\n", "line 3"),
                                          ("- 1\n", "expected a mapping")])
def test_a_broken_config_file_is_one_line_naming_it(tmp_path, monkeypatch, capsys, content, says):
    from mfnn.cli import main

    config = tmp_path / "broken.yaml"
    config.write_text(content)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(config)])
    assert exit_info.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(config) in lines[0] and says in lines[0], lines
    assert list(tmp_path.iterdir()) == [config]
