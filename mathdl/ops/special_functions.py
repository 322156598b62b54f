"""Special functions as primitives: values from SciPy's ``scipy.special`` on the host and
``cupyx.scipy.special`` on the device (``_special_module``), derivatives written in mathdl ops
(so that second derivatives are recorded too).  With g = dL/dy:

  gammaln x:  g psi(x)              psi x (digamma):  g psi_1(x)      polygamma(n, x): g psi_(n+1)(x)
  erfc x:     -g 2/sqrt(pi) e^(-x^2)                   erfcx x = e^(x^2) erfc x: g (2x erfcx x - 2/sqrt(pi))
  erfinv x:   g sqrt(pi)/2 e^(erfinv(x)^2)             ndtr x = Phi(x): g phi(x), phi = e^(-x^2/2)/sqrt(2pi)
  ndtri p:    g sqrt(2pi) e^(ndtri(p)^2 / 2)           log_ndtr x: g e^(-x^2/2 - log_ndtr x) / sqrt(2pi)
  i0: g i1     i1: g (i0 - i1/x) (1/2 at 0)           i0e: g (i1e - sign(x) i0e)
  i1e: g (i0e - i1e (sign(x) + 1/x)) (1/2 at 0)        exp2 x: g ln2 2^x
  sinc x = sin(pi x)/(pi x): g (cos(pi x) - sinc x)/x (0 at 0)
  entr x = -x ln x: -g (ln x + 1)                      xlogy(x, y) = x ln y (0 where x = 0):
  (xlogy(g, y), g x / y), the first 0 where x = 0 and y <= 0;  xlog1py likewise with 1 + y
  gammainc(a, x) = P(a, x), gammaincc = Q = 1 - P:  d/dx P = e^(-x) x^(a-1) / Gamma(a)
      (no derivative in a, as in PyTorch: asking for it raises)
  zeta(s, q) (Hurwitz): d/dq = -s zeta(s + 1, q) (none in s, raises)
  j0: -g j1    j1: g (j0 - j1/x)    y0: -g y1    y1: g (y0 - y1/x)
  k0: -g k1    k1: -g (k0 + k1/x)   k0e: g (k0e - k1e)    k1e: g (k1e (1 - 1/x) - k0e)
  spherical j0 = sin x / x: g (cos x - j0 x)/x        airy Ai: g Ai', Ai'' = x Ai
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from . import elementwise as ew
from .shape import sum_to

_make = Tensor._make
_SQRT_2PI = math.sqrt(2 * math.pi)


def _special_module(xp):
    """scipy.special for NumPy arrays, cupyx.scipy.special for CuPy arrays."""
    if xp is np:
        import scipy.special as ss

        return ss
    import cupyx.scipy.special as cs  # pragma: no cover

    return cs  # pragma: no cover


def _eval(name, *arrays):
    x = arrays[0]
    xp = xp_of(x)
    out = getattr(_special_module(xp), name)(*arrays)
    out = xp.asarray(out)
    dtype = np.result_type(*[a.dtype for a in arrays])
    return out.astype(dtype, copy=False)


def _at_zero(x, value, f):
    """f(x) with ``value`` where x == 0 (f is evaluated at a safe point there)."""
    zero = x.array == 0
    if not bool(zero.any()):
        return f(x)
    return ew.where(zero, value, f(ew.where(zero, 1.0, x)))


# --------------------------------------------------------------------------- unary
class SpecialUnary(Function):
    """y = f(x) for a SciPy special function f named ``fname``; dy/dx from ``_DERIVATIVES``."""

    __slots__ = ("fname",)

    def __init__(self, fname):
        self.fname = fname

    def forward(self, x):
        if self.fname == "exp2":
            return xp_of(x).exp2(x)
        if self.fname == "sinc":
            return xp_of(x).sinc(x)
        if self.fname == "spherical_j0":
            xp = xp_of(x)
            return xp.sinc(x / math.pi)
        if self.fname in ("airy_ai", "airy_aip"):   # airy(x) = (Ai, Ai', Bi, Bi')
            return _special_module(xp_of(x)).airy(x)[self.fname == "airy_aip"].astype(x.dtype, copy=False)
        return _eval(self.fname, x)

    def backward(self, g):
        (x,) = self.inputs
        return (ew.mul(g, _DERIVATIVES[self.fname](x)),)


def _u(name):
    return lambda x: SpecialUnary(name)(x)


gammaln, digamma, erfc, erfcx, erfinv = _u("gammaln"), _u("psi"), _u("erfc"), _u("erfcx"), _u("erfinv")
i0, i0e, i1, i1e = _u("i0"), _u("i0e"), _u("i1"), _u("i1e")
ndtr, ndtri, log_ndtr, exp2, sinc, entr = _u("ndtr"), _u("ndtri"), _u("log_ndtr"), _u("exp2"), _u("sinc"), _u("entr")
bessel_j0, bessel_j1, bessel_y0, bessel_y1 = _u("j0"), _u("j1"), _u("y0"), _u("y1")
modified_bessel_k0, modified_bessel_k1 = _u("k0"), _u("k1")
scaled_modified_bessel_k0, scaled_modified_bessel_k1 = _u("k0e"), _u("k1e")
spherical_bessel_j0, airy_ai, _airy_aip = _u("spherical_j0"), _u("airy_ai"), _u("airy_aip")


def _sinc_d(x):
    return _at_zero(x, 0.0, lambda z: ew.div(ew.sub(ew.cos(ew.mul(z, math.pi)), sinc(z)), z))


_DERIVATIVES = {
    "gammaln": digamma,
    "psi": lambda x: polygamma(1, x),
    "erfc": lambda x: ew.mul(ew.exp(ew.neg(ew.mul(x, x))), -2.0 / math.sqrt(math.pi)),
    "erfcx": lambda x: ew.sub(ew.mul(ew.mul(x, erfcx(x)), 2.0), 2.0 / math.sqrt(math.pi)),
    "erfinv": lambda x: ew.mul(ew.exp(ew.square(erfinv(x))), math.sqrt(math.pi) / 2),
    "i0": i1,
    "i1": lambda x: _at_zero(x, 0.5, lambda z: ew.sub(i0(z), ew.div(i1(z), z))),
    "i0e": lambda x: ew.sub(i1e(x), ew.mul(ew.sign(x), i0e(x))),
    "i1e": lambda x: _at_zero(x, 0.5, lambda z: ew.sub(i0e(z), ew.mul(i1e(z), ew.add(ew.sign(z), ew.div(1.0, z))))),
    "ndtr": lambda x: ew.mul(ew.exp(ew.mul(ew.square(x), -0.5)), 1 / _SQRT_2PI),
    "ndtri": lambda x: ew.mul(ew.exp(ew.mul(ew.square(ndtri(x)), 0.5)), _SQRT_2PI),
    "log_ndtr": lambda x: ew.mul(ew.exp(ew.sub(ew.mul(ew.square(x), -0.5), log_ndtr(x))), 1 / _SQRT_2PI),
    "exp2": lambda x: ew.mul(exp2(x), math.log(2.0)),
    "sinc": _sinc_d,
    "entr": lambda x: ew.neg(ew.add(ew.log(x), 1.0)),
    "j0": lambda x: ew.neg(bessel_j1(x)),
    "j1": lambda x: _at_zero(x, 0.5, lambda z: ew.sub(bessel_j0(z), ew.div(bessel_j1(z), z))),
    "y0": lambda x: ew.neg(bessel_y1(x)),
    "y1": lambda x: ew.sub(bessel_y0(x), ew.div(bessel_y1(x), x)),
    "k0": lambda x: ew.neg(modified_bessel_k1(x)),
    "k1": lambda x: ew.neg(ew.add(modified_bessel_k0(x), ew.div(modified_bessel_k1(x), x))),
    "k0e": lambda x: ew.sub(scaled_modified_bessel_k0(x), scaled_modified_bessel_k1(x)),
    "k1e": lambda x: ew.sub(ew.mul(scaled_modified_bessel_k1(x), ew.sub(1.0, ew.div(1.0, x))),
                            scaled_modified_bessel_k0(x)),
    "spherical_j0": lambda x: _at_zero(x, 0.0, lambda z: ew.div(ew.sub(ew.cos(z), spherical_bessel_j0(z)), z)),
    "airy_ai": lambda x: _airy_aip(x),
    "airy_aip": lambda x: ew.mul(x, airy_ai(x)),
}


class Polygamma(Function):
    """psi_n(x) = d^(n+1)/dx^(n+1) ln Gamma(x); n = 0 is the digamma function."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def forward(self, x):
        if self.n == 0:
            return _eval("psi", x)
        return _special_module(xp_of(x)).polygamma(self.n, x).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.inputs
        return (ew.mul(g, polygamma(self.n + 1, x)),)


