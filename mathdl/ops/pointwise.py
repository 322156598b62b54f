"""More elementwise functions: trigonometric and hyperbolic, logarithms in other bases,
rounding, and binary functions (atan2, hypot, fmod, remainder, logaddexp, lerp, ...).

Derivatives used (g = dL/dy):
  tan x: g (1 + tan^2 x)          sinh x: g cosh x           cosh x: g sinh x
  asin x: g / sqrt(1 - x^2)       acos x: -g / sqrt(1 - x^2) atan x: g / (1 + x^2)
  asinh x: g / sqrt(x^2 + 1)      acosh x: g / sqrt(x^2 - 1) atanh x: g / (1 - x^2)
  log2 x: g / (x ln 2)            log10 x: g / (x ln 10)     exp2 x: g 2^x ln 2
  reciprocal x: -g / x^2          deg2rad: g pi/180          rad2deg: g 180/pi
  floor, ceil, round, trunc, sign: 0        frac x = x - trunc x: g
  nan_to_num: g where x is finite, 0 elsewhere
  atan2(a, b): (g b, -g a) / (a^2 + b^2)     hypot(a, b): (g a, g b) / hypot(a, b)
  fmod(a, b) = a - trunc(a/b) b: (g, -g trunc(a/b))
  remainder(a, b) = a - floor(a/b) b: (g, -g floor(a/b))
  logaddexp(a, b) = log(e^a + e^b): (g sigmoid(a - b), g sigmoid(b - a))
  logaddexp2(a, b) = log2(2^a + 2^b): the same weights with (a - b) ln 2
  lerp(a, b, w) = a + w (b - a): (g (1 - w), g w, g (b - a))
  copysign(a, b) = |a| sign(b): (g copysign(1, a) copysign(1, b) (0 at a = 0), 0)
  xlogy, float_power = pow in float64; heaviside, signbit, floor_divide: no gradient
Integer and boolean inputs of the float functions give the default float dtype.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from . import elementwise as ew
from .elementwise import _arr, _floating, _pair, _to_default_float
from .shape import sum_to

__all__ = [
    "tan", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "log2", "log10", "exp2", "reciprocal", "deg2rad", "rad2deg",
    "floor", "ceil", "round", "trunc", "fix", "frac", "sgn", "sign", "signbit", "nan_to_num", "isinf", "isposinf",
    "isneginf", "isreal", "isclose", "atan2", "arctan2", "hypot", "fmod", "remainder", "logaddexp", "logaddexp2",
    "lerp", "copysign", "heaviside", "float_power", "true_divide", "floor_divide", "positive", "negative",
    "multiply", "subtract", "divide", "fmax", "fmin", "logical_xor", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "clamp_min", "clamp_max",
    "erfc", "sigmoid_", "absolute", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "square_", "addcmul", "addcdiv", "logit", "sinc", "xlogy", "ldexp", "gcd", "lcm",
]

_make = Tensor._make


class _Unary(Function):
    """y = f(x) with f' given as a mathdl expression of x (and y, when ``save_output``)."""

    __slots__ = ()
    ufunc = ""

    def forward(self, x):
        xp = xp_of(x)
        return _arr(getattr(xp, self.ufunc)(x), xp)

    def derivative(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g):
        return (ew.mul(g, self.derivative(self.inputs[0])),)


def _unary(name, ufunc, derivative, save_output=False, doc=""):
    cls = type(name.capitalize() + "Fn", (_Unary,), {
        "__slots__": (), "ufunc": ufunc, "derivative": derivative, "save_output": save_output})
    if save_output:
        cls.derivative = lambda self, x: derivative(self, x, self.output())

    def fn(x):
        return cls()(_floating(x))

    fn.__name__, fn.__doc__ = name, doc
    return fn


_LN2, _LN10 = math.log(2.0), math.log(10.0)

