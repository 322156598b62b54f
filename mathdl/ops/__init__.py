"""Primitive operations with their derivatives, and the functions users call.

Each submodule holds one family; this package re-exports the functions and attaches the
method forms (``x.sum()``, ``x.reshape(...)``, ``x.exp_()``) to
:class:`~mathdl.autograd.tensor.Tensor`.
"""

from __future__ import annotations

import builtins as _builtins

import numpy as _np

from .. import backend as _backend
from ..autograd.tensor import Tensor
from .elementwise import (  # noqa: F401
    abs, add, allclose, clamp, clip, cos, div, eq, equal, erf, exp, expm1, ge, gt, isfinite, isnan,
    le, log, log1p, logical_and, logical_not, logical_or, lt, maximum, minimum, mul, ne, neg, pow,
    relu, rsqrt, sigmoid, sin, sqrt, square, sub, tanh, where,
)
from .indexing import (  # noqa: F401
    argwhere, gather, getitem, index_add, index_copy, index_fill, index_put, index_select, masked_fill, masked_select,
    nonzero, one_hot, scatter, scatter_add, setitem, take, take_along_dim, tril_indices, triu_indices,
)
from .inplace import inplace  # noqa: F401
from .linalg import (  # noqa: F401
    addbmm, addmm, addmv, addr, baddbmm, bmm, cdist, chain_matmul, cross, det, dot, einsum, inner, inverse, kron,
    logdet, matmul, matrix_exp, matrix_power, mm, mv, outer, pinverse, slogdet, svd, tensordot, vdot,
)
from .pointwise import (  # noqa: F401
    absolute, acos, acosh, addcdiv, addcmul, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin,
    asinh, atan, atan2, atanh, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift,
    bitwise_xor, ceil, clamp_max, clamp_min, copysign, cosh, deg2rad, divide, erfc, exp2, fix, float_power,
    floor, floor_divide, fmax, fmin, fmod, frac, gcd, greater, greater_equal, heaviside, hypot, isclose, isinf,
    isneginf, isposinf, isreal, lcm, ldexp, lerp, less, less_equal, log10, log2, logaddexp, logaddexp2,
    logical_xor, logit, multiply, nan_to_num, negative, not_equal, positive, rad2deg, reciprocal, remainder,
    round, sgn, sigmoid_, sign, signbit, sinc, sinh, square_, subtract, tan, true_divide, trunc, xlogy,
)
from .promotion import can_cast, promote_types, result_type  # noqa: F401
from .tensor_types import (  # noqa: F401  (PyTorch's legacy constructors: mathdl.LongTensor(data))
    BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
    LongTensor, ShortTensor,
)
from .random import bernoulli, multinomial, poisson  # noqa: F401
from .reduce import (  # noqa: F401
    all, amax, amin, aminmax, any, argmax, argmin, count_nonzero, cummax, cummin, cumprod, cumsum,
    dist, logcumsumexp, max, mean, median, min, nanmean, nanmedian, nanquantile, nansum, norm, prod, quantile,
    std, std_mean, sum, trapezoid, trapz, var, var_mean,
)
from .shape import (  # noqa: F401
    atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_tensors, broadcast_to, cartesian_prod, cast, cat,
    chunk, clone, column_stack, combinations, concat, concatenate, diag, diag_embed, diagflat, diagonal, diff,
    dstack, expand, expand_as, flatten, flip, fliplr, flipud, hstack, meshgrid, moveaxis, movedim, narrow, pad,
    permute, ravel, repeat_interleave, reshape, roll, rot90, row_stack, select, split, squeeze, stack, sum_to, swapaxes,
    swapdims, t, tile, to_device, trace, transpose, tril, triu, unbind, unflatten, unsqueeze, view, vstack,
)
from .sorting import (  # noqa: F401
    argsort, bincount, bucketize, histc, isin, kthvalue, msort, searchsorted, sort, topk, unique,
    unique_consecutive,
)
from .special import log_softmax, logsumexp, softmax  # noqa: F401
from . import random as _random
from .shape import repeat as _shape_repeat
from .shape import unfold as _shape_unfold


