"""AdaHessian (Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney 2021): Adam with the Hessian diagonal
in place of the squared gradient.

Hutchinson's estimator gives the Hessian diagonal from Rademacher probes z (E[z z^T] = I):

    diag(H) = E[z * (H z)],

one Hessian-vector product per step (reverse over reverse).  For a conv kernel (out, in, kh, kw)
the estimate is averaged over the kernel's spatial positions ("spatial averaging"): D <- mean over
(kh, kw) of |D|, broadcast back.  With m, v the first and second moments,

    m_t = b1 m + (1 - b1) g,        v_t = b2 v + (1 - b2) D^2,
    theta <- theta - lr ( (m_t / (1 - b1^t)) / ((sqrt(v_t / (1 - b2^t)))^k + eps) + wd theta ),

k = ``hessian_power`` (1 in the paper; 0 gives signSGD-like steps), weight decay decoupled.

Usage: ``opt.step(closure)`` with a closure that returns the loss without calling backward();
or ``loss.backward(create_graph=True); opt.step()`` (the gradients then carry their graph).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.functional import grad
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from .lbfgs import closure_loss
from .natural_gradient import graph_gradient
from .optimizer import Optimizer

__all__ = ["AdaHessian"]


class AdaHessian(Optimizer):
    """``AdaHessian(params, lr=0.15, betas=(0.9, 0.999), eps=1e-4, weight_decay=0.0, hessian_power=1.0,
    seed=0)``."""

    needs_closure = True
    closure_backward = False

    def __init__(self, params, lr=0.15, betas=(0.9, 0.999), eps=1e-4, weight_decay=0.0, hessian_power=1.0, seed=0):
        if not 0.0 <= hessian_power <= 1.0:
            raise ValueError(f"AdaHessian: hessian_power must be in [0, 1], got {hessian_power}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"AdaHessian: betas must be in [0, 1), got {betas}")
        if eps < 0:
            raise ValueError(f"AdaHessian: eps must be >= 0, got {eps}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, hessian_power=hessian_power)
        super().__init__(params, defaults)
        self._rng = np.random.default_rng(seed)

    def _gradients(self, closure):
        params = [p for g in self.param_groups for p in g["params"]]
        if closure is not None:
            loss, value = closure_loss(closure, "AdaHessian")
            if not math.isfinite(value):
                raise RuntimeError(f"AdaHessian: the loss is {value}; parameters unchanged")
            with enable_grad():
                gs = graph_gradient(loss, params, "AdaHessian", create_graph=True)
            return loss, params, list(gs)
        gs = [p.grad for p in params]
        if not any(g is not None and g.requires_grad for g in gs):
            raise RuntimeError("AdaHessian.step: the gradients carry no graph; call loss.backward(create_graph=True) "
                               "first, or pass a closure that returns the loss without calling backward()")
        return None, params, gs

    def hutchinson(self, params, gs):
        """|z * (H z)| per parameter for one Rademacher probe z, spatially averaged for conv kernels."""
        live = [(p, g) for p, g in zip(params, gs) if g is not None and g.requires_grad]
        zs = []
        for p, _ in live:
            xp = backend.xp_of(p.array)
            z = self._rng.integers(0, 2, size=p.array.shape).astype(p.array.dtype) * 2 - 1
            zs.append(Tensor._make(xp.asarray(z)))
        with enable_grad():
            hz = grad([g for _, g in live], [p for p, _ in live], zs, retain_graph=False, allow_unused=True)
        out = {}
        for (p, _), z, h in zip(live, zs, hz):
            d = backend.xp_of(p.array).abs((h.array if h is not None else p.array * 0) * z.array)
            if d.ndim == 4:  # conv kernel: average over the spatial positions
                d = backend.xp_of(d).broadcast_to(d.mean(axis=(2, 3), keepdims=True), d.shape).copy()
            out[id(p)] = d
        return out

    @no_grad()
    def step(self, closure=None):
        loss, params, gs = self._gradients(closure)
        diag = self.hutchinson(params, gs)
        gdata = {id(p): (g.array if g is not None else None) for p, g in zip(params, gs)}
        for p in params:  # the optimizer leaves plain (graph-free) gradients behind
            if gdata[id(p)] is not None:
                p.grad = Tensor._make(gdata[id(p)].copy())
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, k = group["weight_decay"], group["hessian_power"]
            for p in group["params"]:
                g = gdata.get(id(p))
                if g is None:
                    continue
                xp = backend.xp_of(p.array)
                D = diag.get(id(p))
                if D is None:
                    D = xp.zeros_like(p.array)
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = self._zeros_like(p.array)
                    st["exp_hessian_diag_sq"] = self._zeros_like(p.array)
                st["step"] += 1
                m, v = st["exp_avg"].array, st["exp_hessian_diag_sq"].array
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * D * D
                bc1, bc2 = 1 - b1 ** st["step"], 1 - b2 ** st["step"]
                denom = (xp.sqrt(v / bc2)) ** k + eps
                p.array -= lr * (m / bc1 / denom + wd * p.array)
                p._version += 1
        return loss


try:  # registered for ``mathdl train --optimizer adahessian``
    from .registry import register_optimizer

    @register_optimizer("adahessian")
    def _build_adahessian(model, cfg):
        """AdaHessian: Adam with a Hutchinson Hessian diagonal (Yao et al. 2021)"""
        opts = dict(cfg.get("optimizer_options") or {})
        return AdaHessian([p for p in model.parameters() if p.requires_grad], lr=cfg.get("lr") or 0.15,
                          weight_decay=cfg.get("weight_decay") or 0.0, **opts)
except ImportError:  # pragma: no cover
    pass
