"""Adagrad (Duchi, Hazan & Singer, 2011).

With gradient g_t (negated when ``maximize``), weight decay lambda, step t = 1, 2, ...:

    g_t <- g_t + lambda * theta_{t-1}
    lr_t = lr / (1 + (t - 1) * lr_decay)
    S_t  = S_{t-1} + g_t^2,          S_0 = initial_accumulator_value
    theta_t = theta_{t-1} - lr_t * g_t / (sqrt(S_t) + eps)

State per parameter (created with the optimizer, like PyTorch): ``step``, ``sum`` (S).
"""

from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from .optimizer import Optimizer, _valid_lr, implementation_flags

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
    maximize=False)``."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        if not _valid_lr(lr):
            raise ValueError(f"Adagrad: invalid learning rate {lr!r}; expected a float >= 0")
        if not lr_decay >= 0:
            raise ValueError(f"Adagrad: invalid lr_decay value {lr_decay!r}; expected >= 0")
        if not weight_decay >= 0:
            raise ValueError(f"Adagrad: invalid weight_decay value {weight_decay!r}; expected >= 0")
        if not initial_accumulator_value >= 0:
            raise ValueError(
                f"Adagrad: invalid initial_accumulator_value {initial_accumulator_value!r}; expected >= 0"
            )
        if not eps >= 0:
            raise ValueError(f"Adagrad: invalid epsilon value {eps!r}; expected >= 0")
        flags = implementation_flags("Adagrad", foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize, **flags)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            x = p.array
            state["step"] = 0
            state["sum"] = Tensor._make(backend.xp_of(x).full_like(x, group["initial_accumulator_value"]))
        return state

    def _update_group(self, group):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        wd, maximize = group["weight_decay"], group["maximize"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self._init_state(p, group)
            state["step"] += 1
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            g = self._grad_term(x, g, wd, maximize)
            s = state["sum"].array
            t = self._tmp(x)
            xp.multiply(g, g, out=t)
            s += t
            xp.sqrt(s, out=t)
            t += eps
            xp.divide(g, t, out=t)
            t *= clr
            x -= t
