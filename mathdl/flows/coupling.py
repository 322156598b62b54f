"""RealNVP affine coupling (Dinh, Sohl-Dickstein & Bengio 2017).

With a binary mask m (1 = passed through, conditioning) and networks s, t of the masked input:
  y = m x + (1 - m) (x exp(s(m x)) + t(m x)),      log|det| = sum (1 - m) s(m x)
  x = m y + (1 - m) (y - t(m y)) exp(-s(m y))
(computed as y = x exp(s') + t', x = (y - t') exp(-s') with s' = (1 - m) s, t' = (1 - m) t: the same maps)
s is bounded as s = scale * tanh(s_raw) (a learned per-feature scale) for stable training.
"""

from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..autograd.tensor import Tensor
from .base import FlowLayer

__all__ = ["AffineCoupling", "checkerboard_mask", "alternating_mask", "coupling_mlp"]


def alternating_mask(features, even=True):
    """[1, 0, 1, 0, ...] (or its complement)."""
    m = (np.arange(features) % 2 == (0 if even else 1)).astype(np.float64)
    return m


def checkerboard_mask(h, w, even=True):
    m = ((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2 == (0 if even else 1)).astype(np.float64)
    return m


def coupling_mlp(features, hidden=64, out=None, layers=2):
    """An MLP conditioner features -> hidden (ReLU) x layers -> out (zero-initialized last layer)."""
    mods, prev = [], features
    for _ in range(layers):
        mods += [nn.Linear(prev, hidden), nn.ReLU()]
        prev = hidden
    last = nn.Linear(prev, out or features)
    last.weight.array[...] = 0
    last.bias.array[...] = 0
    return nn.Sequential(*mods, last)


class AffineCoupling(FlowLayer):
    """Affine coupling over feature vectors with ``mask`` (shape (features,)); ``net`` maps features -> 2 features."""

    def __init__(self, mask, hidden=64, net=None):
        super().__init__()
        mask = np.asarray(mask)
        self.features = mask.shape[-1]
        self.net = net if net is not None else coupling_mlp(self.features, hidden, 2 * self.features)
        self.scale = nn.Parameter(Tensor(np.ones(self.features, dtype=self.net[0].weight.dtype)))
        self.mask_array = mask

    def _masks(self, x):
        """(m, 1 - m) as constant tensors of x's dtype (cached)."""
        from ..backend import xp_of

        cache = self.__dict__.setdefault("_mask_cache", {})
        xp = xp_of(x.array)
        key = (x.dtype, xp.__name__)
        if key not in cache:
            m = xp.asarray(self.mask_array.astype(x.dtype))
            cache[key] = (Tensor._make(m), Tensor._make(1 - m))
        return cache[key]

    def _st(self, x):
        """s and t, zero on the conditioning features (there y = x exp(0) + 0 = x)."""
        m, keep = self._masks(x)
        h = self.net(x * m)
        s_raw, t = h[:, : self.features], h[:, self.features:]
        # one scale vector masked once: s = (scale (1 - m)) tanh(s_raw)
        return (self.scale * keep) * ops.tanh(s_raw), t * keep

    def forward(self, x):
        s, t = self._st(x)
        return x * ops.exp(s) + t, s.sum(-1)

    def inverse(self, y):
        s, t = self._st(y)
        return (y - t) * ops.exp(-s), -s.sum(-1)