device = _backend.device
detach_copy = lambda x: x.detach().clone()  # noqa: E731
dtype = _backend.dtype


def rsub(input, other, *, alpha=1):
    """other - alpha input."""
    return sub(other, input if alpha == 1 else mul(input, alpha))


def detach(x):
    """x cut from the graph (sharing its values)."""
    return x.detach()


def dropout(input, p=0.5, train=True):
    """torch.dropout: zero entries with probability p and scale the rest by 1/(1-p) when training."""
    from ..nn.functional import dropout as _dropout

    return _dropout(input, p, training=train)


def _special(name, doc):
    def fn(*args, **kwargs):
        import mathdl.special as sp

        return getattr(sp, name)(*args, **kwargs)

    fn.__name__, fn.__doc__ = name, doc
    return fn


erfinv = _special("erfinv", "The inverse of erf (mathdl.special.erfinv).")
lgamma = _special("lgamma", "log |Gamma(x)| (mathdl.special.gammaln).")
digamma = _special("digamma", "d/dx log Gamma(x) (mathdl.special.digamma).")
polygamma = _special("polygamma", "The n-th derivative of digamma (mathdl.special.polygamma).")


def qr(A, some=True):
    """torch.qr: (Q, R) with A = Q R (reduced when ``some``)."""
    import mathdl.linalg as la

    return la.qr(A, mode="reduced" if some else "complete")


def cholesky(A, upper=False):
    """torch.cholesky: the Cholesky factor (lower, or upper with ``upper=True``)."""
    import mathdl.linalg as la

    return la.cholesky(A, upper=upper)


def numel(x) -> int:
    """The number of entries of ``x``."""
    return x.array.size


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a mathdl Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(x) -> bool:
    """Whether ``x`` has a floating dtype."""
    return _backend.is_floating(x.array.dtype)


def is_complex(x) -> bool:
    """Whether ``x`` has a complex dtype (never, in mathdl)."""
    return x.array.dtype.kind == "c"


def is_nonzero(x) -> bool:
    """The truth value of a one-entry tensor."""
    if x.array.size != 1:
        raise RuntimeError(f"is_nonzero: expected a tensor with one entry, got {x.array.size}")
    return _builtins.bool(x.array.reshape(()) != 0)


def is_same_size(a, b) -> bool:
    return tuple(a.shape) == tuple(b.shape)


_HIDDEN = {
    "Tensor", "annotations", "elementwise", "indexing", "inplace", "linalg", "reduce", "shape",
    "sorting", "special", "pointwise", "promotion", "random", "tensor_types",
}
__all__ = [n for n in dir() if not n.startswith("_") and n not in _HIDDEN]
__all__ += ["inplace"]

