"""Convolution, pooling and image-normalization layers (PyTorch's parameter shapes and inits).

  Conv2d:           y = conv2d(x, W) + b,  W (out, in/groups, kh, kw),  b (out,)
  ConvTranspose2d:  y = conv2d^T(x, W) + b, W (in, out/groups, kh, kw)
  init (PyTorch's): W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt 5),
                    b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),  fan_in = W.shape[1] * kh * kw
  BatchNorm2d:      y = (x - mu_c) / sqrt(var_c + eps) * gamma_c + beta_c with batch statistics in
                    training (running averages updated with ``momentum``) and running ones in eval
  GroupNorm:        the same per sample over groups of channels, gamma = 1, beta = 0 at init
  Dropout2d:        zeroes whole channels with probability p in training, scales by 1/(1-p)

Errors name the layer and the shapes: a non-4-D input, a wrong channel count, a kernel larger
than the padded input.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..ops import conv as C
from ..ops.normalization import batch_norm as _batch_norm
from . import init
from .layers import _BatchNorm
from .module import Module, Parameter

__all__ = [
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool2d", "BatchNorm2d", "GroupNorm", "Dropout2d", "Upsample",
]


def _pair(v):
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _empty(shape, dtype):
    return Parameter(np.empty(shape, dtype=backend.as_dtype(dtype)))


def _reset_conv(weight, bias):
    """PyTorch's default: kaiming_uniform_(a=sqrt 5) for W, U(+-1/sqrt(fan_in)) for b."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight.shape[1] * int(np.prod(weight.shape[2:]))
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class _ConvNd(Module):
    _ndim = 2

    def _check_input(self, x):
        nd = self._ndim + 2
        dims = "(N, C, L)" if self._ndim == 1 else "(N, C, H, W)"
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim != nd:
            raise ValueError(f"{self._label()}: expected a {nd}-D input {dims}, got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{self._label()}: expected input with {self.in_channels} channels, got input of "
                             f"shape {tuple(x.shape)}")

    def _label(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv2d(_ConvNd):
    """2-D convolution layer: weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode {padding_mode!r} is not supported; only 'zeros'")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = int(groups)
        self.weight = _empty((out_channels, in_channels // groups) + self.kernel_size, dtype)
        self.bias = _empty((out_channels,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        _reset_conv(self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def forward(self, x):
        self._check_input(x)
        return C.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                        name=self._label())


class Conv1d(_ConvNd):
    """1-D convolution layer: weight (out_channels, in_channels/groups, k), bias (out_channels,)."""

    _ndim = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv1d: padding_mode {padding_mode!r} is not supported; only 'zeros'")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        one = lambda v: int(v[0]) if isinstance(v, (tuple, list)) else int(v)  # noqa: E731
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (one(kernel_size),)
        self.stride = (one(stride),)
        self.padding = padding if isinstance(padding, str) else (one(padding),)
        self.dilation = (one(dilation),)
        self.groups = int(groups)
        self.weight = _empty((out_channels, in_channels // groups) + self.kernel_size, dtype)
        self.bias = _empty((out_channels,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        _reset_conv(self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s

    def forward(self, x):
        self._check_input(x)
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return C.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0], self.groups,
                        name=self._label())


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution: weight (in_channels, out_channels/groups, kh, kw), bias (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"ConvTranspose2d: padding_mode {padding_mode!r} is not supported")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.output_padding = _pair(output_padding)
        self.dilation = _pair(dilation)
        self.groups = int(groups)
        self.weight = _empty((in_channels, out_channels // groups) + self.kernel_size, dtype)
        self.bias = _empty((out_channels,), dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        _reset_conv(self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s

    def forward(self, x, output_size=None):
        self._check_input(x)
        op = self.output_padding
        if output_size is not None:  # choose output_padding to reach the requested size
            want = tuple(output_size)[-2:]
            op = tuple(
                w - ((x.shape[2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
                for i, w in enumerate(want))
        return C.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                  self.dilation, name=self._label())


class _Pool2d(Module):
    def _check(self, x):
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}): expected a 4-D input (N, C, H, W), "
                             f"got shape {tuple(getattr(x, 'shape', ()))}")

    def _label(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class MaxPool2d(_Pool2d):
    """Max over kernel windows (padding counts as -inf); ``return_indices`` gives flat input indices."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, x):
        self._check(x)
        return C.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices, name=self._label())


class AvgPool2d(_Pool2d):
    """Mean over kernel windows (PyTorch's count_include_pad / ceil_mode / divisor_override rules)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x):
        self._check(x)
        return C.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override, name=self._label())


class MaxPool1d(Module):
    """Max pooling over (N, C, L)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x):
        return C.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class AvgPool1d(Module):
    """Average pooling over (N, C, L)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return C.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool2d(_Pool2d):
    """Average over PyTorch's adaptive bins to a fixed output size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        self._check(x)
        return C.adaptive_avg_pool2d(x, self.output_size, name=self._label())


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W): statistics per channel over N, H and W (the fused
    ``F.batch_norm``); running statistics, momentum and eval mode as in BatchNorm1d."""

    _expected_dims = (4,)

    def forward_relu(self, x):
        """max(self(x), 0) as one fused op (one pass less forward and backward; used by the ResNet
        blocks).  Same statistics, running-average updates and eval behaviour as ``forward``;
        forward hooks do not run."""
        use_batch, factor = self._step(x)
        return _batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor,
                           self.eps, relu=True)


class GroupNorm(Module):
    """Group normalization: per sample over groups of C/num_groups channels; weight, bias (C,)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        dt = backend.as_dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dt))
            self.bias = Parameter(np.zeros(num_channels, dtype=dt))
        else:
            self.weight = self.bias = None

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.extra_repr()}): expected input (N, {self.num_channels}, ...), got "
                             f"shape {tuple(getattr(x, 'shape', ()))}")
        return C.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


class Dropout2d(Module):
    """Channel dropout: in training each (sample, channel) map is zeroed with probability p."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = float(p)

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        return C.dropout2d(x, self.p, self.training)


class Upsample(Module):
    """Resize by nearest or bilinear interpolation (``F.interpolate``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def extra_repr(self):
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}"

    def forward(self, x):
        return C.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)
