"""Damped Newton's method (Levenberg-Marquardt damping) for models of up to a few thousand
parameters.

At theta with gradient g and dense Hessian H (reverse over reverse, one row per parameter):

    (H + mu I) delta = -g,        mu = lambda ||g||

solved by Cholesky; when H + mu I is not positive definite (negative curvature) mu is raised to
|lambda_min(H)| + mu until the factorization succeeds.  The step is accepted when the reduction
ratio

    rho = (L(theta) - L(theta + delta)) / (-(g^T delta + delta^T H delta / 2))

exceeds ``accept_ratio``; lambda shrinks (x ``decrease``) when rho > 0.75, grows (x ``increase``)
when rho < 0.25 (a rejected step is undone and retried with the larger lambda).  Tying mu to
||g|| keeps the quadratic convergence of Newton's method near a minimum (Yamashita & Fukushima
2001): e_{k+1} <= C e_k^2.

``step(closure)``: ``closure()`` returns the loss computed from the parameters *without* calling
``backward()``; the optimizer differentiates it twice.  The Hessian needs n^2 floats: models with
more than ``max_params`` parameters are refused.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.functional import grad
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..curvature.base import flatten, unflatten
from .lbfgs import closure_loss
from .natural_gradient import graph_gradient
from .optimizer import Optimizer

__all__ = ["Newton", "dense_hessian_memory"]


def dense_hessian_memory(n, itemsize=8):
    """Bytes a dense n x n Hessian needs (plus its Cholesky factor)."""
    return 2 * n * n * itemsize


def check_dense_size(n, max_params, who, itemsize=8):
    if n > max_params:
        gib = dense_hessian_memory(n, itemsize) / 2 ** 30
        raise ValueError(f"{who}: the model has {n:,} parameters; a dense Hessian would need {gib:.1f} GiB "
                         f"({n:,} x {n:,} floats and its factor); the limit is max_params={max_params:,}")


class Newton(Optimizer):
    """``Newton(params, lr=1.0, damping=1e-3, increase=2.0, decrease=1/3, accept_ratio=1e-4,
    max_params=5000, max_retries=10)``; ``step(closure)``."""

    needs_closure = True
    closure_backward = False

    def __init__(self, params, lr=1.0, damping=1e-3, increase=2.0, decrease=1 / 3, accept_ratio=1e-4,
                 max_params=5000, max_retries=10):
        if damping < 0 or increase <= 1 or not (0 < decrease < 1):
            raise ValueError(f"Newton: need damping >= 0, increase > 1, 0 < decrease < 1; got {damping}, "
                             f"{increase}, {decrease}")
        defaults = dict(lr=lr, damping=damping, increase=increase, decrease=decrease, accept_ratio=accept_ratio)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("Newton: one parameter group only")
        self._params = self.param_groups[0]["params"]
        self.num_params = sum(p.array.size for p in self._params)
        check_dense_size(self.num_params, max_params, "Newton", np.dtype(self._params[0].dtype).itemsize)
        self.max_retries = int(max_retries)

    def _grad_and_hessian(self, loss):
        ps = self._params
        xp = backend.xp_of(ps[0].array)
        with enable_grad():
            gs = graph_gradient(loss, ps, "Newton", create_graph=True)
            gs = [g if g is not None else Tensor._make(p.array * 0) for g, p in zip(gs, ps)]
            g = flatten([gi.array for gi in gs], xp)
            n = self.num_params
            H = xp.zeros((n, n), dtype=g.dtype)
            row = 0
            for gi in gs:
                flat = gi.reshape(-1)
                for j in range(gi.array.size):
                    if flat.requires_grad:
                        hs = grad(flat[j], ps, retain_graph=True, allow_unused=True)
                        H[row] = flatten([(h.array if h is not None else p.array * 0) for h, p in zip(hs, ps)], xp)
                    row += 1
        return g, 0.5 * (H + H.T)

    @staticmethod
    def _solve(H, g, mu):
        """(H + mu I)^{-1}(-g) by Cholesky, raising mu past the most negative eigenvalue if needed."""
        n = len(g)
        eye = np.eye(n, dtype=H.dtype)
        try:
            L = np.linalg.cholesky(H + mu * eye)
        except np.linalg.LinAlgError:
            lam_min = float(np.linalg.eigvalsh(H)[0])
            mu = max(mu, 1e-12) + max(0.0, -lam_min) * 1.01 + 1e-10
            L = np.linalg.cholesky(H + mu * eye)
        z = np.linalg.solve(L, -g)
        return np.linalg.solve(L.T, z), mu

    def _set(self, theta):
        for p, a in zip(self._params, unflatten(theta, self._params)):
            p.array[...] = a
            p._version += 1

    @no_grad()
    def step(self, closure=None):
        group = self.param_groups[0]
        loss, f0 = closure_loss(closure, "Newton")
        if not math.isfinite(f0):
            raise RuntimeError(f"Newton: the loss is {f0}; parameters unchanged")
        g, H = self._grad_and_hessian(loss)
        g, H = backend.to_device(g, "cpu"), backend.to_device(H, "cpu")
        for p, ga in zip(self._params, unflatten(g, self._params)):
            p.grad = Tensor._make(backend.xp_of(p.array).asarray(ga).copy())
        state = self.state[self._params[0]]
        lam = state.get("lambda", group["damping"])
        xp = backend.xp_of(self._params[0].array)
        theta = flatten([p.array for p in self._params], xp).copy()
        gnorm = float(np.linalg.norm(g))
        for _ in range(self.max_retries + 1):
            delta, mu = self._solve(H, g, lam * gnorm)
            delta = group["lr"] * delta
            predicted = -(g @ delta + 0.5 * delta @ H @ delta)
            self._set(theta + xp.asarray(delta))
            _, f1 = closure_loss(closure, "Newton")
            actual = f0 - f1 if math.isfinite(f1) else -math.inf
            rho = actual / predicted if predicted > 0 else (1.0 if actual >= 0 else -1.0)
            if rho > 0.75:
                lam *= group["decrease"]
            elif rho < 0.25:
                lam = max(lam, 1e-8) * group["increase"]
            if rho > group["accept_ratio"] or (predicted <= 0 and actual >= 0):
                break
            self._set(theta)  # rejected: undo and retry with more damping
        else:
            self._set(theta)
        state["lambda"] = lam
        state["last_rho"] = float(rho)
        state["grad_norm"] = gnorm
        state["step"] = state.get("step", 0) + 1
        return loss


try:  # registered for ``mathdl train --optimizer newton``
    from .registry import register_optimizer

    @register_optimizer("newton", default_lr=1.0)
    def _build_newton(model, cfg):
        """damped Newton with a dense Hessian (models up to a few thousand parameters)"""
        opts = dict(cfg.get("optimizer_options") or {})
        return Newton([p for p in model.parameters() if p.requires_grad], lr=cfg.get("lr") or 1.0, **opts)
except ImportError:  # pragma: no cover
    pass
