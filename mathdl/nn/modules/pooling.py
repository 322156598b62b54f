"""Pooling layers.

  MaxPool1d/2d     y = max of x over each (dilated) window
  AvgPool1d/2d     y = mean of x over each window (``count_include_pad`` decides the divisor)
  AdaptiveAvgPool2d  windows [floor(i H / Ho), ceil((i+1) H / Ho)) so the output has a fixed size
"""

from __future__ import annotations

from ...autograd.tensor import Tensor
from ...ops import conv as C
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool2d"]


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
