"""Fisher information matrices as matrix-free operators.

A loss l(f, y) = -log p(y | f) defines a predictive distribution p(y | f(x; theta)) (see
:mod:`mathdl.curvature.loss_hessians`).  With s(y) = dl/df the output-space score, J = df/dtheta
and w_i the reduction's weight of example i,

* true Fisher      F = sum_i w_i E_{y ~ p(y|f_i)}[ J_i^T s s^T J_i ]
  - ``mode="exact"``: the expectation summed over the labels (cross-entropy: over the classes);
    equal to the GGN J^T H_l J for these losses (canonical links)
  - ``mode="sampled"``: ``mc_samples`` labels per example drawn from the model (an unbiased
    estimate; fixed by ``seed`` so every product uses the same draw, ``resample()`` draws anew)
* empirical Fisher F_emp = sum_i w_i J_i^T s(y_i) s(y_i)^T J_i = sum_i w_i g_i g_i^T with the
  data's labels y_i and g_i the per-example gradient of l_i.

Products: F v = J^T [ w s (s . J v) ], one Jacobian-vector and one vector-Jacobian product.
Both matrices are symmetric positive semi-definite.
"""

from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import enable_grad
from .base import CurvatureOperator
from .ggn import output_jvp, output_vjp
from .loss_hessians import loss_curvature

__all__ = ["FisherOperator", "EmpiricalFisherOperator"]


def _need_curvature(loss_fn, reduction, who):
    lc = loss_curvature(loss_fn, reduction)
    if lc is None:
        raise ValueError(f"{who}: the loss {loss_fn!r} has no predictive distribution here; use MSE, "
                         "cross-entropy or BCE-with-logits (plain, without class weights or label smoothing)")
    return lc


def _per_example_outer(f, scores, jv, w):
    """w * s (s . Jv) per example, averaged over the leading sample axis of ``scores``."""
    B = f.shape[0]
    S = scores.shape[0]
    flat_s = scores.reshape(S, B, -1)
    proj = (flat_s * jv.reshape(1, B, -1)).sum(-1, keepdims=True)   # (S, B, 1)
    return (w / S) * (flat_s * proj).sum(0).reshape(f.shape)


class FisherOperator(CurvatureOperator):
    """``FisherOperator(model, loss_fn, data, params=None, mode="exact"|"sampled", mc_samples=1,
    seed=0, reduction=None, allow_nondeterministic=False)``: the true Fisher."""

    kind = "Fisher"

    def __init__(self, model, loss_fn, data, params=None, mode="exact", mc_samples=1, seed=0, reduction=None,
                 allow_nondeterministic=False):
        super().__init__(model, loss_fn, data, params, reduction, allow_nondeterministic)
        if mode not in ("exact", "sampled"):
            raise ValueError(f"FisherOperator: mode must be 'exact' or 'sampled', got {mode!r}")
        if int(mc_samples) < 1:
            raise ValueError(f"FisherOperator: mc_samples must be >= 1, got {mc_samples}")
        self.mode, self.mc_samples, self.seed = mode, int(mc_samples), seed
        self.loss_curvature = _need_curvature(loss_fn, self.reduction, "FisherOperator")
        self._rng = None

    def resample(self, seed=None):
        """Draw new labels for the sampled Fisher (a different, equally valid estimate)."""
        self.seed = (self.seed + 1) if seed is None else seed

    def matvec(self, v):
        self._rng = np.random.default_rng(self.seed)  # the same labels for every product
        return super().matvec(v)

    def _batch_product(self, x, y, vs):
        lc = self.loss_curvature
        with enable_grad():
            f = self.model(x)
            jv = output_jvp(f, self.params, vs)
            if self.mode == "exact":
                cot = lc.exact_fisher_vp(f.array, jv)
            else:
                rng = self._rng if self._rng is not None else np.random.default_rng(self.seed)
                scores = lc.sample_scores(f.array, rng, self.mc_samples)
                cot = _per_example_outer(f.array, scores, jv, lc.weight(f.array))
            return output_vjp(f, self.params, cot)

    def _check_determinism(self, x, y, vs, first):
        saved, self._rng = self._rng, np.random.default_rng(self.seed)
        try:
            super()._check_determinism(x, y, vs, first)
        finally:
            self._rng = saved


class EmpiricalFisherOperator(CurvatureOperator):
    """``EmpiricalFisherOperator(model, loss_fn, data, params=None, reduction=None, ...)``: sum_i w_i g_i g_i^T
    with the per-example gradients g_i at the data's labels."""

    kind = "empirical Fisher"

    def __init__(self, model, loss_fn, data, params=None, reduction=None, allow_nondeterministic=False):
        super().__init__(model, loss_fn, data, params, reduction, allow_nondeterministic)
        self.loss_curvature = _need_curvature(loss_fn, self.reduction, "EmpiricalFisherOperator")

    def _batch_product(self, x, y, vs):
        lc = self.loss_curvature
        with enable_grad():
            f = self.model(x)
            jv = output_jvp(f, self.params, vs)
            s = lc.score(f.array, y.array)
            cot = _per_example_outer(f.array, s[None], jv, lc.weight(f.array))
            return output_vjp(f, self.params, cot)
