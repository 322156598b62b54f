"""Rprop, resilient backpropagation (Riedmiller & Braun, 1993): only the sign of the gradient
is used, with a per-entry step size adapted by sign agreement.

    s = sign(g_t * g_{t-1})
    Delta_t = clamp(Delta_{t-1} * (eta_plus if s > 0, eta_minus if s < 0, 1 if s = 0), min, max)
    g_t <- 0 where s < 0  (no step there, and the next step sees s = 0)
    theta_t = theta_{t-1} - sign(g_t) Delta_t

Delta_0 = lr.  State per parameter: ``step``, ``prev`` (g_{t-1}), ``step_size`` (Delta).
"""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _check_hyper, implementation_flags
from .registry import _opts, register_optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """``Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False)``."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False,
                 capturable=False, foreach=None, differentiable=False):
        _check_hyper("Rprop", lr=lr)
        if not (len(etas) == 2 and 0.0 < etas[0] < 1.0 < etas[1]):
            raise ValueError(f"Rprop: invalid etas {etas!r}; expected (eta_minus, eta_plus) with "
                             "0 < eta_minus < 1 < eta_plus")
        if not (len(step_sizes) == 2 and 0 <= step_sizes[0] <= step_sizes[1]):
            raise ValueError(f"Rprop: invalid step_sizes {step_sizes!r}; expected (min, max) with 0 <= min <= max")
        flags = implementation_flags("Rprop", capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize,
                                      **flags))

    def _update_group(self, group):
        eta_minus, eta_plus = group["etas"]
        lo, hi = group["step_sizes"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state.update(step=0, prev=self._zeros_like(x), step_size=self._zeros_like(x))
                state["step_size"].array[...] = group["lr"]
            state["step"] += 1
            g = -g if group["maximize"] else g.copy()
            prev, delta = state["prev"].array, state["step_size"].array
            s = xp.sign(g * prev)
            factor = xp.where(s > 0, eta_plus, xp.where(s < 0, eta_minus, 1.0)).astype(x.dtype, copy=False)
            delta *= factor
            xp.clip(delta, lo, hi, out=delta)
            g[s < 0] = 0
            x -= xp.sign(g) * delta
            prev[...] = g


@register_optimizer("rprop")
def _rprop(model, cfg):
    """Rprop, resilient backpropagation (full-batch; Riedmiller & Braun 1993)"""
    return Rprop(model.parameters(), lr=cfg["lr"], **_opts(cfg))
