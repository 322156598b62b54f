"""Reductions and scans.

  sum over axes A:   d/dx = broadcast of g back over A
  mean:              g / n broadcast back
  var (correction c): d/dx = g * 2 (x - mean) / (n - c);   std = sqrt(var)
  max/min:           g routed to the selected entry (to the index along ``dim``; shared
                     equally among ties for a full reduction, as PyTorch)
  prod:              g * prod / x, or where x has zeros g * (product of the other entries),
                     computed with differentiable ops so that grad-of-grad is right there too
  cumsum:            reversed cumulative sum of g
  norm (p = 2):      g x / ||x||, taken as 0 at x = 0
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from . import elementwise as ew
from .shape import broadcast_to, flip, normalize_dim, normalize_dims, permute, reshape

_make = Tensor._make

#: (values, indices) of max/min along a dim, sort and topk, like PyTorch's named tuples
MinMaxResult = namedtuple("MinMaxResult", ["values", "indices"])


def _dim_arg(dim, axis):
    """Accept NumPy's ``axis`` as an alias of PyTorch's ``dim``."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass either dim or axis, not both")
        return axis
    return dim


def _kept_shape(in_shape, axes):
    if axes is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in axes else s for i, s in enumerate(in_shape))


def _count(in_shape, axes):
    if axes is None:
        return int(np.prod(in_shape))
    return int(np.prod([in_shape[a] for a in axes]))