tan = _unary("tan", "tan", lambda self, x, y: ew.add(ew.mul(y, y), 1.0), True, "tan x")
sinh = _unary("sinh", "sinh", lambda self, x: cosh(x), doc="sinh x = (e^x - e^-x) / 2")
cosh = _unary("cosh", "cosh", lambda self, x: sinh(x), doc="cosh x = (e^x + e^-x) / 2")
asin = _unary("asin", "arcsin", lambda self, x: ew.rsqrt(ew.rsub(ew.mul(x, x), 1.0)), doc="arcsin x")
acos = _unary("acos", "arccos", lambda self, x: ew.neg(ew.rsqrt(ew.rsub(ew.mul(x, x), 1.0))), doc="arccos x")
atan = _unary("atan", "arctan", lambda self, x: ew.div(1.0, ew.add(ew.mul(x, x), 1.0)), doc="arctan x")
asinh = _unary("asinh", "arcsinh", lambda self, x: ew.rsqrt(ew.add(ew.mul(x, x), 1.0)), doc="arsinh x")
acosh = _unary("acosh", "arccosh", lambda self, x: ew.rsqrt(ew.sub(ew.mul(x, x), 1.0)), doc="arcosh x")
atanh = _unary("atanh", "arctanh", lambda self, x: ew.div(1.0, ew.rsub(ew.mul(x, x), 1.0)), doc="artanh x")
log2 = _unary("log2", "log2", lambda self, x: ew.div(1.0 / _LN2, x), doc="log_2 x")
log10 = _unary("log10", "log10", lambda self, x: ew.div(1.0 / _LN10, x), doc="log_10 x")
exp2 = _unary("exp2", "exp2", lambda self, x, y: ew.mul(y, _LN2), True, "2^x")
reciprocal = _unary("reciprocal", "reciprocal", lambda self, x, y: ew.neg(ew.mul(y, y)), True, "1 / x")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def erfc(x):
    """1 - erf(x)."""
    from scipy import special

    x = _floating(x)
    if x.requires_grad:
        return ew.rsub(ew.erf(x), 1.0)
    return _make(_arr(special.erfc(x.array).astype(x.dtype, copy=False), np))


def deg2rad(x):
    """x pi / 180."""
    return ew.mul(_floating(x), math.pi / 180.0)


def rad2deg(x):
    """x 180 / pi."""
    return ew.mul(_floating(x), 180.0 / math.pi)


class _Rounding(Function):
    """A piecewise-constant function: its derivative is 0 (PyTorch returns zeros too)."""

    __slots__ = ("ufunc", "decimals")
    saves_inputs = False

    def __init__(self, ufunc, decimals=0):
        self.ufunc, self.decimals = ufunc, decimals

    def forward(self, x):
        xp = xp_of(x)
        if self.ufunc == "sign":  # sign(NaN) = 0 in PyTorch
            y = _arr(xp.sign(x), xp)
            return xp.where(y != y, 0, y).astype(x.dtype, copy=False) if x.dtype.kind == "f" else y
        if self.ufunc == "round" and self.decimals:
            return _arr(xp.round(x, self.decimals), xp)
        return _arr(getattr(xp, self.ufunc)(x), xp)

    def backward(self, g):
        return (_make(xp_of(g.array).zeros(g.shape, dtype=g.dtype)),)


def _rounding(ufunc, x, decimals=0):
    k = x.array.dtype.kind
    if k == "b" or (k in "iu" and ufunc != "sign"):  # integers are already whole: a copy, as PyTorch
        return _make(x.array.copy())
    if k in "iu":
        return _make(_arr(xp_of(x.array).sign(x.array), xp_of(x.array)))
    return _Rounding(ufunc, decimals)(x)


def sign(x):
    """-1, 0 or 1 by the sign of x (NaN stays NaN; derivative 0, as PyTorch)."""
    return _rounding("sign", x)


def floor(x):
    """The largest integer <= x (derivative 0)."""
    return _rounding("floor", x)


def ceil(x):
    """The smallest integer >= x (derivative 0)."""
    return _rounding("ceil", x)


def round(x, decimals=0):
    """x rounded to ``decimals`` decimal places, halves to even (as PyTorch; derivative 0)."""
    return _rounding("round", x, int(decimals))


def trunc(x):
    """x rounded toward zero (derivative 0)."""
    return _rounding("trunc", x)


fix = trunc


