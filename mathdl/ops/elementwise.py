"""Elementwise operations and their derivatives.

Binary ops broadcast like NumPy.  For z = f(a, b) with broadcasting, the chain rule gives
dL/da = sum_to(dL/dz * df/da, a.shape): the sum runs over the broadcast axes.  ``sum_to`` is a
primitive (in :mod:`mathdl.ops.shape`) whose own derivative is ``broadcast_to``.

Derivatives used (g = dL/dz):
  a + b: (g, g)         a - b: (g, -g)        a * b: (g b, g a)      a / b: (g / b, -g a / b^2)
  a ** b: (g b a^(b-1), g a^b log a)           -x: -g          |x|: g sign(x)
  exp x: g e^x          log x: g / x          log1p x: g / (1+x)     expm1 x: g e^x
  sqrt x: g / (2 sqrt x)                      sin x: g cos x         cos x: -g sin x
  tanh x: g (1 - tanh^2 x)                    sigmoid x: g s (1 - s)
  relu x: g [x > 0]     erf x: g 2/sqrt(pi) e^(-x^2)
  clamp(x, lo, hi): g [lo <= x <= hi]          maximum(a, b): g to the larger (halved on ties)
  where(c, a, b): (g [c], g [not c])

Large same-shape add, subtract, multiply, exp and tanh passes on NumPy arrays are computed in
contiguous chunks over mathdl's threads (mathdl.parallel); small ones run as one ufunc call.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import bfloat16 as _BF16
from ..backend import get_default_dtype, xp_of
from .. import parallel as _par
from . import select_kernels
from .promotion import result_type
from .shape import sum_to

_make = Tensor._make


def as_tensor_like(value, like: Tensor) -> Tensor:
    """Wrap a Python scalar or array as a constant tensor with ``like``'s dtype and device.

    Python scalars never promote: ``x * 2.0`` keeps x's dtype.
    """
    if isinstance(value, Tensor):
        return value
    xp = xp_of(like.array)
    if isinstance(value, (bool, int, float)):
        return _make(_scalar_array(value, like.array.dtype, xp))
    return _make(xp.asarray(value))


def _scalar_array(value, dtype, xp):
    """A 0-d array of ``dtype`` holding a Python scalar (integers wrap around, as in PyTorch)."""
    if isinstance(value, int) and dtype.kind in "iu" and not isinstance(value, bool):
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            value = (value - info.min) % (int(info.max) - int(info.min) + 1) + info.min
    return xp.asarray(value, dtype=dtype)


def _cast(t, dtype):
    """``t`` as ``dtype`` (differentiable for floating targets)."""
    if t.array.dtype == dtype:
        return t
    from .shape import cast

    return cast(t, dtype)


def _pair(a, b):
    """Make both operands tensors of one dtype, promoted as PyTorch does (see
    :mod:`mathdl.ops.promotion`): a Python float meeting an integer tensor gives the default
    float dtype, a Python int never widens a tensor, and 0-d tensors rank below tensors with
    dimensions."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a.array.dtype != b.array.dtype:
            dt = result_type(a, b)
            return _cast(a, dt), _cast(b, dt)
        return a, b
    if not (ta or tb):
        raise TypeError(f"expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    t, v = (a, b) if ta else (b, a)
    if isinstance(v, np.generic) and v.ndim == 0 and v.dtype.kind in "biuf":
        v = v.item()
    if isinstance(v, (bool, int, float)):
        dt = t.array.dtype
        kind = dt.kind
        if not (kind == "f" or dt == _BF16) or isinstance(v, bool):
            if isinstance(v, float) or (kind == "b" and not isinstance(v, bool)):
                dt = result_type(t, v)
            t = _cast(t, dt)
        v = _make(_scalar_array(v, dt, xp_of(t.array)))
    else:
        v = _make(xp_of(t.array).asarray(v))
        if v.array.dtype != t.array.dtype:
            dt = result_type(t, v)
            t, v = _cast(t, dt), _cast(v, dt)
    return (t, v) if ta else (v, t)


def _to_default_float(t):
    return _make(t.array.astype(get_default_dtype()))


def _floating(x):
    """Integer and boolean inputs of float functions become the default float dtype (as
    PyTorch: ``exp`` of an int64 tensor is float32)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a Tensor, got {type(x).__name__}")
    k = x.array.dtype.kind
    if k in "biu":
        return _to_default_float(x)
    return x


def _broadcast_error(name, a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
        ) from None


# --------------------------------------------------------------------------- threaded raw passes
def _split2(ufunc, a, b):
    """ufunc(a, b); a large C-contiguous NumPy ``a`` with a same-shape, same-dtype ``b`` (or a 0-d
    ``b``) is computed in contiguous chunks over mathdl's threads (mathdl.parallel)."""
    if (type(a) is np.ndarray and a.size >= _par.MIN_PARALLEL_ELEMENTS and _par.get_num_threads() > 1
            and type(b) is np.ndarray and a.dtype == b.dtype and a.flags.c_contiguous):
        out = np.empty_like(a)
        if b.shape == a.shape and b.flags.c_contiguous:
            _par.elementwise(lambda a, b, o: ufunc(a, b, out=o), a, b, out)
            return out
        if b.ndim == 0:
            _par.elementwise(lambda a, o: ufunc(a, b, out=o), a, out)
            return out
    return ufunc(a, b)


def _split1(ufunc, a):
    """ufunc(a), in chunks over mathdl's threads for a large C-contiguous NumPy array."""
    if (type(a) is np.ndarray and a.size >= _par.MIN_PARALLEL_ELEMENTS and _par.get_num_threads() > 1
            and a.flags.c_contiguous and a.dtype.kind == "f"):
        out = np.empty_like(a)
        _par.elementwise(lambda a, o: ufunc(a, out=o), a, out)
        return out
    return ufunc(a)


# --------------------------------------------------------------------------- binary
class Add(Function):
    __slots__ = ()
    saves_inputs = False  # backward never reads the inputs' values

    def forward(self, a, b):
        if getattr(a, "size", 0) < _par.MIN_PARALLEL_ELEMENTS:
            return a + b
        return _split2(np.add, a, b)

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(g, a.shape) if a.requires_grad else None,
                sum_to(g, b.shape) if b.requires_grad else None)


