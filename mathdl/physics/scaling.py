"""``InputScale``: the affine map of a box onto [-1, 1]^d, the first layer of a physics-informed network.

    h = 2 (x - lo) / (hi - lo) - 1,   so   dh/dx_i = 2 / (hi_i - lo_i) e_i   and   d^2h/dx^2 = 0.

Raissi, Perdikaris & Karniadakis (2019) scale every input this way so that each coordinate meets
the tanh layers at the same scale whatever the physical units; the network then sees t in [0, 1]
and x in [-1, 1] alike.  Derivatives with respect to the original x follow by the chain rule, which
both :class:`mathdl.physics.Derivatives` and :func:`mathdl.physics.mlp_jet` apply.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..nn.modules.module import Module

__all__ = ["InputScale"]


class InputScale(Module):
    """``InputScale(bounds)`` with ``bounds`` = [(lo_1, hi_1), ..., (lo_d, hi_d)]."""

    def __init__(self, bounds, dtype=np.float64):
        super().__init__()
        b = np.asarray(bounds, dtype=np.float64)
        if b.ndim != 2 or b.shape[1] != 2 or np.any(b[:, 1] <= b[:, 0]):
            raise ValueError(f"InputScale: bounds must be [(lo, hi), ...] with lo < hi, got {bounds!r}")
        self.register_buffer("lo", Tensor._make(b[:, 0].astype(dtype)))
        self.register_buffer("scale", Tensor._make((2.0 / (b[:, 1] - b[:, 0])).astype(dtype)))

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.lo.shape[0]:
            raise ValueError(f"InputScale: expected inputs with {self.lo.shape[0]} coordinates in the last "
                             f"dimension, got shape {tuple(x.shape)}")
        return (x - self.lo) * self.scale - 1.0

    def extra_repr(self):
        lo = self.lo.numpy()
        hi = lo + 2.0 / self.scale.numpy()
        return "bounds=" + repr([(float(a), float(b)) for a, b in zip(lo, hi)])
