"""Adamax: Adam with the infinity norm (Kingma & Ba, 2015, section 7.1).

    g_t <- g_t + lambda theta_{t-1}
    m_t = b1 m_{t-1} + (1 - b1) g_t
    u_t = max(b2 u_{t-1}, |g_t| + eps)
    theta_t = theta_{t-1} - lr / (1 - b1^t) m_t / u_t

State per parameter: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check_hyper, implementation_flags
from .registry import _opts, register_optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False)``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False,
                 foreach=None, differentiable=False, capturable=False):
        _check_hyper("Adamax", lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        flags = implementation_flags("Adamax", foreach=foreach, differentiable=differentiable, capturable=capturable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize, **flags)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state.update(step=0, exp_avg=self._zeros_like(x), exp_inf=self._zeros_like(x))
            state["step"] += 1
            g = self._grad_term(x, g, group["weight_decay"], group["maximize"])
            m, u = state["exp_avg"].array, state["exp_inf"].array
            m += (1.0 - b1) * (g - m)
            u *= b2
            a = self._tmp(x, 2)
            xp.abs(g, out=a)
            a += eps
            xp.maximum(u, a, out=u)
            x -= (lr / (1.0 - b1 ** state["step"])) * m / u


@register_optimizer("adamax")
def _adamax(model, cfg):
    """Adamax, Adam with the infinity norm (Kingma & Ba 2015)"""
    return Adamax(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
