"""HalfNormal(scale): |X| for X ~ N(0, sigma^2); p(x) = 2 N(x; 0, sigma^2) for x >= 0.

  rsample   x = sigma |eps|        mean sigma sqrt(2/pi)        variance sigma^2 (1 - 2/pi)
  cdf       2 Phi(x / sigma) - 1   icdf  sigma Phi^-1((p + 1)/2)
  entropy   H(N(0, sigma^2)) - log 2
"""

from __future__ import annotations

import math

from .. import ops
from . import constraints
from .distribution import Distribution
from .normal import Normal
from .utils import as_float_tensor, standard_normal

__all__ = ["HalfNormal"]


class HalfNormal(Distribution):
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        self.scale = as_float_tensor(scale)
        super().__init__(self.scale.shape, validate_args=validate_args)

    def _normal(self):
        return Normal(self.scale.detach() * 0, self.scale, validate_args=False)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self):
        return self.scale.detach() * 0

    @property
    def variance(self):
        return self.scale ** 2 * (1 - 2 / math.pi)

    def rsample(self, sample_shape=()):
        return ops.abs(standard_normal(self._extended_shape(sample_shape), self.scale)) * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._normal().log_prob(value) + math.log(2)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self._normal().cdf(value) - 1

    def icdf(self, prob):
        return self._normal().icdf((prob + 1) / 2)

    def entropy(self):
        return self._normal().entropy() - math.log(2)
