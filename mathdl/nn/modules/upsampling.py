"""``Upsample``: resizes by ``size`` or ``scale_factor`` with nearest or (bi)linear interpolation
(:func:`mathdl.nn.functional.interpolate`).
"""

from __future__ import annotations

from ...ops import conv as C
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Resize by interpolation (``F.interpolate``: nearest, (bi/tri)linear, bicubic, area)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        if size is None and scale_factor is None:
            raise ValueError("Upsample: give either size or scale_factor")
        for arg, v in (("size", size), ("scale_factor", scale_factor)):
            values = v if isinstance(v, (tuple, list)) else (v,)
            if v is not None and not all(isinstance(a, (int, float)) and a > 0 for a in values):
                raise ValueError(f"Upsample: {arg} must be positive, got {v!r}")
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def extra_repr(self):
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}"

    def forward(self, x):
        return C.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)


class UpsamplingNearest2d(Upsample):
    """``Upsample`` with mode='nearest'."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample`` with mode='bilinear' and align_corners=True."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", True)
