"""RMSprop (Hinton, 2012), optionally centered and with momentum.

With gradient g_t (negated when ``maximize``), smoothing alpha, weight decay lambda:

    g_t <- g_t + lambda * theta_{t-1}
    s_t = alpha * s_{t-1} + (1 - alpha) * g_t^2                  mean square
    a_t = alpha * a_{t-1} + (1 - alpha) * g_t                    (centered: mean gradient)
    r_t = sqrt(s_t - a_t^2) + eps   (centered)   or   sqrt(s_t) + eps
    b_t = mu * b_{t-1} + g_t / r_t;  theta_t = theta_{t-1} - lr * b_t     (momentum mu > 0)
    theta_t = theta_{t-1} - lr * g_t / r_t                                  (mu = 0)

State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (mu > 0), ``grad_avg`` (centered).
Large arrays are updated in contiguous chunks on mathdl's threads (mathdl.parallel).
"""

from __future__ import annotations

from .. import backend
from ..parallel import elementwise
from .optimizer import Optimizer, _valid_lr, implementation_flags

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
    maximize=False)``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 maximize=False,
                 capturable=False, foreach=None, differentiable=False):
        if not _valid_lr(lr):
            raise ValueError(f"RMSprop: invalid learning rate {lr!r}; expected a float >= 0")
        if not eps >= 0:
            raise ValueError(f"RMSprop: invalid epsilon value {eps!r}; expected >= 0")
        if not momentum >= 0:
            raise ValueError(f"RMSprop: invalid momentum value {momentum!r}; expected >= 0")
        if not weight_decay >= 0:
            raise ValueError(f"RMSprop: invalid weight_decay value {weight_decay!r}; expected >= 0")
        if not alpha >= 0:
            raise ValueError(f"RMSprop: invalid alpha value {alpha!r}; expected >= 0")
        flags = implementation_flags("RMSprop", capturable=capturable, foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize, **flags)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, mu, centered, maximize = group["weight_decay"], group["momentum"], group["centered"], group["maximize"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = self._zeros_like(x)
                if mu > 0:
                    state["momentum_buffer"] = self._zeros_like(x)
                if centered:
                    state["grad_avg"] = self._zeros_like(x)
            state["step"] += 1
            g = self._grad_term(x, g, wd, maximize)
            t = self._tmp(x)
            arrays = [x, g, state["square_avg"].array, t]
            if centered:
                arrays.append(state["grad_avg"].array)
            if mu > 0:
                arrays.append(state["momentum_buffer"].array)

            def kernel(x, g, s, t, *rest, xp=xp):
                xp.multiply(g, g, out=t)  # s = (s - g^2) * alpha + g^2
                s -= t
                s *= alpha
                s += t
                if centered:
                    a = rest[0]
                    a -= g  # a = (a - g) * alpha + g
                    a *= alpha
                    a += g
                    xp.multiply(a, a, out=t)
                    xp.subtract(s, t, out=t)
                    xp.sqrt(t, out=t)
                else:
                    xp.sqrt(s, out=t)
                t += eps
                xp.divide(g, t, out=t)
                if mu > 0:
                    b = rest[-1]
                    b *= mu
                    b += t
                    xp.multiply(b, lr, out=t)
                else:
                    t *= lr
                x -= t

            elementwise(kernel, *arrays, passes=10)
