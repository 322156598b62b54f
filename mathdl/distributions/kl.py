"""KL(p || q) = E_p[log p(x) - log q(x)], with closed forms registered per pair of types.

``register_kl(TypeP, TypeQ)`` decorates ``fn(p, q)``; ``kl_divergence(p, q)`` picks the most specific
registered pair along both types' MROs and raises NotImplementedError naming both types when none fits.

  Normal      log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2
  MVN         (tr(S2^-1 S1) + |L2^-1 (m2-m1)|^2 - k) / 2 + log|L2| - log|L1|
  Bernoulli   p log(p/q) + (1-p) log((1-p)/(1-q))
  Categorical sum p_i (log p_i - log q_i)
  Beta        log B(a2,b2) - log B(a1,b1) + (a1-a2) psi(a1) + (b1-b2) psi(b1) + (a2-a1+b2-b1) psi(a1+b1)
  Gamma       (a1-a2) psi(a1) - lgamma(a1) + lgamma(a2) + a2 (log b1 - log b2) + a1 (b2 - b1)/b1
  Dirichlet   lgamma(sum a1) - lgamma(sum a2) - sum (lgamma a1 - lgamma a2) + sum (a1-a2)(psi a1 - psi(sum a1))
  Exponential log(r1/r2) + r2/r1 - 1
  Laplace     log(b2/b1) + |m1-m2|/b2 + b1/b2 exp(-|m1-m2|/b1) - 1
  Uniform     log((h2-l2)/(h1-l1)) if [l1,h1] in [l2,h2], else inf
  Poisson     r1 (log r1 - log r2) - (r1 - r2)
  Geometric   -H(p) - log q - (1-p)/p log(1-q)   (torch's form)
  Cauchy      log((g1+g2)^2 + (m1-m2)^2) - log(4 g1 g2)
  HalfNormal  log(s2/s1) + (s1^2/s2^2 - 1)/2;  LogNormal, Independent, TransformedDistribution (same
              transforms): KL of the bases (summed over reinterpreted dims)
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..nn import functional as F
from ._special import digamma, lgamma
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical, OneHotCategorical
from .cauchy import Cauchy
from .dirichlet import Dirichlet
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .half_normal import HalfNormal
from .independent import Independent
from .laplace import Laplace
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .multivariate_normal import MultivariateNormal, _diag
from .normal import Normal
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from ._triangular import solve_triangular

__all__ = ["register_kl", "kl_divergence"]

_KL_REGISTRY: dict = {}
_KL_MEMO: dict = {}


def register_kl(type_p, type_q):
    """Decorator: register ``fn(p, q)`` as KL(p || q) for p of ``type_p`` and q of ``type_q``."""
    if not (isinstance(type_p, type) and isinstance(type_q, type)):
        raise TypeError(f"register_kl: expected two classes, got {type_p!r} and {type_q!r}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        _KL_MEMO.clear()
        return fn

    return decorator


def _dispatch(type_p, type_q):
    matches = [(sp, sq) for sp, sq in _KL_REGISTRY if issubclass(type_p, sp) and issubclass(type_q, sq)]
    if not matches:
        return None
    mp, mq = type_p.__mro__, type_q.__mro__
    return _KL_REGISTRY[min(matches, key=lambda m: (mp.index(m[0]) + mq.index(m[1]), mp.index(m[0])))]


def kl_divergence(p, q):
    """KL(p || q) over the batch (shape ``batch_shape``)."""
    key = (type(p), type(q))
    if key not in _KL_MEMO:
        _KL_MEMO[key] = _dispatch(*key)
    fn = _KL_MEMO[key]
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__} and q = {type(q).__name__}")
    return fn(p, q)


def _inf_like(x):
    return Tensor._make(np.full(x.shape, math.inf, dtype=x.dtype))


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - ops.log(var_ratio))


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    return 0.5 * (var_ratio - 1 - ops.log(var_ratio))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL between MultivariateNormals with different event shapes")
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = ops.log(_diag(Lq)).sum(-1) - ops.log(_diag(Lp)).sum(-1)
    n = p.event_shape[0]
    shape = np.broadcast_shapes(p.batch_shape, q.batch_shape)
    Lq_b = ops.broadcast_to(Lq, shape + (n, n))
    Lp_b = ops.broadcast_to(Lp, shape + (n, n))
    term2 = (solve_triangular(Lq_b, Lp_b) ** 2).sum((-2, -1))
    diff = ops.broadcast_to(q.loc - p.loc, shape + (n,))
    term3 = (solve_triangular(Lq_b, diff.unsqueeze(-1)).squeeze(-1) ** 2).sum(-1)
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    return _kl_mvn_mvn(MultivariateNormal(p.loc, covariance_matrix=p.covariance_matrix, validate_args=False),
                       MultivariateNormal(q.loc, covariance_matrix=q.covariance_matrix, validate_args=False))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (F.softplus(-q.logits) - F.softplus(-p.logits))
    t1 = ops.where(Tensor._make(np.broadcast_to(q.probs.array == 0, t1.shape)), math.inf, t1)
    t1 = ops.where(Tensor._make(np.broadcast_to(p.probs.array == 0, t1.shape)), 0.0, t1)
    t2 = (1 - p.probs) * (F.softplus(q.logits) - F.softplus(p.logits))
    t2 = ops.where(Tensor._make(np.broadcast_to(q.probs.array == 1, t2.shape)), math.inf, t2)
    t2 = ops.where(Tensor._make(np.broadcast_to(p.probs.array == 1, t2.shape)), 0.0, t2)
    return t1 + t2


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if not np.all(p.total_count.array == q.total_count.array):
        raise NotImplementedError("KL between Binomials where q.total_count != p.total_count is not implemented")
    return p.total_count * (p.probs * (p.logits - q.logits) + ops.log1p(-p.probs) - ops.log1p(-q.probs))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = ops.where(Tensor._make(np.broadcast_to(q.probs.array == 0, t.shape)), math.inf, t)
    t = ops.where(Tensor._make(np.broadcast_to(p.probs.array == 0, t.shape)), 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    s1 = a1 + b1
    t1 = lgamma(a2) + lgamma(b2) + lgamma(s1)
    t2 = lgamma(a1) + lgamma(b1) + lgamma(a2 + b2)
    t3 = (a1 - a2) * digamma(a1)
    t4 = (b1 - b2) * digamma(b1)
    t5 = (a2 + b2 - s1) * digamma(s1)
    return t1 - t2 + t3 + t4 + t5


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * ops.log(p.rate / q.rate)
    t2 = lgamma(q.concentration) - lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sum_p = p.concentration.sum(-1)
    sum_q = q.concentration.sum(-1)
    t1 = lgamma(sum_p) - lgamma(sum_q)
    t2 = (lgamma(p.concentration) - lgamma(q.concentration)).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = digamma(p.concentration) - digamma(sum_p).unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - 1 - ops.log(rate_ratio)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    t1 = -q.concentration * ops.log(ratio)
    return t1 + ratio + lgamma(q.concentration) + q.concentration * 0.5772156649015329 - (1 + 0.5772156649015329)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = ops.abs(p.loc - q.loc)
    t1 = -ops.log(scale_ratio)
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * ops.exp(-loc_abs_diff / p.scale)
    return t1 + t2 + t3 - 1


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ops.log((q.high - q.low) / (p.high - p.low))
    outside = Tensor._make(np.broadcast_to((q.low.array > p.low.array) | (q.high.array < p.high.array), result.shape))
    return ops.where(outside, math.inf, result)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (ops.log(p.rate) - ops.log(q.rate)) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - ops.log1p(-q.probs) / p.probs - q.logits


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    t1 = ops.log((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2)
    t2 = ops.log(4 * p.scale * q.scale)
    return t1 - t2


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims")
    r = kl_divergence(p.base_dist, q.base_dist)
    n = p.reinterpreted_batch_ndims
    return r.sum(tuple(range(-n, 0))) if n else r


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__} and q = "
                                  f"{type(q).__name__} with different transforms")
    if p.event_shape != q.event_shape:
        raise NotImplementedError("KL between TransformedDistributions with different event shapes")
    r = kl_divergence(p.base_dist, q.base_dist)
    extra = len(p.event_shape) - len(p.base_dist.event_shape)
    return r.sum(tuple(range(-extra, 0))) if extra > 0 else r
