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
from ..backend import xp_of
from ..distributions import Independent, Normal

__all__ = ["FlowLayer", "Flow", "ReversePermutation", "Permutation", "standard_normal_base"]


class FlowLayer(nn.Module):
    """A bijection: ``forward(x) -> (y, logabsdet)``, ``inverse(y) -> (x, logabsdet)``."""

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y):  # pragma: no cover - abstract
        raise NotImplementedError


def _zeros_like_batch(x):
    return Tensor._make(xp_of(x.array).zeros(x.shape[0], dtype=x.dtype))


class Permutation(FlowLayer):
    """y = x[..., perm] along dim 1 (features or channels); log|det| = 0."""

    def __init__(self, perm):
        super().__init__()
        self.perm = np.asarray(perm, dtype=np.int64)
        self.inv_perm = np.argsort(self.perm)

    def forward(self, x):
        return ops.index_select(x, 1, Tensor._make(xp_of(x.array).asarray(self.perm))), _zeros_like_batch(x)

    def inverse(self, y):
        return ops.index_select(y, 1, Tensor._make(xp_of(y.array).asarray(self.inv_perm))), _zeros_like_batch(y)


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
        if base_distribution is None and event_shape is None:
            raise ValueError("Flow: give a base_distribution or an event_shape for a standard normal base")
        self.event_shape = tuple(event_shape) if event_shape is not None else tuple(base_distribution.event_shape)
        self._base = base_distribution  # None: N(0, I), built on the device and dtype of the data when used

    @property
    def base(self):
        return self._base if self._base is not None else standard_normal_base(self.event_shape)

    def _base_for(self, like):
        if self._base is not None:
            return self._base
        z = like.detach() * 0
        return Independent(Normal(z, z + 1, validate_args=False), len(self.event_shape))

    def _like(self, n):
        """A zero tensor (n, *event_shape) on the device and dtype of the flow's parameters."""
        from ..backend import get_default_dtype

        p = next(iter(self.parameters()), None)
        if p is None:
            return Tensor(np.zeros((n,) + self.event_shape, dtype=get_default_dtype()))
        return Tensor._make(xp_of(p.array).zeros((n,) + self.event_shape, dtype=p.dtype))

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
        return self._base_for(z).log_prob(z) + ld

    def rsample_and_log_prob(self, n):
        base = self._base_for(self._like(1)[0])
        z = base.rsample((n,))
        x, ld = self.forward(z)
        return x, base.log_prob(z) - ld

    def sample(self, n):
        from ..autograd.grad_mode import no_grad

        with no_grad():
            return self.forward(self._base_for(self._like(1)[0]).sample((n,)))[0]
