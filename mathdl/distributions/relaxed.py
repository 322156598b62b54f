"""Concrete / Gumbel-softmax relaxations of discrete variables (Maddison et al. 2017; Jang et al. 2017).

  gumbel_softmax(logits, tau, hard):  y = softmax((logits + g) / tau), g_i = -log(-log u_i) ~ Gumbel(0, 1);
      argmax(logits + g) ~ Categorical(softmax(logits)) (the Gumbel-max trick), and y -> one_hot as tau -> 0.
      hard=True returns one_hot(argmax y) - stop_gradient(y) + y: a one-hot value with the soft gradient
      (the straight-through estimator).
  LogitRelaxedBernoulli(T, logits): x = (logits + log u - log(1 - u)) / T,
      log p(x) = log T + (l - T x) - 2 softplus(l - T x)
  RelaxedBernoulli = sigmoid(LogitRelaxedBernoulli)
  ExpRelaxedCategorical(T, logits): x = log_softmax((logits + g) / T),
      log p(x) = lgamma(K) + (K-1) log T + sum_i (s_i - logsumexp(s)),  s = logits - T x
  RelaxedOneHotCategorical = exp(ExpRelaxedCategorical)
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..nn import functional as F
from . import constraints
from ._special import lgamma
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform
from .utils import (
    as_float_tensor, broadcast_all, lazy_property, logits_to_probs, probs_to_logits, uniform01,
)

__all__ = ["gumbel_softmax", "LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"]


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Sample from the Gumbel-softmax distribution (``torch.nn.functional.gumbel_softmax``)."""
    if not isinstance(logits, Tensor):
        raise TypeError(f"gumbel_softmax: logits must be a Tensor, got {type(logits).__name__}")
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be positive, got {tau!r}")
    u = uniform01(logits.shape, logits)
    gumbels = -ops.log(-ops.log(u))
    y_soft = ops.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    ax = dim % logits.ndim
    ys = y_soft.array
    xp = xp_of(ys)
    idx = xp.expand_dims(ys.argmax(axis=ax), ax)
    y_hard = (xp.arange(ys.shape[ax]).reshape([-1 if i == ax else 1 for i in range(ys.ndim)]) == idx).astype(ys.dtype)
    return Tensor._make(y_hard) - y_soft.detach() + y_soft


class LogitRelaxedBernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("LogitRelaxedBernoulli: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            self.probs, = broadcast_all(probs)
            shape = self.probs.shape
            like = self.probs
        else:
            self.logits, = broadcast_all(logits)
            shape = self.logits.shape
            like = self.logits
        self.temperature = as_float_tensor(temperature, like)
        super().__init__(shape, validate_args=validate_args)

    _expand_extra = ("temperature",)

    def expand(self, batch_shape, _instance=None):
        t = self.temperature
        new = super().expand(batch_shape, _instance)
        new.temperature = t
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    def rsample(self, sample_shape=()):
        probs = self.probs
        u = uniform01(self._extended_shape(sample_shape), probs)
        fi = np.finfo(probs.dtype)
        p = ops.clamp(probs, fi.tiny, 1 - fi.eps)
        return (ops.log(p) - ops.log1p(-p) + ops.log(u) - ops.log1p(-u)) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = self.logits - value * self.temperature
        return ops.log(self.temperature) + diff - 2 * F.softplus(diff)


class RelaxedBernoulli(TransformedDistribution):
    """sigmoid of a LogitRelaxedBernoulli: a relaxed (continuous) Bernoulli on (0, 1)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs


class ExpRelaxedCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        from .categorical import Categorical

        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.temperature = as_float_tensor(temperature, self._categorical._param)
        ps = self._categorical.param_shape
        super().__init__(ps[:-1], ps[-1:], validate_args=False)
        if validate_args is not None:
            self._validate_args = validate_args

    def expand(self, batch_shape, _instance=None):
        new = self.__new__(type(self)) if _instance is None else _instance
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, tuple(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    def rsample(self, sample_shape=()):
        logits = self.logits
        u = uniform01(self._extended_shape(sample_shape), logits)
        gumbels = -ops.log(-ops.log(u))
        scores = (logits + gumbels) / self.temperature
        return scores - ops.logsumexp(scores, -1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        K = self._categorical._num_events
        t = self.temperature
        log_scale = lgamma(t.detach() * 0 + float(K)) + (K - 1) * ops.log(t)
        score = self.logits - value * t
        score = (score - ops.logsumexp(score, -1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """exp of an ExpRelaxedCategorical: the Concrete distribution on the simplex."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs
