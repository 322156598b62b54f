"""Normalization, functional forms.

  layer_norm, batch_norm  see :mod:`mathdl.ops.normalization`
  group_norm              see :mod:`mathdl.ops.conv`
  normalize(x, p, dim)    x / max(||x||_p, eps) along ``dim``
  instance_norm           per sample and channel over the spatial axes:
                          y = (x - mean_{n,c}) / sqrt(var_{n,c} + eps) * gamma_c + beta_c, computed as
                          batch_norm of the input viewed as (1, N C, *spatial) (running statistics are
                          the mean over the batch of the per-sample updates, as in PyTorch)
  rms_norm                y = x / sqrt(mean(x^2 over normalized_shape) + eps) * gamma  (a fused primitive,
                          :mod:`mathdl.ops.normalization`)
  local_response_norm     y_c = x_c / (k + alpha/n sum_{c' in window(c)} x_{c'}^2)^beta, window of n
                          channels [c - n//2, c + (n-1)//2] (zeros beyond the edges)
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.conv import group_norm
from ...ops.indexing import getitem
from ...ops.normalization import batch_norm, layer_norm, rms_norm
from ...ops.reduce import norm as _norm
from ...ops.shape import broadcast_to, reshape
from ...ops.shape import pad as _pad

__all__ = ["normalize", "layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm",
           "local_response_norm"]


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """x / max(||x||_p, eps) along ``dim``."""
    n = _norm(x, p, dim, keepdim=True)
    return ew.div(x, ew.maximum(n, eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalization of an (N, C, *spatial) input (see the module docstring)."""
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input (N, C, *spatial) with at least one spatial dim, got "
                         f"shape {tuple(getattr(input, 'shape', ()))}")
    N, C = input.shape[:2]
    spatial = tuple(input.shape[2:])
    if use_input_stats and int(np.prod(spatial)) <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element per channel, got input of shape "
                         f"{tuple(input.shape)}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"instance_norm: {name} has shape {tuple(t.shape)}, expected ({C},)")
    x = reshape(input, (1, N * C) + spatial)
    if len(spatial) > 2:
        x = reshape(input, (1, N * C, int(np.prod(spatial))))
    rep = [None if t is None else Tensor._make(np.tile(t.array, N)) for t in (running_mean, running_var)]
    w, b = (None if t is None else reshape(broadcast_to(reshape(t, (1, C)), (N, C)), (N * C,)) for t in (weight, bias))
    y = batch_norm(x, rep[0], rep[1], w, b, training=use_input_stats, momentum=momentum, eps=eps)
    if use_input_stats:
        for t, r in zip((running_mean, running_var), rep):
            if t is not None:
                t.array[...] = r.array.reshape(N, C).mean(axis=0)
    return reshape(y, tuple(input.shape))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalization across neighbouring channels (AlexNet's), see the module docstring."""
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input (N, C, *) with at least 3 dims, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    C = input.shape[1]
    sq = ew.mul(input, input)
    sq = _pad(sq, (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2))
    total = None
    for j in range(size):
        part = getitem(sq, (slice(None), slice(j, j + C)))
        total = part if total is None else ew.add(total, part)
    div = ew.pow(ew.add(ew.mul(total, alpha / size), k), beta)
    return ew.div(input, div)
