"""Poisson(rate lambda): P(k) = lambda^k e^-lambda / k!, k = 0, 1, ...

  log_prob  k log lambda - lambda - lgamma(k + 1);   mean = variance = lambda, mode floor(lambda)
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from . import constraints
from ._special import lgamma
from .distribution import Distribution
from .gamma import xlogy
from .utils import as_float_tensor, generator

__all__ = ["Poisson"]


class Poisson(Distribution):
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        self.rate = as_float_tensor(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return Tensor._make(np.floor(self.rate.array))

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        r = self.rate.detach().array
        return Tensor._make(generator(r).poisson(np.broadcast_to(r, shape)).astype(r.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate = self.rate
        return xlogy(value, rate) - rate - lgamma(value + 1)
