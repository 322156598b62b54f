"""Derivatives of a network's outputs with respect to its inputs, of any order.

For a network u = N(x) applied row by row to collocation points x (n, d), the rows do not interact,
so d/dx of sum_i u_i(x_i) gives every row's gradient at once:

    du/dx_j (x_i) = [ d (sum_k u_k) / dx ]_{i j}.

Higher orders repeat this on the previous derivative, with ``create_graph=True`` so that each
derivative is itself differentiable (with respect to x for the next order and to the network's
parameters for training).  :class:`Derivatives` caches every partial derivative it has computed, so
u_x is formed once when both u_x and u_xx are needed.
"""

from __future__ import annotations

from ..autograd.functional import grad
from ..autograd.tensor import Tensor

__all__ = ["Derivatives", "derivative"]


class Derivatives:
    """``D = Derivatives(u, x)``; ``D(0)`` = du/dx_0, ``D(0, 0)`` = d^2u/dx_0^2, ``D(1, 0)`` =
    d/dx_0 (du/dx_1); ``D()`` = u.  ``u`` has shape (n,) or (n, m) (``component`` picks a column)."""

    def __init__(self, u, x, component=None):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise ValueError("Derivatives: x must be a Tensor with requires_grad=True (the collocation points)")
        if u.ndim == 2 and component is None:
            if u.shape[1] != 1:
                raise ValueError(f"Derivatives: u has {u.shape[1]} components; pass component=")
            component = 0
        self.x = x
        self.u = u[:, component] if component is not None else u
        self._cache = {(): self.u}

    def __call__(self, *dims):
        dims = tuple(int(d) for d in dims)
        if dims in self._cache:
            return self._cache[dims]
        for d in dims:
            if not 0 <= d < self.x.shape[1]:
                raise ValueError(f"Derivatives: input dimension {d} out of range for x of shape {tuple(self.x.shape)}")
        prev = self(*dims[:-1])
        if not prev.requires_grad:  # constant in x: every further derivative is 0
            out = prev * 0
        else:
            (g,) = grad(prev.sum(), [self.x], create_graph=True, allow_unused=True)
            out = g[:, dims[-1]] if g is not None else prev * 0
        self._cache[dims] = out
        return out


def derivative(u, x, *dims):
    """d^k u / dx_{dims[0]} ... dx_{dims[k-1]} at every row of x (see :class:`Derivatives`)."""
    return Derivatives(u, x)(*dims)