def polygamma(n, x):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"special.polygamma: n must be a non-negative int, got {n!r}")
    return Polygamma(int(n))(x)


# --------------------------------------------------------------------------- binary
def _binary_args(name, a, b):
    a, b = ew._pair(a, b)
    ew._broadcast_error(f"special.{name}", a, b)
    return a, b


class XLogY(Function):
    """x ln y (``fname`` 'xlogy') or x ln(1 + y) ('xlog1py'), 0 where x = 0 (unless y is NaN)."""

    __slots__ = ("fname",)

    def __init__(self, fname):
        self.fname = fname

    def forward(self, x, y):
        return _eval(self.fname, x, y)

    def backward(self, g):
        x, y = self.inputs
        gx = gy = None
        if x.requires_grad:
            # d/dx = ln y (ln(1 + y)), taken as 0 where x = 0 and y is outside the domain (as PyTorch)
            gx = XLogY(self.fname)(g, y)
            dead = (x.array == 0) & (y.array <= (0 if self.fname == "xlogy" else -1))
            if bool(dead.any()):
                gx = ew.where(_make(dead), 0.0, gx)
            gx = sum_to(gx, x.shape)
        if y.requires_grad:
            denom = y if self.fname == "xlogy" else ew.add(y, 1.0)
            gy = sum_to(ew.mul(g, ew.div(x, denom)), y.shape)
        return gx, gy


