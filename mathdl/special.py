"""``mathdl.special``: PyTorch's ``torch.special`` names, each differentiable (twice where the
second derivative is finite).  The primitives and their derivative formulas are in
:mod:`mathdl.ops.special_functions`; functions already in mathdl (erf, sigmoid, softmax...) are
re-exported, and a few are compositions:

  expit x = sigmoid x = 1 / (1 + e^-x)          logit x = ln x - ln(1 - x)  (x clamped to [eps, 1-eps])
  multigammaln(x, p) = p(p-1)/4 ln(pi) + sum_{i<p} gammaln(x - i/2)
  round(x, decimals): round half to even at 10^-decimals (derivative 0, as PyTorch)
  orthogonal polynomials of degree n (three-term recurrences, differentiable in x):
    T_{k+1} = 2x T_k - T_{k-1}   U, V, W likewise (U_1 = 2x, V_1 = 2x - 1, W_1 = 2x + 1)
    shifted Chebyshev: P*_n(x) = P_n(2x - 1)                 H_{k+1} = 2x H_k - 2k H_{k-1}
    He_{k+1} = x He_k - k He_{k-1}     (k+1) P_{k+1} = (2k+1) x P_k - k P_{k-1}
    (k+1) L_{k+1} = (2k+1-x) L_k - k L_{k-1}

Forward values come from SciPy (``scipy.special``) on the host and ``cupyx.scipy.special`` on a
CuPy device.
"""

from __future__ import annotations

import math

import numpy as np

from .autograd.tensor import Tensor
from .backend import xp_of
from .ops import elementwise as ew
from .ops.special import log_softmax as _log_softmax
from .ops.special import logsumexp
from .ops.special import softmax as _softmax
from .ops.special_functions import (
    airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1, digamma, entr, erfc, erfcx, erfinv, exp2, gammainc,
    gammaincc, gammaln, i0, i0e, i1, i1e, log_ndtr, modified_bessel_k0, modified_bessel_k1, ndtr, ndtri, polygamma,
    scaled_modified_bessel_k0, scaled_modified_bessel_k1, sinc, spherical_bessel_j0, xlog1py, xlogy, zeta,
)

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf", "erfc", "erfcx",
    "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p",
    "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
    "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "sinc", "softmax", "spherical_bessel_j0",
    "xlog1py", "xlogy", "zeta", "lgamma",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
    "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
    "legendre_polynomial_p",
]

erf = ew.erf
expit = ew.sigmoid
log1p = ew.log1p
expm1 = ew.expm1
psi = digamma
lgamma = gammaln
modified_bessel_i0 = i0
modified_bessel_i1 = i1


def _cast(x, dtype):
    if dtype is None:
        return x
    from .ops.shape import cast

    return cast(x, dtype)


