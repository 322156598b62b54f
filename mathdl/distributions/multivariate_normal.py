"""MultivariateNormal(loc mu, covariance_matrix Sigma | precision_matrix P | scale_tril L), Sigma = L L^T.

  log_prob  -(k log 2 pi + |L^-1 (x - mu)|^2) / 2 - sum log diag L
  rsample   x = mu + L eps, eps ~ N(0, I_k)
  entropy   k (1 + log 2 pi) / 2 + sum log diag L
Only one of the three matrices is given; the others are derived (L = cholesky(Sigma), Sigma = P^-1).
"""

from __future__ import annotations

import math

import numpy as np

from .. import linalg, ops
from . import constraints
from ._triangular import solve_triangular
from .distribution import Distribution
from .utils import as_float_tensor, lazy_property, standard_normal

__all__ = ["MultivariateNormal"]


def _diag(m):
    return ops.einsum("...ii->...i", m)


def _batch_mahalanobis(L, x):
    """|L^-1 x|^2 over the last dim, broadcasting L (..., n, n) against x (..., n)."""
    y = solve_triangular(L, x.unsqueeze(-1)).squeeze(-1)
    return (y * y).sum(-1)


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        loc = as_float_tensor(loc)
        if loc.ndim < 1:
            raise ValueError("MultivariateNormal: loc must be at least one-dimensional")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("MultivariateNormal: exactly one of covariance_matrix or precision_matrix or scale_tril "
                             "may be specified")
        given = next(m for m in (scale_tril, covariance_matrix, precision_matrix) if m is not None)
        given = as_float_tensor(given, loc)
        if given.ndim < 2 or given.shape[-1] != given.shape[-2]:
            raise ValueError(f"MultivariateNormal: the matrix parameter must be (..., n, n), got {tuple(given.shape)}")
        batch_shape = np.broadcast_shapes(given.shape[:-2], loc.shape[:-1])
        n = loc.shape[-1]
        if given.shape[-1] != n:
            raise ValueError(f"MultivariateNormal: loc has {n} dims but the matrix is {tuple(given.shape[-2:])}")
        if scale_tril is not None:
            self.scale_tril = ops.broadcast_to(given, batch_shape + (n, n))
        elif covariance_matrix is not None:
            self.covariance_matrix = ops.broadcast_to(given, batch_shape + (n, n))
        else:
            self.precision_matrix = ops.broadcast_to(given, batch_shape + (n, n))
        self.loc = ops.broadcast_to(loc, batch_shape + (n,))
        super().__init__(batch_shape, (n,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = given
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = linalg.cholesky(given)
        else:
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(given))

    def expand(self, batch_shape, _instance=None):
        new = self.__new__(type(self)) if _instance is None else _instance
        batch_shape = tuple(batch_shape)
        n = self.event_shape[0]
        new.loc = ops.broadcast_to(self.loc, batch_shape + (n,))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for k in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if k in self.__dict__:
                new.__dict__[k] = ops.broadcast_to(self.__dict__[k], batch_shape + (n, n))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        L = self._unbroadcasted_scale_tril
        return ops.broadcast_to(L, self._batch_shape + L.shape[-2:])

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return ops.broadcast_to(L @ L.mT, self._batch_shape + L.shape[-2:])

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        return ops.broadcast_to(linalg.inv(L @ L.mT), self._batch_shape + L.shape[-2:])

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        L = self._unbroadcasted_scale_tril
        return ops.broadcast_to((L * L).sum(-1), self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        eps = standard_normal(self._extended_shape(sample_shape), self.loc)
        L = self._unbroadcasted_scale_tril
        return self.loc + (L @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        L = self._unbroadcasted_scale_tril
        M = _batch_mahalanobis(L, diff)
        half_log_det = ops.log(_diag(L)).sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + M) - half_log_det

    def entropy(self):
        L = self._unbroadcasted_scale_tril
        half_log_det = ops.log(_diag(L)).sum(-1)
        H = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + half_log_det
        return ops.broadcast_to(H, self._batch_shape) if H.shape != self._batch_shape else H


