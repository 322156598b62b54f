"""Dropout layers (active only in training mode):

  Dropout       y = x * m / (1 - p),  m ~ Bernoulli(1 - p) per entry
  AlphaDropout  keeps SELU's zero mean and unit variance (dropped entries set to -scale*alpha, then
                an affine correction)
  Dropout1d/2d/3d  zero whole channels with probability p, scale the rest by 1/(1-p)
  FeatureAlphaDropout  AlphaDropout with one draw per channel
"""

from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = [
    "Dropout", "AlphaDropout", "Dropout2d", "Dropout1d", "Dropout3d", "FeatureAlphaDropout",
]


class Dropout(Module):
    """In training: zero each entry with probability p, scale the rest by 1/(1-p).  In eval: identity."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p = float(p)
        self.inplace = inplace  # accepted; the result is the same tensor values, computed out of place

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class AlphaDropout(Dropout):
    """Dropout for SELU networks that keeps zero mean and unit variance."""

    def forward(self, x):
        return F.alpha_dropout(x, self.p, self.training)


class Dropout2d(Module):
    """Channel dropout: in training each (sample, channel) map is zeroed with probability p."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


class _ChannelDropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p, self.inplace = float(p), inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_ChannelDropout):
    """Zeroes whole channels of (N, C, L) input in training."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training)


class Dropout3d(_ChannelDropout):
    """Zeroes whole channels of (N, C, D, H, W) input in training."""

    def forward(self, x):
        return F.dropout3d(x, self.p, self.training)


class FeatureAlphaDropout(_ChannelDropout):
    """AlphaDropout of whole channels in training."""

    def forward(self, x):
        return F.feature_alpha_dropout(x, self.p, self.training)
