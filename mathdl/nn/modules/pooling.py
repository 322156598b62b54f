"""Pooling layers.

  MaxPool1d/2d     y = max of x over each (dilated) window
  AvgPool1d/2d     y = mean of x over each window (``count_include_pad`` decides the divisor)
  MaxPool3d / AvgPool3d  the same over (D, H, W) windows
  AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d
                   mean / max over windows [floor(i H / Ho), ceil((i+1) H / Ho)), a fixed output size
  AdaptiveAvgPool3d, AdaptiveMaxPool3d  the same over (D, H, W)
  LPPool1d/2d      (sum over the window of x^p)^(1/p)
  MaxUnpool1d/2d   the maxima put back at their indices (from return_indices=True), zeros elsewhere
"""

from __future__ import annotations

from ...autograd.tensor import Tensor
from ...ops import pooling as C
from .. import functional as F
from ._args import size_arg, tuple_arg
from .module import Module

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d",
    "LPPool1d", "LPPool2d", "MaxUnpool1d", "MaxUnpool2d",
]


def _pool_sizes(layer, kernel_size, stride, padding, dilation, n):
    """Check the pooling arguments at construction (kernel, stride, dilation >= 1; padding >= 0)."""
    tuple_arg(layer, "kernel_size", kernel_size, n)
    if stride is not None and not (isinstance(stride, (tuple, list)) and not stride):
        tuple_arg(layer, "stride", stride, n)
    tuple_arg(layer, "padding", padding, n, 0)
    tuple_arg(layer, "dilation", dilation, n)


def _output_size_arg(layer, output_size):
    for v in output_size if isinstance(output_size, (tuple, list)) else (output_size,):
        if v is not None:
            size_arg(layer, "output_size", v)


class _PoolNd(Module):
    """Shared by the pools: the 4-D input check of the 2-D layers and the layer's label in errors.

    ``_n`` is the number of pooled dims; a missing stride is stored as ``kernel_size`` (PyTorch's default).
    """

    _n = 2

    def _stride(self, kernel_size, stride):
        return kernel_size if stride is None else stride

    def _check(self, x):
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}): expected a 4-D input (N, C, H, W), "
                             f"got shape {tuple(getattr(x, 'shape', ()))}")

    def _label(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class _MaxPoolNd(_PoolNd):
    """Shared by the max pools: y = max of x over each (dilated) window, padding counting as -inf."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        _pool_sizes(type(self).__name__, kernel_size, stride, padding, dilation, self._n)
        self.kernel_size = kernel_size
        self.stride = self._stride(kernel_size, stride)
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class _AvgPoolNd(_PoolNd):
    """Shared by the average pools: y = mean of x over each window (count_include_pad / divisor_override)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        _pool_sizes(type(self).__name__, kernel_size, stride, padding, 1, self._n)
        self.kernel_size = kernel_size
        self.stride = self._stride(kernel_size, stride)
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(_PoolNd):
    """Shared by the adaptive average pools: the output size."""

    def __init__(self, output_size):
        super().__init__()
        _output_size_arg(type(self).__name__, output_size)
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _AdaptiveMaxPoolNd(_AdaptiveAvgPoolNd):
    """Shared by the adaptive max pools: the output size (as the average pools) and return_indices."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class MaxPool1d(_MaxPoolNd):
    """Max pooling over (N, C, L); ``return_indices`` also gives each maximum's index along L."""

    _n = 1

    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Max over kernel windows (padding counts as -inf); ``return_indices`` gives flat input indices."""

    def forward(self, x):
        self._check(x)
        return C.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices, name=self._label())


class MaxPool3d(_MaxPoolNd):
    """Max over (dilated) (kd, kh, kw) windows of an (N, C, D, H, W) input."""

    _n = 3

    def forward(self, x):
        return F.max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class AvgPool1d(_AvgPoolNd):
    """Average pooling over (N, C, L)."""

    _n = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        def single(v):  # PyTorch's AvgPool1d keeps 1-tuples
            return tuple(v) if isinstance(v, (tuple, list)) else (v,)

        super().__init__(single(kernel_size), None if stride is None else single(stride), single(padding),
                         ceil_mode, count_include_pad)

    def forward(self, x):
        return C.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over kernel windows (PyTorch's count_include_pad / ceil_mode / divisor_override rules)."""

    def forward(self, x):
        self._check(x)
        return C.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override, name=self._label())


class AvgPool3d(_AvgPoolNd):
    """Mean over (kd, kh, kw) windows of an (N, C, D, H, W) input."""

    _n = 3

    def forward(self, x):
        return F.avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean over adaptive bins of an (N, C, L) input to length ``output_size``."""

    def forward(self, x):
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average over PyTorch's adaptive bins to a fixed output size."""

    def forward(self, x):
        self._check(x)
        return C.adaptive_avg_pool2d(x, self.output_size, name=self._label())


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Mean over adaptive bins of an (N, C, D, H, W) input to ``output_size``."""

    def forward(self, x):
        return F.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max over adaptive bins of an (N, C, L) input to length ``output_size``."""

    def forward(self, x):
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max over adaptive bins of an (N, C, H, W) input to ``output_size``."""

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max over adaptive bins of an (N, C, D, H, W) input to ``output_size``."""

    def forward(self, x):
        return F.adaptive_max_pool3d(x, self.output_size, self.return_indices)

class _LPPool(Module):
    _n = 1

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        name = type(self).__name__
        if float(norm_type) == 0:
            raise ValueError(f"{name}: norm_type must be non-zero")
        _pool_sizes(name, kernel_size, stride, 0, 1, self._n)
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def extra_repr(self):
        return f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}"


class LPPool1d(_LPPool):
    """Power-average pooling of (N, C, L) input."""

    def forward(self, x):
        return F.lp_pool1d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPool):
    """Power-average pooling of (N, C, H, W) input."""

    _n = 2

    def forward(self, x):
        return F.lp_pool2d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class _MaxUnpool(Module):
    _n = 1

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        _pool_sizes(type(self).__name__, kernel_size, stride, padding, 1, self._n)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """Inverse of MaxPool1d (with return_indices=True)."""

    def forward(self, x, indices, output_size=None):
        return F.max_unpool1d(x, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool2d(_MaxUnpool):
    """Inverse of MaxPool2d (with return_indices=True)."""

    _n = 2

    def forward(self, x, indices, output_size=None):
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)
