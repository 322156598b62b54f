"""Categorical(probs | logits) over {0, ..., K-1}: P(x = k) = p_k, p = softmax(logits) = probs / sum probs.

  log_prob  logits_x (normalized: logits - logsumexp(logits))
  entropy   -sum_k p_k log p_k;   mean and variance are nan (no order on categories), as in PyTorch
  sample    inverse CDF: the number of cumulative probabilities below u ~ U(0, 1)

OneHotCategorical: the same law on one-hot vectors (event shape (K,)); OneHotCategoricalStraightThrough
adds rsample = one_hot + p - stop_gradient(p) (the straight-through estimator, Bengio et al. 2013).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..backend import xp_of
from . import constraints
from .distribution import Distribution
from .utils import as_float_tensor, generator, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical", "OneHotCategorical", "OneHotCategoricalStraightThrough"]


class Categorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True
    _param_event_ndims = {"probs": 1, "logits": 1}

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            probs = as_float_tensor(probs)
            if probs.ndim < 1:
                raise ValueError("Categorical: `probs` parameter must be at least one-dimensional")
            if validate_args is not False and Distribution._validate_args and not np.all(probs.array >= 0):
                raise ValueError(f"Expected parameter probs (Tensor of shape {tuple(probs.shape)}) of distribution "
                                 f"{type(self).__name__} to satisfy the constraint Simplex(), but found invalid values")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            logits = as_float_tensor(logits)
            if logits.ndim < 1:
                raise ValueError("Categorical: `logits` parameter must be at least one-dimensional")
            self.logits = logits - ops.logsumexp(logits, -1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new._param = new.probs if "probs" in self.__dict__ else new.logits
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return Tensor._make(xp_of(self._param.array).full(self._batch_shape, math.nan, dtype=self._param.dtype))

    @property
    def mode(self):
        return Tensor._make(self.probs.array.argmax(-1))

    @property
    def variance(self):
        return self.mean

    def sample(self, sample_shape=()):
        p = self.probs.detach().array
        xp = xp_of(p)
        shape = tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)
        cdf = p.cumsum(-1)
        cdf = cdf / cdf[..., -1:]
        u = generator(p).random(shape + self._batch_shape + (1,), dtype=p.dtype)
        idx = (u > cdf).sum(-1)
        return Tensor._make(xp.minimum(idx, self._num_events - 1).astype(np.int64))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        v = value.array.astype(np.int64)[..., None]
        shape = np.broadcast_shapes(v.shape[:-1], self.logits.shape[:-1])
        v = xp_of(v).broadcast_to(v, shape + (1,))
        logits = ops.broadcast_to(self.logits, shape + (self._num_events,))
        return ops.take_along_dim(logits, Tensor._make(v), -1).squeeze(-1)

    def entropy(self):
        min_real = float(np.finfo(self.logits.dtype).min)
        logits = ops.clamp(self.logits, min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        xp = xp_of(self._param.array)
        values = Tensor._make(xp.arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape)))
        if not expand:
            return values
        return Tensor._make(xp.broadcast_to(values.array, (self._num_events,) + self._batch_shape))


class OneHotCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:], validate_args=False)
        if validate_args is not None:
            self._validate_args = validate_args

    def expand(self, batch_shape, _instance=None):
        new = self.__new__(type(self)) if _instance is None else _instance
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, new._categorical.batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def _param(self):
        return self._categorical._param

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        p = self.probs.array
        return Tensor._make(xp_of(p).eye(p.shape[-1], dtype=p.dtype)[p.argmax(-1)])

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        idx = self._categorical.sample(sample_shape).array
        return Tensor._make(xp_of(idx).eye(self.event_shape[0], dtype=self.probs.dtype)[idx])

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(Tensor._make(value.array.argmax(-1)))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        xp = xp_of(self._param.array)
        values = xp.eye(n, dtype=self._param.dtype).reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        if expand:
            values = xp.broadcast_to(values, (n,) + self.batch_shape + (n,))
        return Tensor._make(values)


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """rsample = one_hot(sample) + p - p.detach(): forward a one-hot draw, backward the gradient of p."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())
