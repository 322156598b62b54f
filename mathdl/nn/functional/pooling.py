"""Pooling, functional forms.

  max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool2d   primitives in :mod:`mathdl.ops.conv`
  max_pool3d / avg_pool3d   a box over (D, H, W) is a box over (H, W) followed by a window over D:
                            max_box = max_d max_{h,w},   avg_box = (1/|box|) sum_d sum_{h,w};
                            the 2-D pooling runs on all depths at once, the depth window as kd
                            shifted slices (kernel taps) combined with maximum / sum
  adaptive_max_pool1d/2d    y[i] = max of x over [floor(i L / Lo), ceil((i+1) L / Lo)), separable per axis
  adaptive_avg_pool1d       adaptive_avg_pool2d with H = 1
  adaptive_avg/max_pool3d   the same bins per axis (mean: averaging matrices; max: separable maxima)
  lp_pool1d/2d              (sum over the window of x^p)^(1/p) = (|window| avg_pool(x^p))^(1/p)
  max_pool*_with_indices    the maxima and their flat indices in each (spatial) input plane
  max_unpool1d/2d           the inverse scatter: y[idx] = x, zeros elsewhere
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.pooling import adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool2d
from ...ops.pooling import max_pool1d as _max_pool1d
from ...ops.indexing import getitem
from ...ops.reduce import amax
from ...ops.indexing import scatter_add
from ...ops.linalg import matmul
from ...ops.shape import cat, movedim, reshape
from ...ops.shape import pad as _pad

__all__ = [
    "adaptive_avg_pool3d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_unpool1d", "max_unpool2d", "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d",
]


def _triple(v, name, what):
    if isinstance(v, (tuple, list)):
        if len(v) != 3:
            raise ValueError(f"{name}: {what} must be an int or 3 ints, got {v!r}")
        return tuple(int(a) for a in v)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"{name}: {what} must be an int or 3 ints, got {v!r}")
    return (int(v),) * 3


def _pool3d_args(name, input, kernel_size, stride, padding, dilation=1):
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a 5-D input (N, C, D, H, W) or 4-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    k = _triple(kernel_size, name, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else _triple(stride, name, "stride")
    p = _triple(padding, name, "padding")
    d = _triple(dilation, name, "dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got {k}, {s}, {d}")
    if min(p) < 0 or any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{name}: padding {p} must be non-negative and at most half the kernel size {k}")
    return k, s, p, d


def _depth_out(name, D, k, s, p, d, ceil_mode):
    span = D + 2 * p - d * (k - 1) - 1
    if span < 0:
        raise ValueError(f"{name}: kernel depth {k} (dilation {d}) is larger than the padded input depth {D + 2 * p}")
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= D + p:
        o -= 1
    extra = max(0, (o - 1) * s + d * (k - 1) + 1 - (D + 2 * p))
    return o, extra


def _unbatched(fn, input, *args, **kw):
    y = fn(reshape(input, (1,) + tuple(input.shape)), *args, **kw)
    return reshape(y, tuple(y.shape[1:]))


def _depth_taps(x, k, s, d, o):
    """The k slices x[:, :, j d : j d + s (o - 1) + 1 : s] (one per kernel tap along depth)."""
    return [getitem(x, (slice(None), slice(None), slice(j * d, j * d + s * (o - 1) + 1, s))) for j in range(k)]


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over (dilated) 3-D windows of an (N, C, D, H, W) input."""
    name = "max_pool3d"
    if return_indices:
        raise NotImplementedError(f"{name}: return_indices=True is not supported")
    k, s, p, d = _pool3d_args(name, input, kernel_size, stride, padding, dilation)
    if input.ndim == 4:
        return _unbatched(max_pool3d, input, k, s, p, d, ceil_mode)
    N, C, D, H, W = input.shape
    Do, extra = _depth_out(name, D, k[0], s[0], p[0], d[0], ceil_mode)
    y = max_pool2d(reshape(input, (N, C * D, H, W)), k[1:], s[1:], p[1:], d[1:], ceil_mode, name=name)
    y = reshape(y, (N, C, D) + tuple(y.shape[2:]))
    if p[0] or extra:
        y = _pad(y, (0, 0, 0, 0, p[0], p[0] + extra), value=-math.inf)
    taps = _depth_taps(y, k[0], s[0], d[0], Do)
    out = taps[0]
    for t in taps[1:]:
        out = ew.maximum(out, t)
    return out


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over 3-D windows of an (N, C, D, H, W) input (PyTorch's divisor rules)."""
    name = "avg_pool3d"
    if ceil_mode:
        raise NotImplementedError(f"{name}: ceil_mode=True is not supported")
    k, s, p, _ = _pool3d_args(name, input, kernel_size, stride, padding)
    if input.ndim == 4:
        return _unbatched(avg_pool3d, input, k, s, p, ceil_mode, count_include_pad, divisor_override)
    N, C, D, H, W = input.shape
    Do, _ = _depth_out(name, D, k[0], s[0], p[0], 1, False)
    # window sums over (H, W): avg_pool2d with divisor 1
    y = avg_pool2d(reshape(input, (N, C * D, H, W)), k[1:], s[1:], p[1:], False, True, 1, name=name)
    y = reshape(y, (N, C, D) + tuple(y.shape[2:]))
    if p[0]:
        y = _pad(y, (0, 0, 0, 0, p[0], p[0]))
    taps = _depth_taps(y, k[0], s[0], 1, Do)
    total = taps[0]
    for t in taps[1:]:
        total = ew.add(total, t)
    if divisor_override:
        return ew.div(total, float(divisor_override))
    if count_include_pad:
        return ew.div(total, float(k[0] * k[1] * k[2]))
    counts = [_valid_counts(n, kk, ss, pp, oo) for n, kk, ss, pp, oo in
              ((D, k[0], s[0], p[0], Do), (H, k[1], s[1], p[1], total.shape[3]), (W, k[2], s[2], p[2], total.shape[4]))]
    div = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    xp_div = Tensor._make(np.asarray(div, dtype=input.dtype))
    return ew.div(total, xp_div)


def _valid_counts(size, k, s, p, o):
    starts = np.arange(o) * s - p
    return (np.minimum(starts + k, size) - np.maximum(starts, 0)).astype(np.float64)


def _bins(size, out):
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _adaptive_max_axis(x, axis, out):
    size = x.shape[axis]
    if out == size:
        return x
    parts = []
    for a, b in _bins(size, out):
        key = [slice(None)] * x.ndim
        key[axis] = slice(a, b)
        parts.append(amax(getitem(x, tuple(key)), dim=axis, keepdim=True))
    return cat(parts, dim=axis)


def _out_sizes(name, output_size, sizes):
    n = len(sizes)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != n:
            raise ValueError(f"{name}: output_size must be an int or {n} values, got {output_size!r}")
        outs = list(output_size)
    else:
        outs = [output_size] * n
    outs = [s if o is None else o for o, s in zip(outs, sizes)]
    if any(isinstance(o, bool) or not isinstance(o, numbers.Integral) or o < 1 for o in outs):
        raise ValueError(f"{name}: output_size must be positive integers, got {output_size!r}")
    return [int(o) for o in outs]


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins of an (N, C, H, W) or (C, H, W) input."""
    name = "adaptive_max_pool2d"
    if return_indices:
        raise NotImplementedError(f"{name}: return_indices=True is not supported")
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W) or 3-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    oh, ow = _out_sizes(name, output_size, input.shape[-2:])
    return _adaptive_max_axis(_adaptive_max_axis(input, input.ndim - 2, oh), input.ndim - 1, ow)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins of an (N, C, L) or (C, L) input."""
    name = "adaptive_max_pool1d"
    if return_indices:
        raise NotImplementedError(f"{name}: return_indices=True is not supported")
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 3-D input (N, C, L) or 2-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    (o,) = _out_sizes(name, output_size, input.shape[-1:])
    return _adaptive_max_axis(input, input.ndim - 1, o)


def adaptive_avg_pool1d(input, output_size):
    """Mean over PyTorch's adaptive bins of an (N, C, L) input (adaptive_avg_pool2d with H = 1)."""
    name = "adaptive_avg_pool1d"
    if not isinstance(input, Tensor) or input.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D input (N, C, L), got shape {tuple(getattr(input, 'shape', ()))}")
    (o,) = _out_sizes(name, output_size, input.shape[-1:])
    N, C, L = input.shape
    y = adaptive_avg_pool2d(reshape(input, (N, C, 1, L)), (1, o), name=name)
    return reshape(y, (N, C, o))


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins of an (N, C, D, H, W) or (C, D, H, W) input."""
    name = "adaptive_max_pool3d"
    if return_indices:
        raise NotImplementedError(f"{name}: return_indices=True is not supported")
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a 5-D input (N, C, D, H, W) or 4-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    outs = _out_sizes(name, output_size, input.shape[-3:])
    y = input
    for k, o in enumerate(outs):
        y = _adaptive_max_axis(y, input.ndim - 3 + k, o)
    return y


def adaptive_avg_pool3d(input, output_size):
    """Mean over PyTorch's adaptive bins of an (N, C, D, H, W) or (C, D, H, W) input."""
    name = "adaptive_avg_pool3d"
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a 5-D input (N, C, D, H, W) or 4-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    outs = _out_sizes(name, output_size, input.shape[-3:])
    y = input
    for k, o in enumerate(outs):
        axis = input.ndim - 3 + k
        size = y.shape[axis]
        if o == size:
            continue
        A = np.zeros((o, size))
        for i, (a, b) in enumerate(_bins(size, o)):
            A[i, a:b] = 1.0 / (b - a)
        y = movedim(matmul(movedim(y, axis, -1), Tensor._make(A.T.astype(input.dtype))), -1, axis)
    return y


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) for an (N, C, L) input."""
    k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
    if float(norm_type) == 0:
        raise ValueError("lp_pool1d: norm_type must be non-zero")
    y = avg_pool1d(ew.pow(input, float(norm_type)), k, stride, 0, ceil_mode)
    return ew.pow(ew.mul(ew.mul(ew.sign(y), ew.relu(ew.abs(y))), float(k)), 1.0 / float(norm_type))


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) for an (N, C, H, W) input."""
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    if float(norm_type) == 0:
        raise ValueError("lp_pool2d: norm_type must be non-zero")
    y = avg_pool2d(ew.pow(input, float(norm_type)), (kh, kw), stride, 0, ceil_mode)
    return ew.pow(ew.mul(ew.mul(ew.sign(y), ew.relu(ew.abs(y))), float(kh * kw)), 1.0 / float(norm_type))


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """(maxima, flat indices h W + w of each maximum in its input plane)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """(maxima, indices of each maximum along L) for an (N, C, L) input."""
    if not isinstance(input, Tensor) or input.ndim != 3:
        raise ValueError(f"max_pool1d_with_indices: expected a 3-D input (N, C, L), got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    one = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
    s = None if stride is None else (1, one(stride))
    N, C, L = input.shape
    y, idx = max_pool2d(reshape(input, (N, C, 1, L)), (1, one(kernel_size)), s, (0, one(padding)),
                        (1, one(dilation)), ceil_mode, True)
    return reshape(y, (N, C, -1)), reshape(idx, (N, C, -1))


def _unpool(name, input, indices, out_spatial):
    N, C = input.shape[:2]
    idx = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    if tuple(idx.shape) != tuple(input.shape):
        raise ValueError(f"{name}: indices of shape {tuple(idx.shape)} must match the input of shape "
                         f"{tuple(input.shape)}")
    size = int(np.prod(out_spatial))
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(f"{name}: an index is out of range for the output size {tuple(out_spatial)}")
    zeros = Tensor._make(np.zeros((N, C, size), dtype=input.dtype))
    y = scatter_add(zeros, 2, Tensor._make(idx.reshape(N, C, -1).astype(np.int64)), reshape(input, (N, C, -1)))
    return reshape(y, (N, C) + tuple(out_spatial))


def _unpool_size(name, in_spatial, kernel_size, stride, padding, output_size):
    n = len(in_spatial)
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * n
    s = k if stride is None else (stride if isinstance(stride, (tuple, list)) else (stride,) * n)
    p = padding if isinstance(padding, (tuple, list)) else (padding,) * n
    if output_size is not None:
        return tuple(int(v) for v in tuple(output_size)[-n:])
    return tuple((i - 1) * ss - 2 * pp + kk for i, kk, ss, pp in zip(in_spatial, k, s, p))


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value of an (N, C, H, W) input at its index in an otherwise zero output plane."""
    if not isinstance(input, Tensor) or input.ndim != 4:
        raise ValueError(f"max_unpool2d: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    out = _unpool_size("max_unpool2d", input.shape[2:], kernel_size, stride, padding, output_size)
    return _unpool("max_unpool2d", input, indices, out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value of an (N, C, L) input at its index in an otherwise zero output."""
    if not isinstance(input, Tensor) or input.ndim != 3:
        raise ValueError(f"max_unpool1d: expected a 3-D input (N, C, L), got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    out = _unpool_size("max_unpool1d", input.shape[2:], kernel_size, stride, padding, output_size)
    return _unpool("max_unpool1d", input, indices, out)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over (dilated) windows of an (N, C, L) input; with ``return_indices`` also the index of
    each maximum along L."""
    if return_indices:
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)
