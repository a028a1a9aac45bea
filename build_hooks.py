"""Build step: copy the top-level configs/ (the source of truth) into the package as mfnn/configs/, so an
installed mfnn finds `mfnn fit --config grokking/gromov_mlp.yaml` with no repository around.

Named in pyproject.toml ([tool.setuptools.cmdclass]); runs for wheels and sdists alike. A source checkout
(or an editable install) reads configs/ directly and never needs the copy.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py as _build_py

HERE = Path(__file__).resolve().parent


class build_py(_build_py):
    def run(self):
        super().run()
        source = HERE / "configs"
        if not source.is_dir():
            raise FileNotFoundError(f"{source}: the configs to package are missing (is this a full source tree?)")
        target = Path(self.build_lib) / "mfnn" / "configs"
        for src in sorted(source.rglob("*.yaml")):
            dst = target / src.relative_to(source)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
