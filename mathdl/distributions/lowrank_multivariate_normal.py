"""LowRankMultivariateNormal(loc mu, cov_factor W (k x r), cov_diag D): Sigma = W W^T + diag(D).

With the capacitance C = I_r + W^T D^-1 W = K K^T (Woodbury and the matrix determinant lemma):
  log det Sigma = 2 sum log diag K + sum log D
  x^T Sigma^-1 x = x^T D^-1 x - |K^-1 W^T D^-1 x|^2
  rsample   x = mu + W eps_W + sqrt(D) eps_D
"""

from __future__ import annotations

import math

import numpy as np

from .. import linalg, ops
from ..creation import eye
from . import constraints
from ._triangular import solve_triangular
from .distribution import Distribution
from .multivariate_normal import _diag
from .utils import as_float_tensor, lazy_property, standard_normal

__all__ = ["LowRankMultivariateNormal"]


class LowRankMultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector, "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        loc = as_float_tensor(loc)
        cov_factor, cov_diag = as_float_tensor(cov_factor, loc), as_float_tensor(cov_diag, loc)
        if loc.ndim < 1 or cov_factor.ndim < 2 or cov_diag.ndim < 1:
            raise ValueError("LowRankMultivariateNormal: loc and cov_diag need >= 1 dim, cov_factor >= 2 dims")
        n = loc.shape[-1]
        if cov_factor.shape[-2] != n or cov_diag.shape[-1] != n:
            raise ValueError(f"LowRankMultivariateNormal: cov_factor {tuple(cov_factor.shape)} and cov_diag "
                             f"{tuple(cov_diag.shape)} must have {n} rows like loc")
        batch = np.broadcast_shapes(loc.shape[:-1], cov_factor.shape[:-2], cov_diag.shape[:-1])
        self.loc = ops.broadcast_to(loc, batch + (n,))
        self.cov_factor = ops.broadcast_to(cov_factor, batch + cov_factor.shape[-2:])
        self.cov_diag = ops.broadcast_to(cov_diag, batch + (n,))
        super().__init__(batch, (n,), validate_args=validate_args)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        W, D = cov_factor, cov_diag
        Wt_Dinv = W.mT / D.unsqueeze(-2)
        r = W.shape[-1]
        self._capacitance_tril = linalg.cholesky(eye(r, dtype=W.dtype) + Wt_Dinv @ W)

    def expand(self, batch_shape, _instance=None):
        new = self.__new__(type(self)) if _instance is None else _instance
        batch_shape = tuple(batch_shape)
        n = self.event_shape[0]
        new.loc = ops.broadcast_to(self.loc, batch_shape + (n,))
        new.cov_factor = ops.broadcast_to(self.cov_factor, batch_shape + self.cov_factor.shape[-2:])
        new.cov_diag = ops.broadcast_to(self.cov_diag, batch_shape + (n,))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        W = self._unbroadcasted_cov_factor
        return ops.broadcast_to((W * W).sum(-1) + self._unbroadcasted_cov_diag, self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        n = self._event_shape[0]
        cov = W @ W.mT + D.unsqueeze(-1) * eye(n, dtype=W.dtype)
        return ops.broadcast_to(cov, self._batch_shape + (n, n))

    @lazy_property
    def scale_tril(self):
        return linalg.cholesky(self.covariance_matrix)

    @lazy_property
    def precision_matrix(self):
        return linalg.inv(self.covariance_matrix)

    def _log_det(self):
        K = self._capacitance_tril
        return 2 * ops.log(_diag(K)).sum(-1) + ops.log(self._unbroadcasted_cov_diag).sum(-1)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        W = self._unbroadcasted_cov_factor
        eps_W = standard_normal(shape[:-1] + (W.shape[-1],), self.loc)
        eps_D = standard_normal(shape, self.loc)
        return self.loc + (W @ eps_W.unsqueeze(-1)).squeeze(-1) + ops.sqrt(self._unbroadcasted_cov_diag) * eps_D

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        Wt_Dinv_x = (W.mT @ (diff / D).unsqueeze(-1))
        y = solve_triangular(self._capacitance_tril, Wt_Dinv_x).squeeze(-1)
        M = (diff * diff / D).sum(-1) - (y * y).sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + M + self._log_det())

    def entropy(self):
        H = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return ops.broadcast_to(H, self._batch_shape) if H.shape != self._batch_shape else H
