"""``mathdl.nn.utils``: gradient clipping (implemented in :mod:`mathdl.optim.clip`), flattening
parameters to one vector and back, weight and spectral normalization, and (in
:mod:`mathdl.nn.utils.rnn`) sequence packing."""

import importlib as _importlib

from ...optim.clip import (  # noqa: F401
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from . import parametrizations, parametrize  # noqa: F401
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm  # noqa: F401

__all__ = [
    "clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
    "parameters_to_vector", "vector_to_parameters", "weight_norm", "remove_weight_norm", "spectral_norm",
    "remove_spectral_norm", "parametrize", "parametrizations",
]

try:
    rnn = _importlib.import_module(f"{__name__}.rnn")
except ModuleNotFoundError as _e:  # pragma: no cover
    if _e.name != f"{__name__}.rnn":
        raise
else:
    __all__ += ["rnn"]
