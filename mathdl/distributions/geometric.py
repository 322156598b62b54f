"""Geometric(probs | logits): the number of failures before the first success,
P(k) = (1-p)^k p, k = 0, 1, ...

  log_prob  k log(1-p) + log p;   mean 1/p - 1, mode 0, variance (1/p - 1)/p
  entropy   BCEWithLogits(logits, p) / p
  sample    floor(log u / log(1 - p)), u ~ U(0, 1)
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..nn import functional as F
from . import constraints
from .distribution import Distribution
from .utils import as_float_tensor, lazy_property, logits_to_probs, probs_to_logits, uniform01

__all__ = ["Geometric"]


class Geometric(Distribution):
    arg_constraints = {"probs": constraints.interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Geometric: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            self.probs = as_float_tensor(probs)
            shape = self.probs.shape
        else:
            self.logits = as_float_tensor(logits)
            shape = self.logits.shape
        super().__init__(shape, validate_args=validate_args)
        if self._validate_args and probs is not None and not np.all(self.probs.array > 0):
            raise ValueError(f"Expected parameter probs (Tensor of shape {tuple(self.probs.shape)}) of distribution "
                             "Geometric to satisfy the constraint HalfOpenInterval(lower_bound=0.0, upper_bound=1.0) "
                             "with probs > 0, but found invalid values")

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return self.probs.detach() * 0

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        p = self.probs.detach()
        u = uniform01(self._extended_shape(sample_shape), p)
        xp = xp_of(p.array)
        return Tensor._make(xp.floor(xp.log(u.array) / xp.log1p(-p.array)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        shape = np.broadcast_shapes(value.shape, self.probs.shape)
        probs = ops.broadcast_to(self.probs, shape)
        xp = xp_of(self.probs.array)
        fix = Tensor._make(xp.broadcast_to(self.probs.array == 1, shape) & xp.broadcast_to(value.array == 0, shape))
        probs = ops.where(fix, 0.0, probs)
        return value * ops.log1p(-probs) + ops.log(self.probs)

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs
