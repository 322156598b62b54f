"""Dropout, functional forms (identity when ``training`` is False).

  dropout(x, p)        y = x * m / (1 - p),  m ~ Bernoulli(1 - p)
  alpha_dropout(x, p)  dropped entries become alpha' = -scale*alpha, then y = a (x m + alpha' (1 - m)) + b
                       with a, b keeping zero mean and unit variance
  dropout1d/2d/3d(x, p)  zeroes whole channels (of (N, C, L), (N, C, H, W), (N, C, D, H, W) input), scales
                       the rest by 1/(1-p)
  feature_alpha_dropout  alpha_dropout with one draw per channel
"""

from __future__ import annotations

import warnings

import numpy as np

from ... import backend
from ...autograd.function import Function
from ...autograd.grad_mode import state as _grad_state
from ...autograd.tensor import Tensor
from ...backend import xp_of
from ...ops import device_kernels
from ...ops import elementwise as ew
from ...ops.conv import dropout2d as _dropout2d
from ...ops.shape import reshape
from .activation import _SELU_ALPHA, _SELU_SCALE

_make = Tensor._make

__all__ = ["dropout1d", "dropout3d", "feature_alpha_dropout", "dropout", "alpha_dropout", "dropout2d"]


class DropoutFn(Function):
    """y = x * mask, mask = Bernoulli(1 - p) / (1 - p) (drawn from the seeded generator)."""

    __slots__ = ("p", "saved_mask")

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        xp = xp_of(x)
        gen = backend.rng.for_module(xp)
        if xp is not np:  # the device: the draw and one fused pass (device_kernels)
            y, self.saved_mask = device_kernels.dropout_apply(x, gen.random(x.shape, dtype=np.float32), self.p)
            return y
        keep = gen.random(x.shape, dtype=np.float32) >= self.p
        mask = keep.astype(x.dtype)
        mask *= 1.0 / (1.0 - self.p)
        self.saved_mask = mask
        return x * mask

    def backward(self, g):
        if not _grad_state.enabled:
            return (_make(g.array * self.saved_mask),)
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


def _channel_dropout(name, input, p, training, nd):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p must be in [0, 1], got {p}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: expected a {nd + 2}-D input (N, C, *) or {nd + 1}-D unbatched, got shape "
                         f"{tuple(input.shape)}")
    if input.ndim == nd + 1:
        y = _channel_dropout(name, reshape(input, (1,) + tuple(input.shape)), p, training, nd)
        return reshape(y, tuple(input.shape))
    return _dropout2d(input, p, training) if nd == 2 else _dropout_channels(input, p, training)


def _dropout_channels(input, p, training):
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return ew.mul(input, 0.0)
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = backend.rng.np.random(shape) >= p
    mask = xp_of(input.array).asarray(keep, dtype=input.dtype) * input.dtype.type(1.0 / (1.0 - p))
    return ew.mul(input, _make(mask))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, H, W) input with probability p; scale the rest by 1/(1-p).

    PyTorch's other cases, with its warnings: a 3-D input is read as (N, C, L) (channel-wise 1-D
    dropout), and any other rank (deprecated) draws one mask entry per (N, C) pair -- for a 2-D
    (N, C) input that is element-wise dropout (pytorch/examples mnist_rnn applies Dropout2d so).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
        if input.ndim < 2:
            raise ValueError(f"dropout2d: expected at least a 2-D input (N, C, ...), got shape {tuple(input.shape)}")
        return _dropout_channels(input, p, training)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=2)
    return _dropout2d(input, p, training)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, L) input with probability p; scale the rest by 1/(1-p)."""
    return _channel_dropout("dropout1d", input, p, training, 1)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, D, H, W) input with probability p; scale the rest by 1/(1-p)."""
    return _channel_dropout("dropout3d", input, p, training, 3)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout with one keep/drop draw per (sample, channel)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"feature_alpha_dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = backend.rng.np.random(shape) >= p
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    m = Tensor._make(keep.astype(input.dtype))
    drop = Tensor._make(((1 - keep) * alpha_p).astype(input.dtype))
    return ew.add(ew.mul(ew.add(ew.mul(input, m), drop), a), b)
