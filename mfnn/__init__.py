"""mfnn: neural nets as mean fields of neurons, on PyTorch Lightning.

    import mfnn
    model = mfnn.TwoLayerMLP(width=1024, optimizer=functools.partial(torch.optim.SGD, lr=0.5))
    data = mfnn.SyntheticDataModule(target="xor", batch_size=1024)
    cloud = mfnn.NeuronCloud(every_n_steps=500)
    lightning.Trainer(max_steps=3000, callbacks=[cloud]).fit(model, data)
    cloud.snapshots[-1]["W"]  # (N, d): the neuron cloud at the end

`mfnn.fit(config, *overrides)` runs a config as `mfnn fit` does; `mfnn.resolve_config(name)` finds a shipped
config by name. See examples/ for a complete script.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("mfnn")
except PackageNotFoundError:  # a source checkout on PYTHONPATH, not installed
    __version__ = "0.1.0"

from mfnn.callbacks import (ForegroundCheck, KernelAlignment, NeuronCloud, PosteriorAverage, ProgressMeasures,
                            StepProgressBar)
from mfnn.config_files import resolve_config, shipped_configs
from mfnn.data.attention import AttentionDataModule
from mfnn.data.modular import ModularAdditionDataModule
from mfnn.data.synthetic import SyntheticDataModule
from mfnn.experiment import Run, fit
from mfnn.models.attention import DotProductAttention, LinearPositional
from mfnn.models.base import MFNNModule, NonFiniteLossError
from mfnn.models.ensemble import Ensemble
from mfnn.models.mlp import MLP, DeepMLP, TwoLayerMLP
from mfnn.models.modular import ModularMLP
from mfnn.models.quadratic_modular import QuadraticModular
from mfnn.models.teacher_student import ErfStudent
from mfnn.models.transformer import ModularTransformer
from mfnn.optim.langevin import Langevin
from mfnn.report import Check, Report

__all__ = [
    "__version__", "AttentionDataModule", "Check", "DeepMLP", "DotProductAttention", "Ensemble", "ErfStudent",
    "ForegroundCheck", "KernelAlignment", "Langevin", "LinearPositional", "MFNNModule", "MLP", "ModularAdditionDataModule",
    "ModularMLP", "ModularTransformer", "NeuronCloud", "NonFiniteLossError", "PosteriorAverage", "ProgressMeasures",
    "QuadraticModular", "Report", "Run", "StepProgressBar", "SyntheticDataModule", "TwoLayerMLP", "fit", "resolve_config",
    "shipped_configs",
]
