"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

With gradient g_t (negated when ``maximize``), weight decay lambda, momentum mu, dampening tau:

    g_t <- g_t + lambda * theta_{t-1}
    b_1  = g_1,    b_t = mu * b_{t-1} + (1 - tau) * g_t           (if mu != 0)
    d_t  = g_t + mu * b_t  (Nesterov)   or   b_t                   (mu != 0)   or   g_t
    theta_t = theta_{t-1} - lr * d_t

(PyTorch's formulation: the learning rate multiplies the whole step, not the gradient
inside the buffer.)  State: ``momentum_buffer`` per parameter when mu != 0.  Large arrays are
updated in contiguous chunks on mathdl's threads (mathdl.parallel), elementwise and so exactly
as on one thread.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..ops import device_kernels
from ..parallel import elementwise
from .optimizer import Optimizer, _valid_lr, implementation_flags

__all__ = ["SGD"]


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
    foreach=None, differentiable=False, fused=None)`` (the last three: see ``implementation_flags``)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False,
                 foreach=None, differentiable=False, fused=None):
        if not _valid_lr(lr):
            raise ValueError(f"SGD: invalid learning rate {lr!r}; expected a float >= 0")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum value {momentum!r}; expected >= 0")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay value {weight_decay!r}; expected >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires momentum > 0 and zero dampening "
                f"(got momentum={momentum}, dampening={dampening})"
            )
        flags = implementation_flags("SGD", foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, **flags)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and zero dampening")

    def _update_group(self, group):
        lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            d = self._grad_term(x, g, wd, maximize)
            if mu == 0:
                step = self._tmp(x)
                xp.multiply(d, lr, out=step)
                xp.subtract(x, step, out=x)
                continue
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = self._zeros_like(x)
                xp.copyto(buf.array, d)
                state["momentum_buffer"] = buf
                first = True
            else:
                first = False
            if not first and xp is not np:  # the device: one fused kernel instead of four passes
                device_kernels.sgd_momentum_step(x, d, buf.array, lr, mu, tau, nesterov)
                continue
            t = self._tmp(x)

            def kernel(x, d, b, t, first=first, xp=xp):
                if not first:
                    b *= mu
                    if tau == 0:
                        b += d
                    else:
                        xp.multiply(d, 1.0 - tau, out=t)
                        b += t
                if nesterov:  # lr * (d + mu * b)
                    xp.multiply(b, mu, out=t)
                    t += d
                    t *= lr
                else:
                    xp.multiply(b, lr, out=t)
                xp.subtract(x, t, out=x)

            elementwise(kernel, x, d, buf.array, t, passes=6)
