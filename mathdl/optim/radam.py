"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020).

With m_t, v_t Adam's moments (b1, b2), rho_inf = 2 / (1 - b2) - 1 and
rho_t = rho_inf - 2 t b2^t / (1 - b2^t):

    mhat_t = m_t / (1 - b1^t)
    if rho_t > 5:  r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                   theta_t = theta_{t-1} - lr mhat_t r_t sqrt(1 - b2^t) / (sqrt(v_t) + eps)
    else:          theta_t = theta_{t-1} - lr mhat_t          (the variance is not yet tractable)

Weight decay: L2 (g += lambda theta) or decoupled (theta *= 1 - lr lambda).
State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).
"""

from __future__ import annotations

import math

from .. import backend
from .optimizer import Optimizer, _check_hyper, implementation_flags
from .registry import _opts, register_optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
    maximize=False)``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
                 *, maximize=False,
                 foreach=None, capturable=False, differentiable=False):
        _check_hyper("RAdam", lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        flags = implementation_flags("RAdam", foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, **flags)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state.update(step=0, exp_avg=self._zeros_like(x), exp_avg_sq=self._zeros_like(x))
            state["step"] += 1
            t = state["step"]
            if group["decoupled_weight_decay"]:
                if wd:
                    x *= 1.0 - lr * wd
                g = self._grad_term(x, g, 0.0, group["maximize"])
            else:
                g = self._grad_term(x, g, wd, group["maximize"])
            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            m += (1.0 - b1) * (g - m)
            v *= b2
            v += (1.0 - b2) * g * g
            bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
            rho_inf = 2.0 / (1.0 - b2) - 1.0
            rho_t = rho_inf - 2.0 * t * b2**t / bc2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                d = self._tmp(x)
                xp.sqrt(v, out=d)
                d += eps
                x -= (lr * rect * math.sqrt(bc2) / bc1) * m / d
            else:
                x -= (lr / bc1) * m


@register_optimizer("radam")
def _radam(model, cfg):
    """RAdam, rectified Adam (Liu et al. 2020)"""
    return RAdam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
