"""mfnn as a user installs it: build the wheel, install it into a fresh virtualenv, run a shipped config by
name from a folder outside the repository (no configs/ there), and find the LICENSE and version."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "build_hooks.py")


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built from a copy of the source files (an in-tree build would write build/ into the checkout)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCE_FILES:
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "mfnn", src / "mfnn", ignore=ignore)
    shutil.copytree(ROOT / "configs", src / "configs", ignore=ignore)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "dist").glob("mfnn-*.whl")
    return wheel


@pytest.mark.slow  # ~40 s on an idle machine (building, a venv, one short fit), 2 min on a busy one
def test_wheel_installs_and_runs_a_shipped_config_outside_the_repository(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml"))
    assert [n for n in shipped if f"mfnn/configs/{n}" not in names] == []  # every config travels
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)

    # A fresh venv that sees this interpreter's packages (torch, lightning: nothing is downloaded) through a
    # plain path entry, so the project's own (editable) mfnn is not imported instead of the wheel.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "project_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)

    work = tmp_path / "elsewhere"  # no configs/, no mfnn/ here
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")} | {"OMP_NUM_THREADS": "1"}
    where = subprocess.run([str(python), "-c", "import mfnn; print(mfnn.__file__); print(mfnn.__version__)"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert where.returncode == 0, where.stderr
    location, version = where.stdout.split()
    assert location.startswith(str(venv)), location  # the installed wheel, not the checkout
    assert version == "0.1.0"

    out = subprocess.run([str(venv / "bin" / "mfnn"), "fit", "--config", "two_layer_xor.yaml",
                          "--trainer.max_steps=3", "--trainer.enable_progress_bar=false",
                          "--trainer.check_val_every_n_epoch=1", "--data.init_args.steps_per_epoch=3",
                          "--model.init_args.width=16", "--data.init_args.val_size=64",
                          "--trainer.callbacks.every_n_steps=1"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (metrics,) = (work / "runs" / "two_layer_xor").glob("version_*/metrics.csv")
    assert "val/mse" in metrics.read_text().splitlines()[0]
    print(f"wheel {wheel.name}: {len(names)} files; ran two_layer_xor.yaml from {work}")