class Sub(Function):
    __slots__ = ()
    saves_inputs = False  # backward never reads the inputs' values

    def forward(self, a, b):
        if getattr(a, "size", 0) < _par.MIN_PARALLEL_ELEMENTS:
            return a - b
        return _split2(np.subtract, a, b)

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(g, a.shape) if a.requires_grad else None,
                sum_to(neg(g), b.shape) if b.requires_grad else None)


class Mul(Function):
    __slots__ = ()

    def forward(self, a, b):
        if getattr(a, "size", 0) < _par.MIN_PARALLEL_ELEMENTS:
            return a * b
        return _split2(np.multiply, a, b)

    def backward(self, g):
        a, b = self.inputs
        return (sum_to(mul(g, b), a.shape) if a.requires_grad else None,
                sum_to(mul(g, a), b.shape) if b.requires_grad else None)


class Div(Function):
    __slots__ = ()

    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a.requires_grad:
            ga = sum_to(div(g, b), a.shape)
        if b.requires_grad:
            gb = sum_to(neg(div(mul(g, a), mul(b, b))), b.shape)
        return ga, gb


class Pow(Function):
    """a ** b with a tensor exponent, with PyTorch's conventions at the edges:
    d/da = b a^(b-1), taken as 0 where b == 0 (so 0 ** 0 has gradient 0);
    d/db = a^b log a, taken as 0 where a == 0 and b >= 0."""

    __slots__ = ()
    save_output = True

    def forward(self, a, b):
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a.requires_grad:
            d = mul(b, pow(a, sub(b, 1)))
            if (b.array == 0).any():
                d = where(b.array == 0, 0.0, d)
            ga = sum_to(mul(g, d), a.shape)
        if b.requires_grad:
            d = mul(self.output(), log(a))
            zero = (a.array == 0) & (b.array >= 0)
            if zero.any():
                d = where(zero, 0.0, d)
            gb = sum_to(mul(g, d), b.shape)
        return ga, gb


