"""Glow's ActNorm and invertible 1x1 convolution (Kingma & Dhariwal 2018), on (N, C) or (N, C, H, W).

ActNorm:  y = (x + b) exp(log_s) per channel;  log|det| = HW sum log_s.  The first forward pass
          initializes b = -mean, log_s = -log std of that batch (data-dependent init), so outputs start
          with zero mean and unit variance per channel.
Invertible1x1Conv (LU-parameterized): W = P L (U + diag(sign_s exp(log_s))), P a fixed permutation,
          L unit lower triangular, U strictly upper triangular;  y = W x per position;
          log|det| = HW sum log_s;  inverse x = W^-1 y.
"""

from __future__ import annotations

import numpy as np

from .. import linalg, nn, ops
from ..autograd.tensor import Tensor
from .base import FlowLayer

__all__ = ["ActNorm", "Invertible1x1Conv"]


def _spatial(x):
    return int(np.prod(x.shape[2:])) if x.ndim > 2 else 1


def _chan(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


class ActNorm(FlowLayer):
    def __init__(self, channels):
        super().__init__()
        from ..backend import get_default_dtype

        dt = get_default_dtype()
        self.bias = nn.Parameter(Tensor(np.zeros(channels, dtype=dt)))
        self.log_scale = nn.Parameter(Tensor(np.zeros(channels, dtype=dt)))
        # a buffer (saved in state_dict) so that a loaded ActNorm is not re-initialized by its next batch
        self.register_buffer("initialized_flag", Tensor(np.zeros((), dtype=np.int64)))

    @property
    def initialized(self):
        return bool(self.initialized_flag.array)

    @initialized.setter
    def initialized(self, value):
        self.initialized_flag.array[...] = int(bool(value))

    def _init(self, x):
        axes = (0,) + tuple(range(2, x.ndim))
        mean = x.array.mean(axis=axes)
        std = x.array.std(axis=axes) + 1e-6
        self.bias.array[...] = -mean
        self.log_scale.array[...] = -np.log(std)
        self.initialized = True

    def forward(self, x):
        if not self.initialized and self.training:
            self._init(x)
        y = (x + _chan(self.bias, x)) * ops.exp(_chan(self.log_scale, x))
        ld = self.log_scale.sum() * _spatial(x)
        return y, ops.broadcast_to(ld, (x.shape[0],))

    def inverse(self, y):
        x = y * ops.exp(-_chan(self.log_scale, y)) - _chan(self.bias, y)
        ld = -self.log_scale.sum() * _spatial(y)
        return x, ops.broadcast_to(ld, (y.shape[0],))


class Invertible1x1Conv(FlowLayer):
    def __init__(self, channels, seed=None):
        super().__init__()
        from ..backend import get_default_dtype, rng

        dt = get_default_dtype()
        g = np.random.default_rng(seed) if seed is not None else rng.np
        q, _ = np.linalg.qr(g.normal(size=(channels, channels)))
        import scipy.linalg

        p, low, up = scipy.linalg.lu(q)
        s = np.diag(up)
        self.perm = p.astype(dt)
        self.sign_s = np.sign(s).astype(dt)
        self.lower = nn.Parameter(Tensor(np.tril(low, -1).astype(dt)))
        self.upper = nn.Parameter(Tensor(np.triu(up, 1).astype(dt)))
        self.log_s = nn.Parameter(Tensor(np.log(np.abs(s)).astype(dt)))
        self.channels = channels

    def weight(self):
        c = self.channels
        dt = self.log_s.dtype
        eye = Tensor(np.eye(c, dtype=dt))
        L = ops.tril(self.lower, -1) + eye
        U = ops.triu(self.upper, 1) + eye * (Tensor(self.sign_s.astype(dt)) * ops.exp(self.log_s))
        return Tensor(self.perm.astype(dt)) @ L @ U

    def _mix(self, W, x):
        if x.ndim == 2:
            return x @ W.mT
        return ops.einsum("oc,nc...->no...", W, x)

    def forward(self, x):
        y = self._mix(self.weight(), x)
        return y, ops.broadcast_to(self.log_s.sum() * _spatial(x), (x.shape[0],))

    def inverse(self, y):
        x = self._mix(linalg.inv(self.weight()), y)
        return x, ops.broadcast_to(-self.log_s.sum() * _spatial(y), (y.shape[0],))
