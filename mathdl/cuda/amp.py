"""``mathdl.cuda.amp``: PyTorch's older spelling ``torch.cuda.amp.autocast(...)`` and
``torch.cuda.amp.GradScaler(...)`` of :mod:`mathdl.amp` with ``device_type="cuda"``.

The policy is :mod:`mathdl.amp`'s (matmul, linear and conv in the low precision; reductions,
softmax, losses and normalization in float32); nothing is duplicated here.  As in PyTorch, this
CUDA-only spelling disables itself with a warning when no CUDA device is available (on the CPU,
``mathdl.amp.autocast`` computes in the low precision; this one does not).
"""

from __future__ import annotations

import warnings

from . import is_available as _cuda_available
from .. import amp as _amp
from ..backend import float16

__all__ = ["autocast", "GradScaler"]


class autocast(_amp.autocast):  # noqa: N801  (PyTorch's name)
    """``torch.cuda.amp.autocast(enabled=True, dtype=torch.float16, cache_enabled=True)``."""

    def __init__(self, enabled=True, dtype=float16, cache_enabled=True):
        if enabled and not _cuda_available():
            warnings.warn("CUDA is not available. Disabling autocast.", stacklevel=2)
            enabled = False
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``torch.cuda.amp.GradScaler(init_scale=2.**16, growth_factor=2., backoff_factor=.5,
    growth_interval=2000, enabled=True)``: :class:`mathdl.amp.GradScaler` on ``"cuda"``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        if enabled and not _cuda_available():
            warnings.warn("mathdl.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            enabled = False
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)