class RPowScalar(Function):
    """c ** x for a constant base c: d/dx = c^x log c, taken as 0 where c == 0 and x >= 0."""

    __slots__ = ("base",)
    save_output = True

    def __init__(self, base):
        self.base = base

    def forward(self, x):
        return xp_of(x).asarray(self.base, dtype=x.dtype) ** x

    def backward(self, g):
        (x,) = self.inputs
        d = mul(self.output(), math.log(self.base) if self.base > 0 else
                (-math.inf if self.base == 0 else math.nan))
        if self.base == 0 and (x.array >= 0).any():
            d = where(x.array >= 0, 0.0, d)
        return (mul(g, d),)


def _pow_array(x, p):
    """x ** p on an array, by multiplication or square roots for the common exponents
    (NumPy's general power is ~100x slower than a multiply); these are the exponents PyTorch
    also special-cases, so the results agree bit for bit at the edges (x ** -0.5 = 1 / sqrt(x),
    -0 ** -1 = -inf)."""
    xp = xp_of(x)
    if p == 2:
        return x * x
    if p == 3:
        return x * x * x
    if p == 1:
        return x.copy()
    if p == 0:
        return xp.ones_like(x)
    if p == 0.5:
        return xp.sqrt(x)
    if p == -1:
        return xp.reciprocal(x) if x.dtype.kind == "f" else 1 / x
    if p == -2:
        return xp.reciprocal(x * x)
    if p == -0.5:
        return xp.reciprocal(xp.sqrt(x))
    return x ** x.dtype.type(p) if (x.dtype.kind == "f" or x.dtype == _BF16) else x ** p


class PowScalar(Function):
    """x ** p for a constant p: d/dx = p x^(p-1), and 0 for p = 0 (as PyTorch, even at
    x = 0, inf or NaN)."""

    __slots__ = ("p",)

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        return _pow_array(x, self.p)

    def backward(self, g):
        (x,) = self.inputs
        p = self.p
        if p == 0:
            return (_make(xp_of(g.array).zeros(g.shape, dtype=g.dtype)),)
        if p == 1:
            return (g,)
        if p == 2:
            return (mul(g, mul(x, 2.0)),)
        return (mul(g, mul(pow(x, p - 1), float(p))),)


def add(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.array.dtype != b.array.dtype:
        a, b = _pair(a, b)
    if a.array.shape != b.array.shape:
        _broadcast_error("add", a, b)
    return Add()(a, b)


def sub(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.array.dtype != b.array.dtype:
        a, b = _pair(a, b)
    if a.array.shape != b.array.shape:
        _broadcast_error("sub", a, b)
    return Sub()(a, b)


def mul(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        a, b = _pair(a, b)
    elif a.array.dtype != b.array.dtype and a.array.dtype.kind != "b" and b.array.dtype.kind != "b":
        a, b = _pair(a, b)  # (a boolean mask times a tensor: NumPy promotes as PyTorch, no cast pass)
    if a.array.shape != b.array.shape:
        _broadcast_error("mul", a, b)
    return Mul()(a, b)


def div(a, b, *, rounding_mode=None):
    """a / b.  True division of integers gives the default float dtype; ``rounding_mode``
    'trunc' or 'floor' rounds the quotient (keeping integer dtypes), as PyTorch."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.array.dtype != b.array.dtype:
        a, b = _pair(a, b)
    if rounding_mode is not None:
        from .pointwise import _rounded_div

        return _rounded_div(a, b, rounding_mode)
    if a.array.dtype.kind in "iub":  # true division gives floats
        a, b = _to_default_float(a), _to_default_float(b)
    if a.array.shape != b.array.shape:
        _broadcast_error("div", a, b)
    return Div()(a, b)


def pow(a, b):
    """a ** b, elementwise; either may be a Python number.  Exponents 0, +-0.5, 1, 2, 3, -1,
    -2 run by multiplication and square roots.  Integers to negative integer powers are
    refused, as in PyTorch."""
    if isinstance(a, Tensor) and isinstance(b, (int, float, np.number)) and not isinstance(b, (bool, np.bool_)):
        b = b.item() if isinstance(b, np.number) else b
        k = a.array.dtype.kind
        if k in "biu":
            if isinstance(b, float):
                a = _to_default_float(a)
            else:
                if b < 0:
                    raise RuntimeError(f"pow: integers to negative integer powers are not allowed (exponent {b})")
                if k == "b":
                    a = _make(a.array.astype(np.int64))
        return PowScalar(b)(a)
    if isinstance(b, Tensor) and isinstance(a, (int, float)) and not isinstance(a, bool):
        if b.array.dtype.kind in "biu":
            if isinstance(a, float):
                b = _to_default_float(b)
            else:  # integer ** integer stays integer
                if (b.array < 0).any():
                    raise RuntimeError("pow: integers to negative integer powers are not allowed")
                dt = np.dtype(np.int64) if b.array.dtype.kind == "b" else b.array.dtype
                xp = xp_of(b.array)
                return _make(_arr(_scalar_array(a, dt, xp) ** b.array.astype(dt), xp))
        return RPowScalar(float(a))(b)
    a, b = _pair(a, b)
    if a.shape != b.shape:
        _broadcast_error("pow", a, b)
    if a.array.dtype.kind in "biu":
        return _make(_int_pow(a.array, b.array))
    return Pow()(a, b)


def _int_pow(a, b):
    """Integer a ** b elementwise as PyTorch computes it: bools as int64, and a negative
    exponent gives 1 for a == 1, +-1 for a == -1 and 0 otherwise (integer division)."""
    xp = xp_of(a)
    if a.dtype.kind == "b":
        if b.dtype.kind == "b":  # bool ** bool stays bool: x ** False = True, x ** True = x
            return _arr(a | ~b, xp)
        a, b = a.astype(np.int64), b.astype(np.int64)
    neg = b < 0
    if not neg.any():
        return _arr(a ** b, xp)
    out = a ** xp.where(neg, 0, b)
    odd = (b % 2) != 0
    special = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0)).astype(out.dtype)
    return _arr(xp.where(neg, special, out), xp)


def rsub(a, b):
    return sub(b, a)


# --------------------------------------------------------------------------- unary
class Neg(Function):
    __slots__ = ()
    saves_inputs = False  # backward never reads the inputs' values

    def forward(self, x):
        return -x

    def backward(self, g):
        return (neg(g),)


class Abs(Function):
    __slots__ = ()

    def forward(self, x):
        return xp_of(x).abs(x)

    def backward(self, g):  # g sign(x), with sign(NaN) = 0 as in PyTorch
        (x,) = self.inputs
        xp = xp_of(x.array)
        s = _arr(xp.sign(x.array), xp)
        if s.dtype.kind == "f" and s.size and xp.isnan(s.max()):
            s = xp.where(s != s, 0, s).astype(s.dtype, copy=False)
        return (mul(g, _make(s)),)


class Exp(Function):
    __slots__ = ()
    save_output = True

    def forward(self, x):
        return _split1(np.exp, x) if type(x) is np.ndarray else xp_of(x).exp(x)

    def backward(self, g):
        return (mul(g, self.output()),)


class Log(Function):
    __slots__ = ()

    def forward(self, x):
        with np.errstate(divide="ignore"):  # log 0 = -inf, silently as PyTorch (masks: torch.log(torch.tril(...)))
            return xp_of(x).log(x)

    def backward(self, g):
        return (div(g, self.inputs[0]),)


class Log1p(Function):
    __slots__ = ()

    def forward(self, x):
        return xp_of(x).log1p(x)

    def backward(self, g):
        return (div(g, add(self.inputs[0], 1.0)),)


class Expm1(Function):
    __slots__ = ()
    save_output = True

    def forward(self, x):
        return xp_of(x).expm1(x)

    def backward(self, g):
        return (mul(g, add(self.output(), 1.0)),)


class Sqrt(Function):
    __slots__ = ()
    save_output = True

    def forward(self, x):
        return xp_of(x).sqrt(x)

    def backward(self, g):
        return (div(g, mul(self.output(), 2.0)),)


class Sin(Function):
    __slots__ = ()

    def forward(self, x):
        return xp_of(x).sin(x)

    def backward(self, g):
        return (mul(g, cos(self.inputs[0])),)


class Cos(Function):
    __slots__ = ()

    def forward(self, x):
        return xp_of(x).cos(x)

    def backward(self, g):
        return (neg(mul(g, sin(self.inputs[0]))),)


class Tanh(Function):
    __slots__ = ()
    save_output = True

    def forward(self, x):
        return _split1(np.tanh, x) if type(x) is np.ndarray else xp_of(x).tanh(x)

    def backward(self, g):
        y = self.output()
        return (mul(g, rsub(mul(y, y), 1.0)),)


class Sigmoid(Function):
    """sigmoid(x) = 1 / (1 + e^-x), computed without overflow for large |x|."""

    __slots__ = ()
    save_output = True

    def forward(self, x):
        xp = xp_of(x)
        # 0.5 * (1 + tanh(x/2)) is exact and stable on both tails
        y = xp.tanh(x * 0.5)
        y += 1
        y *= 0.5
        return y

    def backward(self, g):
        y = self.output()
        return (mul(g, mul(y, rsub(y, 1.0))),)


class Relu(Function):
    __slots__ = ()
    save_output = True

    def forward(self, x):
        if select_kernels.usable(x):  # one compiled select pass (NumPy's float maximum is ~3x slower)
            return select_kernels.relu(x)
        return xp_of(x).maximum(x, 0)

    def backward(self, g):
        if _grad_state.enabled:  # create_graph: stay connected to x, with zero derivative in x
            return (SlopeMask(0.0)(g, self.inputs[0]),)
        if select_kernels.usable(self.out, g.array):
            return (_make(select_kernels.relu_backward(self.out, g.array)),)
        return (_select(~(self.out <= 0), g),)  # PyTorch's threshold_backward: a NaN input passes g


class SlopeMask(Function):
    """g * (1 if x > 0 else slope): the first derivative of relu (slope 0) and leaky_relu.

    d/dg = the same mask; d/dx = 0 (the mask is piecewise constant), as PyTorch's threshold_backward,
    so that second derivatives of relu networks are zeros instead of a disconnected graph.
    """

    __slots__ = ("slope",)

    def __init__(self, slope):
        self.slope = slope

    def forward(self, g, x):
        # relu passes g where NOT x <= 0 (so at NaN, as threshold_backward); leaky_relu where x > 0
        m = (~(x <= 0) if self.slope == 0 else (x > 0)) * x.dtype.type(1 - self.slope)
        m += x.dtype.type(self.slope)
        return g * m

    def backward(self, gg):
        _, x = self.inputs
        gx = Tensor._make(xp_of(x.array).zeros(x.shape, dtype=x.dtype)) if x.requires_grad else None
        return SlopeMask(self.slope)(gg, x), gx


class Erf(Function):
    __slots__ = ()

    def forward(self, x):
        from scipy import special

        if xp_of(x) is np:
            return special.erf(x).astype(x.dtype, copy=False)
        import cupyx.scipy.special as cs  # pragma: no cover

        return cs.erf(x)  # pragma: no cover

    def backward(self, g):
        (x,) = self.inputs
        return (mul(g, mul(exp(neg(mul(x, x))), 2.0 / math.sqrt(math.pi))),)


class Clamp(Function):
    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return xp_of(x).clip(x, self.lo, self.hi).astype(x.dtype, copy=False)  # bfloat16 stays bfloat16

    def backward(self, g):
        x = self.inputs[0].array
        mask = xp_of(x).ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        return (_select(mask, g),)


class Maximum(Function):
    """max(a, b); on ties the gradient is shared equally (as PyTorch)."""

    __slots__ = ("take_max",)

    def __init__(self, take_max=True):
        self.take_max = take_max

    def forward(self, a, b):
        xp = xp_of(a)
        return xp.maximum(a, b) if self.take_max else xp.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        # PyTorch: a's gradient is masked where a loses, b's where b loses (so a NaN, which loses
        # no comparison, gets the gradient), and ties share it equally
        a_loses = a.array < b.array if self.take_max else a.array > b.array
        b_loses = a.array > b.array if self.take_max else a.array < b.array
        ties = a.array == b.array
        gg = where(ties, mul(g, 0.5), g) if ties.any() else g
        ga = sum_to(_select(~a_loses, gg), a.shape) if a.requires_grad else None
        gb = sum_to(_select(~b_loses, gg), b.shape) if b.requires_grad else None
        return ga, gb


class Where(Function):
    """where(cond, a, b) with a constant boolean condition."""

    __slots__ = ("cond",)

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return xp_of(a).where(self.cond, a, b)

    def backward(self, g):
        a, b = self.inputs
        zero = _make(xp_of(g.array).zeros((), dtype=g.dtype))
        cond = _make(self.cond)
        ga = sum_to(where(cond, g, zero), a.shape) if a.requires_grad else None
        gb = sum_to(where(cond, zero, g), b.shape) if b.requires_grad else None
        return ga, gb


def neg(x):
    return Neg()(x)


def abs(x):
    return Abs()(x)


def exp(x):
    return Exp()(_floating(x))


def log(x):
    return Log()(_floating(x))


def log1p(x):
    return Log1p()(_floating(x))


def expm1(x):
    return Expm1()(_floating(x))


def sqrt(x):
    return Sqrt()(_floating(x))


def rsqrt(x):
    return div(1.0, sqrt(x))


def square(x):
    """x * x (booleans square to int64, as PyTorch)."""
    if x.array.dtype.kind == "b":
        return _make(x.array.astype(np.int64))
    return PowScalar(2)(x)


def sin(x):
    return Sin()(_floating(x))


def cos(x):
    return Cos()(_floating(x))


def tanh(x):
    return Tanh()(_floating(x))


def sigmoid(x):
    return Sigmoid()(_floating(x))


def relu(x):
    return Relu()(x)


def erf(x):
    return Erf()(_floating(x))


def clamp(x, min=None, max=None):
    """Limit x to [min, max]; the bounds are numbers or (broadcastable) tensors."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if x.array.dtype.kind in "biu" and any(isinstance(v, float) for v in (min, max)):
        x = _to_default_float(x)  # a float bound makes an integer tensor float, as PyTorch
    elif x.array.dtype.kind == "b" and not isinstance(min, Tensor) and not isinstance(max, Tensor):
        x = _make(x.array.astype(np.int64))
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if min is not None:
            x = maximum(x, min)
        return minimum(x, max) if max is not None else x
    return Clamp(min, max)(x)


clip = clamp


def maximum(a, b):
    a, b = _pair(a, b)
    if a.shape != b.shape:
        _broadcast_error("maximum", a, b)
    return Maximum(True)(a, b)


def minimum(a, b):
    a, b = _pair(a, b)
    if a.shape != b.shape:
        _broadcast_error("minimum", a, b)
    return Maximum(False)(a, b)


def where(cond, a=None, b=None):
    """Elementwise ``a`` where ``cond`` else ``b`` (cond: boolean tensor or array).

    As PyTorch: both branches may be Python numbers (``where(out > 0.5, 1, 0)`` gives int64; a float
    among them gives the default float dtype; two bools give bool), and ``where(cond)`` alone is
    ``nonzero(cond, as_tuple=True)``."""
    if a is None and b is None:
        from .indexing import nonzero

        return nonzero(cond if isinstance(cond, Tensor) else _make(np.asarray(cond)), as_tuple=True)
    c = cond.array if isinstance(cond, Tensor) else cond
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a, b = _pair(a, b)
    elif all(isinstance(v, (bool, int, float)) for v in (a, b)):
        if all(isinstance(v, bool) for v in (a, b)):
            dt = np.bool_
        elif any(isinstance(v, float) for v in (a, b)):
            dt = get_default_dtype()
        else:
            dt = np.int64
        xp = xp_of(c) if hasattr(c, "dtype") else np
        a, b = _make(xp.asarray(a, dtype=dt)), _make(xp.asarray(b, dtype=dt))
    else:
        raise TypeError(f"where: the branches must be Tensors or Python numbers, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if c.dtype != np.bool_:
        c = c.astype(bool)
    if not (a.shape == b.shape == c.shape):
        try:
            np.broadcast_shapes(c.shape, a.shape, b.shape)
        except ValueError:
            raise ValueError(f"where: condition {tuple(c.shape)} and branches {tuple(a.shape)} and "
                             f"{tuple(b.shape)} cannot be broadcast together") from None
    return Where(c)(a, b)


def _select(mask, g):
    """g where ``mask``, 0 elsewhere -- as a product (NumPy's where over a random mask is ~50x
    slower than a multiply), redone with where only when the product made a NaN (an inf or NaN
    of g where the mask is off must give 0, as in PyTorch).  On a device, where is as fast as the
    product and the NaN test would be a host sync, so it is where at once."""
    if g.array.__class__ is not np.ndarray and xp_of(g.array) is not np:
        return where(mask, g, _zero(g))
    d = mul(g, _make(mask))
    dd = d.array
    if dd.size and dd.dtype.kind == "f" and xp_of(dd).isnan(dd.max()):
        return where(mask, g, _zero(g))
    return d


def _zero(g):
    """A 0-d zero of g's dtype (the other branch of a gradient selection)."""
    return _make(xp_of(g.array).zeros((), dtype=g.dtype))


def _arr(r, xp):
    """Keep 0-d results arrays (NumPy ufuncs on 0-d arrays return scalars)."""
    return r if r.__class__ is np.ndarray else xp.asarray(r)


def _no_grad_unary(ufunc_name, doc):
    """A function x -> ufunc(x) as a constant tensor (these have zero or no derivative)."""

    def op(x):
        xp = xp_of(x.array)
        return _make(_arr(getattr(xp, ufunc_name)(x.array), xp))

    op.__name__ = ufunc_name
    op.__doc__ = doc
    return op


sign = _no_grad_unary("sign", "sign(x) in {-1, 0, 1} (no gradient: its derivative is 0 almost everywhere).")


# --------------------------------------------------------------------------- comparisons (no grad)
def _cmp(ufunc_name):
    def op(a, b):
        a, b = _pair(a, b)
        xp = xp_of(a.array)
        return _make(_arr(getattr(xp, ufunc_name)(a.array, b.array), xp))

    op.__name__ = ufunc_name
    op.__doc__ = f"Elementwise {ufunc_name} (a boolean tensor, never differentiable)."
    return op


lt = _cmp("less")
le = _cmp("less_equal")
gt = _cmp("greater")
ge = _cmp("greater_equal")
eq = _cmp("equal")
ne = _cmp("not_equal")
logical_and = _cmp("logical_and")
logical_or = _cmp("logical_or")


logical_not = _no_grad_unary("logical_not", "Elementwise not x (a boolean tensor, never differentiable).")
isnan = _no_grad_unary("isnan", "Elementwise x != x (a boolean tensor, never differentiable).")
isfinite = _no_grad_unary("isfinite", "Elementwise |x| < inf (a boolean tensor, never differentiable).")


def equal(a, b) -> bool:
    return a.shape == b.shape and bool((a.array == b.array).all())


def allclose(a, b, rtol=1e-5, atol=1e-8) -> bool:
    return bool(xp_of(a.array).allclose(a.array, b.array, rtol=rtol, atol=atol))
