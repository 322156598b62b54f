"""Hessian-free optimization (Martens 2010): truncated conjugate gradient on Gauss-Newton products.

Each step minimizes the damped quadratic model of the loss around theta,

    q(p) = g^T p + p^T (G + lambda I) p / 2,

G the generalized Gauss-Newton matrix J^T H_l J (:mod:`mathdl.curvature.ggn`) of a curvature
mini-batch (which may be smaller than the gradient batch), by conjugate gradient:

* warm start from ``cg_decay`` times the previous step's solution;
* Martens' stopping rule: stop at iteration i > k = max(min_cg_iter, i/10) once
  (q_i - q_{i-k}) / q_i < k * ``cg_tol`` (relative progress has stalled), or at ``max_cg_iter``;
* CG backtracking: iterates kept at i = ceil(1.3^j); starting from the last, step back to earlier
  ones while the loss gets lower;
* Levenberg-Marquardt damping from the reduction ratio rho = (L(theta + p) - L(theta)) / q_0(p)
  (q_0: the undamped model): lambda x 3/2 if rho < 1/4, x 2/3 if rho > 3/4;
* an Armijo backtracking line search on the rate (``lr``, x0.8 until L decreases by 1e-2 lr g^T p).

Usage: ``HessianFree(model, loss="cross_entropy")``; ``step(closure, curvature_closure=None)``, where
``closure()`` runs the model on the gradient batch and returns the loss without calling backward();
``curvature_closure()`` (optional) runs the model on the smaller curvature batch (its return value
is ignored: the model's output is captured by a forward hook).  Without it, the gradient batch's
output is used.
"""

from __future__ import annotations

import math


from .. import backend
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..curvature.base import flatten, unflatten
from ..curvature.ggn import output_jvp, output_vjp
from ..curvature.loss_hessians import loss_curvature
from .lbfgs import closure_loss
from .natural_gradient import graph_gradient
from .optimizer import Optimizer

__all__ = ["HessianFree", "martens_cg"]


def martens_cg(Av, b, x0, max_iter=250, min_iter=10, tol=5e-4):
    """CG on A x = -b (minimizing q(x) = b^T x + x^T A x / 2) from ``x0``; returns (iterates kept at
    ceil(1.3^j) and the last, as (i, x, q) triples).  ``Av`` must be positive definite."""
    x = x0.copy()
    r = -b - Av(x)
    p = r.copy()
    rr = float(r @ r)
    qs = []
    keep = {int(math.ceil(1.3 ** j)) for j in range(80)}
    saved = []
    i = 0
    for i in range(1, int(max_iter) + 1):
        Ap = Av(p)
        pAp = float(p @ Ap)
        if pAp <= 0 or rr == 0:
            i -= 1
            break
        alpha = rr / pAp
        x += alpha * p
        r -= alpha * Ap
        rr_new = float(r @ r)
        p *= rr_new / rr
        p += r
        rr = rr_new
        q = float(b @ x) + 0.5 * float(x @ (-b - r))  # A x = -b - r
        qs.append(q)
        if i in keep:
            saved.append((i, x.copy(), q))
        k = max(min_iter, int(0.1 * i))
        if i > k and qs[-1] < 0 and (qs[-1] - qs[-1 - k]) / qs[-1] < k * tol:
            break
    if not saved or saved[-1][0] != i:
        saved.append((i, x.copy(), qs[-1] if qs else 0.0))
    return saved