_METHODS = [
    "abs", "clamp", "clip", "cos", "exp", "expm1", "log", "log1p", "relu", "rsqrt", "sigmoid",
    "sign", "sin", "sqrt", "square", "tanh", "erf", "maximum", "minimum", "isnan", "isfinite",
    "gather", "index_select", "masked_fill", "take_along_dim",
    "matmul", "mm", "bmm", "dot", "outer", "sort", "argsort", "topk", "msort",
    "all", "any", "amax", "amin", "argmax", "argmin", "cumsum", "max", "min", "mean", "norm", "prod",
    "std", "sum", "var", "logsumexp", "softmax", "log_softmax",
    "broadcast_to", "chunk", "expand", "expand_as", "flatten", "flip", "movedim", "permute",
    "reshape", "roll", "split", "squeeze", "sum_to", "swapaxes", "transpose", "tril", "triu",
    "unbind", "unflatten", "unsqueeze", "view",
    # comparisons and logic
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "logical_and", "logical_or", "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "isclose", "isinf", "isposinf", "isneginf",
    "isreal", "signbit", "allclose", "equal", "isin",
    # more pointwise math
    "tan", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "log2", "log10", "exp2", "reciprocal", "deg2rad", "rad2deg", "erfc",
    "floor", "ceil", "round", "trunc", "fix", "frac", "sgn", "nan_to_num", "atan2", "arctan2", "hypot",
    "fmod", "remainder", "logaddexp", "logaddexp2", "lerp", "copysign", "heaviside", "float_power",
    "true_divide", "floor_divide", "positive", "negative", "multiply", "subtract", "divide", "absolute",
    "fmax", "fmin", "clamp_min", "clamp_max", "addcmul", "addcdiv",
    # reductions and scans
    "cumprod", "logcumsumexp", "cummax", "cummin", "median", "nanmedian", "quantile", "nanquantile",
    "nanmean", "nansum", "count_nonzero", "aminmax", "kthvalue",
    # shapes, diagonals, indexing
    "diag", "diff", "diagonal", "diag_embed", "diagflat", "trace", "tile", "repeat_interleave", "narrow", "select",
    "t", "ravel", "fliplr", "flipud", "rot90", "swapdims", "moveaxis", "nonzero", "argwhere",
    "masked_select", "index_add", "index_copy", "index_fill", "index_put", "scatter", "scatter_add", "take",
    "unique", "unique_consecutive", "bincount", "histc",
    # products
    "mv", "inner", "kron", "addmm", "addmv", "addr", "baddbmm", "addbmm", "vdot",
    "logit", "sinc", "xlogy", "ldexp", "gcd", "lcm", "dist", "det", "logdet", "slogdet", "inverse", "pinverse",
    "matrix_exp", "matrix_power", "svd", "cross", "erfinv", "lgamma", "digamma", "qr", "cholesky", "detach_copy",
]
for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])


def _pow_method(self, exponent):
    return pow(self, exponent)


Tensor.pow = _pow_method
Tensor.add = lambda self, other, *, alpha=1: add(self, other if alpha == 1 else mul(other, alpha))
Tensor.sub = lambda self, other, *, alpha=1: sub(self, other if alpha == 1 else mul(other, alpha))
Tensor.subtract = Tensor.sub
Tensor.mul = mul
Tensor.div = div
Tensor.neg = neg
Tensor.where = lambda self, cond, other: where(cond, self, other)
Tensor.type_as = lambda self, other: cast(self, other.dtype)
Tensor.view_as = lambda self, other: reshape(self, other.shape)
Tensor.reshape_as = lambda self, other: reshape(self, other.shape)
Tensor.sum_to_size = lambda self, *size: sum_to(self, size[0] if len(size) == 1 and
                                                isinstance(size[0], (tuple, list)) else size)
Tensor.repeat = _shape_repeat
Tensor.__xor__ = lambda self, other: logical_xor(self, other) if self.dtype == _np.bool_ else \
    bitwise_xor(self, other)
Tensor.__and__ = lambda self, other: logical_and(self, other) if self.dtype == _np.bool_ else \
    bitwise_and(self, other)
Tensor.__or__ = lambda self, other: logical_or(self, other) if self.dtype == _np.bool_ else bitwise_or(self, other)
Tensor.__invert__ = lambda self: logical_not(self) if self.dtype == _np.bool_ else bitwise_not(self)
Tensor.__rand__ = lambda self, other: Tensor.__and__(self, other)
Tensor.__ror__ = lambda self, other: Tensor.__or__(self, other)
Tensor.__rxor__ = lambda self, other: Tensor.__xor__(self, other)
Tensor.__mod__ = lambda self, other: remainder(self, other)
Tensor.__rmod__ = lambda self, other: remainder(other, self)
Tensor.__floordiv__ = lambda self, other: floor_divide(self, other)
Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)
Tensor.__lshift__ = lambda self, other: bitwise_left_shift(self, other)
Tensor.__rshift__ = lambda self, other: bitwise_right_shift(self, other)
Tensor.__round__ = lambda self, ndigits=None: round(self, ndigits or 0)