def _unreduce(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``in_shape``."""
    if not keepdim:
        g = reshape(g, _kept_shape(in_shape, axes))
    return broadcast_to(g, in_shape)


class _Reduction(Function):
    """Base of the reductions over ``axes`` (a sorted tuple, or None for all axes); ``keepdim``
    keeps the reduced axes with size 1."""

    __slots__ = ("axes", "keepdim")

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim


class Sum(_Reduction):
    __slots__ = ("in_shape",)
    saves_inputs = False  # backward never reads the inputs' values

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, g):
        return (_unreduce(g, self.in_shape, self.axes, self.keepdim),)


class Mean(_Reduction):
    __slots__ = ("in_shape",)
    saves_inputs = False  # backward never reads the inputs' values

    def forward(self, x):
        self.in_shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, g):
        n = _count(self.in_shape, self.axes)
        return (_unreduce(ew.mul(g, 1.0 / n), self.in_shape, self.axes, self.keepdim),)


class Var(_Reduction):
    __slots__ = ("correction", "in_shape")

    def __init__(self, axes, keepdim, correction):
        super().__init__(axes, keepdim)
        self.correction = correction

    def forward(self, x):
        self.in_shape = x.shape
        return x.var(axis=self.axes, keepdims=self.keepdim, ddof=self.correction)

    def backward(self, g):
        (x,) = self.inputs
        n = _count(self.in_shape, self.axes)
        centered = ew.sub(x, mean(x, self.axes, keepdim=True))
        scale = 2.0 / (n - self.correction) if n - self.correction > 0 else float("nan")
        g = _unreduce(g, self.in_shape, self.axes, self.keepdim)
        return (ew.mul(ew.mul(g, centered), scale),)


class MaxAlong(Function):
    """max (or min) along one axis; the gradient goes to the selected index."""

    __slots__ = ("axis", "keepdim", "is_max", "indices")

    def __init__(self, axis, keepdim, is_max):
        self.axis, self.keepdim, self.is_max = axis, keepdim, is_max

    def forward(self, x):
        xp = xp_of(x)
        idx = xp.argmax(x, axis=self.axis) if self.is_max else xp.argmin(x, axis=self.axis)
        self.indices = idx
        vals = xp.take_along_axis(x, xp.expand_dims(idx, self.axis), axis=self.axis)
        return vals if self.keepdim else vals.squeeze(self.axis)

    def backward(self, g):
        (x,) = self.inputs
        xp = xp_of(x.data)
        onehot = xp.zeros(x.shape, dtype=g.dtype)
        xp.put_along_axis(onehot, xp.expand_dims(self.indices, self.axis), 1, axis=self.axis)
        return (ew.mul(_unreduce(g, x.shape, (self.axis,), self.keepdim), _make(onehot)),)


class MaxAll(_Reduction):
    """max (or min) over several axes; ties share the gradient equally."""

    __slots__ = ("is_max",)
    save_output = True

    def __init__(self, axes, keepdim, is_max):
        super().__init__(axes, keepdim)
        self.is_max = is_max

    def forward(self, x):
        return x.max(axis=self.axes, keepdims=self.keepdim) if self.is_max else \
            x.min(axis=self.axes, keepdims=self.keepdim)

    def backward(self, g):
        (x,) = self.inputs
        out = self.out if self.keepdim else self.out.reshape(_kept_shape(x.shape, self.axes))
        sel = (x.data == out)
        w = sel / sel.sum(axis=self.axes, keepdims=True)
        return (ew.mul(_unreduce(g, x.shape, self.axes, self.keepdim), _make(w.astype(g.dtype))),)


class Prod(_Reduction):
    __slots__ = ()

    def forward(self, x):
        return x.prod(axis=self.axes, keepdims=self.keepdim)

    def backward(self, g):
        (x,) = self.inputs
        g = _unreduce(g, x.shape, self.axes, self.keepdim)
        if not (x.data == 0).any():
            return (ew.mul(g, ew.div(prod(x, self.axes, keepdim=True), x)),)
        # with zeros, P / x fails: take the product of the other entries directly,
        # others_i = prod_j where(j == i, 1, x_j), over the reduced axes moved last and flattened
        # (differentiable again, so grad-of-grad is right at zeros too)
        xp = xp_of(x.data)
        axes = self.axes if self.axes is not None else tuple(range(x.ndim))
        rest = [i for i in range(x.ndim) if i not in axes]
        perm = tuple(rest + list(axes))
        xt = permute(x, perm)
        moved_shape = xt.shape
        n = _count(x.shape, axes)
        flat = reshape(xt, moved_shape[:len(rest)] + (n,))
        rep = broadcast_to(reshape(flat, flat.shape[:-1] + (1, n)), flat.shape[:-1] + (n, n))
        eye = _make(xp.eye(n, dtype=bool))
        others = prod(ew.where(eye, 1.0, rep), -1)
        others = permute(reshape(others, moved_shape), tuple(np.argsort(perm)))
        return (ew.mul(g, others),)


class Cumsum(Function):
    __slots__ = ("axis",)
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return xp_of(x).cumsum(x, axis=self.axis)

    def backward(self, g):
        return (flip(cumsum(flip(g, self.axis), self.axis), self.axis),)


class Norm2(_Reduction):
    """Euclidean norm over axes: sqrt(sum x^2); gradient x / ||x|| (0 where the norm is 0)."""

    __slots__ = ()
    save_output = True

    def forward(self, x):
        xp = xp_of(x)
        return xp.sqrt((x * x).sum(axis=self.axes, keepdims=self.keepdim))

    def backward(self, g):
        (x,) = self.inputs
        n = _unreduce(self.output(), x.shape, self.axes, self.keepdim)
        safe = ew.where(n.data == 0, 1.0, n)
        return (ew.mul(_unreduce(g, x.shape, self.axes, self.keepdim), ew.div(x, safe)),)


# --------------------------------------------------------------------------- functions
def sum(x, dim=None, keepdim=False, *, axis=None, dtype=None):
    """sum_i x_i over ``dim`` (all entries by default); integer tensors without grad sum in int64
    (or ``dtype``)."""
    axes = normalize_dims(_dim_arg(dim, axis), x.ndim)
    if x.data.dtype.kind in "biu" and not x.requires_grad:
        return _make(xp_of(x.data).asarray(x.data.sum(axis=axes, keepdims=keepdim, dtype=dtype or np.int64)))
    if axes == ():
        return x
    return Sum(axes, keepdim)(x)


def mean(x, dim=None, keepdim=False, *, axis=None):
    """(1/n) sum_i x_i over ``dim`` (n entries; all by default); floating tensors only."""
    axes = normalize_dims(_dim_arg(dim, axis), x.ndim)
    if x.data.dtype.kind not in "fc" and x.data.dtype.name != "bfloat16":
        raise TypeError(f"mean: expected a floating tensor, got dtype {x.dtype}; cast it first")
    if axes == ():
        return x
    return Mean(axes, keepdim)(x)


def var(x, dim=None, keepdim=False, *, axis=None, correction=1, unbiased=None):
    """sum_i (x_i - mean)^2 / (n - correction) over ``dim`` (Bessel's correction 1 by default;
    ``unbiased=False`` means correction 0)."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    axes = normalize_dims(_dim_arg(dim, axis), x.ndim)
    return Var(axes, keepdim, correction)(x)


def std(x, dim=None, keepdim=False, *, axis=None, correction=1, unbiased=None):
    """sqrt(var(x)) with the same arguments as :func:`var`."""
    return ew.sqrt(var(x, dim, keepdim, axis=axis, correction=correction, unbiased=unbiased))


def _minmax(x, dim, keepdim, axis, is_max):
    dim = _dim_arg(dim, axis)
    name = "max" if is_max else "min"
    if x.data.size == 0:
        raise ValueError(f"{name}: empty tensor has no {'maximum' if is_max else 'minimum'}")
    if dim is None or not isinstance(dim, (int, np.integer)):
        axes = normalize_dims(dim, x.ndim, name)
        return MaxAll(axes, keepdim, is_max)(x)
    ax = normalize_dim(dim, x.ndim, name)
    if x.ndim == 0:
        return MinMaxResult(MaxAll(None, keepdim, is_max)(x), _make(xp_of(x.data).zeros((), dtype=np.int64)))
    fn = MaxAlong(ax, keepdim, is_max)
    vals = fn(x)
    idx = xp_of(x.data).expand_dims(fn.indices, ax) if keepdim else fn.indices
    return MinMaxResult(vals, _make(idx.astype(np.int64)))


def max(x, dim=None, keepdim=False, *, axis=None):
    """Maximum; with an integer ``dim`` returns (values, indices) like PyTorch."""
    if isinstance(dim, Tensor):
        return ew.maximum(x, dim)
    return _minmax(x, dim, keepdim, axis, True)


def min(x, dim=None, keepdim=False, *, axis=None):
    """Minimum; with an integer ``dim`` returns (values, indices) like PyTorch."""
    if isinstance(dim, Tensor):
        return ew.minimum(x, dim)
    return _minmax(x, dim, keepdim, axis, False)


def amax(x, dim=None, keepdim=False):
    """max_i x_i over ``dim`` (one or several axes); ties share the gradient equally."""
    return MaxAll(normalize_dims(dim, x.ndim), keepdim, True)(x)


def amin(x, dim=None, keepdim=False):
    """min_i x_i over ``dim`` (one or several axes); ties share the gradient equally."""
    return MaxAll(normalize_dims(dim, x.ndim), keepdim, False)(x)


def prod(x, dim=None, keepdim=False, *, axis=None):
    """prod_i x_i over ``dim`` (all entries by default)."""
    return Prod(normalize_dims(_dim_arg(dim, axis), x.ndim), keepdim)(x)


def cumsum(x, dim=None, *, axis=None):
    """y_k = sum_{i <= k} x_i along ``dim``."""
    dim = _dim_arg(dim, axis)
    if dim is None:
        raise TypeError("cumsum: dim is required")
    d = normalize_dim(dim, x.ndim, "cumsum")
    if x.ndim == 0:  # one entry: NumPy would return shape (1,)
        return reshape(Cumsum(0)(reshape(x, (1,))), ())
    return Cumsum(d)(x)


def norm(x, p=2, dim=None, keepdim=False, *, axis=None):
    """Vector p-norm over ``dim`` (all entries by default): (sum |x|^p)^(1/p); p may be +-inf
    or 0 (the count of non-zeros); 'fro' is the 2-norm and 'nuc' the nuclear norm of a matrix."""
    dim = _dim_arg(dim, axis)
    if p == "nuc":
        from ..linalg import matrix_norm

        return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
    axes = normalize_dims(dim, x.ndim)
    if p == 2 or p == "fro":
        return Norm2(axes, keepdim)(x)
    if p == float("inf"):
        return MaxAll(axes, keepdim, True)(ew.abs(x))
    if p == -float("inf"):
        return MaxAll(axes, keepdim, False)(ew.abs(x))
    if p == 1:
        return sum(ew.abs(x), axes, keepdim)
    if p == 0:
        return sum(_make((x.data != 0).astype(x.dtype)), axes, keepdim)
    return ew.pow(sum(ew.pow(ew.abs(x), p), axes, keepdim), 1.0 / p)


def _arg_extreme(name, x, dim, keepdim):
    """int64 index of the largest (argmax) or smallest (argmin) entry, over all entries
    (flattened) or along ``dim``; no gradient."""
    xp = xp_of(x.data)
    fn = getattr(xp, name)
    if dim is None:
        return _make(xp.asarray(fn(x.data), dtype=np.int64))
    d = normalize_dim(dim, x.ndim, name)
    r = fn(x.data, axis=d)
    return _make((xp.expand_dims(r, d) if keepdim else r).astype(np.int64))


def argmax(x, dim=None, keepdim=False):
    """argmax_i x_i over all entries (flattened index) or along ``dim``."""
    return _arg_extreme("argmax", x, dim, keepdim)


def argmin(x, dim=None, keepdim=False):
    """argmin_i x_i over all entries (flattened index) or along ``dim``."""
    return _arg_extreme("argmin", x, dim, keepdim)


def all(x, dim=None):
    """Whether every entry (along ``dim``) is non-zero; a boolean tensor without gradient."""
    return _make(xp_of(x.data).asarray(x.data.all(axis=dim)))


def any(x, dim=None):
    """Whether some entry (along ``dim``) is non-zero; a boolean tensor without gradient."""
    return _make(xp_of(x.data).asarray(x.data.any(axis=dim)))
