"""Padding, functional form: ``pad(x, pad, mode='constant', value=0)``; ``pad`` lists (left, right)
pairs starting from the last dimension, as in PyTorch.

For a padded axis of size n and an output position i (in -left .. n + right - 1), the modes read

  constant    value outside 0..n-1
  reflect     x[r(i)],  r(i) = |i| mirrored at 0 and n-1 without repeating the edge (needs pad < n)
  replicate   x[clamp(i, 0, n-1)]
  circular    x[i mod n]                                                     (needs pad <= n)

Negative sizes (constant mode) crop instead.  Every non-constant mode is a gather along each padded
axis (an index map), whose gradient adds the output gradient back into the positions read (edges
read twice receive both).
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from ...ops.indexing import getitem, index_select
from ...ops.shape import pad as _pad_constant

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _index_map(mode, n, left, right):
    i = np.arange(-left, n + right)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return np.mod(i, n)
    period = 2 * (n - 1)  # reflect
    if period == 0:
        return np.zeros_like(i)
    i = np.mod(i, period)
    return np.where(i < n, i, period - i)


def pad(input, pad, mode="constant", value=None):
    """Pad ``input`` (see the module docstring for the modes)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor input, got {type(input).__name__}")
    pad = tuple(pad)
    if any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) for p in pad):
        raise TypeError(f"pad: padding sizes must be integers, got {pad}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected an even number of padding sizes for at most {input.ndim} dims, got {pad}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    if mode == "constant":
        if min(pad, default=0) < 0:  # negative sizes crop
            key = [slice(None)] * input.ndim
            for j in range(len(pad) // 2):
                lo, hi, n = pad[2 * j], pad[2 * j + 1], input.shape[input.ndim - 1 - j]
                if n + min(lo, 0) + min(hi, 0) < 0:
                    raise ValueError(f"pad: cropping ({lo}, {hi}) is more than dim {input.ndim - 1 - j}'s size {n}")
                key[input.ndim - 1 - j] = slice(max(-lo, 0), n - max(-hi, 0))
            input = getitem(input, tuple(key))
            pad = tuple(max(p, 0) for p in pad)
        return _pad_constant(input, pad, value=0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: a fill value is only used with mode='constant', not {mode!r}")
    k = len(pad) // 2
    if k > 3 or input.ndim not in (k + 1, k + 2):
        raise ValueError(f"pad: mode {mode!r} pads the last k = 1, 2 or 3 dims of a (k+1)- or (k+2)-D input; got "
                         f"k = {k} for an input of shape {tuple(input.shape)}")
    y = input
    for j in range(k):
        left, right = int(pad[2 * j]), int(pad[2 * j + 1])
        dim = input.ndim - 1 - j
        n = input.shape[dim]
        if left < 0 or right < 0:
            raise ValueError(f"pad: negative padding {pad} is only supported with mode='constant' (here {mode!r})")
        if mode == "reflect" and max(left, right) >= n:
            raise ValueError(f"pad: reflect padding ({left}, {right}) must be smaller than the padded dim "
                             f"{dim}'s size {n} (input shape {tuple(input.shape)})")
        if mode == "circular" and max(left, right) > n:
            raise ValueError(f"pad: circular padding ({left}, {right}) must be at most the padded dim {dim}'s "
                             f"size {n} (input shape {tuple(input.shape)})")
        if n == 0:
            raise ValueError(f"pad: cannot pad an empty dim {dim} with mode {mode!r}")
        if left or right:
            y = index_select(y, dim, _index_map(mode, n, left, right))
    return y