# --------------------------------------------------------------------------- in-place methods
def _inplace_of(fn, name):
    """x.name_(...) = x <- fn(x, ...), under the in-place policy (see ops/inplace.py)."""
    from ..autograd.grad_mode import state
    from .inplace import assign_, snapshot

    def method(self, *args, **kwargs):
        # with a graph, the op reads a snapshot (the tensor is rebound to the result, and the
        # op must not see its own input's version change)
        graph = state.enabled and (self.requires_grad or _builtins.any(
            isinstance(a, Tensor) and a.requires_grad for a in (*args, *kwargs.values())))
        out = fn(snapshot(self) if graph else self, *args, **kwargs)
        if out.dtype != self.dtype and not can_cast(out.dtype, self.dtype):
            raise RuntimeError(f"{name}_: result type {out.dtype} can't be cast to the tensor's dtype {self.dtype}")
        return assign_(self, out)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place {name}."
    return method


for _name in [
    "abs", "neg", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "sigmoid", "tanh", "relu",
    "sin", "cos", "tan", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "erf", "erfc",
    "floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "reciprocal", "square", "exp2", "pow", "fmod",
    "remainder", "clamp_min", "clamp_max", "clip", "lerp", "addcmul", "addcdiv", "masked_fill", "index_fill",
    "index_add", "index_copy", "index_put", "scatter", "scatter_add", "nan_to_num", "atan2", "hypot", "copysign",
    "logaddexp", "floor_divide", "true_divide", "maximum", "minimum", "tril", "triu", "logical_and",
    "logical_or", "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "deg2rad", "rad2deg", "heaviside", "fmax", "fmin", "multiply", "subtract", "divide", "negative",
    "float_power", "eq", "ne", "lt", "le", "gt", "ge",
]:
    setattr(Tensor, _name + "_", _inplace_of(globals()[_name], _name))
# add_, sub_, mul_, div_, clamp_, fill_, zero_ and copy_ write straight into the array
# (see Tensor in autograd/tensor.py): the optimizers' hot path.

for _name in ["uniform_", "normal_", "bernoulli_", "exponential_", "geometric_", "log_normal_", "cauchy_",
              "random_"]:
    setattr(Tensor, _name, getattr(_random, _name))


# --------------------------------------------------------------------------- new tensors, dtype and layout
def _new(self, arr, dtype, device, requires_grad):
    from ..creation import tensor

    return tensor(arr, dtype=dtype if dtype is not None else self.dtype,
                  device=device if device is not None else self.device, requires_grad=requires_grad)