def frac(x):
    """x - trunc(x) (derivative 1)."""
    return ew.sub(x, trunc(x).detach())


def sgn(x):
    """sign(x) for real tensors."""
    return sign(x)


def signbit(x):
    """Whether the sign bit is set (True for -0.0); boolean, no gradient."""
    xp = xp_of(x.array)
    return _make(_arr(xp.signbit(x.array), xp))


def _bool_unary(ufunc, x):
    xp = xp_of(x.array)
    return _make(_arr(getattr(xp, ufunc)(x.array), xp))


def isinf(x):
    """|x| == inf (boolean)."""
    return _bool_unary("isinf", x)


def isposinf(x):
    """x == +inf (boolean)."""
    return _bool_unary("isposinf", x)


def isneginf(x):
    """x == -inf (boolean)."""
    return _bool_unary("isneginf", x)


def isreal(x):
    """True everywhere for real tensors (boolean)."""
    return _make(xp_of(x.array).ones(x.shape, dtype=bool))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest value), -inf -> ``neginf``
    (default: its lowest); the gradient passes where x is finite and is 0 elsewhere."""
    xa = x.array
    if xa.dtype.kind in "biu":
        return _make(xa.copy())
    xp = xp_of(xa)
    y = xp.nan_to_num(xa, nan=nan, posinf=posinf, neginf=neginf)
    y = _arr(y, xp)
    if not x.requires_grad:
        return _make(y)
    fin = _arr(xp.isfinite(xa), xp)
    return ew.add(ew.where(fin, x, 0.0), _make(xp.where(fin, 0, y).astype(xa.dtype)))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol |b| (boolean); infinities are close only to themselves."""
    a, b = _pair(a, b)
    xp = xp_of(a.array)
    return _make(_arr(xp.isclose(a.array, b.array, rtol=rtol, atol=atol, equal_nan=equal_nan), xp))


# --------------------------------------------------------------------------- binary with gradients
def _binary_float(a, b):
    a, b = _pair(a, b)
    if a.array.dtype.kind in "biu":
        a, b = _to_default_float(a), _to_default_float(b)
    if a.shape != b.shape:
        ew._broadcast_error("binary op", a, b)
    return a, b


class _Binary(Function):
    __slots__ = ()

    def backward(self, g):
        a, b = self.inputs
        da, db = self.derivatives(a, b, g)
        return (sum_to(da, a.shape) if a.requires_grad and da is not None else None,
                sum_to(db, b.shape) if b.requires_grad and db is not None else None)


class Atan2(_Binary):
    __slots__ = ()

    def forward(self, a, b):
        xp = xp_of(a)
        return _arr(xp.arctan2(a, b), xp)

    def derivatives(self, a, b, g):  # PyTorch's rule: 1 / (a^2 + b^2) taken as 0 where it is infinite
        r = ew.div(1.0, ew.add(ew.mul(a, a), ew.mul(b, b)))
        inf = xp_of(r.array).isinf(r.array)
        if inf.any():
            r = ew.where(inf, 0.0, r)
        return ew.mul(ew.mul(g, b), r), ew.mul(ew.mul(g, ew.neg(a)), r)


class Hypot(_Binary):
    __slots__ = ()
    save_output = True

    def forward(self, a, b):
        xp = xp_of(a)
        return _arr(xp.hypot(a, b), xp)

    def derivatives(self, a, b, g):
        r = ew.div(g, self.output())
        return ew.mul(r, a), ew.mul(r, b)


class Fmod(_Binary):
    """a - trunc(a / b) b, the remainder with the sign of a (C's fmod)."""

    __slots__ = ("floor",)

    def __init__(self, floor=False):
        self.floor = floor

    def forward(self, a, b):
        xp = xp_of(a)
        return _arr(xp.remainder(a, b) if self.floor else xp.fmod(a, b), xp)

    def derivatives(self, a, b, g):
        xp = xp_of(a.array)
        q = a.array / b.array
        q = xp.floor(q) if self.floor else xp.trunc(q)
        return g, ew.neg(ew.mul(g, _make(_arr(q, xp).astype(g.dtype))))


