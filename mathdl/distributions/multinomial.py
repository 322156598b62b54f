"""Multinomial(total_count n, probs | logits): counts x of n draws over K categories,
P(x) = n! / prod x_i! prod p_i^x_i.

  log_prob  lgamma(sum x + 1) - sum lgamma(x_i + 1) + sum x_i log p_i
  mean n p, variance n p (1 - p)
  entropy   n H(p) - log n! + sum_i sum_(k=1..n) Binomial(k; n, p_i) log k!   (as PyTorch)
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from . import constraints
from ._special import lgamma
from .categorical import Categorical
from .distribution import Distribution
from .utils import generator

__all__ = ["Multinomial"]


class _Multinomial(constraints.Constraint):
    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        v = value.array if isinstance(value, Tensor) else np.asarray(value)
        return (v >= 0).all(-1) & (v % 1 == 0).all(-1) & (v.sum(-1) <= self.upper_bound)

    def __repr__(self):
        return f"Multinomial(upper_bound={self.upper_bound})"


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, (int, np.integer)) or total_count < 0:
            raise ValueError(f"Multinomial: total_count must be a non-negative int, got {total_count!r}")
        self.total_count = int(total_count)
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        ps = self._categorical.param_shape
        super().__init__(ps[:-1], ps[-1:], validate_args=False)
        if validate_args is not None:
            self._validate_args = validate_args

    def expand(self, batch_shape, _instance=None):
        new = self.__new__(type(self)) if _instance is None else _instance
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, new._categorical.batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self):
        return _Multinomial(self.total_count)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def entropy(self):
        from .binomial import Binomial

        n = float(self.total_count)
        term1 = n * self._categorical.entropy() - math.lgamma(n + 1)
        if self.total_count == 0:
            return term1
        probs = self.probs
        k = Tensor._make(np.arange(1, self.total_count + 1, dtype=probs.dtype).reshape(
            (-1,) + (1,) * probs.ndim))
        binom = Binomial(self.total_count, probs=probs, validate_args=False)
        weights = lgamma(k + 1)
        term2 = (ops.exp(binom.log_prob(k)) * weights).sum((0, -1))
        return term1 + term2

    def sample(self, sample_shape=()):
        p = self.probs.detach().array
        shape = self._extended_shape(sample_shape)
        pv = np.broadcast_to(p, shape)
        draw = generator(p).multinomial(self.total_count, pv.reshape(-1, pv.shape[-1]))
        return Tensor._make(draw.reshape(shape).astype(p.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        shape = np.broadcast_shapes(logits.shape, value.shape)
        logits = ops.broadcast_to(logits, shape)
        value = ops.broadcast_to(value.to(logits.dtype), shape)
        zero = Tensor._make((value.array == 0) & np.isneginf(logits.array))
        logits = ops.where(zero, 0.0, logits)
        return lgamma(value.sum(-1) + 1) - lgamma(value + 1).sum(-1) + (logits * value).sum(-1)
