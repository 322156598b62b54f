"""Dirichlet(alpha) on the simplex: p(x) = prod x_i^(alpha_i - 1) Gamma(alpha_0) / prod Gamma(alpha_i),
alpha_0 = sum alpha_i.

  rsample   x = G / sum G, G_i ~ Gamma(alpha_i, 1) (implicit gamma gradients)
  mean alpha/alpha_0, variance alpha (alpha_0 - alpha) / (alpha_0^2 (alpha_0 + 1))
  entropy   sum lgamma(alpha_i) - lgamma(alpha_0) - (K - alpha_0) digamma(alpha_0)
            - sum (alpha_i - 1) digamma(alpha_i)
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from . import constraints
from ._special import digamma, lgamma
from .distribution import Distribution
from .gamma import xlogy
from .implicit import standard_gamma
from .utils import as_float_tensor

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True
    _param_event_ndims = {"concentration": 1}

    def __init__(self, concentration, validate_args=None):
        concentration = as_float_tensor(concentration)
        if concentration.ndim < 1:
            raise ValueError("Dirichlet: parameter concentration must be at least one-dimensional")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = self.concentration
        cm1 = ops.clamp(c - 1, min=0.0)
        mode = cm1 / cm1.sum(-1, keepdim=True)
        mask = (c.array < 1).all(-1)
        if mask.any():
            xp = np
            onehot = xp.eye(c.shape[-1], dtype=c.dtype)[xp.argmax(c.array, -1)]
            mode = ops.where(Tensor._make(mask[..., None]), Tensor._make(onehot), mode)
        return mode

    @property
    def variance(self):
        a0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (a0 - self.concentration) / (a0 ** 2 * (a0 + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        g = standard_gamma(ops.broadcast_to(self.concentration, shape))
        x = g / g.sum(-1, keepdim=True)
        fi = np.finfo(x.dtype)
        return ops.clamp(x, fi.tiny, 1 - fi.eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return xlogy(c - 1.0, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1)

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return lgamma(c).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0) - ((c - 1.0) * digamma(c)).sum(-1)
