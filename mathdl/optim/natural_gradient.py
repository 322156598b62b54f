"""Natural gradient descent (Amari 1998) with the exact Fisher, for small models.

    theta <- theta - lr * (F + damping I)^{-1} grad L

F = J^T F_l J is the Fisher of the model's predictive distribution (exact: the expectation over
the labels computed in closed form, :class:`mathdl.curvature.FisherOperator` with
``mode="exact"``), J the Jacobian of the model output for the current batch.  The system is solved
matrix-free by conjugate gradient (:func:`mathdl.curvature.solve.conjugate_gradient`), warm-started
from the previous direction, each product one Jacobian-vector and one vector-Jacobian product.

Usage: ``opt = NaturalGradient(model, lr=1.0, loss="cross_entropy")`` and ``opt.step(closure)``,
where ``closure()`` runs the model on the batch and returns the loss *without* calling
``backward()`` (the optimizer differentiates the graph itself); the model's output is taken from
its last forward call inside the closure.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.functional import grad
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..curvature.base import flatten, unflatten
from ..curvature.ggn import output_jvp, output_vjp
from ..curvature.loss_hessians import loss_curvature
from ..curvature.solve import conjugate_gradient
from .lbfgs import closure_loss
from .optimizer import Optimizer

__all__ = ["NaturalGradient", "graph_gradient"]


def graph_gradient(loss, params, who, create_graph=False):
    """d loss / d params from the closure's live graph, with a clear error when backward() freed it."""
    if not isinstance(loss, Tensor) or loss._node is None:
        raise RuntimeError(f"{who}: the closure's loss carries no graph; return the loss tensor computed "
                           "from the parameters with grad enabled")
    try:
        return grad(loss, params, retain_graph=True, create_graph=create_graph, allow_unused=True)
    except RuntimeError as e:
        if "second time" in str(e) or "freed" in str(e):
            raise RuntimeError(f"{who}: the closure called backward(), which freed the graph this optimizer "
                               "needs; return the loss without calling backward()") from None
        raise


class NaturalGradient(Optimizer):
    """``NaturalGradient(model, lr=1.0, damping=1e-3, loss="cross_entropy", reduction="mean",
    momentum=0.0, weight_decay=0.0, cg_max_iter=50, cg_tol=1e-6)``; ``step(closure)``."""

    needs_closure = True
    closure_backward = False

    def __init__(self, model, lr=1.0, damping=1e-3, loss="cross_entropy", reduction="mean", momentum=0.0,
                 weight_decay=0.0, cg_max_iter=50, cg_tol=1e-6):
        from ..nn import Module

        if not isinstance(model, Module):
            raise TypeError(f"NaturalGradient: the first argument must be the model (a Module), got "
                            f"{type(model).__name__}")
        if damping < 0:
            raise ValueError(f"NaturalGradient: damping must be >= 0, got {damping}")
        self.loss_curvature = loss_curvature(loss, reduction)
        if self.loss_curvature is None:
            raise ValueError(f"NaturalGradient: loss {loss!r} has no predictive distribution; use "
                             "'cross_entropy', 'mse' or 'bce_with_logits'")
        defaults = dict(lr=lr, damping=damping, momentum=momentum, weight_decay=weight_decay,
                        cg_max_iter=cg_max_iter, cg_tol=cg_tol)
        super().__init__([p for p in model.parameters() if p.requires_grad], defaults)
        if len(self.param_groups) != 1:
            raise ValueError("NaturalGradient: one parameter group only")
        self.model = model
        self._output = None
        self._hook = model.register_forward_hook(self._capture)
        self.last_cg_iterations = 0

    def _capture(self, module, inputs, output):
        if output.requires_grad:
            self._output = output
        return None

    @no_grad()
    def step(self, closure=None):
        group = self.param_groups[0]
        params = group["params"]
        self._output = None
        loss, value = closure_loss(closure, "NaturalGradient")
        f = self._output
        self._output = None
        if f is None:
            raise RuntimeError("NaturalGradient: the closure did not run the model with grad enabled")
        if not np.isfinite(value):
            raise RuntimeError(f"NaturalGradient: the loss is {value}; parameters unchanged")
        with enable_grad():
            gs = graph_gradient(loss, params, "NaturalGradient")
        xp = backend.xp_of(params[0].array)
        garrs = [(g.array if g is not None else p.array * 0) for g, p in zip(gs, params)]
        for p, ga in zip(params, garrs):
            p.grad = Tensor._make(ga.copy())
        g = flatten(garrs, xp)
        if group["weight_decay"]:
            g = g + group["weight_decay"] * flatten([p.array for p in params], xp)
        lc = self.loss_curvature

        def fvp(v):
            with enable_grad():
                vs = [Tensor._make(a) for a in unflatten(v, params)]
                jv = output_jvp(f, params, vs)
                return flatten(output_vjp(f, params, lc.exact_fisher_vp(f.array, jv)), xp)

        state = self.state[params[0]]
        x0 = state.get("direction")
        x0 = None if x0 is None else x0.array
        d = conjugate_gradient(fvp, g, x0=x0, damping=group["damping"], max_iter=group["cg_max_iter"],
                               tol=group["cg_tol"])
        state["direction"] = Tensor._make(d.copy())
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:
                state["momentum_buffer"] = buf = Tensor._make(d.copy())
            else:
                buf.array *= group["momentum"]
                buf.array += d
            d = buf.array
        for p, di in zip(params, unflatten(d, params)):
            p.array -= group["lr"] * di.astype(p.array.dtype, copy=False)
            p._version += 1
        return loss

    def load_state_dict(self, state_dict):
        own = {int(k): dict(v) for k, v in state_dict["state"].items()}
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        for k, v in own.items():
            self.state[self.param_groups[0]["params"][k]] = {n: (Tensor._make(x.array.copy())
                                                                if isinstance(x, Tensor) else x)
                                                            for n, x in v.items()}


try:  # registered for ``mathdl train --optimizer natural-gradient``
    from .registry import register_optimizer

    @register_optimizer("natural-gradient")
    def _build_natural_gradient(model, cfg):
        """natural gradient with the exact Fisher solved by CG (small models)"""
        opts = dict(cfg.get("optimizer_options") or {})
        opts.setdefault("loss", "cross_entropy")
        return NaturalGradient(model, lr=cfg["lr"], weight_decay=cfg.get("weight_decay") or 0.0, **opts)
except ImportError:  # pragma: no cover
    pass
