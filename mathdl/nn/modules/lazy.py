"""Lazy layers: the input size (``in_features``, ``in_channels``, ``num_features``) is read from the
first input, then the layer becomes the ordinary one (``LazyLinear`` -> ``Linear``) with PyTorch's
initialization.  Parameters exist only after that first call, so build optimizers after a dry run.
"""

from __future__ import annotations

from ...autograd.tensor import Tensor
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Linear
from .module import Module

__all__ = [
    "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
    "LazyInstanceNorm2d", "LazyInstanceNorm3d",
]


def _materialize(module, args):
    x = args[0] if args else None
    if not isinstance(x, Tensor) or x.ndim < 1:
        raise TypeError(f"{type(module).__name__}: the first call needs a Tensor input to infer its size")
    target, kwargs = module._lazy_target, module._lazy_kwargs
    size = x.shape[-1] if target is Linear else (x.shape[1] if x.ndim > 1 else x.shape[0])
    training = module.training
    module.__class__ = target
    target.__init__(module, size, **kwargs)  # a fresh module state: this hook is gone afterwards
    module.train(training)


class _Lazy(Module):
    cls_to_become = None

    def __init__(self, **kwargs):
        super().__init__()
        object.__setattr__(self, "_lazy_target", self.cls_to_become)
        object.__setattr__(self, "_lazy_kwargs", kwargs)
        self.register_forward_pre_hook(_materialize)

    def has_uninitialized_params(self):
        return True

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self._lazy_kwargs.items())


class LazyLinear(_Lazy):
    """``Linear`` with ``in_features`` taken from the first input's last dim."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(out_features=out_features, bias=bias, device=device, dtype=dtype)


class _LazyConv(_Lazy):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode, device=device,
                         dtype=dtype)


class LazyConv1d(_LazyConv):
    """``Conv1d`` with ``in_channels`` taken from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv):
    """``Conv2d`` with ``in_channels`` taken from the first input."""

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv):
    """``Conv3d`` with ``in_channels`` taken from the first input."""

    cls_to_become = Conv3d


class _LazyConvTranspose(_Lazy):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
                         output_padding=output_padding, groups=groups, bias=bias, dilation=dilation,
                         padding_mode=padding_mode, device=device, dtype=dtype)


class LazyConvTranspose1d(_LazyConvTranspose):
    """``ConvTranspose1d`` with ``in_channels`` taken from the first input."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose):
    """``ConvTranspose2d`` with ``in_channels`` taken from the first input."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose):
    """``ConvTranspose3d`` with ``in_channels`` taken from the first input."""

    cls_to_become = ConvTranspose3d


class _LazyNorm(_Lazy):
    _affine = True

    def __init__(self, eps=1e-5, momentum=0.1, affine=None, track_running_stats=None, device=None, dtype=None):
        affine = self._affine if affine is None else affine
        track = self._affine if track_running_stats is None else track_running_stats
        super().__init__(eps=eps, momentum=momentum, affine=affine, track_running_stats=track, device=device,
                         dtype=dtype)


class LazyBatchNorm1d(_LazyNorm):
    """``BatchNorm1d`` with ``num_features`` taken from the first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm):
    """``BatchNorm2d`` with ``num_features`` taken from the first input."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm):
    """``BatchNorm3d`` with ``num_features`` taken from the first input."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyNorm):
    """``InstanceNorm1d`` with ``num_features`` taken from the first input."""

    cls_to_become = InstanceNorm1d
    _affine = False


class LazyInstanceNorm2d(_LazyNorm):
    """``InstanceNorm2d`` with ``num_features`` taken from the first input."""

    cls_to_become = InstanceNorm2d
    _affine = False


class LazyInstanceNorm3d(_LazyNorm):
    """``InstanceNorm3d`` with ``num_features`` taken from the first input."""

    cls_to_become = InstanceNorm3d
    _affine = False