def _shape_of(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


Tensor.new_zeros = lambda self, *size, dtype=None, device=None, requires_grad=False: _new(
    self, _np.zeros(_shape_of(size)), dtype, device, requires_grad)
Tensor.new_ones = lambda self, *size, dtype=None, device=None, requires_grad=False: _new(
    self, _np.ones(_shape_of(size)), dtype, device, requires_grad)
Tensor.new_empty = lambda self, *size, dtype=None, device=None, requires_grad=False: _new(
    self, _np.zeros(_shape_of(size)), dtype, device, requires_grad)
Tensor.new_full = lambda self, size, fill_value, *, dtype=None, device=None, requires_grad=False: _new(
    self, _np.full(_shape_of((size,)), fill_value), dtype, device, requires_grad)
Tensor.new_tensor = lambda self, data, *, dtype=None, device=None, requires_grad=False: _new(
    self, data.array if isinstance(data, Tensor) else data, dtype, device, requires_grad)

Tensor.nelement = lambda self: self.array.size
Tensor.ndimension = lambda self: self.array.ndim
Tensor.element_size = lambda self: self.array.dtype.itemsize
Tensor.nbytes = property(lambda self: self.array.nbytes)
Tensor.itemsize = property(lambda self: self.array.dtype.itemsize)
Tensor.is_contiguous = lambda self, memory_format=None: _builtins.bool(self.array.flags.c_contiguous)
Tensor.is_floating_point = is_floating_point
Tensor.is_complex = is_complex
Tensor.is_nonzero = is_nonzero
Tensor.is_signed = lambda self: self.array.dtype.kind in "fi" or self.array.dtype == _backend.bfloat16
Tensor.is_cuda = property(lambda self: self.device != "cpu")
Tensor.is_cpu = property(lambda self: self.device == "cpu")
Tensor.get_device = lambda self: -1 if self.device == "cpu" else 0
Tensor.data_ptr = lambda self: self.array.__array_interface__["data"][0] if self.device == "cpu" else \
    self.array.data.ptr
Tensor.pin_memory = lambda self: self
Tensor.share_memory_ = lambda self: self
Tensor.H = property(lambda self: self.T if self.ndim <= 2 else self.mT)
Tensor.mH = property(lambda self: self.mT)
Tensor.byte = lambda self: self.astype(_backend.uint8)
Tensor.char = lambda self: self.astype(_backend.int8)
Tensor.short = lambda self: self.astype(_backend.int16)
Tensor.bfloat16 = lambda self: self.astype(_backend.bfloat16)
Tensor.cast = cast


def _stride(self, dim=None):
    """Strides in elements (PyTorch's convention), not bytes."""
    st = tuple(s // self.array.dtype.itemsize for s in self.array.strides)
    return st if dim is None else st[dim]


def _type(self, dtype=None, non_blocking=False):
    """Without an argument, the type name ('mathdl.FloatTensor'); with one -- a dtype, a legacy type
    (``mathdl.LongTensor``) or its name ('torch.LongTensor' / 'mathdl.LongTensor') -- a cast to it."""
    from .tensor_types import BY_NAME

    if dtype is None:
        names = {cls.dtype.name: name for name, cls in BY_NAME.items()}
        return "mathdl." + names.get(self.array.dtype.name, self.array.dtype.name)
    if isinstance(dtype, str) and dtype.split(".")[-1] in BY_NAME and dtype.split(".")[0] in ("torch", "mathdl"):
        dtype = BY_NAME[dtype.split(".")[-1]]
    if isinstance(dtype, type) and dtype.__name__ in BY_NAME and BY_NAME[dtype.__name__] is dtype:
        dtype = dtype.dtype
    return self.astype(dtype)


def _apply_(self, fn):
    """Apply a Python function to every entry, in place (CPU, no gradient)."""
    flat = self.array.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = fn(flat[i].item())
    self._mark_modified()
    return self


Tensor.stride = _stride
Tensor.storage_offset = lambda self: 0
Tensor.unfold = _shape_unfold


def _reshaping_(fn, name):
    """x.name_(...): the shape-changing in-place forms (squeeze_, t_ ...): x is rebound to the
    result, which shares x's values."""
    from .inplace import rebind

    def method(self, *args):
        rebind(self, fn(self, *args))
        return self

    method.__name__ = name
    return method


Tensor.squeeze_ = _reshaping_(squeeze, "squeeze_")
Tensor.unsqueeze_ = _reshaping_(unsqueeze, "unsqueeze_")
Tensor.t_ = _reshaping_(t, "t_")
Tensor.transpose_ = _reshaping_(transpose, "transpose_")


def _fill_diagonal_(self, fill_value, wrap=False):
    """Write ``fill_value`` on the main diagonal (all dims equal; a tall matrix repeats it with
    ``wrap``), under the in-place policy."""
    from .inplace import assign_

    if self.ndim < 2:
        raise ValueError(f"fill_diagonal_: expected at least 2 dimensions, got shape {tuple(self.shape)}")
    mask = _np.zeros(self.shape, dtype=bool)
    _np.fill_diagonal(mask, True, wrap=wrap)
    return assign_(self, where(mask, Tensor._make(_np.asarray(fill_value, dtype=self.dtype)), self))


Tensor.fill_diagonal_ = _fill_diagonal_
Tensor.type = _type
Tensor.apply_ = _apply_
Tensor.map_ = lambda self, other, fn: _apply_map(self, other, fn)


def _apply_map(self, other, fn):
    b = _np.broadcast_to(other.array, self.shape)
    flat, ob = self.array.reshape(-1), b.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = fn(flat[i].item(), ob[i].item())
    self._mark_modified()
    return self


# ``mathdl.linalg`` (inv, solve, det, ...) is built on these ops; importing it here makes
# ``import mathdl; mathdl.linalg.inv(...)`` work.
import importlib as _importlib  # noqa: E402

_importlib.import_module("mathdl.linalg")
