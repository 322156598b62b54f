"""MixtureSameFamily(mixture Categorical(pi), components): p(x) = sum_k pi_k p_k(x).

  log_prob  logsumexp_k (log pi_k + log p_k(x))
  mean      sum_k pi_k mu_k;   variance  sum_k pi_k var_k + sum_k pi_k (mu_k - mean)^2
  cdf       sum_k pi_k F_k(x);  sample: draw k, then x from component k
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError("MixtureSameFamily: mixture_distribution must be a Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("MixtureSameFamily: component_distribution must be a Distribution")
        mdbs = tuple(mixture_distribution.batch_shape)
        cdbs = tuple(component_distribution.batch_shape)[:-1]
        for a, b in zip(reversed(mdbs), reversed(cdbs)):
            if a != 1 and b != 1 and a != b:
                raise ValueError(f"MixtureSameFamily: mixture batch shape {mdbs} does not match component batch "
                                 f"shape {cdbs}")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1]
        if km != kc:
            raise ValueError(f"MixtureSameFamily: the mixture has {km} components but the component distribution "
                             f"has {kc} in its rightmost batch dim")
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args=validate_args)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    @property
    def support(self):
        return self._component_distribution.support

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def _mix_probs(self):
        p = self._mixture_distribution.probs
        for _ in range(self._event_ndims):
            p = p.unsqueeze(-1)
        return p

    @property
    def mean(self):
        return (self._mix_probs() * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        p = self._mix_probs()
        d = -1 - self._event_ndims
        mean_cond_var = (p * self._component_distribution.variance).sum(d)
        var_cond_mean = (p * (self._component_distribution.mean - self._pad(self.mean)) ** 2).sum(d)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        x = self._pad(x)
        return (self._component_distribution.cdf(x) * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        x = self._pad(x)
        log_prob_x = self._component_distribution.log_prob(x)
        log_mix = ops.log_softmax(self._mixture_distribution.logits, -1)
        return ops.logsumexp(log_prob_x + log_mix, -1)

    def sample(self, sample_shape=()):
        sample_shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        idx = self._mixture_distribution.sample(sample_shape).array  # sample + mix batch
        comp = self._component_distribution.sample(sample_shape).array  # sample + batch + (K,) + event
        batch = sample_shape + self._batch_shape
        idx = np.broadcast_to(idx, batch)
        es = self._event_ndims
        idx = idx.reshape(batch + (1,) + (1,) * es)
        idx = np.broadcast_to(idx, batch + (1,) + tuple(self.event_shape))
        out = np.take_along_axis(comp, idx, axis=len(batch))
        return Tensor._make(out.squeeze(len(batch)))