def xlogy(input, other):
    return XLogY("xlogy")(*_binary_args("xlogy", input, other))


def xlog1py(input, other):
    return XLogY("xlog1py")(*_binary_args("xlog1py", input, other))


class GammaInc(Function):
    """Regularized incomplete gamma P(a, x) (``upper`` False) or Q(a, x) = 1 - P (True)."""

    __slots__ = ("upper",)

    def __init__(self, upper):
        self.upper = upper

    def forward(self, a, x):
        return _eval("gammaincc" if self.upper else "gammainc", a, x)

    def backward(self, g):
        a, x = self.inputs
        if a.requires_grad:
            raise RuntimeError("special.gammainc: the derivative with respect to the first argument (a) is not "
                               "implemented (as in PyTorch); pass a without requires_grad")
        dens = ew.exp(ew.sub(ew.sub(ew.mul(ew.sub(a, 1.0), ew.log(x)), x), gammaln(a)))
        gx = ew.mul(g, ew.neg(dens) if self.upper else dens)
        return None, sum_to(gx, x.shape)


def gammainc(input, other):
    return GammaInc(False)(*_binary_args("gammainc", input, other))


def gammaincc(input, other):
    return GammaInc(True)(*_binary_args("gammaincc", input, other))


class Zeta(Function):
    """The Hurwitz zeta function zeta(s, q) = sum_k (k + q)^-s."""

    __slots__ = ()

    def forward(self, s, q):
        return _eval("zeta", s, q)

    def backward(self, g):
        s, q = self.inputs
        if s.requires_grad:
            raise RuntimeError("special.zeta: the derivative with respect to the first argument (s) is not "
                               "implemented; pass s without requires_grad")
        return None, sum_to(ew.mul(g, ew.neg(ew.mul(s, Zeta()(ew.add(s, 1.0), q)))), q.shape)


def zeta(input, other):
    return Zeta()(*_binary_args("zeta", input, other))