class LogAddExp(_Binary):
    """log(e^a + e^b) = max(a, b) + log1p(e^-|a - b|), in base e or 2."""

    __slots__ = ("base2",)

    def __init__(self, base2=False):
        self.base2 = base2

    def forward(self, a, b):
        xp = xp_of(a)
        return _arr(xp.logaddexp2(a, b) if self.base2 else xp.logaddexp(a, b), xp)

    def derivatives(self, a, b, g):
        d = ew.sub(a, b)
        if self.base2:
            d = ew.mul(d, _LN2)
        wa = ew.sigmoid(d)
        return ew.mul(g, wa), ew.mul(g, ew.rsub(wa, 1.0))


class Lerp(Function):
    """a + w (b - a) with a tensor weight w."""

    __slots__ = ()

    def forward(self, a, b, w):  # PyTorch's two-sided formula (exact at w = 0 and w = 1)
        xp = xp_of(a)
        d = b - a
        return _arr(xp.where(xp.abs(w) < 0.5, a + w * d, b - d * (1 - w)), xp)

    def backward(self, g):
        a, b, w = self.inputs
        return (sum_to(ew.mul(g, ew.rsub(w, 1.0)), a.shape) if a.requires_grad else None,
                sum_to(ew.mul(g, w), b.shape) if b.requires_grad else None,
                sum_to(ew.mul(g, ew.sub(b, a)), w.shape) if w.requires_grad else None)


class Copysign(_Binary):
    __slots__ = ()

    def forward(self, a, b):
        xp = xp_of(a)
        return _arr(xp.copysign(a, b), xp)

    def derivatives(self, a, b, g):  # PyTorch: g * result / a, taken as 0 at a == 0 (NaN at a = +-inf)
        xp = xp_of(a.array)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = xp.copysign(a.array, b.array) / a.array
        s = xp.where(a.array == 0, 0, s)
        return ew.mul(g, _make(_arr(s, xp).astype(g.dtype))), ew.mul(g, 0.0)


def atan2(input, other):
    """The angle of the point (other, input): arctan(input / other) in the right quadrant."""
    return Atan2()(*_binary_float(input, other))


arctan2 = atan2


def hypot(input, other):
    """sqrt(input^2 + other^2) without overflow."""
    return Hypot()(*_binary_float(input, other))


def _int_binary(ufunc, a, b):
    a, b = _pair(a, b)
    xp = xp_of(a.array)
    if ufunc in ("fmod", "remainder") and (b.array == 0).any():
        raise RuntimeError(f"{ufunc}: integer division by zero")
    return _make(_arr(getattr(xp, ufunc)(a.array, b.array), xp))


def fmod(input, other):
    """input - trunc(input / other) other: the remainder with the sign of ``input``."""
    a, b = _pair(input, other)
    if a.array.dtype.kind in "biu":
        return _int_binary("fmod", a, b)
    if a.shape != b.shape:
        ew._broadcast_error("fmod", a, b)
    return Fmod(False)(a, b)


def remainder(input, other):
    """input - floor(input / other) other: the remainder with the sign of ``other`` (Python's %)."""
    a, b = _pair(input, other)
    if a.array.dtype.kind in "biu":
        return _int_binary("remainder", a, b)
    if a.shape != b.shape:
        ew._broadcast_error("remainder", a, b)
    return Fmod(True)(a, b)


def logaddexp(input, other):
    """log(e^input + e^other), computed without overflow."""
    return LogAddExp(False)(*_binary_float(input, other))


def logaddexp2(input, other):
    """log2(2^input + 2^other), computed without overflow."""
    return LogAddExp(True)(*_binary_float(input, other))


def lerp(input, end, weight):
    """input + weight (end - input); ``weight`` a number or a tensor."""
    a, b = _pair(input, end)
    if not isinstance(weight, Tensor):
        weight = _make(xp_of(a.array).asarray(float(weight), dtype=a.dtype))
    w = ew._cast(weight, a.dtype)
    try:
        np.broadcast_shapes(a.shape, b.shape, w.shape)
    except ValueError:
        raise ValueError(f"lerp: shapes {tuple(a.shape)}, {tuple(b.shape)} and {tuple(w.shape)} "
                         "cannot be broadcast together") from None
    return Lerp()(a, b, w)


