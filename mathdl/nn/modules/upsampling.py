"""``Upsample``: resizes by ``size`` or ``scale_factor`` with nearest or (bi)linear interpolation
(:func:`mathdl.nn.functional.interpolate`).
"""

from __future__ import annotations

from ...ops import conv as C
from .module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    """Resize by nearest or bilinear interpolation (``F.interpolate``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def extra_repr(self):
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}"

    def forward(self, x):
        return C.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)
