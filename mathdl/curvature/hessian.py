"""The Hessian of the loss with respect to the parameters, as a matrix-free operator.

    H = d^2 L / d theta^2,      H v = d/d theta < dL/d theta, v >

(reverse over reverse: one backward pass that records its own graph, ``create_graph=True``, then a
second backward pass through the gradient's inner product with v).  H is symmetric; it is
indefinite in general (negative curvature at saddle points).
"""

from __future__ import annotations

from ..autograd.functional import grad
from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor
from .base import CurvatureOperator
from .loss_hessians import loss_callable

__all__ = ["HessianOperator"]


def _zeros(p):
    return Tensor._make(p.array * 0)


class HessianOperator(CurvatureOperator):
    """``HessianOperator(model, loss_fn, data, params=None, reduction=None, allow_nondeterministic=False)``:
    products with the Hessian of ``loss_fn(model(x), y)`` (see :mod:`mathdl.curvature.base` for the
    data and reduction conventions)."""

    kind = "Hessian"

    def __init__(self, model, loss_fn, data, params=None, reduction=None, allow_nondeterministic=False):
        super().__init__(model, loss_fn, data, params, reduction, allow_nondeterministic)
        self._loss = loss_callable(loss_fn, self.reduction)

    def loss_and_grad(self, x, y):
        """The batch loss and its gradient (a list of arrays), no graph kept."""
        with enable_grad():
            loss = self._loss(self.model(x), y)
            gs = grad(loss, self.params, allow_unused=True)
        return float(loss.item()), [g.array if g is not None else p.array * 0 for g, p in zip(gs, self.params)]

    def _batch_product(self, x, y, vs):
        ps = self.params
        with enable_grad():
            loss = self._loss(self.model(x), y)
            if loss.array.size != 1:
                raise ValueError(f"HessianOperator: the loss must be a scalar, got shape {tuple(loss.shape)}")
            gs = grad(loss, ps, create_graph=True, allow_unused=True)
            terms = [(g * v).sum() for g, v in zip(gs, vs) if g is not None and g.requires_grad]
            if not terms:  # the gradient does not depend on the parameters: H = 0
                return [p.array * 0 for p in ps]
            dot = terms[0]
            for t in terms[1:]:
                dot = dot + t
            hv = grad(dot, ps, allow_unused=True)
        return [(h if h is not None else _zeros(p)).array for h, p in zip(hv, ps)]
