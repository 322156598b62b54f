"""Lookahead (Zhang, Lucas, Hinton & Ba 2019) around any optimizer.

The inner optimizer updates the fast weights theta for k steps; then the slow weights phi move
toward them and the fast weights restart from there:

    phi <- phi + alpha (theta - phi),      theta <- phi          (every k inner steps)

``alpha = 1`` reproduces the inner optimizer exactly.  The slow weights are per-parameter state
(``slow_buffer[p]``, kept apart from the inner optimizer's own state, which some optimizers read as
"empty means first step") and travel in ``state_dict()["lookahead"]["slow"]``, by parameter index,
next to the inner optimizer's state.
"""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Lookahead"]


class Lookahead(Optimizer):
    """``Lookahead(inner, k=5, alpha=0.5)``: ``step(closure=None)`` steps the inner optimizer and
    every ``k`` steps pulls the weights toward the slow weights."""

    def __init__(self, inner, k=5, alpha=0.5):
        if not isinstance(inner, Optimizer):
            raise TypeError(f"Lookahead: inner must be an Optimizer, got {type(inner).__name__}")
        if int(k) < 1:
            raise ValueError(f"Lookahead: k must be >= 1, got {k}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Lookahead: alpha must be in [0, 1], got {alpha}")
        self.inner = inner
        self.k, self.alpha = int(k), float(alpha)
        self.defaults = dict(inner.defaults, k=self.k, alpha=self.alpha)
        self.state = inner.state
        self.slow_buffer = {}
        self.step_count = 0
        self.needs_closure = getattr(inner, "needs_closure", False)
        self.closure_backward = getattr(inner, "closure_backward", True)
        self._init_slow()  # phi_0 = theta_0

    @property
    def param_groups(self):
        return self.inner.param_groups

    @param_groups.setter
    def param_groups(self, value):
        self.inner.param_groups = value

    def zero_grad(self, set_to_none=True):
        self.inner.zero_grad(set_to_none)

    def step(self, closure=None):
        loss = self.inner.step(closure) if closure is not None else self.inner.step()
        self.step_count += 1
        if self.step_count % self.k == 0:
            self._sync()
        return loss

    @no_grad()
    def _sync(self):
        for group in self.inner.param_groups:
            for p in group["params"]:
                slow = self.slow_buffer[id(p)]
                # phi + alpha (theta - phi), written as theta - (1 - alpha)(theta - phi): exact at alpha = 1
                slow.array[...] = p.array - (1.0 - self.alpha) * (p.array - slow.array)
                p.array[...] = slow.array
                p._version += 1

    def _init_slow(self):
        for group in self.inner.param_groups:
            for p in group["params"]:
                if id(p) not in self.slow_buffer:
                    self.slow_buffer[id(p)] = Tensor._make(p.array.copy())

    def state_dict(self):
        sd = self.inner.state_dict()
        params = [p for g in self.inner.param_groups for p in g["params"]]
        sd["lookahead"] = {"k": self.k, "alpha": self.alpha, "step_count": self.step_count,
                           "slow": [self.slow_buffer[id(p)].array.copy() for p in params]}
        return sd

    def load_state_dict(self, state_dict):
        extra = state_dict.get("lookahead", {})
        self.inner.load_state_dict({k: v for k, v in state_dict.items() if k != "lookahead"})
        self.state = self.inner.state
        self.k = int(extra.get("k", self.k))
        self.alpha = float(extra.get("alpha", self.alpha))
        self.step_count = int(extra.get("step_count", 0))
        params = [p for g in self.inner.param_groups for p in g["params"]]
        if "slow" in extra:
            if len(extra["slow"]) != len(params):
                raise ValueError(f"Lookahead.load_state_dict: {len(extra['slow'])} slow buffers for "
                                 f"{len(params)} parameters")
            self.slow_buffer = {id(p): Tensor._make(a.astype(p.array.dtype))
                                for p, a in zip(params, extra["slow"])}

    def __repr__(self):
        return f"Lookahead(k={self.k}, alpha={self.alpha}, inner={self.inner!r})"


def _register():
    from .registry import build_optimizer, register_optimizer

    for inner_name in ("sgd", "adam", "adamw", "rmsprop", "adagrad"):
        def build(model, cfg, inner_name=inner_name):
            opts = dict(cfg.get("optimizer_options") or {})
            k, alpha = int(opts.pop("k", 5)), float(opts.pop("alpha", 0.5))
            inner = build_optimizer(inner_name, model, dict(cfg, optimizer_options=opts))
            return Lookahead(inner, k=k, alpha=alpha)

        build.__doc__ = f"Lookahead (k=5, alpha=0.5) around {inner_name}"
        register_optimizer(f"lookahead-{inner_name}")(build)


try:  # registered for ``mathdl train --optimizer lookahead-<inner>``
    _register()
except ImportError:  # pragma: no cover
    pass
