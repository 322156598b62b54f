"""Normalization, functional forms.

  layer_norm, batch_norm  see :mod:`mathdl.ops.normalization`
  group_norm              see :mod:`mathdl.ops.conv`
  normalize(x, p, dim)    x / max(||x||_p, eps) along ``dim``
"""

from __future__ import annotations

from ...ops import elementwise as ew
from ...ops.conv import group_norm
from ...ops.normalization import batch_norm, layer_norm
from ...ops.reduce import norm as _norm

__all__ = ["normalize", "layer_norm", "batch_norm", "group_norm"]


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """x / max(||x||_p, eps) along ``dim``."""
    n = _norm(x, p, dim, keepdim=True)
    return ew.div(x, ew.maximum(n, eps))
