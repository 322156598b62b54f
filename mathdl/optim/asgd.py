"""ASGD, averaged stochastic gradient descent (Polyak & Juditsky, 1992), as in PyTorch.

    g_t <- g_t + lambda_w theta_{t-1}
    theta_t = (1 - lambd eta_t) theta_{t-1} - eta_t g_t
    ax_t = ax_{t-1} + mu_t (theta_t - ax_{t-1})       (the average; ax_t = theta_t while mu_t = 1)
    eta_{t+1} = lr / (1 + lambd lr t)^alpha,   mu_{t+1} = 1 / max(1, t - t0)

eta_1 = lr, mu_1 = 1.  The averaged parameters are ``state[p]["ax"]``.
State per parameter: ``step``, ``eta``, ``mu``, ``ax``.
"""

from __future__ import annotations

from .optimizer import Optimizer, _check_hyper, implementation_flags
from .registry import _opts, register_optimizer

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """``ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False)``."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *, maximize=False,
                 foreach=None, differentiable=False, capturable=False):
        _check_hyper("ASGD", lr=lr, weight_decay=weight_decay)
        flags = implementation_flags("ASGD", foreach=foreach, differentiable=differentiable, capturable=capturable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize, **flags))

    def _update_group(self, group):
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        for p, x, g in self._with_grads(group):
            state = self.state[p]
            if not state:
                state.update(step=0, eta=float(lr), mu=1.0, ax=self._zeros_like(x))
            state["step"] += 1
            t = state["step"]
            g = self._grad_term(x, g, group["weight_decay"], group["maximize"])
            eta = state["eta"]
            x *= 1.0 - lambd * eta
            x -= eta * g
            ax = state["ax"].array
            if state["mu"] != 1:
                ax += state["mu"] * (x - ax)
            else:
                ax[...] = x
            state["eta"] = lr / (1.0 + lambd * lr * t) ** alpha
            state["mu"] = 1.0 / max(1.0, t - t0)


@register_optimizer("asgd")
def _asgd(model, cfg):
    """ASGD, averaged SGD (Polyak & Juditsky 1992)"""
    return ASGD(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
