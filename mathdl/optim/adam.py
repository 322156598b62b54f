"""Adam (Kingma & Ba, 2015), its AMSGrad variant, and AdamW (decoupled weight decay).

With gradient g_t (negated when ``maximize``), betas (b1, b2), step t = 1, 2, ...:

    g_t <- g_t + lambda * theta_{t-1}                 (Adam's L2 weight decay)
    theta_{t-1} <- (1 - lr * lambda) * theta_{t-1}    (AdamW's decoupled weight decay instead)
    m_t = b1 * m_{t-1} + (1 - b1) * g_t               first moment
    v_t = b2 * v_{t-1} + (1 - b2) * g_t^2             second moment
    vhat_t = max(vhat_{t-1}, v_t)                     (amsgrad; otherwise vhat_t = v_t)
    theta_t = theta_{t-1} - lr / (1 - b1^t) * m_t / (sqrt(vhat_t) / sqrt(1 - b2^t) + eps)

The last line is evaluated as theta -= a * m / (sqrt(vhat) + e) with a = lr sqrt(1-b2^t)/(1-b1^t)
and e = eps sqrt(1-b2^t) (the same number, one pass fewer).  Each update makes twelve in-place
passes over the arrays and uses one scratch buffer; large arrays are split into contiguous
chunks updated on mathdl's threads (mathdl.parallel; every element sees the same operations,
so the result does not depend on the thread count): in the common case all parameters of a group
as one pass over their concatenation (one hand-off per step, small parameters split too).
(Processing large arrays in L2-sized chunks on one thread was measured and was slower: the
per-call overhead outweighs the cache gain.)

State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (amsgrad).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from .. import backend
from ..ops import device_kernels
from ..parallel import elementwise, elementwise_many
from .optimizer import Optimizer, _valid_lr, implementation_flags

__all__ = ["Adam", "AdamW"]


def _adam_kernel(xp, x, g, m, v, vmax, t, b1, b2, alpha, e):
    """One Adam update on same-shaped arrays; ``t`` is scratch, ``vmax`` None unless amsgrad."""
    # m = b1*m + (1-b1)*g  as  (m - g)*b1 + g
    xp.subtract(m, g, out=m)
    m *= b1
    m += g
    # v = b2*v + (1-b2)*g^2  as  (v - g^2)*b2 + g^2
    xp.multiply(g, g, out=t)
    v -= t
    v *= b2
    v += t
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=t)
    t += e
    xp.divide(m, t, out=t)
    t *= alpha
    x -= t


def _adam_chunk(xp, hyper, x, g, m, v, t):
    _adam_kernel(xp, x, g, m, v, None, t, *hyper)


def _adam_chunk_ams(xp, hyper, x, g, m, v, vmax, t):
    _adam_kernel(xp, x, g, m, v, vmax, t, *hyper)


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False)``; ``decoupled_weight_decay=True`` is AdamW.  ``foreach``,
    ``capturable`` and ``fused`` are accepted (see ``implementation_flags``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        name = type(self).__name__
        if not _valid_lr(lr):
            raise ValueError(f"{name}: invalid learning rate {lr!r}; expected a float >= 0")
        if not eps >= 0:
            raise ValueError(f"{name}: invalid epsilon value {eps!r}; expected >= 0")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {b!r}; expected 0 <= beta < 1")
        if not weight_decay >= 0:
            raise ValueError(f"{name}: invalid weight_decay value {weight_decay!r}; expected >= 0")
        flags = implementation_flags(name, foreach=foreach, capturable=capturable, differentiable=differentiable,
                                     fused=fused)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, **flags, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__}: invalid betas {group['betas']!r}; expected 0 <= beta < 1")

    def _update_group(self, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        wd, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        # the common case (plain gradients, NumPy float arrays of one dtype): every parameter's update
        # is one job of a single split pass over all of them, each with its own part of one scratch
        plain = not maximize and not (wd and not decoupled)
        jobs, scratch, used = [], None, 0
        for p, x, g in self._with_grads(group):
            xp = backend.xp_of(x)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = self._zeros_like(x)
                state["exp_avg_sq"] = self._zeros_like(x)
                if amsgrad:
                    state["max_exp_avg_sq"] = self._zeros_like(x)
            state["step"] += 1
            step = state["step"]
            if decoupled:
                if wd:
                    x *= 1.0 - lr * wd
                g = self._grad_term(x, g, 0.0, maximize)
            else:
                g = self._grad_term(x, g, wd, maximize)
            bc1 = 1.0 - b1**step
            bc2_sqrt = math.sqrt(1.0 - b2**step)
            alpha = lr * bc2_sqrt / bc1
            e = eps * bc2_sqrt
            m = state["exp_avg"].array
            v = state["exp_avg_sq"].array
            vmax = state["max_exp_avg_sq"].array if amsgrad else None
            hyper = (b1, b2, alpha, e)
            if plain and type(x) is np.ndarray and (scratch is None or x.dtype == scratch.dtype):
                if scratch is None:
                    total = sum(q.array.size for q in group["params"] if q.grad is not None)
                    scratch = self._scratch.get(("adam_all", x.dtype))
                    if scratch is None or scratch.size < total:
                        scratch = self._scratch[("adam_all", x.dtype)] = np.empty(total, dtype=x.dtype)
                t = scratch[used:used + x.size].reshape(x.shape)
                used += x.size
                if vmax is None:
                    jobs.append((partial(_adam_chunk, xp, hyper), (x, g, m, v, t)))
                else:
                    jobs.append((partial(_adam_chunk_ams, xp, hyper), (x, g, m, v, vmax, t)))
            elif vmax is None and xp is not np:  # the device: one fused kernel instead of twelve passes
                device_kernels.adam_step(x, g, m, v, b1, b2, alpha, e)
            elif vmax is None:
                elementwise(partial(_adam_chunk, xp, hyper), x, g, m, v, self._tmp(x), passes=12)
            else:
                elementwise(partial(_adam_chunk_ams, xp, hyper), x, g, m, v, vmax, self._tmp(x), passes=13)
        if jobs:
            elementwise_many(jobs, passes=13 if amsgrad else 12)


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False)``: Adam with decoupled weight decay theta <- (1 - lr*lambda) theta."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