def softmax(input, dim, *, dtype=None):
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``dim`` (computed in ``dtype`` if given)."""
    return _softmax(_cast(input, dtype), dim)


def log_softmax(input, dim, *, dtype=None):
    """x_i - logsumexp(x) along ``dim``."""
    return _log_softmax(_cast(input, dtype), dim)


def logit(input, eps=None):
    """ln(x / (1 - x)); with ``eps`` the input is clamped to [eps, 1 - eps] first."""
    x = ew.clamp(input, eps, 1.0 - eps) if eps is not None else input
    return ew.sub(ew.log(x), ew.log1p(ew.neg(x)))


def multigammaln(input, p):
    """The log of the multivariate gamma function of dimension p:
    p(p-1)/4 ln(pi) + sum_{i=0}^{p-1} gammaln(x - i/2); every x must exceed (p - 1)/2."""
    if not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"special.multigammaln: p must be a positive int, got {p!r}")
    if not bool((input.array > (p - 1) / 2).all()):
        raise ValueError(f"special.multigammaln: all elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    out = ew.add(gammaln(input), p * (p - 1) / 4 * math.log(math.pi))
    for i in range(1, p):
        out = ew.add(out, gammaln(ew.sub(input, i / 2)))
    return out


def round(input, *, decimals=0):  # noqa: A001  (torch.special.round)
    """x rounded half to even at 10^-decimals; its derivative is 0 (the result keeps requires_grad)."""
    xp = xp_of(input.array)
    vals = Tensor._make(xp.round(input.array, decimals).astype(input.dtype, copy=False))
    return ew.add(ew.mul(input, 0.0), vals) if input.requires_grad else vals


def _degree(name, n):
    if isinstance(n, Tensor):
        if n.numel() != 1:
            raise ValueError(f"special.{name}: n must be a single degree, got a tensor of shape {tuple(n.shape)}")
        n = n.item()
    if not float(n).is_integer():
        raise ValueError(f"special.{name}: n must be an integer degree, got {n!r}")
    return int(n)


def _recurrence(name, x, n, p0, p1, step):
    """p_n by p_{k+1} = step(k, x, p_k, p_{k-1}); negative n gives 0 (as PyTorch)."""
    n = _degree(name, n)
    if n < 0:
        return ew.mul(x, 0.0)
    prev, cur = p0(x), p1(x)
    if n == 0:
        return prev
    for k in range(1, n):
        prev, cur = cur, step(k, x, cur, prev)
    return cur


def _ones(x):
    return ew.add(ew.mul(x, 0.0), 1.0)


def chebyshev_polynomial_t(input, n):
    """T_n(x): T_0 = 1, T_1 = x, T_{k+1} = 2x T_k - T_{k-1}."""
    return _recurrence("chebyshev_polynomial_t", input, n, _ones, lambda x: x,
                       lambda k, x, c, p: ew.sub(ew.mul(ew.mul(x, 2.0), c), p))


def chebyshev_polynomial_u(input, n):
    """U_n(x): U_0 = 1, U_1 = 2x, U_{k+1} = 2x U_k - U_{k-1}."""
    return _recurrence("chebyshev_polynomial_u", input, n, _ones, lambda x: ew.mul(x, 2.0),
                       lambda k, x, c, p: ew.sub(ew.mul(ew.mul(x, 2.0), c), p))


def chebyshev_polynomial_v(input, n):
    """V_n(x): V_0 = 1, V_1 = 2x - 1, V_{k+1} = 2x V_k - V_{k-1} (third kind)."""
    return _recurrence("chebyshev_polynomial_v", input, n, _ones, lambda x: ew.sub(ew.mul(x, 2.0), 1.0),
                       lambda k, x, c, p: ew.sub(ew.mul(ew.mul(x, 2.0), c), p))


def chebyshev_polynomial_w(input, n):
    """W_n(x): W_0 = 1, W_1 = 2x + 1, W_{k+1} = 2x W_k - W_{k-1} (fourth kind)."""
    return _recurrence("chebyshev_polynomial_w", input, n, _ones, lambda x: ew.add(ew.mul(x, 2.0), 1.0),
                       lambda k, x, c, p: ew.sub(ew.mul(ew.mul(x, 2.0), c), p))


def _shifted(poly):
    def shifted(input, n):
        return poly(ew.sub(ew.mul(input, 2.0), 1.0), n)

    shifted.__name__ = f"shifted_{poly.__name__}"
    shifted.__doc__ = f"{poly.__name__}(2x - 1, n): the Chebyshev polynomial shifted to [0, 1]."
    return shifted


shifted_chebyshev_polynomial_t = _shifted(chebyshev_polynomial_t)
shifted_chebyshev_polynomial_u = _shifted(chebyshev_polynomial_u)
shifted_chebyshev_polynomial_v = _shifted(chebyshev_polynomial_v)
shifted_chebyshev_polynomial_w = _shifted(chebyshev_polynomial_w)


def hermite_polynomial_h(input, n):
    """Physicists' H_n(x): H_0 = 1, H_1 = 2x, H_{k+1} = 2x H_k - 2k H_{k-1}."""
    return _recurrence("hermite_polynomial_h", input, n, _ones, lambda x: ew.mul(x, 2.0),
                       lambda k, x, c, p: ew.sub(ew.mul(ew.mul(x, 2.0), c), ew.mul(p, 2.0 * k)))


def hermite_polynomial_he(input, n):
    """Probabilists' He_n(x): He_0 = 1, He_1 = x, He_{k+1} = x He_k - k He_{k-1}."""
    return _recurrence("hermite_polynomial_he", input, n, _ones, lambda x: x,
                       lambda k, x, c, p: ew.sub(ew.mul(x, c), ew.mul(p, float(k))))


def legendre_polynomial_p(input, n):
    """P_n(x): P_0 = 1, P_1 = x, (k+1) P_{k+1} = (2k+1) x P_k - k P_{k-1}."""
    return _recurrence("legendre_polynomial_p", input, n, _ones, lambda x: x,
                       lambda k, x, c, p: ew.div(ew.sub(ew.mul(ew.mul(x, c), 2.0 * k + 1), ew.mul(p, float(k))),
                                                 k + 1.0))


def laguerre_polynomial_l(input, n):
    """L_n(x): L_0 = 1, L_1 = 1 - x, (k+1) L_{k+1} = (2k+1-x) L_k - k L_{k-1}."""
    return _recurrence("laguerre_polynomial_l", input, n, _ones, lambda x: ew.sub(1.0, x),
                       lambda k, x, c, p: ew.div(ew.sub(ew.mul(ew.sub(2.0 * k + 1, x), c), ew.mul(p, float(k))),
                                                 k + 1.0))

