"""Find a config by name from anywhere: `mfnn fit --config grokking/gromov_mlp.yaml`.

A `--config` value that is an existing file is used as given. Otherwise it is looked up (with or without a
leading `configs/`) among the configs that ship with mfnn: the repository's `configs/` folder in a source
checkout or editable install, the copy packaged into `mfnn/configs/` in an installed wheel (see
build_hooks.py; the top-level `configs/` stays the source).
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PACKAGED = PACKAGE / "configs"  # present in an installed wheel
SOURCE = PACKAGE.parent / "configs"  # present in a source checkout


def config_roots() -> list[Path]:
    """Where shipped configs live, in lookup order (the packaged copy first: it is the installed version)."""
    roots = [PACKAGED] if PACKAGED.is_dir() else []
    if (PACKAGE.parent / "pyproject.toml").is_file() and SOURCE.is_dir():  # a checkout, not site-packages/configs
        roots.append(SOURCE)
    return roots


def resolve_config(name: str | Path) -> Path:
    """The file `name` refers to: itself if it exists, else the shipped config of that name.

    Args:
        name: a path, or a shipped config's name relative to `configs/` (e.g. "two_layer_xor.yaml",
            "grokking/gromov_mlp.yaml"; a leading "configs/" is allowed).

    Raises:
        FileNotFoundError: neither a file nor a shipped config; the message lists where it looked.
    """
    path = Path(name)
    if path.is_file():
        return path
    relative = Path(*path.parts[1:]) if path.parts[:1] == ("configs",) else path
    for root in config_roots():
        if not path.is_absolute() and (root / relative).is_file():
            return root / relative
    looked = ", ".join(str(r) for r in config_roots()) or "no shipped configs found"
    raise FileNotFoundError(f"{name}: no such file, and no shipped config of that name (looked in {looked})")


def shipped_configs() -> list[str]:
    """Names of every shipped config, e.g. ["attention/attention.yaml", ..., "two_layer_xor.yaml"]."""
    names = set()
    for root in config_roots():
        names |= {p.relative_to(root).as_posix() for p in root.rglob("*.yaml")}
    return sorted(names)


def resolve_config_args(argv: list[str]) -> list[str]:
    """argv with every `--config X` / `--config=X` whose X is not a file replaced by the shipped config's path
    (left as written when there is none, so the command line's own error names it)."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config" and i + 1 < len(argv):
            out += [arg, _resolved(argv[i + 1])]
            i += 2
            continue
        if arg.startswith("--config="):
            arg = "--config=" + _resolved(arg.split("=", 1)[1])
        out.append(arg)
        i += 1
    return out


def _resolved(value: str) -> str:
    if value.lstrip().startswith(("{", "[")) or "\n" in value:  # an inline YAML/JSON config, not a path
        return value
    try:
        return str(resolve_config(value))
    except FileNotFoundError:
        return value
