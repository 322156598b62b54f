"""The generalized Gauss-Newton matrix (Schraudolph 2002; Martens 2010) as a matrix-free operator.

With f = model(x; theta) the network output, J = df/dtheta and H_l = d^2 L/df^2 the Hessian of
the loss with respect to the output,

    G = J^T H_l J,        G v = J^T (H_l (J v)).

J v is a Jacobian-vector product (computed as the vjp of a vjp), H_l is applied in closed form for
MSE, cross-entropy and BCE-with-logits (:mod:`mathdl.curvature.loss_hessians`) and by automatic
differentiation in the output space for any other loss, and J^T(.) is one vector-Jacobian product.
G is the Hessian with the second-derivative-of-the-network term dropped: G = H for a model linear
in theta, and G is positive semi-definite whenever the loss is convex in f.
"""

from __future__ import annotations

from ..autograd.functional import grad, hvp
from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor
from .base import CurvatureOperator
from .loss_hessians import loss_callable, loss_curvature

__all__ = ["GGNOperator", "output_jvp"]


def output_jvp(f, params, vs):
    """J v for an output tensor ``f`` recorded against ``params``: the dummy-cotangent trick,
    u -> J^T u is linear in u, so d<J^T u, v>/du = J v.  Keeps f's graph for a later vjp."""
    xp_zero = f.array * 0
    u = Tensor._make(xp_zero, True, None)
    gs = grad([f], params, [u], create_graph=True, allow_unused=True)
    pairs = [(g, v) for g, v in zip(gs, vs) if g is not None and g.requires_grad]
    if not pairs:
        return xp_zero
    jv = grad([g for g, _ in pairs], [u], [v for _, v in pairs], retain_graph=True, allow_unused=True)[0]
    return xp_zero if jv is None else jv.array


def output_vjp(f, params, cot):
    """J^T c for an output tensor ``f`` and an output-space array ``c`` (a list of arrays)."""
    gs = grad([f], params, [Tensor._make(cot)], retain_graph=True, allow_unused=True)
    return [(g.array if g is not None else p.array * 0) for g, p in zip(gs, params)]


class GGNOperator(CurvatureOperator):
    """``GGNOperator(model, loss_fn, data, params=None, reduction=None, allow_nondeterministic=False)``:
    products with G = J^T H_l J for ``loss_fn(model(x), y)``."""

    kind = "GGN"

    def __init__(self, model, loss_fn, data, params=None, reduction=None, allow_nondeterministic=False):
        super().__init__(model, loss_fn, data, params, reduction, allow_nondeterministic)
        self.loss_curvature = loss_curvature(loss_fn, self.reduction)
        self._loss = loss_callable(loss_fn, self.reduction)

    def _output_hvp(self, f, y, u):
        if self.loss_curvature is not None:
            return self.loss_curvature.hessian_vp(f.array, y.array, u)
        # any other loss: H_l u by reverse-over-reverse in the (small) output space
        _, hu = hvp(lambda z: self._loss(z, y), f.detach(), Tensor._make(u))
        return hu.array

    def _batch_product(self, x, y, vs):
        with enable_grad():
            f = self.model(x)
            jv = output_jvp(f, self.params, vs)
            return output_vjp(f, self.params, self._output_hvp(f, y, jv))
