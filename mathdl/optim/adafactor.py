"""Adafactor (Shazeer & Stern, 2018), PyTorch's variant: second moments of a matrix gradient kept
as a row and a column factor (O(n + m) memory for an n x m matrix), no first moment.

With step t, beta2_t = 1 - t^beta2_decay, rho_t = min(lr, 1 / sqrt(t)), eps = (eps1, eps2):

    alpha_t = max(eps2, RMS(theta_{t-1})) rho_t
    theta_{t-1} <- (1 - lr lambda) theta_{t-1}                  (decoupled weight decay)
    matrix (>= 2-D, factored over the last two dims):
        R_t = beta2_t R_{t-1} + (1 - beta2_t) mean_col(g^2)     (rows, shape (..., n, 1))
        C_t = beta2_t C_{t-1} + (1 - beta2_t) mean_row(g^2)     (columns, shape (..., 1, m))
        V_t = R_t C_t / max(mean(R_t), eps1)
    vector: V_t = beta2_t V_{t-1} + (1 - beta2_t) g^2
    U_t = g / sqrt(max(V_t, eps1^2))
    theta_t = theta_{t-1} - alpha_t U_t / max(1, RMS(U_t) / d)

eps1 defaults to the dtype's machine epsilon.  State per parameter: ``step``, and ``row_var`` and
``col_var`` (matrices) or ``variance`` (vectors).
"""

from __future__ import annotations

import math

from .. import backend
from ..autograd.tensor import Tensor
from .optimizer import Optimizer, _check_hyper
from .registry import _opts, register_optimizer

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """``Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
    maximize=False)``."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 maximize=False):
        _check_hyper("Adafactor", lr=lr, weight_decay=weight_decay)
        if not beta2_decay <= 0:
            raise ValueError(f"Adafactor: beta2_decay must be <= 0, got {beta2_decay!r}")
        if not (isinstance(eps, (tuple, list)) and len(eps) == 2):
            raise ValueError(f"Adafactor: eps must be a pair (eps1, eps2), got {eps!r}")
        if eps[0] is not None and not eps[0] >= 0:
            raise ValueError(f"Adafactor: invalid eps1 {eps[0]!r}; expected >= 0 or None")
        if not eps[1] >= 0:
            raise ValueError(f"Adafactor: invalid eps2 {eps[1]!r}; expected >= 0")
        if not d >= 1:
            raise ValueError(f"Adafactor: the clipping threshold d must be >= 1, got {d!r}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                                      weight_decay=weight_decay, maximize=maximize))

    def _state_shape(self, key, p):
        if key == "row_var":
            return tuple(p.shape[:-1]) + (1,)
        if key == "col_var":
            return tuple(p.shape[:-2]) + (1, p.shape[-1])
        return tuple(p.shape)

    def _update_group(self, group):
        lr, wd, dclip = group["lr"], group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state["step"] = 0
                if x.ndim > 1:
                    state["row_var"] = Tensor._make(xp.zeros(x.shape[:-1] + (1,), dtype=x.dtype))
                    state["col_var"] = Tensor._make(xp.zeros(x.shape[:-2] + (1, x.shape[-1]), dtype=x.dtype))
                else:
                    state["variance"] = self._zeros_like(x)
            state["step"] += 1
            t = float(state["step"])
            e1 = float(xp.finfo(x.dtype).eps) if eps1 is None else eps1
            g = -g if group["maximize"] else g
            one_minus_beta2 = t ** group["beta2_decay"]
            rho = min(lr, 1.0 / math.sqrt(t))
            alpha = max(eps2, float(xp.linalg.norm(x.ravel())) / math.sqrt(x.size)) * rho
            if wd:
                x *= 1.0 - lr * wd
            g2 = g * g
            if x.ndim > 1:
                r, c = state["row_var"].array, state["col_var"].array
                r += one_minus_beta2 * (g2.mean(axis=-1, keepdims=True) - r)
                c += one_minus_beta2 * (g2.mean(axis=-2, keepdims=True) - c)
                v = (r @ c) / xp.maximum(r.mean(axis=-2, keepdims=True), e1)
            else:
                var = state["variance"].array
                var += one_minus_beta2 * (g2 - var)
                v = var.copy()
            xp.maximum(v, e1 * e1, out=v)
            u = g / xp.sqrt(v)
            denom = max(1.0, float(xp.linalg.norm(u.ravel())) / (math.sqrt(u.size) * dclip))
            x -= (alpha / denom) * u


@register_optimizer("adafactor")
def _adafactor(model, cfg):
    """Adafactor, factored second moments (Shazeer & Stern 2018)"""
    return Adafactor(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], **_opts(cfg))
