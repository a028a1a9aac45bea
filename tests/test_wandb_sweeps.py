"""Every wandb sweep under configs/sweeps/ runs `mfnn fit` on a config that exists, and every swept key is a
field of that command: each value parses and lands where the key says (a misspelled key would be an error)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mfnn.cli import MFNNCLI
from tests.helpers import ROOT

SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


def sweep_command(sweep: dict) -> tuple[Path, list[str]]:
    """The base config of the sweep's command and its fixed `--key=value` arguments."""
    command = sweep["command"]
    assert command[:3] == ["${env}", "mfnn", "fit"] and command[-1] == "${args}"
    fixed = command[3:-1]
    config = ROOT / fixed[fixed.index("--config") + 1]
    return config, [a for a in fixed if a.startswith("--") and "=" in a]


def values_of(spec: dict) -> list:
    return spec["values"] if "values" in spec else [spec["value"]]


def lookup(namespace, dotted: str):
    value = namespace
    for part in dotted.split("."):
        value = value[part]
    return value


def parser_for(config: Path):
    return MFNNCLI(args=["--config", str(config), "--trainer.max_steps=1"], run=False).parser


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sweep_parameters_are_fields_of_the_cli(path):
    sweep = yaml.safe_load(path.read_text())
    assert sweep["method"] in ("grid", "random", "bayes") and sweep["metric"]["name"]
    config, fixed = sweep_command(sweep)
    assert config.is_file(), config
    parser = parser_for(config)
    for key, spec in sweep["parameters"].items():
        for value in values_of(spec):
            # wandb's ${args} passes each parameter as --key=value
            parsed = parser.parse_args(["--config", str(config), *fixed, f"--{key}={value}"])
            expected = yaml.safe_load(value) if isinstance(value, str) else value
            assert lookup(parsed, key) == expected, (key, value)
        assert parsed["wandb"]["enabled"] is True


def test_a_misspelled_sweep_key_is_rejected():
    """Placebo: the check above would catch a key that is not a field."""
    config, _ = sweep_command(yaml.safe_load(SWEEPS[0].read_text()))
    parser = parser_for(config)
    with pytest.raises(SystemExit):
        parser.parse_args(["--config", str(config), "--data.init_args.train_fraction=[0.3]"])


def test_there_is_a_grokking_fraction_sweep_and_a_langevin_sweep():
    sweeps = {p.stem: yaml.safe_load(p.read_text()) for p in SWEEPS}
    swept = {name: set(s["parameters"]) for name, s in sweeps.items()}
    assert any("data.init_args.train_fractions" in keys for keys in swept.values())
    langevin = [name for name, s in sweeps.items()
                if "mfnn.optim.Langevin" in sweep_command(s)[0].read_text()]
    assert langevin, "a sweep whose base config samples with Langevin dynamics"
    assert len(sweeps[langevin[0]]["parameters"]["seed_everything"]["values"]) >= 3