def copysign(input, other):
    """|input| with the sign of ``other`` (including the sign of -0.0)."""
    return Copysign()(*_binary_float(input, other))


def heaviside(input, values):
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0 (no gradient)."""
    a, b = _pair(input, values)
    xp = xp_of(a.array)
    return _make(_arr(xp.heaviside(a.array, b.array), xp).astype(a.array.dtype))  # NumPy gives floats for ints


def float_power(input, exponent):
    """input ** exponent computed in float64."""
    f64 = np.dtype(np.float64)
    a = ew._cast(input, f64) if isinstance(input, Tensor) else float(input)
    b = ew._cast(exponent, f64) if isinstance(exponent, Tensor) else float(exponent)
    return ew.pow(a, b)


def true_divide(input, other):
    """input / other (true division)."""
    return ew.div(input, other)


divide = ew.div
multiply = ew.mul
subtract = ew.sub
absolute = ew.abs
greater, greater_equal, less, less_equal, not_equal = ew.gt, ew.ge, ew.lt, ew.le, ew.ne


def negative(x):
    """-x."""
    return ew.neg(x)


def positive(x):
    """x itself."""
    return x


def _rounded_div(a, b, mode):
    """a / b rounded by ``mode`` ('trunc' or 'floor'); integer dtypes stay integer (no gradient
    through the rounding: the derivative of a piecewise-constant function is 0)."""
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    xp = xp_of(a.array)
    if a.array.dtype.kind in "biu":
        if (b.array == 0).any():
            raise RuntimeError("div: integer division by zero")
        if mode == "floor":
            return _make(_arr(xp.floor_divide(a.array, b.array), xp))
        q = xp.floor_divide(a.array, b.array)
        fix = (q < 0) & (q * b.array != a.array)
        return _make(_arr(q + fix, xp).astype(a.array.dtype))
    q = ew.div(a, b)
    return floor(q) if mode == "floor" else trunc(q)


def floor_divide(input, other):
    """floor(input / other) (PyTorch >= 1.13 rounds toward -inf)."""
    a, b = _pair(input, other)
    return _rounded_div(a, b, "floor")


def fmax(input, other):
    """max(input, other), ignoring NaN (a NaN only when both are NaN)."""
    a, b = _pair(input, other)
    xp = xp_of(a.array)
    an, bn = _arr(xp.isnan(a.array), xp), _arr(xp.isnan(b.array), xp)
    return ew.maximum(ew.where(an, b, a), ew.where(bn, a, b))


def fmin(input, other):
    """min(input, other), ignoring NaN (a NaN only when both are NaN)."""
    a, b = _pair(input, other)
    xp = xp_of(a.array)
    an, bn = _arr(xp.isnan(a.array), xp), _arr(xp.isnan(b.array), xp)
    return ew.minimum(ew.where(an, b, a), ew.where(bn, a, b))


def _logical(ufunc):
    def op(input, other):
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        xp = xp_of(a) if isinstance(input, Tensor) else xp_of(b)
        return _make(_arr(getattr(xp, ufunc)(a, b), xp))

    op.__name__ = ufunc
    op.__doc__ = f"Elementwise {ufunc} (no gradient)."
    return op


logical_xor = _logical("logical_xor")


def _bitwise(ufunc, name):
    def op(input, other):
        a, b = _pair(input, other)
        if a.array.dtype.kind not in "biu":
            raise TypeError(f"{name}: expected integer or boolean tensors, got dtype {a.dtype}")
        xp = xp_of(a.array)
        return _make(_arr(getattr(xp, ufunc)(a.array, b.array), xp))

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} of integer or boolean tensors (no gradient)."
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _bitwise("left_shift", "bitwise_left_shift")
bitwise_right_shift = _bitwise("right_shift", "bitwise_right_shift")


def bitwise_not(x):
    """~x of an integer or boolean tensor (no gradient)."""
    if x.array.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: expected an integer or boolean tensor, got dtype {x.dtype}")
    xp = xp_of(x.array)
    return _make(_arr(xp.invert(x.array), xp))


def clamp_min(x, min):
    """max(x, min)."""
    return ew.clamp(x, min=min)


def clamp_max(x, max):
    """min(x, max)."""
    return ew.clamp(x, max=max)


def sigmoid_(x):
    """x <- sigmoid(x) in place."""
    from .inplace import assign_

    return assign_(x, ew.sigmoid(x))


def square_(x):
    """x <- x^2 in place."""
    from .inplace import assign_

    return assign_(x, ew.square(x))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value tensor1 tensor2 (for integer tensors the value is taken as an integer)."""
    prod = ew.mul(tensor1, tensor2)
    if prod.array.dtype.kind in "iu" and input.array.dtype.kind in "iu":
        value = int(value)
    return ew.add(input, ew.mul(prod, value) if value != 1 else prod)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value tensor1 / tensor2."""
    return ew.add(input, ew.mul(ew.div(tensor1, tensor2), value))


class Logit(Function):
    """log(p / (1 - p)); derivative 1 / (p (1 - p)), NaN outside [0, 1] (0 outside [eps, 1 - eps]
    when the input was clamped), as PyTorch."""

    __slots__ = ("eps",)

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x):
        xp = xp_of(x)
        if self.eps is not None:
            x = xp.clip(x, self.eps, 1 - self.eps)
        return _arr(xp.log(x / (1 - x)), xp)

    def backward(self, g):
        (x,) = self.inputs
        xa = x.array
        d = ew.div(g, ew.add(ew.mul(x, ew.rsub(x, 1.0)), 0.0))  # + 0.0 turns -0 into +0: +inf at x = -0
        if self.eps is None:
            out = (xa < 0) | (xa > 1)
            return (ew.where(out, np.nan, d) if out.any() else d,)
        out = (xa < self.eps) | (xa > 1 - self.eps)
        return (ew.where(out, 0.0, d) if out.any() else d,)


def logit(x, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when ``eps`` is given."""
    return Logit(eps)(_floating(x))


