"""Rational-quadratic spline coupling (Durkan, Bekasov, Murray & Papamakarios 2019).

On [-B, B] the map is a monotone rational-quadratic spline through K + 1 knots (x_k, y_k) with
derivatives d_k (d_0 = d_K = 1, identity tails outside [-B, B]).  In bin k, with w_k, h_k the bin
width and height, s_k = h_k / w_k and xi = (x - x_k) / w_k:

  y = y_k + h_k (s_k xi^2 + d_k xi (1 - xi)) / (s_k + (d_(k+1) + d_k - 2 s_k) xi (1 - xi))
  dy/dx = s_k^2 (d_(k+1) xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2) / (s_k + (d_(k+1) + d_k - 2 s_k) xi (1 - xi))^2

and the inverse solves a quadratic for xi (the root 2c / (-b - sqrt(b^2 - 4ac))).  Widths and heights are
softmaxes of the conditioner's outputs (with a minimum), derivatives min_d + softplus(.).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..nn import functional as F
from .base import FlowLayer
from .coupling import coupling_mlp

__all__ = ["rational_quadratic_spline", "RQSplineCoupling"]


def _knots(raw, B, min_size):
    """Softmax sizes with a minimum, summed into knot positions -B = c_0 < ... < c_K = B."""
    K = raw.shape[-1]
    sizes = min_size + (1 - min_size * K) * ops.softmax(raw, -1)
    cum = ops.cumsum(sizes, -1)
    zero = cum.detach()[..., :1] * 0
    cum = 2 * B * ops.cat([zero, cum], -1) - B
    # pin the ends exactly
    idx = np.zeros(cum.shape[-1], dtype=bool)
    idx[0] = idx[-1] = True
    ends = Tensor._make(np.where(np.arange(cum.shape[-1]) == 0, -B, B).astype(cum.dtype))
    cum = ops.where(Tensor._make(idx), ends, cum)
    return cum, cum[..., 1:] - cum[..., :-1]


def _gather(t, idx):
    return ops.take_along_dim(t, idx, -1).squeeze(-1)


def rational_quadratic_spline(x, uw, uh, ud, inverse=False, tail_bound=3.0, min_width=1e-3, min_height=1e-3,
                              min_derivative=1e-3):
    """Apply the spline elementwise: x (...), uw/uh (..., K), ud (..., K-1). Returns (y, log|dy/dx|)."""
    B = float(tail_bound)
    inside_np = (x.array > -B) & (x.array < B)
    inside = Tensor._make(inside_np)
    xc = ops.clamp(x, -B, B)
    cw, w = _knots(uw, B, min_width)
    ch, h = _knots(uh, B, min_height)
    const = math.log(math.exp(1 - min_derivative) - 1)
    pad = ud.detach()[..., :1] * 0 + const
    d = min_derivative + F.softplus(ops.cat([pad, ud, pad], -1))
    knots = ch.array if inverse else cw.array
    idx = (xc.array[..., None] >= knots[..., :-1]).sum(-1) - 1
    idx = Tensor._make(np.clip(idx, 0, uw.shape[-1] - 1)[..., None])
    xk, wk, yk, hk = _gather(cw, idx), _gather(w, idx), _gather(ch, idx), _gather(h, idx)
    dk, dk1 = _gather(d, idx), _gather(d[..., 1:], idx)
    sk = hk / wk
    if not inverse:
        xi = (xc - xk) / wk
        xi1 = xi * (1 - xi)
        denom = sk + (dk1 + dk - 2 * sk) * xi1
        y = yk + hk * (sk * xi * xi + dk * xi1) / denom
        dnum = sk * sk * (dk1 * xi * xi + 2 * sk * xi1 + dk * (1 - xi) * (1 - xi))
        ld = ops.log(dnum) - 2 * ops.log(denom)
    else:
        dy = xc - yk
        a = dy * (dk1 + dk - 2 * sk) + hk * (sk - dk)
        b = hk * dk - dy * (dk1 + dk - 2 * sk)
        c = -sk * dy
        disc = ops.clamp(b * b - 4 * a * c, min=0.0)
        xi = (2 * c) / (-b - ops.sqrt(disc))
        y = xi * wk + xk
        xi1 = xi * (1 - xi)
        denom = sk + (dk1 + dk - 2 * sk) * xi1
        dnum = sk * sk * (dk1 * xi * xi + 2 * sk * xi1 + dk * (1 - xi) * (1 - xi))
        ld = -(ops.log(dnum) - 2 * ops.log(denom))
    y = ops.where(inside, y, x)
    ld = ops.where(inside, ld, 0.0)
    return y, ld


class RQSplineCoupling(FlowLayer):
    """Coupling layer: features with mask 1 condition a spline on the features with mask 0."""

    def __init__(self, mask, hidden=64, num_bins=8, tail_bound=3.0):
        super().__init__()
        mask = np.asarray(mask)
        self.features, self.num_bins, self.tail_bound = mask.shape[-1], int(num_bins), float(tail_bound)
        self.net = coupling_mlp(self.features, hidden, self.features * (3 * self.num_bins - 1))
        self.mask_array = mask

    def _spline(self, x, inverse):
        m = Tensor._make(self.mask_array.astype(x.dtype))
        K = self.num_bins
        p = self.net(x * m).reshape(x.shape[0], self.features, 3 * K - 1)
        y, ld = rational_quadratic_spline(x, p[..., :K], p[..., K:2 * K], p[..., 2 * K:], inverse, self.tail_bound)
        return x * m + (1 - m) * y, (ld * (1 - m)).sum(-1)

    def forward(self, x):
        return self._spline(x, False)

    def inverse(self, y):
        return self._spline(y, True)


