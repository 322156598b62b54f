"""Sub-pixel rearrangement (Shi et al., 2016): ``PixelShuffle(r)`` maps (*, C r^2, H, W) to
(*, C, H r, W r) with y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]; ``PixelUnshuffle(r)`` inverts it."""

from __future__ import annotations

from .. import functional as F
from ._args import size_arg
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = size_arg("PixelShuffle", "upscale_factor", upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = size_arg("PixelUnshuffle", "downscale_factor", downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"

    def forward(self, x):
        return F.pixel_unshuffle(x, self.downscale_factor)
