"""Exponential(rate): p(x) = lambda exp(-lambda x), x >= 0.

  rsample   x = -log(u) / lambda, u ~ U(0, 1)
  cdf       1 - exp(-lambda x)        icdf  -log(1 - p) / lambda
  entropy   1 - log(lambda)
"""

from __future__ import annotations

from .. import ops
from ..autograd.tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import as_float_tensor, generator

__all__ = ["Exponential"]


class Exponential(Distribution):
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        self.rate = as_float_tensor(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def mode(self):
        return self.rate.detach() * 0

    @property
    def stddev(self):
        return 1 / self.rate

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        e = generator(self.rate).standard_exponential(self._extended_shape(sample_shape), dtype=self.rate.dtype)
        return Tensor._make(e) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ops.log(self.rate) - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - ops.exp(-self.rate * value)

    def icdf(self, value):
        return -ops.log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - ops.log(self.rate)
