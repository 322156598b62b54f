"""Convolutions, functional forms.

  conv1d/conv2d(x, W, b)   y[n, o] = b[o] + sum_{c, k} W[o, c, k] x[n, c, s*i + d*k - p]  (primitives in
                           :mod:`mathdl.ops.conv`)
  conv3d(x, W, b)          the same over three spatial axes, computed as a sum over the depth taps kd
                           of 2-D convolutions of depth slices:
                             y[:, :, t] = b + sum_kd conv2d(x_pad[:, :, t s_d + kd d_d], W[:, :, kd])
                           with all output depths t batched into one conv2d per tap
  conv_transpose1d/2d/3d   the adjoint of conv1d/2d/3d in x (a gradient of the convolution), plus bias;
                           in 3-D a sum over depth taps kd of 2-D transposed convolutions, each spread to
                           the output depths t s_d + kd d_d (zeros between), then cropped by the padding
"""

from __future__ import annotations

import numbers

from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.conv import conv1d, conv2d, conv_transpose2d
from ...ops.indexing import getitem
from ...ops.shape import pad as _pad
from ...ops.shape import permute, reshape

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def _ntuple(v, n, name, what):
    if isinstance(v, (tuple, list)):
        if len(v) != n or not all(isinstance(a, numbers.Integral) for a in v):
            raise ValueError(f"{name}: {what} must be an int or {n} ints, got {v!r}")
        return tuple(int(a) for a in v)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"{name}: {what} must be an int or {n} ints, got {v!r}")
    return (int(v),) * n


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation: input (N, C, D, H, W) (or unbatched (C, D, H, W)), weight
    (O, C/groups, kd, kh, kw), bias (O,); padding an int, a triple, 'valid' or 'same'."""
    name = "conv3d"
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a 5-D input (N, C, D, H, W) or 4-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if weight.ndim != 5:
        raise ValueError(f"{name}: expected a 5-D weight (O, C/groups, kd, kh, kw), got shape {tuple(weight.shape)}")
    if input.ndim == 4:
        y = conv3d(reshape(input, (1,) + tuple(input.shape)), weight, bias, stride, padding, dilation, groups)
        return reshape(y, tuple(y.shape[1:]))
    s = _ntuple(stride, 3, name, "stride")
    d = _ntuple(dilation, 3, name, "dilation")
    if min(s) < 1 or min(d) < 1:
        raise ValueError(f"{name}: stride and dilation must be positive, got stride {s}, dilation {d}")
    N, C, D, H, W = input.shape
    O, Cg, kd, kh, kw = weight.shape
    if isinstance(padding, str):
        if padding == "valid":
            pd = (0, 0)
            hw_pad = (0, 0)
        elif padding == "same":
            if s != (1, 1, 1):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {s}")
            total = d[0] * (kd - 1)
            pd = (total // 2, total - total // 2)
            hw_pad = "same"
        else:
            raise ValueError(f"{name}: padding must be an int, a triple, 'valid' or 'same', got {padding!r}")
    else:
        p = _ntuple(padding, 3, name, "padding")
        if min(p) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {p}")
        pd, hw_pad = (p[0], p[0]), (p[1], p[2])
    if int(groups) < 1 or C % int(groups) or Cg * int(groups) != C:
        raise ValueError(f"{name}: expected input with {Cg * int(groups)} channels (weight {tuple(weight.shape)}, "
                         f"groups={groups}), got input of shape {tuple(input.shape)}")
    x = _pad(input, (0, 0, 0, 0) + pd) if pd != (0, 0) else input
    Dp = D + pd[0] + pd[1]
    span = d[0] * (kd - 1) + 1
    if span > Dp:
        raise ValueError(f"{name}: kernel depth {kd} with dilation {d[0]} is larger than the padded input depth {Dp} "
                         f"(input shape {tuple(input.shape)})")
    Do = (Dp - span) // s[0] + 1
    y = None
    for k in range(kd):
        start = k * d[0]
        xs = getitem(x, (slice(None), slice(None), slice(start, start + s[0] * (Do - 1) + 1, s[0])))
        xs = reshape(permute(xs, (0, 2, 1, 3, 4)), (N * Do, C, H, W))
        wk = getitem(weight, (slice(None), slice(None), k))
        yk = conv2d(xs, wk, None, s[1:], hw_pad, d[1:], groups, name=name)
        y = yk if y is None else ew.add(y, yk)
    Ho, Wo = y.shape[2], y.shape[3]
    y = permute(reshape(y, (N, Do, O, Ho, Wo)), (0, 2, 1, 3, 4))
    if bias is not None:
        if tuple(bias.shape) != (O,):
            raise ValueError(f"{name}: bias must have shape ({O},), got {tuple(bias.shape)}")
        y = ew.add(y, reshape(bias, (1, O, 1, 1, 1)))
    return y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution: input (N, Cin, L), weight (Cin, Cout/groups, k); output length
    (L - 1) s - 2 p + d (k - 1) + output_padding + 1; computed as conv_transpose2d with H = 1."""
    name = "conv_transpose1d"
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 3-D input (N, C, L) or 2-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if weight.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D weight (Cin, Cout/groups, k), got shape {tuple(weight.shape)}")
    if input.ndim == 2:
        y = conv_transpose1d(reshape(input, (1,) + tuple(input.shape)), weight, bias, stride, padding,
                             output_padding, groups, dilation)
        return reshape(y, tuple(y.shape[1:]))
    (s,), (p,), (op,), (d,) = (_ntuple(v, 1, name, w) for v, w in ((stride, "stride"), (padding, "padding"),
                                                                 (output_padding, "output_padding"),
                                                                 (dilation, "dilation")))
    x4 = reshape(input, (input.shape[0], input.shape[1], 1, input.shape[2]))
    w4 = reshape(weight, (weight.shape[0], weight.shape[1], 1, weight.shape[2]))
    y = conv_transpose2d(x4, w4, bias, (1, s), (0, p), (0, op), groups, (1, d), name=name)
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution: input (N, Cin, D, H, W) (or unbatched), weight
    (Cin, Cout/groups, kd, kh, kw); output depth (D - 1) s - 2 p + d (kd - 1) + output_padding + 1
    (likewise H and W)."""
    name = "conv_transpose3d"
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a 5-D input (N, C, D, H, W) or 4-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if weight.ndim != 5:
        raise ValueError(f"{name}: expected a 5-D weight (Cin, Cout/groups, kd, kh, kw), got shape "
                         f"{tuple(weight.shape)}")
    if input.ndim == 4:
        y = conv_transpose3d(reshape(input, (1,) + tuple(input.shape)), weight, bias, stride, padding,
                             output_padding, groups, dilation)
        return reshape(y, tuple(y.shape[1:]))
    s, p, op, d = (_ntuple(v, 3, name, w) for v, w in ((stride, "stride"), (padding, "padding"),
                                                       (output_padding, "output_padding"), (dilation, "dilation")))
    if min(s) < 1 or min(d) < 1 or min(p) < 0 or min(op) < 0:
        raise ValueError(f"{name}: stride and dilation must be positive, padding and output_padding non-negative")
    if any(o >= max(ss, dd) for o, ss, dd in zip(op, s, d)):
        raise ValueError(f"{name}: output_padding {op} must be smaller than stride {s} or dilation {d}")
    N, Cin, D, H, W = input.shape
    Ci, Cog, kd = weight.shape[:3]
    if Ci != Cin:
        raise ValueError(f"{name}: expected input with {Ci} channels (weight {tuple(weight.shape)}), got input of "
                         f"shape {tuple(input.shape)}")
    full = (D - 1) * s[0] + d[0] * (kd - 1) + 1 + op[0]
    Do = full - 2 * p[0]
    if Do < 1:
        raise ValueError(f"{name}: the output depth {Do} is not positive for input shape {tuple(input.shape)}")
    x2 = reshape(permute(input, (0, 2, 1, 3, 4)), (N * D, Cin, H, W))
    span = (D - 1) * s[0] + 1
    y = None
    for k in range(kd):
        z = conv_transpose2d(x2, getitem(weight, (slice(None), slice(None), k)), None, s[1:], p[1:], op[1:], groups,
                             d[1:], name=name)
        Cout, Ho, Wo = z.shape[1:]
        z = permute(reshape(z, (N, D, Cout, Ho, Wo)), (0, 2, 1, 3, 4))
        if s[0] > 1:  # spread the D depths s apart: (N, C, D, 1, ...) -> (N, C, D, s, ...) -> (N, C, D s, ...)
            z = reshape(z, (N, Cout, D, 1, Ho, Wo))
            z = _pad(z, (0, 0, 0, 0, 0, s[0] - 1))
            z = getitem(reshape(z, (N, Cout, D * s[0], Ho, Wo)), (slice(None), slice(None), slice(0, span)))
        front = k * d[0]
        z = _pad(z, (0, 0, 0, 0, front, full - front - span))
        y = z if y is None else ew.add(y, z)
    y = getitem(y, (slice(None), slice(None), slice(p[0], p[0] + Do)))
    if bias is not None:
        if tuple(bias.shape) != (y.shape[1],):
            raise ValueError(f"{name}: bias must have shape ({y.shape[1]},), got {tuple(bias.shape)}")
        y = ew.add(y, reshape(bias, (1, -1, 1, 1, 1)))
    return y
