"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with PyTorch's momentum schedule.

With gradient g_t (negated when ``maximize``), betas (b1, b2), step t = 1, 2, ...:

    g_t <- g_t + lambda theta_{t-1}   (or theta_{t-1} <- (1 - lr lambda) theta_{t-1} if decoupled)
    mu_t = b1 (1 - 0.5 * 0.96^(t psi)),   psi = momentum_decay,   P_t = prod_{i<=t} mu_i
    m_t = b1 m_{t-1} + (1 - b1) g_t,      v_t = b2 v_{t-1} + (1 - b2) g_t^2
    d_t = sqrt(v_t / (1 - b2^t)) + eps
    theta_t = theta_{t-1} - lr (1 - mu_t) / (1 - P_t) g_t / d_t - lr mu_{t+1} / (1 - P_t mu_{t+1}) m_t / d_t

State per parameter: ``step``, ``mu_product`` (P_t), ``exp_avg`` (m), ``exp_avg_sq`` (v).
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check_hyper, implementation_flags
from .registry import _opts, register_optimizer

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, maximize=False)``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False,
                 foreach=None, capturable=False, differentiable=False):
        _check_hyper("NAdam", lr=lr, eps=eps, weight_decay=weight_decay, betas=betas, momentum_decay=momentum_decay)
        flags = implementation_flags("NAdam", foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, **flags)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        psi = group["momentum_decay"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state.update(step=0, mu_product=1.0, exp_avg=self._zeros_like(x), exp_avg_sq=self._zeros_like(x))
            state["step"] += 1
            t = state["step"]
            if group["decoupled_weight_decay"]:
                if wd:
                    x *= 1.0 - lr * wd
                g = self._grad_term(x, g, 0.0, group["maximize"])
            else:
                g = self._grad_term(x, g, wd, group["maximize"])
            mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            state["mu_product"] *= mu
            prod = state["mu_product"]
            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            m += (1.0 - b1) * (g - m)
            v *= b2
            v += (1.0 - b2) * g * g
            d = self._tmp(x)
            xp.divide(v, 1.0 - b2**t, out=d)
            xp.sqrt(d, out=d)
            d += eps
            x -= (lr * (1.0 - mu) / (1.0 - prod)) * g / d
            x -= (lr * mu_next / (1.0 - prod * mu_next)) * m / d


@register_optimizer("nadam")
def _nadam(model, cfg):
    """NAdam, Adam with Nesterov momentum (Dozat 2016)"""
    return NAdam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
