"""Softmax family, computed stably by subtracting the maximum.

  logsumexp(x) = m + log sum exp(x - m),         d/dx = g * softmax(x)
  softmax(x)_i = exp(x_i - lse(x)),              d/dx = y * (g - sum(g * y))
  log_softmax(x) = x - lse(x),                   d/dx = g - softmax(x) * sum(g)
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..amp.autocast_mode import _state as _amp, cast_float32
from ..backend import xp_of
from ..parallel import for_ranges
from . import elementwise as ew
from . import row_kernels
from .reduce import _dim_arg, _Reduction, _unreduce
from .reduce import sum as _sum
from .shape import normalize_dim, normalize_dims, reshape


def _lse(x, axes, keepdims):
    xp = xp_of(x)
    m = x.max(axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    s = xp.exp(x - m).sum(axis=axes, keepdims=True)
    out = xp.log(s) + m
    if not keepdims:
        out = out.reshape([d for i, d in enumerate(x.shape) if i not in (axes if axes is not None else range(x.ndim))])
    return out


class LogSumExp(_Reduction):
    __slots__ = ()
    save_output = True

    def forward(self, x):
        return _lse(x, self.axes, self.keepdim)

    def backward(self, g):
        (x,) = self.inputs
        out = _unreduce(self.output(), x.shape, self.axes, self.keepdim)
        return (ew.mul(_unreduce(g, x.shape, self.axes, self.keepdim), ew.exp(ew.sub(x, out))),)


class Softmax(Function):
    __slots__ = ("axis",)
    save_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = xp_of(x)
        if xp is np and self.axis == x.ndim - 1 and x.flags.c_contiguous:
            return _softmax_rows(x)
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, g):
        y = self.output()
        if self.axis == y.ndim - 1:  # fused y (g - rowsum(g y)): a raw pass with a differentiable backward
            from .attention import SoftmaxGrad

            return (SoftmaxGrad(1.0)(y, g),)
        gy = ew.mul(g, y)
        return (ew.sub(gy, ew.mul(y, _sum(gy, self.axis, keepdim=True))),)


def _softmax_rows(x):
    """Softmax over the last axis of a C-contiguous NumPy array: rows split over mathdl's threads;
    row sums by einsum (several times faster than ndarray.sum over a short last axis) and one
    reciprocal per row instead of a division per entry."""
    n = x.shape[-1]
    x2 = x.reshape(-1, n)
    y = np.empty_like(x2)
    if n and row_kernels.usable(x2):  # compiled row loops: max and shift in one visit, then SIMD exp

        for_ranges(lambda lo, hi: row_kernels.softmax_rows(x2[lo:hi], y[lo:hi]), x2.shape[0], 3 * x2.size)
        return y.reshape(x.shape)

    def part(lo, hi):
        xs, ys = x2[lo:hi], y[lo:hi]
        m = xs.max(axis=1, keepdims=True)
        m[m == -np.inf] = 0  # an all -inf row gives 0 * inf = nan, and a +inf entry inf - inf = nan, as torch
        with np.errstate(divide="ignore", invalid="ignore"):
            np.subtract(xs, m, out=ys)
            np.exp(ys, out=ys)
            s = np.einsum("ij->i", ys)[:, None]
            np.divide(1, s, out=s)
            ys *= s

    for_ranges(part, x2.shape[0], 5 * x2.size)
    return y.reshape(x.shape)


class LogSoftmax(Function):
    __slots__ = ("axis",)
    save_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = xp_of(x)
        y = x - x.max(axis=self.axis, keepdims=True)
        y -= xp.log(xp.exp(y).sum(axis=self.axis, keepdims=True))
        return y

    def backward(self, g):
        y = self.output()
        return (ew.sub(g, ew.mul(ew.exp(y), _sum(g, self.axis, keepdim=True))),)


def logsumexp(x, dim=None, keepdim=False, *, axis=None):
    """log sum_i exp(x_i) over ``dim`` (all entries by default), computed as m + log sum exp(x - m)."""
    axes = normalize_dims(_dim_arg(dim, axis), x.ndim, "logsumexp")
    x = ew._floating(x)
    if x.array.size == 0:  # log of an empty sum: -inf (connected to x, so it has a gradient)
        return ew.add(_sum(x, axes, keepdim=keepdim), -np.inf)
    return LogSumExp(axes, keepdim)(x)


def _along(cls, name, x, dim, axis):
    """Apply the softmax-family primitive ``cls`` along one required ``dim`` (a 0-d tensor is
    treated as one entry)."""
    dim = _dim_arg(dim, axis)
    if x.ndim == 0:
        if dim is not None:
            normalize_dim(dim, 0, name)  # 0 or -1
        return reshape(cls(-1)(reshape(x, (1,))), ())
    if dim is None:
        raise TypeError(f"{name}: dim is required (e.g. dim=-1)")
    d = normalize_dim(dim, x.ndim, name)
    x = ew._floating(x)
    if x.array.size == 0:  # nothing to normalize
        return ew.mul(x, 1.0)
    return cls(d)(x)


def softmax(x, dim=None, *, axis=None):
    """softmax(x)_i = exp(x_i - logsumexp(x)) along ``dim``."""
    if _amp.dtype is not None:  # autocast: softmax computes in float32
        (x,) = cast_float32(x)
    return _along(Softmax, "softmax", x, dim, axis)


def log_softmax(x, dim=None, *, axis=None):
    """log_softmax(x)_i = x_i - logsumexp(x) along ``dim``."""
    if _amp.dtype is not None:
        (x,) = cast_float32(x)
    return _along(LogSoftmax, "log_softmax", x, dim, axis)
