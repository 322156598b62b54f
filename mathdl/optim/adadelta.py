"""Adadelta (Zeiler, 2012): step sizes from running averages of squared gradients and updates.

    g_t <- g_t + lambda theta_{t-1}
    s_t = rho s_{t-1} + (1 - rho) g_t^2
    d_t = sqrt(a_{t-1} + eps) / sqrt(s_t + eps) * g_t
    a_t = rho a_{t-1} + (1 - rho) d_t^2
    theta_t = theta_{t-1} - lr d_t

State per parameter: ``step``, ``square_avg`` (s), ``acc_delta`` (a).
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check_hyper, implementation_flags
from .registry import _opts, register_optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False,
                 foreach=None, capturable=False, differentiable=False):
        _check_hyper("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value {rho!r}; expected 0 <= rho <= 1")
        flags = implementation_flags("Adadelta", foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, **flags))

    def _update_group(self, group):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state.update(step=0, square_avg=self._zeros_like(x), acc_delta=self._zeros_like(x))
            state["step"] += 1
            g = self._grad_term(x, g, group["weight_decay"], group["maximize"])
            s, a = state["square_avg"].array, state["acc_delta"].array
            s *= rho
            s += (1.0 - rho) * g * g
            d = xp.sqrt(a + eps)
            d /= xp.sqrt(s + eps)
            d *= g
            a *= rho
            a += (1.0 - rho) * d * d
            d *= lr
            x -= d


@register_optimizer("adadelta")
def _adadelta(model, cfg):
    """Adadelta (Zeiler 2012)"""
    return Adadelta(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
