"""Convolution layers (PyTorch's parameter shapes and inits).

  Conv1d / Conv2d / Conv3d:          y = conv(x, W) + b,  W (out, in/groups, *k),  b (out,)
  ConvTranspose1d / 2d / 3d:         y = conv^T(x, W) + b, W (in, out/groups, *k)
  init (PyTorch's): W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt 5),
                    b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),  fan_in = W.shape[1] * prod(k)

Errors name the layer and the shapes: a wrong input rank, a wrong channel count, a kernel larger
than the padded input.
"""

from __future__ import annotations

import math

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...ops import conv as C
from .. import functional as F
from .. import init
from ._args import size_arg, tuple_arg
from .module import _to_device, Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


def _empty(shape, dtype):
    return Parameter(np.empty(shape, dtype=backend.as_dtype(dtype)))


def _reset_conv(weight, bias):
    """PyTorch's default: kaiming_uniform_(a=sqrt 5) for W, U(+-1/sqrt(fan_in)) for b."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight.shape[1] * int(np.prod(weight.shape[2:]))
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


def _check_conv(layer, in_channels, out_channels, groups):
    size_arg(layer, "in_channels", in_channels)
    size_arg(layer, "out_channels", out_channels)
    size_arg(layer, "groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: groups={groups} must divide in_channels={in_channels} and "
                         f"out_channels={out_channels}")


def _padding_arg(layer, padding, n):
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer}: padding must be an int, {n} ints, 'same' or 'valid', got {padding!r}")
        return padding
    return tuple_arg(layer, "padding", padding, n, 0)


class _ConvNd(Module):
    """Shared by the convolutions: argument checks, parameters, init, repr and the input check.

    ``extra_repr`` shows the optional fields that differ from their defaults, in PyTorch's order.
    """

    _ndim = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self._build(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                    device, dtype)

    def _build(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
               padding_mode, device, dtype, output_padding=0):
        name, n = type(self).__name__, self._ndim
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{name}: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', got "
                             f"{padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported (got {padding_mode!r}), as in PyTorch')
        self.padding_mode = padding_mode
        _check_conv(name, in_channels, out_channels, groups)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = tuple_arg(name, "kernel_size", kernel_size, n)
        self.stride = tuple_arg(name, "stride", stride, n)
        if self._transposed:
            self.padding = tuple_arg(name, "padding", padding, n, 0)
            self.output_padding = tuple_arg(name, "output_padding", output_padding, n, 0)
        else:
            self.padding = _padding_arg(name, padding, n)
        self.dilation = tuple_arg(name, "dilation", dilation, n)
        self.groups = int(groups)
        if not self._transposed:
            self._reversed_padding_repeated_twice = self._pads_for_mode()
        if self._transposed:
            w_shape = (in_channels, out_channels // groups)
        else:
            w_shape = (out_channels, in_channels // groups)
        self.weight = _empty(w_shape + self.kernel_size, dtype)
        self.bias = _empty((out_channels,), dtype) if bias else None
        self.reset_parameters()
        _to_device(self, device)

    def reset_parameters(self):
        _reset_conv(self.weight, self.bias)

    def _pads_for_mode(self):
        """F.pad's (left, right) pairs, last dimension first, of the layer's padding (PyTorch's
        ``_reversed_padding_repeated_twice``; 'same' puts the odd extra element on the right)."""
        if self.padding == "valid":
            return [0, 0] * self._ndim
        if self.padding == "same":
            pads = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return pads
        return [p for p in reversed(self.padding) for _ in range(2)]

    def _padded(self, x):
        """``(x, padding)`` for the convolution: a non-zeros padding_mode pads x here (F.pad) and
        convolves it unpadded, as PyTorch's layers do."""
        if self.padding_mode == "zeros":
            return x, self.padding
        return F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode), (0,) * self._ndim

    def extra_repr(self):
        n = self._ndim
        defaults = {"padding": ((0,) * n, "valid"), "dilation": ((1,) * n,), "output_padding": ((0,) * n,),
                    "groups": (1,)}
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for key in ("padding", "dilation", "output_padding", "groups"):
            value = getattr(self, key, defaults[key][0])
            if value not in defaults[key]:
                s += f", {key}={value}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _check_input(self, x):
        nd = self._ndim + 2
        dims = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[self._ndim]
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim != nd:
            raise ValueError(f"{self._label()}: expected a {nd}-D input {dims}, got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{self._label()}: expected input with {self.in_channels} channels, got input of "
                             f"shape {tuple(x.shape)}")

    def _label(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class _ConvTransposeNd(_ConvNd):
    """Shared by the transposed convolutions: PyTorch's argument order and the ``output_size`` rule."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        Module.__init__(self)
        self._build(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                    device, dtype, output_padding)

    def _output_padding(self, x, output_size):
        """The output_padding that reaches ``output_size`` (the layer's own when it is None), one per dim."""
        if output_size is None:
            return self.output_padding
        want = tuple(output_size)[-self._ndim:]
        return tuple(
            w - ((x.shape[2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                 + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            for i, w in enumerate(want))


class Conv1d(_ConvNd):
    """1-D convolution layer: weight (out_channels, in_channels/groups, k), bias (out_channels,)."""

    _ndim = 1

    def forward(self, x):
        self._check_input(x)
        x, padding = self._padded(x)
        pad = padding if isinstance(padding, str) else padding[0]
        return C.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0], self.groups,
                        name=self._label())


class Conv2d(_ConvNd):
    """2-D convolution layer: weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,)."""


    def forward(self, x):
        self._check_input(x)
        x, padding = self._padded(x)
        return C.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups,
                        name=self._label())


class Conv3d(_ConvNd):
    """3-D convolution layer: weight (out_channels, in_channels/groups, kd, kh, kw), bias (out_channels,)."""

    _ndim = 3

    def forward(self, x):
        self._check_input(x)
        x, padding = self._padded(x)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution: weight (in_channels, out_channels/groups, k), bias (out_channels,)."""

    _ndim = 1

    def forward(self, x, output_size=None):
        self._check_input(x)
        op = self._output_padding(x, output_size)[0]
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride[0], self.padding[0], op, self.groups,
                                  self.dilation[0])


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: weight (in_channels, out_channels/groups, kh, kw), bias (out,)."""


    def forward(self, x, output_size=None):
        self._check_input(x)
        op = self._output_padding(x, output_size)
        return C.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                  self.dilation, name=self._label())


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution: weight (in_channels, out_channels/groups, kd, kh, kw), bias (out_channels,)."""

    _ndim = 3

    def forward(self, x, output_size=None):
        self._check_input(x)
        op = self._output_padding(x, output_size)
        return F.conv_transpose3d(x, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)
