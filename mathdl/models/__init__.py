"""Reference architectures, each registered by name for the ``mathdl`` command."""

from . import cnn, mlp, resnet, transformer  # noqa: F401  (registration)
from .registry import MODELS, build_model, model_names, register_model  # noqa: F401
