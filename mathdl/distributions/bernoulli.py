"""Bernoulli(probs | logits): P(x) = p^x (1-p)^(1-x), x in {0, 1}.

  log_prob  -BCEWithLogits(logits, x) = x l - softplus(l)
  mean p, mode [p >= 1/2] (nan at 1/2), variance p(1-p), entropy BCEWithLogits(logits, p)
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..nn import functional as F
from . import constraints
from .distribution import Distribution
from .utils import as_float_tensor, generator, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            self.probs = as_float_tensor(probs)
            shape = self.probs.shape
        else:
            self.logits = as_float_tensor(logits)
            shape = self.logits.shape
        super().__init__(shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def _param(self):
        return self.probs if "probs" in self.__dict__ else self.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        p = self.probs.detach()
        m = (p.array >= 0.5).astype(p.dtype)
        m[p.array == 0.5] = math.nan
        return Tensor._make(m)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        p = self.probs.detach()
        shape = self._extended_shape(sample_shape)
        u = generator(p).random(shape, dtype=p.dtype)
        return Tensor._make((u < p.array).astype(p.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        shape = ops.broadcast_to(logits, tuple(np.broadcast_shapes(logits.shape, value.shape)))
        return -F.binary_cross_entropy_with_logits(shape, ops.broadcast_to(value.to(logits.dtype), shape.shape),
                                                   reduction="none")

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = Tensor._make(np.arange(2, dtype=self._param.dtype)).reshape(
            (-1,) + (1,) * len(self._batch_shape))
        return ops.broadcast_to(values, (2,) + self._batch_shape) if expand else values
