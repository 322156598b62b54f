"""Binomial(total_count n, probs | logits): P(k) = C(n, k) p^k (1-p)^(n-k), k = 0..n.

  log_prob  k l - log k! - log (n-k)! + log n! - n softplus(l)   (l = logits, computed stably as PyTorch)
  mean np, mode floor((n+1)p) clipped to n, variance np(1-p), entropy by enumerating k = 0..n
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from . import constraints
from ._special import lgamma
from .distribution import Distribution
from .utils import broadcast_all, generator, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Binomial"]


def _clamp_by_zero(x):
    return (ops.clamp(x, min=0) + x - ops.clamp(x, max=0)) / 2


class Binomial(Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Binomial: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.to(self.probs.dtype)
            shape = self.probs.shape
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.to(self.logits.dtype)
            shape = self.logits.shape
        super().__init__(shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        n = self.total_count.array
        return Tensor._make(np.minimum(np.floor((n + 1) * self.probs.array), n))

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach().array
        n = self.total_count.array
        draw = generator(p).binomial(np.broadcast_to(n.astype(np.int64), shape), np.broadcast_to(p, shape))
        return Tensor._make(draw.astype(p.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, l = self.total_count, self.logits
        log_factorial_n = lgamma(n + 1)
        log_factorial_k = lgamma(value + 1)
        log_factorial_nmk = lgamma(n - value + 1)
        normalize_term = n * _clamp_by_zero(l) + n * ops.log1p(ops.exp(-ops.abs(l))) - log_factorial_n
        return value * l - log_factorial_k - log_factorial_nmk - normalize_term

    def entropy(self):
        n = self.total_count.array
        if n.size and not (n == n.flat[0]).all():
            raise NotImplementedError("Binomial.entropy: inhomogeneous total_count is not supported")
        support = self.enumerate_support(False)
        lp = self.log_prob(support)
        return -(ops.exp(lp) * lp).sum(0)

    def enumerate_support(self, expand=True):
        n = int(self.total_count.array.max()) if self.total_count.array.size else 0
        values = np.arange(n + 1, dtype=self.total_count.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        values = Tensor._make(values)
        return ops.broadcast_to(values, (n + 1,) + self._batch_shape) if expand else values
