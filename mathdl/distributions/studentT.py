"""StudentT(df nu, loc mu, scale sigma):
p(x) = Gamma((nu+1)/2) / (Gamma(nu/2) sqrt(nu pi) sigma) (1 + y^2/nu)^(-(nu+1)/2),  y = (x - mu)/sigma.

  rsample   x = mu + sigma eps / sqrt(V / nu), eps ~ N(0, 1), V ~ Chi2(nu) (implicit gamma gradient)
  mean mu (nu > 1, else nan); variance sigma^2 nu/(nu - 2) (nu > 2), inf (1 < nu <= 2), nan (nu <= 1)
  entropy   log sigma + (nu+1)/2 (digamma((nu+1)/2) - digamma(nu/2)) + log(nu)/2 + log B(nu/2, 1/2)
"""

from __future__ import annotations

import math

from .. import ops
from ..autograd.tensor import Tensor
from . import constraints
from ._special import digamma, lgamma
from .distribution import Distribution
from .implicit import standard_gamma
from .utils import broadcast_all, standard_normal

__all__ = ["StudentT"]


class StudentT(Distribution):
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        super().__init__(self.df.shape, validate_args=validate_args)

    @property
    def mean(self):
        ok = Tensor._make(self.df.array > 1)
        return ops.where(ok, self.loc, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        v = self.scale ** 2 * df / ops.clamp(df - 2, min=1e-300)
        v = ops.where(Tensor._make((df.array <= 2) & (df.array > 1)), math.inf, v)
        return ops.where(Tensor._make(df.array <= 1), math.nan, v)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = standard_normal(shape, self.loc)
        chi2 = 2 * standard_gamma(ops.broadcast_to(0.5 * self.df, shape))
        y = x * ops.rsqrt(chi2 / self.df)
        return self.loc + self.scale * y

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        z = (ops.log(self.scale) + 0.5 * ops.log(df) + 0.5 * math.log(math.pi) + lgamma(0.5 * df)
             - lgamma(0.5 * (df + 1.0)))
        return -0.5 * (df + 1.0) * ops.log1p(y ** 2 / df) - z

    def entropy(self):
        df = self.df
        lbeta = lgamma(0.5 * df) + math.lgamma(0.5) - lgamma(0.5 * (df + 1))
        return (ops.log(self.scale) + 0.5 * (df + 1) * (digamma(0.5 * (df + 1)) - digamma(0.5 * df))
                + 0.5 * ops.log(df) + lbeta)
