"""Planar and radial flows (Rezende & Mohamed 2015).

Planar:  f(z) = z + u_hat tanh(w^T z + b),  log|det| = log|1 + u_hat^T psi(z)|,  psi = (1 - tanh^2(w^T z + b)) w.
         Invertible when w^T u_hat >= -1; the reparameterization
         u_hat = u + (m(w^T u) - w^T u) w / |w|^2,  m(a) = -1 + softplus(a)  guarantees it.
         Inverse: a = w^T z solves a + (w^T u_hat) tanh(a + b) = w^T y (monotone; Newton's method),
         then z = y - u_hat tanh(a + b).
Radial:  f(z) = z + beta h(r) (z - z0),  r = |z - z0|,  h = 1/(alpha + r),  alpha = softplus(alpha'),
         beta = -alpha + softplus(beta') (so beta >= -alpha: invertible);
         log|det| = (d - 1) log(1 + beta h) + log(1 + beta h - beta h^2 r).
         Inverse: |y - z0| = s gives r from r^2 + (alpha + beta - s) r - alpha s = 0, then
         z = z0 + (y - z0) / (1 + beta h(r)).
"""

from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import functional as F
from .base import FlowLayer

__all__ = ["PlanarFlow", "RadialFlow"]


def _param(shape, scale, dtype=None):
    from ..backend import get_default_dtype, rng

    dt = dtype or get_default_dtype()
    return nn.Parameter(Tensor(rng.np.normal(0.0, scale, shape).astype(dt)))


class PlanarFlow(FlowLayer):
    def __init__(self, features, init_scale=0.1):
        super().__init__()
        self.w = _param((features,), init_scale)
        self.u = _param((features,), init_scale)
        self.b = nn.Parameter(Tensor(np.zeros((), dtype=self.w.dtype)))

    def u_hat(self):
        wu = (self.w * self.u).sum()
        return self.u + (-1.0 + F.softplus(wu) - wu) * self.w / (self.w * self.w).sum()

    def forward(self, z):
        u = self.u_hat()
        a = z @ self.w + self.b
        t = ops.tanh(a)
        y = z + t.unsqueeze(-1) * u
        psi_u = (1 - t * t) * (self.w * u).sum()
        return y, ops.log(ops.abs(1 + psi_u))

    def inverse(self, y, iters=100):
        with no_grad():
            u = self.u_hat().array
            w, b = self.w.array, self.b.array
            wu = float(w @ u)
            target = y.array @ w
            a = target.copy()
            for _ in range(iters):  # Newton on g(a) = a + wu tanh(a + b) - target, g' >= 0
                t = np.tanh(a + b)
                step = (a + wu * t - target) / (1 + wu * (1 - t * t))
                a = a - step
                if np.max(np.abs(step)) < 1e-15:
                    break
        # one Newton step taken in the graph: the same value, and the implicit derivative da/dy
        u = self.u_hat()
        wu = (self.w * u).sum()
        a = Tensor._make(a)
        t = ops.tanh(a + self.b)
        a = a - (a + wu * t - y @ self.w) / (1 + wu * (1 - t * t)).detach()
        z = y - ops.tanh(a + self.b).unsqueeze(-1) * u
        _, ld = self.forward(z)
        return z, -ld


class RadialFlow(FlowLayer):
    def __init__(self, features, init_scale=0.1):
        super().__init__()
        self.z0 = _param((features,), init_scale)
        self.alpha_raw = _param((), init_scale)
        self.beta_raw = _param((), init_scale)
        self.features = features

    def _ab(self):
        alpha = F.softplus(self.alpha_raw)
        return alpha, -alpha + F.softplus(self.beta_raw)

    def forward(self, z):
        alpha, beta = self._ab()
        diff = z - self.z0
        r = ops.sqrt((diff * diff).sum(-1))
        h = 1 / (alpha + r)
        bh = beta * h
        y = z + bh.unsqueeze(-1) * diff
        ld = (self.features - 1) * ops.log1p(bh) + ops.log(1 + bh - beta * h * h * r)
        return y, ld

    def inverse(self, y):
        alpha, beta = self._ab()
        diff = y - self.z0
        s = ops.sqrt((diff * diff).sum(-1))
        c = alpha + beta - s
        r = (-c + ops.sqrt(c * c + 4 * alpha * s)) / 2
        z = self.z0 + diff / (1 + beta / (alpha + r)).unsqueeze(-1)
        _, ld = self.forward(z)
        return z, -ld
