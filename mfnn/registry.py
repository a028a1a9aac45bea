"""Imports every model and data module so LightningCLI can resolve short class names."""
from mfnn.data.synthetic import SyntheticDataModule  # noqa: F401
from mfnn.models.mlp import MLP, DeepMLP, TwoLayerMLP  # noqa: F401
from mfnn.data.modular import ModularAdditionDataModule  # noqa: F401
from mfnn.models.modular import ModularMLP  # noqa: F401
from mfnn.models.transformer import ModularTransformer  # noqa: F401
from mfnn.models.ensemble import Ensemble  # noqa: F401
from mfnn.models.attention import DotProductAttention, LinearPositional  # noqa: F401
from mfnn.data.attention import AttentionDataModule  # noqa: F401
from mfnn.models.teacher_student import ErfStudent  # noqa: F401
