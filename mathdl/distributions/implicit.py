"""Implicit reparameterization gradients (Figurnov, Mohamed & Mnih 2018).

A sample z = F^-1(u; alpha) of a distribution with CDF F has, holding the uniform noise u fixed,

    dz/dalpha = -(dF/dalpha)(z; alpha) / p(z; alpha),

which needs only the CDF's derivative, not an explicit inverse.  ``standard_gamma(alpha)`` draws
z ~ Gamma(alpha, 1) and records that gradient.  For Gamma's CDF P(alpha, z) (the regularized lower
incomplete gamma function), with the series P = sum_n t_n, t_n = z^(alpha+n) e^-z / Gamma(alpha+n+1),

    dP/dalpha = sum_n t_n (log z - digamma(alpha + n + 1)),
    t_n / p(z) = r_n,   r_0 = z / alpha,   r_n = r_(n-1) z / (alpha + n),

so  dz/dalpha = -sum_n r_n (log z - digamma(alpha + n + 1))  (``standard_gamma_grad``).  The series
is summed until its terms fall below 1e-17 of the sum (about z + 10 sqrt(z) + 40 terms).

Gamma(alpha, beta) = standard_gamma(alpha) / beta; Beta(a, b) = X / (X + Y) and Dirichlet(alpha) =
G / sum G with independent standard gammas; StudentT scales a normal by a chi-square (a gamma):
their samples are differentiable functions of standard-gamma samples, so the same primitive
gives their gradients.  The primitive has no second derivative (neither has PyTorch's).
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import rng, xp_of
from ..ops import elementwise as ew

__all__ = ["standard_gamma", "standard_gamma_grad", "StandardGamma"]


def _digamma(x):
    if xp_of(x) is np:
        from scipy.special import digamma
    else:  # pragma: no cover
        from cupyx.scipy.special import digamma
    return digamma(x)


def standard_gamma_grad(z, alpha, tol=1e-17, max_terms=100000):
    """dz/dalpha for z ~ Gamma(alpha, 1), holding the CDF level fixed (arrays in, array out)."""
    xp = xp_of(z)
    z = xp.asarray(z, dtype=np.float64)
    a = xp.broadcast_to(xp.asarray(alpha, dtype=np.float64), z.shape)
    z = xp.maximum(z, np.finfo(np.float64).tiny)
    logz = xp.log(z)
    r = z / a
    psi = _digamma(a + 1)
    total = r * (logz - psi)
    active = xp.ones(z.shape, dtype=bool)
    n = 1
    while active.any() and n < max_terms:
        idx = xp.nonzero(active)
        an = a[idx] + n
        r[idx] = r[idx] * z[idx] / an
        psi[idx] = psi[idx] + 1.0 / an  # digamma(alpha + n + 1) = digamma(alpha + n) + 1/(alpha + n)
        term = r[idx] * (logz[idx] - psi[idx])
        total[idx] = total[idx] + term
        # done once the terms shrink (n past z - alpha) and are negligible
        done = (an > z[idx]) & (xp.abs(r[idx]) * (xp.abs(logz[idx] - psi[idx]) + 1) <= tol * xp.abs(total[idx]))
        sub = active[idx]
        sub[done] = False
        active[idx] = sub
        n += 1
    return -total


class StandardGamma(Function):
    """z ~ Gamma(alpha, 1) with the implicit gradient dz/dalpha (one sample per element of alpha)."""

    __slots__ = ("saved_z",)

    def forward(self, alpha):
        z = rng.for_module(xp_of(alpha)).standard_gamma(alpha)
        fi = np.finfo(alpha.dtype)
        z = xp_of(alpha).clip(z, fi.tiny, None).astype(alpha.dtype, copy=False)
        self.saved_z = z
        return z

    def backward(self, g):
        (alpha,) = self.inputs
        dz = standard_gamma_grad(self.saved_z, alpha.array).astype(alpha.dtype, copy=False)
        return (ew.mul(g, Tensor._make(dz)),)


def standard_gamma(alpha):
    """One Gamma(alpha, 1) draw per element of the tensor ``alpha``, differentiable in alpha."""
    return StandardGamma()(alpha)
