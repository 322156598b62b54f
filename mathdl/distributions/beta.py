"""Beta(a, b): p(x) = x^(a-1) (1-x)^(b-1) / B(a, b) on [0, 1].

  rsample   x = X / (X + Y), X ~ Gamma(a, 1), Y ~ Gamma(b, 1) (implicit gamma gradients)
  mean a/(a+b), mode (a-1)/(a+b-2), variance ab / ((a+b)^2 (a+b+1))
  entropy   log B(a, b) - (a-1) digamma(a) - (b-1) digamma(b) + (a+b-2) digamma(a+b)
"""

from __future__ import annotations

import numpy as np

from .. import ops
from . import constraints
from ._special import digamma, lgamma
from .distribution import Distribution
from .gamma import xlogy
from .implicit import standard_gamma
from .utils import broadcast_all

__all__ = ["Beta"]


class Beta(Distribution):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """(a-1)/(a+b-2) in the interior; at a boundary or the larger end when a < 1 or b < 1 (PyTorch's rule)."""
        from .dirichlet import Dirichlet

        c = ops.stack([self.concentration1, self.concentration0], -1)
        return Dirichlet(c, validate_args=False).mode[..., 0]

    @property
    def variance(self):
        t = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (t ** 2 * (t + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(ops.broadcast_to(self.concentration1, shape))
        y = standard_gamma(ops.broadcast_to(self.concentration0, shape))
        fi = np.finfo(x.dtype)
        return ops.clamp(x / (x + y), fi.tiny, 1 - fi.eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        lbeta = lgamma(a) + lgamma(b) - lgamma(a + b)
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - lbeta

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        lbeta = lgamma(a) + lgamma(b) - lgamma(a + b)
        return lbeta - (a - 1) * digamma(a) - (b - 1) * digamma(b) + (a + b - 2) * digamma(a + b)
