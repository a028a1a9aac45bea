"""Every class a config can name documents every argument (LightningCLI turns these into `--help` text)."""
import inspect

import docstring_parser
import pytest

import mfnn

DOCUMENTED = [mfnn.MFNNModule, mfnn.MLP, mfnn.TwoLayerMLP, mfnn.DeepMLP, mfnn.ModularMLP, mfnn.ModularTransformer,
              mfnn.Ensemble, mfnn.DotProductAttention, mfnn.LinearPositional, mfnn.ErfStudent, mfnn.QuadraticModular,
              mfnn.SyntheticDataModule, mfnn.ModularAdditionDataModule, mfnn.AttentionDataModule, mfnn.NeuronCloud,
              mfnn.ForegroundCheck, mfnn.KernelAlignment, mfnn.PosteriorAverage, mfnn.ProgressMeasures,
              mfnn.StepProgressBar, mfnn.Langevin]


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_argument_is_documented(cls):
    names = [n for n, p in inspect.signature(cls.__init__).parameters.items()
             if n not in ("self", "params") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    described = {p.arg_name: p.description for p in docstring_parser.parse(cls.__doc__ or "").params}
    missing = [n for n in names if not (described.get(n) or "").strip()]
    assert missing == [], f"{cls.__name__}: undocumented {missing}"
    extra = sorted(set(described) - set(names) - {"params"})
    assert extra == [], f"{cls.__name__}: documents arguments it does not take: {extra}"


def test_cli_help_shows_the_descriptions(capsys):
    with pytest.raises(SystemExit):
        mfnn.cli.run("fit", "--model.help", "TwoLayerMLP")
    out = capsys.readouterr().out
    assert "hidden neurons N per layer" in out and "need an explicit lr" in out
