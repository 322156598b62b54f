"""Physics-informed neural networks (Raissi, Perdikaris & Karniadakis 2019).

A network u_theta(x) is trained so that a differential operator's residual vanishes at collocation
points and the boundary/initial/data conditions hold:

    L(theta) = w_r mean_i r(x_i)^2 + sum_c w_c mean_j (misfit_c(x_j))^2,

with r(x) = N[u](x) built by ``residual(x, D)`` from the derivatives ``D(...)`` of u with respect to
the inputs (``D()`` is u itself).  Two exact ways give D, chosen by ``derivatives=``:

* ``"autograd"``: nested reverse mode, :class:`mathdl.physics.Derivatives` (any network, any order);
* ``"jet"``: forward propagation of the input derivatives through an MLP, :func:`mathdl.physics.mlp_jet`
  (up to second order; several times cheaper, one reverse pass for the parameter gradient);
* ``"auto"`` (default): the jet when the network is an MLP it supports and the residual asks for
  derivatives of order <= 2 (found by evaluating the residual once on two points), else autograd.
  Training is Adam followed by
L-BFGS with a strong-Wolfe line search (:meth:`PINN.fit`).  Unknown coefficients of the equation
(the inverse problem) are extra parameters the residual reads, trained with the network.
"""

from __future__ import annotations

import time

import numpy as np

from ..autograd.tensor import Tensor
from .conditions import Condition
from .derivatives import Derivatives
from .jet import mlp_jet, supports_jet

_METHODS = ("auto", "jet", "autograd")


class _Recorder(Derivatives):
    """Derivatives that remembers which partial derivatives the residual asked for."""

    def __init__(self, u, x):
        super().__init__(u, x)
        self.asked = set()

    def __call__(self, *dims):
        self.asked.add(tuple(int(d) for d in dims))
        return super().__call__(*dims)

__all__ = ["PINN"]


