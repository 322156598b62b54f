"""Normalizing flows: x = f(z) with f = f_K o ... o f_1 invertible and z ~ p_Z (the base distribution).

  log p_X(x) = log p_Z(f^-1(x)) + log|det d f^-1 / dx|            (``Flow.log_prob``)
  sampling:   x = f(z), z ~ p_Z,  log p_X(x) = log p_Z(z) - log|det df/dz|   (``Flow.rsample_and_log_prob``)

Every layer is a bijection with ``forward(x) -> (y, log|det dy/dx|)`` and
``inverse(y) -> (x, log|det dx/dy|)``, both per example (shape (batch,)).  ``Flow.forward(z)`` runs the
layers in order (the generative direction) and ``Flow.inverse(x)`` in reverse; each returns the summed
log|det J| of the map it computes.
"""

from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..autograd.tensor import Tensor
from ..distributions import Independent, Normal

__all__ = ["FlowLayer", "Flow", "ReversePermutation", "Permutation", "standard_normal_base"]


class FlowLayer(nn.Module):
    """A bijection: ``forward(x) -> (y, logabsdet)``, ``inverse(y) -> (x, logabsdet)``."""

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y):  # pragma: no cover - abstract
        raise NotImplementedError


def _zeros_like_batch(x):
    return Tensor._make(np.zeros(x.shape[0], dtype=x.dtype))


class Permutation(FlowLayer):
    """y = x[..., perm] along dim 1 (features or channels); log|det| = 0."""

    def __init__(self, perm):
        super().__init__()
        self.perm = np.asarray(perm, dtype=np.int64)
        self.inv_perm = np.argsort(self.perm)

    def forward(self, x):
        return ops.index_select(x, 1, Tensor(self.perm)), _zeros_like_batch(x)

    def inverse(self, y):
        return ops.index_select(y, 1, Tensor(self.inv_perm)), _zeros_like_batch(y)


class ReversePermutation(Permutation):
    """Reverse the order of the features (between autoregressive or coupling layers)."""

    def __init__(self, features):
        super().__init__(np.arange(features)[::-1].copy())


def standard_normal_base(shape, dtype=None):
    """N(0, I) over an event of ``shape`` (an Independent Normal)."""
    from ..backend import as_dtype

    dt = as_dtype(dtype)
    z = Tensor(np.zeros(tuple(shape), dtype=dt))
    return Independent(Normal(z, z + 1, validate_args=False), len(tuple(shape)))


class Flow(nn.Module):
    """Layers composed over a base distribution (see the module docstring)."""

    def __init__(self, layers, base_distribution=None, event_shape=None):
        super().__init__()
        self.layers = nn.ModuleList(list(layers))
        if base_distribution is None:
            if event_shape is None:
                raise ValueError("Flow: give a base_distribution or an event_shape for a standard normal base")
            base_distribution = standard_normal_base(event_shape)
        self.base = base_distribution

    def forward(self, z):
        """x = f(z) and log|det df/dz| per example."""
        total = _zeros_like_batch(z)
        for layer in self.layers:
            z, ld = layer(z)
            total = total + ld
        return z, total

    def inverse(self, x):
        """z = f^-1(x) and log|det df^-1/dx| per example."""
        total = _zeros_like_batch(x)
        for layer in reversed(list(self.layers)):
            x, ld = layer.inverse(x)
            total = total + ld
        return x, total

    def log_prob(self, x):
        z, ld = self.inverse(x)
        return self.base.log_prob(z) + ld

    def rsample_and_log_prob(self, n):
        z = self.base.rsample((n,))
        x, ld = self.forward(z)
        return x, self.base.log_prob(z) - ld

    def sample(self, n):
        from ..autograd.grad_mode import no_grad

        with no_grad():
            return self.forward(self.base.sample((n,)))[0]
