"""Dropout, functional forms (identity when ``training`` is False).

  dropout(x, p)        y = x * m / (1 - p),  m ~ Bernoulli(1 - p)
  alpha_dropout(x, p)  dropped entries become alpha' = -scale*alpha, then y = a (x m + alpha' (1 - m)) + b
                       with a, b keeping zero mean and unit variance
  dropout2d(x, p)      zeroes whole channels
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd.function import Function
from ...autograd.grad_mode import state as _grad_state
from ...autograd.tensor import Tensor
from ...backend import xp_of
from ...ops import elementwise as ew
from ...ops.conv import dropout2d
from .activation import _SELU_ALPHA, _SELU_SCALE

_make = Tensor._make

__all__ = ["dropout", "alpha_dropout", "dropout2d"]


class DropoutFn(Function):
    """y = x * mask, mask = Bernoulli(1 - p) / (1 - p) (drawn from the seeded generator)."""

    __slots__ = ("p", "saved_mask")

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        xp = xp_of(x)
        gen = backend.rng.for_module(xp)
        keep = gen.random(x.shape, dtype=np.float32) >= self.p
        mask = keep.astype(x.dtype)
        mask *= 1.0 / (1.0 - self.p)
        self.saved_mask = mask
        return x * mask

    def backward(self, g):
        if not _grad_state.enabled:
            return (_make(g.data * self.saved_mask),)
        return (ew.mul(g, _make(self.saved_mask)),)


def dropout(x, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each entry with probability p and scale the rest by 1/(1-p) (identity if not training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return ew.mul(x, 0.0)
    return DropoutFn(float(p))(x)


def alpha_dropout(x, p: float = 0.5, training: bool = False):
    """Dropout that keeps SELU's zero mean and unit variance: dropped entries become
    alpha' = -scale*alpha, then y = a (x * m + alpha' (1 - m)) + b."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    keep = backend.rng.np.random(x.shape) >= p
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    m = Tensor._make(keep.astype(x.dtype))
    return ew.add(ew.mul(ew.add(ew.mul(x, m), Tensor._make(((1 - keep) * alpha_p).astype(x.dtype))), a), b)
