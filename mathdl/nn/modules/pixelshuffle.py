"""Sub-pixel rearrangement (Shi et al., 2016): ``PixelShuffle(r)`` maps (*, C r^2, H, W) to
(*, C, H r, W r) with y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]; ``PixelUnshuffle(r)`` inverts it.
``ChannelShuffle(g)`` interleaves g groups of channels (ShuffleNet): channel i k + j moves to j g + i."""

from __future__ import annotations

from .. import functional as F
from ._args import size_arg
from .module import Module

__all__ = [
    "PixelShuffle", "PixelUnshuffle", "ChannelShuffle",
]


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


class ChannelShuffle(Module):
    """(N, g k, *) -> (N, k g, *), interleaving the ``groups`` groups of channels."""

    def __init__(self, groups):
        super().__init__()
        self.groups = size_arg("ChannelShuffle", "groups", groups)

    def extra_repr(self):
        return f"groups={self.groups}"

    def forward(self, x):
        return F.channel_shuffle(x, self.groups)
