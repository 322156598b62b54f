"""Cauchy(loc, scale): p(x) = 1 / (pi gamma (1 + ((x - x0) / gamma)^2)).

  rsample   x = x0 + gamma tan(pi (u - 1/2)), u ~ U(0, 1)
  cdf       atan((x - x0) / gamma) / pi + 1/2        icdf  x0 + gamma tan(pi (p - 1/2))
  entropy   log(4 pi gamma);  mean and variance do not exist (nan and inf, as in PyTorch)
"""

from __future__ import annotations

import math

from .. import ops
from . import constraints
from ._special import atan
from .distribution import Distribution
from .utils import broadcast_all, uniform01

__all__ = ["Cauchy"]


def _tan(x):
    return ops.sin(x) / ops.cos(x)


class Cauchy(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc.detach() * 0 + math.nan

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self.loc.detach() * 0 + math.inf

    def rsample(self, sample_shape=()):
        u = uniform01(self._extended_shape(sample_shape), self.loc)
        return self.loc + self.scale * _tan(math.pi * (u - 0.5))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - ops.log(self.scale) - ops.log1p(((value - self.loc) / self.scale) ** 2)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return self.loc + self.scale * _tan(math.pi * (value - 0.5))

    def entropy(self):
        return math.log(4 * math.pi) + ops.log(self.scale)