def sinc(x):
    """sin(pi x) / (pi x), and 1 at x = 0."""
    x = _floating(x)
    px = ew.mul(x, math.pi)
    zero = xp_of(x.array).asarray(x.array == 0)
    safe = ew.where(zero, 1.0, px)
    return ew.where(zero, 1.0, ew.div(ew.sin(safe), safe))


class Xlogy(_Binary):
    """x log y, taken as 0 where x == 0 (unless y is NaN).  PyTorch's derivatives:
    d/dx = log y (0 where x == 0 and y <= 0),  d/dy = x / y."""

    __slots__ = ()

    def forward(self, a, b):
        xp = xp_of(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a * xp.log(b)
        return _arr(xp.where((a == 0) & ~xp.isnan(b), 0, out).astype(a.dtype, copy=False), xp)

    def derivatives(self, a, b, g):
        zero = (a.array == 0) & (b.array <= 0)
        da = ew.mul(g, ew.log(b))
        if zero.any():
            da = ew.where(zero, 0.0, da)
        return da, ew.div(ew.mul(g, a), b)


def xlogy(input, other):
    """input log(other), taken as 0 where input == 0 (unless other is NaN)."""
    return Xlogy()(*_binary_float(input, other))


def ldexp(input, other):
    """input 2^other."""
    return ew.mul(input, ew.pow(2.0, _floating(other) if isinstance(other, Tensor) else float(other)))


def gcd(input, other):
    """Greatest common divisor of integer tensors (no gradient)."""
    return _int_only("gcd", input, other)


def lcm(input, other):
    """Least common multiple of integer tensors (no gradient)."""
    return _int_only("lcm", input, other)


def _int_only(ufunc, a, b):
    a, b = _pair(a, b)
    if a.array.dtype.kind not in "iu":
        raise TypeError(f"{ufunc}: expected integer tensors, got dtype {a.dtype}")
    xp = xp_of(a.array)
    return _make(_arr(getattr(xp, ufunc)(a.array, b.array), xp))
