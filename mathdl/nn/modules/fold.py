"""Sliding windows: ``Unfold`` (im2col: (N, C, H, W) -> (N, C kh kw, L), one column per window
position) and ``Fold`` (col2im, its adjoint: columns summed back into (N, C, H, W), overlaps add)."""

from __future__ import annotations

from .. import functional as F
from ._args import tuple_arg
from .module import Module

__all__ = ["Fold", "Unfold"]


class Unfold(Module):
    """Extract sliding (dilated, strided, padded) windows as columns."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = tuple_arg("Unfold", "kernel_size", kernel_size, 2)
        self.dilation = tuple_arg("Unfold", "dilation", dilation, 2)
        self.padding = tuple_arg("Unfold", "padding", padding, 2, 0)
        self.stride = tuple_arg("Unfold", "stride", stride, 2)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"

    def forward(self, x):
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Module):
    """Sum columns of sliding windows back into an image of ``output_size``."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = tuple_arg("Fold", "output_size", output_size, 2)
        self.kernel_size = tuple_arg("Fold", "kernel_size", kernel_size, 2)
        self.dilation = tuple_arg("Fold", "dilation", dilation, 2)
        self.padding = tuple_arg("Fold", "padding", padding, 2, 0)
        self.stride = tuple_arg("Fold", "stride", stride, 2)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")

    def forward(self, x):
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)
