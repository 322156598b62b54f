"""Primitive operations with their derivatives, and the functions users call.

Each submodule holds one family; this package re-exports the functions and attaches the
method forms (``x.sum()``, ``x.reshape(...)``) to :class:`~mathdl.autograd.tensor.Tensor`.
"""

from __future__ import annotations

from ..autograd.tensor import Tensor
from .elementwise import (  # noqa: F401
    abs, add, allclose, clamp, clip, cos, div, eq, equal, erf, exp, expm1, ge, gt, isfinite, isnan,
    le, log, log1p, logical_and, logical_not, logical_or, lt, maximum, minimum, mul, ne, neg, pow,
    relu, rsqrt, sigmoid, sign, sin, sqrt, square, sub, tanh, where,
)
from .indexing import (  # noqa: F401
    gather, getitem, index_select, masked_fill, one_hot, setitem, take_along_dim,
)
from .inplace import inplace  # noqa: F401
from .linalg import bmm, dot, einsum, matmul, mm, outer  # noqa: F401
from .reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, cumsum, max, mean, min, norm, prod, std, sum, var,
)
from .shape import (  # noqa: F401
    broadcast_to, cast, cat, chunk, clone, concatenate, expand, expand_as, flatten, flip, movedim,
    pad, permute, reshape, roll, split, squeeze, stack, sum_to, swapaxes, to_device, transpose,
    tril, triu, unbind, unflatten, unsqueeze, view,
)
from .sorting import argsort, msort, sort, topk  # noqa: F401
from .special import log_softmax, logsumexp, softmax  # noqa: F401

__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "Tensor", "annotations", "elementwise", "indexing", "inplace", "linalg", "reduce", "shape",
    "sorting", "special")]
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
]
for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])


def _pow_method(self, exponent):
    return pow(self, exponent)


Tensor.pow = _pow_method
Tensor.add = add
Tensor.sub = sub
Tensor.mul = mul
Tensor.div = div
Tensor.neg = neg
Tensor.where = lambda self, cond, other: where(cond, self, other)
Tensor.type_as = lambda self, other: cast(self, other.dtype)
Tensor.view_as = lambda self, other: reshape(self, other.shape)
Tensor.reshape_as = lambda self, other: reshape(self, other.shape)


# ``mathdl.linalg`` (inv, solve, det, ...) is built on these ops; importing it here makes
# ``import mathdl; mathdl.linalg.inv(...)`` work.
import importlib as _importlib  # noqa: E402

_importlib.import_module("mathdl.linalg")