class PINN:
    """``PINN(model, residual, collocation, conditions, residual_weight=1.0, extra_params=(),
    dtype=float64, require_boundary=True, derivatives="auto")``."""

    def __init__(self, model, residual, collocation, conditions, residual_weight=1.0, extra_params=(),
                 dtype=np.float64, require_boundary=True, derivatives="auto"):
        if derivatives not in _METHODS:
            raise ValueError(f"PINN: derivatives must be one of {_METHODS}, got {derivatives!r}")
        if derivatives == "jet" and not supports_jet(model):
            raise TypeError("PINN: derivatives='jet' needs an nn.Sequential of Linear, Tanh, Sigmoid, Identity and "
                            "InputScale layers; use derivatives='autograd' for this network")
        conditions = list(conditions or [])
        for c in conditions:
            if not isinstance(c, Condition):
                raise TypeError(f"PINN: conditions must be DirichletBC/NeumannBC/InitialCondition/DataCondition, "
                                f"got {type(c).__name__}")
        if require_boundary and not any(c.is_boundary for c in conditions):
            raise ValueError("PINN: no boundary or initial condition given; the differential equation alone does "
                             "not determine its solution (pass require_boundary=False to fit data only)")
        pts = np.atleast_2d(np.asarray(collocation, dtype=np.float64))
        if pts.ndim != 2 or len(pts) == 0:
            raise ValueError(f"PINN: collocation points must be a non-empty (n, d) array, got shape {pts.shape}")
        self.model, self.residual, self.conditions = model, residual, conditions
        self.collocation = pts
        self.residual_weight = float(residual_weight)
        self.extra_params = list(extra_params)
        self.dtype = np.dtype(dtype)
        self.derivatives = derivatives
        self._jet = None  # (first, second) once decided
        self.history = []

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad] + self.extra_params

    def method(self):
        """"jet" or "autograd": how the derivatives are computed (``derivatives="auto"`` decides here)."""
        if self._jet is None:
            self._jet = False
            if self.derivatives != "autograd" and supports_jet(self.model):
                x = Tensor._make(np.asarray(self.collocation[:2], dtype=self.dtype), True, None)
                D = _Recorder(self.model(x), x)
                self.residual(x, D)
                if all(len(k) <= 2 for k in D.asked):
                    second = {k for k in D.asked if len(k) == 2}
                    self._jet = ({k[0] for k in D.asked if len(k) == 1} | {i for k in second for i in k}, second)
                elif self.derivatives == "jet":
                    raise ValueError(f"PINN: derivatives='jet' propagates up to second order; the residual asks for "
                                     f"{sorted(k for k in D.asked if len(k) > 2)}")
        return "jet" if self._jet else "autograd"

    def residual_at(self, points):
        """r(x) at the given points (a Tensor recorded against the parameters)."""
        if self.method() == "jet":
            x = Tensor._make(np.asarray(points, dtype=self.dtype))
            first, second = self._jet
            return self.residual(x, mlp_jet(self.model, x, first, second))
        x = Tensor._make(np.asarray(points, dtype=self.dtype), True, None)
        D = Derivatives(self.model(x), x)
        return self.residual(x, D)

    def losses(self):
        """(total loss, {name: float}) at the current parameters."""
        r = self.residual_at(self.collocation)
        total = (r * r).mean() * self.residual_weight
        parts = {"residual": float(total.item())}
        for k, c in enumerate(self.conditions):
            lc = c.loss(self.model, self.dtype)
            parts[f"{c.kind}_{k}"] = float(lc.item())
            total = total + lc
        return total, parts

    def loss(self):
        return self.losses()[0]

    def predict(self, points):
        from ..autograd.grad_mode import no_grad

        with no_grad():
            u = self.model(Tensor._make(np.asarray(points, dtype=self.dtype)))
        u = u.numpy()
        return u[:, 0] if u.ndim == 2 else u

    def fit(self, adam_steps=1000, adam_lr=1e-3, lbfgs_steps=10, lbfgs_max_iter=50, history_size=50,
            log_every=100, time_limit=None, callback=None, lbfgs_scale="auto"):
        """Adam for ``adam_steps`` steps, then ``lbfgs_steps`` L-BFGS calls of ``lbfgs_max_iter``
        iterations each (one L-BFGS state throughout; it stops early once a call no longer changes the
        loss); appends (phase, step, loss, seconds, iterations) to ``self.history`` and returns it.

        L-BFGS minimizes ``lbfgs_scale`` * L (logged unscaled).  PyTorch's L-BFGS, and mathdl's which
        matches it, keeps a curvature pair only if y^T s > 1e-10 in absolute terms; a PINN loss of 1e-6
        makes y^T s fall below that, every new pair is dropped and L-BFGS stalls on stale curvature.  The
        iterates are otherwise invariant to a constant factor on L (the two-loop direction, the strong-Wolfe
        conditions), so ``"auto"`` = 1e4 / L(start of L-BFGS) keeps pairs while y^T s > 1e-14 L(start)."""
        from ..optim.adam import Adam
        from ..optim.lbfgs import LBFGS

        params = self.parameters()
        start = time.perf_counter()
        opt = Adam(params, lr=adam_lr)
        for step in range(int(adam_steps)):
            opt.zero_grad()
            loss = self.loss()
            loss.backward()
            opt.step()
            if step % log_every == 0 or step == adam_steps - 1:
                self._log("adam", step, float(loss.item()), start, step + 1, callback)
            if time_limit and time.perf_counter() - start > time_limit:
                break
        if lbfgs_steps:
            lb = LBFGS(params, lr=1.0, max_iter=int(lbfgs_max_iter), history_size=int(history_size),
                       tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe")
            if lbfgs_scale == "auto":
                from ..autograd.grad_mode import no_grad

                with no_grad():
                    l0 = float(self.loss().item())
                lbfgs_scale = 1e4 / l0 if np.isfinite(l0) and l0 > 0 else 1.0
            scale = float(lbfgs_scale)
            if not scale > 0:
                raise ValueError(f"PINN.fit: lbfgs_scale must be positive or 'auto', got {lbfgs_scale!r}")

            def closure():
                lb.zero_grad()
                loss = self.loss() * scale
                loss.backward()
                return loss
            prev = None
            for step in range(int(lbfgs_steps)):
                value = float(lb.step(closure).item()) / scale
                iters = lb.state[lb._params[0]]["n_iter"]
                self._log("lbfgs", step, value, start, iters, callback)
                if time_limit and time.perf_counter() - start > time_limit:
                    break
                if prev is not None and abs(prev - value) <= 1e-15 * abs(value):
                    break  # converged: a whole call moved nothing
                prev = value
        return self.history

    def _log(self, phase, step, value, start, iterations, callback):
        row = (phase, step, value, time.perf_counter() - start, iterations)
        self.history.append(row)
        if callback is not None:
            callback(row)
