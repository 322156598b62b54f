"""Gamma(concentration alpha, rate beta): p(x) = beta^alpha x^(alpha-1) e^(-beta x) / Gamma(alpha);
Chi2(df) = Gamma(df/2, 1/2).

  rsample   x = z / beta, z ~ Gamma(alpha, 1) with the implicit gradient (see ``implicit``)
  mean alpha/beta, mode max((alpha - 1)/beta, 0), variance alpha/beta^2
  cdf       P(alpha, beta x) (regularized lower incomplete gamma)
  entropy   alpha - log beta + lgamma(alpha) + (1 - alpha) digamma(alpha)
"""

from __future__ import annotations

import numpy as np

from .. import ops
from . import constraints
from ._special import digamma, gammainc, lgamma
from .distribution import Distribution
from .implicit import standard_gamma
from .utils import as_float_tensor, broadcast_all

__all__ = ["Gamma", "Chi2", "xlogy"]


def xlogy(x, y):
    """x log y, with 0 log 0 = 0."""
    return ops.where(x == 0, 0.0, x * ops.log(y))


class Gamma(Distribution):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ops.clamp((self.concentration - 1) / self.rate, min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        z = standard_gamma(ops.broadcast_to(self.concentration, shape)) / self.rate
        return ops.clamp(z, min=float(np.finfo(z.dtype).tiny))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return xlogy(a, b) + xlogy(a - 1, value) - b * value - lgamma(a)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self):
        a = self.concentration
        return a - ops.log(self.rate) + lgamma(a) + (1.0 - a) * digamma(a)


class Chi2(Gamma):
    """Chi2(df) = Gamma(df / 2, 1 / 2)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        df = as_float_tensor(df)
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return Gamma.expand(self, batch_shape, _instance)

    @property
    def df(self):
        return self.concentration * 2


Chi2._expand_extra = ("concentration", "rate")
