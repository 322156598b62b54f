"""Private special functions for the distributions, each a primitive with its derivative.

  lgamma(x)         = log|Gamma(x)|               d/dx = digamma(x)
  digamma(x)        = d/dx lgamma(x)              d/dx = polygamma(1, x)
  polygamma(n, x)   = d^n/dx^n digamma(x)         d/dx = polygamma(n + 1, x)
  erfinv(y)         = erf^-1(y)                   d/dy = sqrt(pi)/2 exp(erfinv(y)^2)
  gammainc(a, x)    = P(a, x) = gamma(a, x)/Gamma(a)   d/dx = x^(a-1) e^-x / Gamma(a)
                      (no derivative in ``a``, as in PyTorch)
  betainc(a, b, x)  = I_x(a, b)                   d/dx = x^(a-1)(1-x)^(b-1) / B(a, b)
  atan(x)                                         d/dx = 1 / (1 + x^2)

Values come from scipy.special (cupyx.scipy.special on the GPU).  These are stand-ins until
``mathdl.special`` exists; when it does, the distributions should import from there.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..ops import elementwise as ew

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "gammainc", "betainc", "atan"]


def _sp(x):
    if xp_of(x) is np:
        import scipy.special as s

        return s
    import cupyx.scipy.special as s  # pragma: no cover

    return s


def _same(x, out):
    return out.astype(x.dtype, copy=False) if hasattr(out, "astype") else out


class Lgamma(Function):
    __slots__ = ()

    def forward(self, x):
        return _same(x, _sp(x).gammaln(x))

    def backward(self, g):
        return (ew.mul(g, digamma(self.inputs[0])),)


class Polygamma(Function):
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def forward(self, x):
        s = _sp(x)
        return _same(x, s.digamma(x) if self.n == 0 else s.polygamma(self.n, x))

    def backward(self, g):
        return (ew.mul(g, polygamma(self.n + 1, self.inputs[0])),)


class Erfinv(Function):
    __slots__ = ()
    save_output = True

    def forward(self, y):
        return _same(y, _sp(y).erfinv(y))

    def backward(self, g):
        x = self.output()
        return (ew.mul(g, ew.mul(ew.exp(ew.mul(x, x)), math.sqrt(math.pi) / 2)),)


class Gammainc(Function):
    __slots__ = ()

    def forward(self, a, x):
        return _same(x, _sp(x).gammainc(a, x))

    def backward(self, g):
        a, x = self.inputs
        if self.needs(0):
            raise NotImplementedError("gammainc: the derivative with respect to the first argument (a) is not "
                                      "implemented")
        dens = ew.exp(ew.sub(ew.sub(ew.mul(ew.sub(a.detach(), 1.0), ew.log(x)), x), lgamma(a.detach())))
        return None, ew.mul(g, dens)


class Betainc(Function):
    __slots__ = ()

    def forward(self, a, b, x):
        return _same(x, _sp(x).betainc(a, b, x))

    def backward(self, g):
        a, b, x = self.inputs
        if self.needs(0) or self.needs(1):
            raise NotImplementedError("betainc: derivatives with respect to a and b are not implemented")
        a, b = a.detach(), b.detach()
        logb = ew.sub(ew.add(lgamma(a), lgamma(b)), lgamma(ew.add(a, b)))
        logd = ew.sub(ew.add(ew.mul(ew.sub(a, 1.0), ew.log(x)), ew.mul(ew.sub(b, 1.0), ew.log1p(ew.neg(x)))), logb)
        return None, None, ew.mul(g, ew.exp(logd))


def _t(x, like=None):
    if isinstance(x, Tensor):
        return x
    return ew.as_tensor_like(x, like) if like is not None else Tensor(np.asarray(x, dtype=np.float64))


def lgamma(x):
    return Lgamma()(x)


def digamma(x):
    return Polygamma(0)(x)


def polygamma(n, x):
    if int(n) != n or n < 0:
        raise ValueError(f"polygamma: expected a non-negative integer order n, got {n!r}")
    return Polygamma(int(n))(x)


def erfinv(y):
    return Erfinv()(y)


def gammainc(a, x):
    a, x = ew._pair(a, x)
    return Gammainc()(a, x)


def betainc(a, b, x):
    a, x = ew._pair(a, x)
    b, x = ew._pair(b, x)
    return Betainc()(a, b, x)


class Atan(Function):
    """atan(x), d/dx = 1 / (1 + x^2)."""

    __slots__ = ()

    def forward(self, x):
        return xp_of(x).arctan(x)

    def backward(self, g):
        (x,) = self.inputs
        return (ew.div(g, ew.add(ew.mul(x, x), 1.0)),)


def atan(x):
    return Atan()(x)