class HessianFree(Optimizer):
    """``HessianFree(model, lr=1.0, damping=1.0, loss="cross_entropy", reduction="mean", max_cg_iter=250,
    min_cg_iter=10, cg_tol=5e-4, cg_decay=0.95, weight_decay=0.0)``."""

    needs_closure = True
    closure_backward = False

    def __init__(self, model, lr=1.0, damping=1.0, loss="cross_entropy", reduction="mean", max_cg_iter=250,
                 min_cg_iter=10, cg_tol=5e-4, cg_decay=0.95, weight_decay=0.0):
        from ..nn import Module

        if not isinstance(model, Module):
            raise TypeError(f"HessianFree: the first argument must be the model (a Module), got {type(model).__name__}")
        if damping <= 0:
            raise ValueError(f"HessianFree: damping must be > 0, got {damping}")
        self.loss_curvature = loss_curvature(loss, reduction)
        if self.loss_curvature is None:
            raise ValueError(f"HessianFree: no closed-form Gauss-Newton for loss {loss!r}; use 'cross_entropy', "
                             "'mse' or 'bce_with_logits'")
        defaults = dict(lr=lr, damping=damping, max_cg_iter=max_cg_iter, min_cg_iter=min_cg_iter, cg_tol=cg_tol,
                        cg_decay=cg_decay, weight_decay=weight_decay)
        super().__init__([p for p in model.parameters() if p.requires_grad], defaults)
        self.model = model
        self._output = None
        self._hook = model.register_forward_hook(self._capture)

    def _capture(self, module, inputs, output):
        if output.requires_grad:
            self._output = output
        return None

    def _loss_at(self, closure, theta):
        self._set(theta)
        with no_grad():
            out = closure()
        return float(out.item() if isinstance(out, Tensor) else out)

    def _set(self, theta):
        for p, a in zip(self.param_groups[0]["params"], unflatten(theta, self.param_groups[0]["params"])):
            p.array[...] = a
            p._version += 1

    @no_grad()
    def step(self, closure=None, curvature_closure=None):
        group = self.param_groups[0]
        params = group["params"]
        xp = backend.xp_of(params[0].array)
        self._output = None
        loss, f0 = closure_loss(closure, "HessianFree")
        if not math.isfinite(f0):
            raise RuntimeError(f"HessianFree: the loss is {f0}; parameters unchanged")
        f_grad = self._output
        with enable_grad():
            gs = graph_gradient(loss, params, "HessianFree")
        garrs = [(g.array if g is not None else p.array * 0) for g, p in zip(gs, params)]
        for p, ga in zip(params, garrs):
            p.grad = Tensor._make(ga.copy())
        theta = flatten([p.array for p in params], xp).copy()
        g = flatten(garrs, xp)
        wd = group["weight_decay"]
        if wd:
            g = g + wd * theta
        if curvature_closure is not None:
            self._output = None
            with enable_grad():
                curvature_closure()
        f = self._output if curvature_closure is not None else f_grad
        self._output = None
        if f is None:
            raise RuntimeError("HessianFree: the closure did not run the model with grad enabled")
        lc = self.loss_curvature
        state = self.state[params[0]]
        lam = state.get("damping", group["damping"])

        def Gv(v):
            with enable_grad():
                vs = [Tensor._make(a) for a in unflatten(v, params)]
                jv = output_jvp(f, params, vs)
                out = flatten(output_vjp(f, params, lc.hessian_vp(f.array, None, jv)), xp)
            return out + wd * v if wd else out

        prev = state.get("direction")
        x0 = group["cg_decay"] * prev.array if prev is not None else xp.zeros_like(g)
        saved = martens_cg(lambda v: Gv(v) + lam * v, g, x0, group["max_cg_iter"], group["min_cg_iter"],
                           group["cg_tol"])
        # CG backtracking: from the last iterate, step back while the loss improves
        # (the graph of f is stale once the parameters move: the undamped model value comes from
        # CG's damped one, q_0(x) = q(x) - lambda ||x||^2 / 2)
        best_i, best_x, best_q = saved[-1]
        best_f = self._loss_at(closure, theta + best_x)
        for i, x, q in reversed(saved[:-1]):
            fi = self._loss_at(closure, theta + x)
            if fi < best_f:
                best_i, best_x, best_f, best_q = i, x, fi, q
            else:
                break
        state["direction"] = Tensor._make(saved[-1][1].copy())
        # Levenberg-Marquardt from the reduction ratio (undamped quadratic model)
        q0 = best_q - 0.5 * lam * float(best_x @ best_x)
        rho = (best_f - f0) / q0 if q0 < 0 else -math.inf
        if rho < 0.25 or not math.isfinite(best_f):
            lam *= 1.5
        elif rho > 0.75:
            lam *= 2.0 / 3.0
        # Armijo backtracking on the rate
        rate, gp = group["lr"], float(g @ best_x)
        f_new = best_f if rate == 1.0 else self._loss_at(closure, theta + rate * best_x)
        for _ in range(60):
            if math.isfinite(f_new) and f_new <= f0 + 1e-2 * rate * gp:
                break
            rate *= 0.8
            f_new = self._loss_at(closure, theta + rate * best_x)
        else:
            rate = 0.0
        self._set(theta + rate * best_x)
        state.update(damping=lam, rho=float(rho), cg_iterations=int(saved[-1][0]), backtracked_to=int(best_i),
                     rate=float(rate), loss=float(f_new if rate else f0))
        state["step"] = state.get("step", 0) + 1
        return loss

    def load_state_dict(self, state_dict):
        own = {int(k): dict(v) for k, v in state_dict["state"].items()}
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        for k, v in own.items():
            self.state[self.param_groups[0]["params"][k]] = {
                n: (Tensor._make(x.array.copy()) if isinstance(x, Tensor) else x) for n, x in v.items()}


try:  # registered for ``mathdl train --optimizer hessian-free``
    from .registry import register_optimizer

    @register_optimizer("hessian-free", default_lr=1.0)
    def _build_hessian_free(model, cfg):
        """Hessian-free: truncated CG on Gauss-Newton products (Martens 2010)"""
        opts = dict(cfg.get("optimizer_options") or {})
        opts.setdefault("loss", "cross_entropy")
        return HessianFree(model, lr=cfg.get("lr") or 1.0, weight_decay=cfg.get("weight_decay") or 0.0, **opts)
except ImportError:  # pragma: no cover
    pass
