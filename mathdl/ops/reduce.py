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
from ..autograd.grad_mode import state as _grad_state
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
        return (_unreduce(ew.mul(g, 1.0 / n if n else np.nan), self.in_shape, self.axes, self.keepdim),)


class Var(_Reduction):
    __slots__ = ("correction", "in_shape")

    def __init__(self, axes, keepdim, correction):
        super().__init__(axes, keepdim)
        self.correction = correction

    def forward(self, x):
        self.in_shape = x.shape
        if x.dtype == np.float32 or x.dtype == np.float16:  # accumulate in float64, as PyTorch
            return x.var(axis=self.axes, keepdims=self.keepdim, ddof=self.correction, dtype=np.float64).astype(x.dtype)
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
        xp = xp_of(x.array)
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
        sel = (x.array == out)
        w = sel / sel.sum(axis=self.axes, keepdims=True)
        return (ew.mul(_unreduce(g, x.shape, self.axes, self.keepdim), _make(w.astype(g.dtype))),)


class Prod(_Reduction):
    __slots__ = ()

    def forward(self, x):
        return x.prod(axis=self.axes, keepdims=self.keepdim)

    def backward(self, g):
        (x,) = self.inputs
        g = _unreduce(g, x.shape, self.axes, self.keepdim)
        if not (x.array == 0).any():
            return (ew.mul(g, ew.div(prod(x, self.axes, keepdim=True), x)),)
        # with zeros, P / x fails: the product of the other entries is the product of the
        # exclusive cumulative products from the left and from the right (PyTorch's formula),
        # over the reduced axes moved last and flattened; differentiable again (cumprod)
        from .shape import cat

        xp = xp_of(x.array)
        axes = self.axes if self.axes is not None else tuple(range(x.ndim))
        rest = [i for i in range(x.ndim) if i not in axes]
        perm = tuple(rest + list(axes))
        xt = permute(x, perm)
        moved_shape = xt.shape
        n = _count(x.shape, axes)
        flat = reshape(xt, moved_shape[:len(rest)] + (n,))
        one = _make(xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype))
        left = cumprod(cat([one, flat[..., :n - 1]], -1), -1)
        right = flip(cumprod(flip(cat([flat[..., 1:], one], -1), -1), -1), -1)
        others = permute(reshape(ew.mul(left, right), moved_shape), tuple(np.argsort(perm)))
        if self.axes is None or len(axes) == x.ndim:
            if int((x.array == 0).sum()) >= 2 and not xp.isfinite(x.array).all():
                others = _make(xp.zeros(x.shape, dtype=x.dtype))  # PyTorch: zero gradient with >= 2 zeros
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
        safe = ew.where(n.array == 0, 1.0, n)
        return (ew.mul(_unreduce(g, x.shape, self.axes, self.keepdim), ew.div(x, safe)),)


# --------------------------------------------------------------------------- functions
def sum(x, dim=None, keepdim=False, *, axis=None, dtype=None):
    """sum_i x_i over ``dim`` (all entries by default); integer tensors without grad sum in int64
    (or ``dtype``)."""
    axes = normalize_dims(_dim_arg(dim, axis), x.ndim)
    if x.array.dtype.kind in "biu" and not x.requires_grad:
        return _make(xp_of(x.array).asarray(x.array.sum(axis=axes, keepdims=keepdim, dtype=dtype or np.int64)))
    if axes == ():
        return x
    return Sum(axes, keepdim)(x)


def mean(x, dim=None, keepdim=False, *, axis=None):
    """(1/n) sum_i x_i over ``dim`` (n entries; all by default); floating tensors only."""
    axes = normalize_dims(_dim_arg(dim, axis), x.ndim)
    if x.array.dtype.kind not in "fc" and x.array.dtype.name != "bfloat16":
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
    """sqrt(var(x)) with the same arguments as :func:`var` (float32/float16 inputs go through
    float64, so that a variance beyond the float32 range still gives a finite std, as PyTorch)."""
    from .shape import cast

    dt = x.array.dtype
    if dt == np.float32 or dt == np.float16:
        v = var(cast(x, np.dtype(np.float64)), dim, keepdim, axis=axis, correction=correction, unbiased=unbiased)
        return cast(ew.sqrt(v), dt)
    return ew.sqrt(var(x, dim, keepdim, axis=axis, correction=correction, unbiased=unbiased))


def _minmax(x, dim, keepdim, axis, is_max):
    dim = _dim_arg(dim, axis)
    name = "max" if is_max else "min"
    if dim is None or not isinstance(dim, (int, np.integer)):
        axes = normalize_dims(dim, x.ndim, name)
        _check_nonempty(x, axes, name)
        return MaxAll(axes, keepdim, is_max)(x)
    ax = normalize_dim(dim, x.ndim, name)
    _check_nonempty(x, (ax,) if x.ndim else None, name)
    if x.ndim == 0:
        return MinMaxResult(MaxAll(None, keepdim, is_max)(x), _make(xp_of(x.array).zeros((), dtype=np.int64)))
    fn = MaxAlong(ax, keepdim, is_max)
    vals = fn(x)
    idx = xp_of(x.array).expand_dims(fn.indices, ax) if keepdim else fn.indices
    return MinMaxResult(vals, _make(idx.astype(np.int64)))


def _check_nonempty(x, axes, name):
    """Reducing over an axis of length 0 has no extreme value (PyTorch raises too)."""
    sizes = x.shape if axes is None else [x.shape[a] for a in axes]
    if 0 in sizes or (axes is None and x.array.size == 0):
        raise ValueError(f"{name}: cannot reduce over a dimension of size 0 (input shape {tuple(x.shape)})")


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
    axes = normalize_dims(dim, x.ndim)
    _check_nonempty(x, axes, "amax")
    return MaxAll(axes, keepdim, True)(x)


def amin(x, dim=None, keepdim=False):
    """min_i x_i over ``dim`` (one or several axes); ties share the gradient equally."""
    axes = normalize_dims(dim, x.ndim)
    _check_nonempty(x, axes, "amin")
    return MaxAll(axes, keepdim, False)(x)


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
        return sum(_make((x.array != 0).astype(x.dtype)), axes, keepdim)
    return ew.pow(sum(ew.pow(ew.abs(x), p), axes, keepdim), 1.0 / p)


def _arg_extreme(name, x, dim, keepdim):
    """int64 index of the largest (argmax) or smallest (argmin) entry, over all entries
    (flattened) or along ``dim``; no gradient."""
    xp = xp_of(x.array)
    fn = getattr(xp, name)
    if dim is None:
        return _make(xp.asarray(fn(x.array), dtype=np.int64))
    d = normalize_dim(dim, x.ndim, name)
    r = fn(x.array, axis=d)
    return _make((xp.expand_dims(r, d) if keepdim else r).astype(np.int64))


def argmax(x, dim=None, keepdim=False):
    """argmax_i x_i over all entries (flattened index) or along ``dim``."""
    return _arg_extreme("argmax", x, dim, keepdim)


def argmin(x, dim=None, keepdim=False):
    """argmin_i x_i over all entries (flattened index) or along ``dim``."""
    return _arg_extreme("argmin", x, dim, keepdim)


def all(x, dim=None):
    """Whether every entry (along ``dim``) is non-zero; a boolean tensor without gradient."""
    return _make(xp_of(x.array).asarray(x.array.all(axis=dim)))


def any(x, dim=None):
    """Whether some entry (along ``dim``) is non-zero; a boolean tensor without gradient."""
    return _make(xp_of(x.array).asarray(x.array.any(axis=dim)))


# --------------------------------------------------------------------------- more scans and statistics
class Cumprod(Function):
    """y_k = prod_{i <= k} x_i along ``axis``.  Without zeros, dL/dx_j = sum_{k >= j} g_k y_k / x_j
    (a reversed cumulative sum); with zeros, the products of the other entries are formed
    explicitly (O(n^2) along the axis), which stays differentiable."""

    __slots__ = ("axis",)
    save_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        if x.dtype == np.float32 or x.dtype == np.float16:  # accumulated in float64, as PyTorch
            return xp_of(x).cumprod(x, axis=self.axis, dtype=np.float64).astype(x.dtype)
        return xp_of(x).cumprod(x, axis=self.axis)

    def backward(self, g):
        (x,) = self.inputs
        ax = self.axis
        if not (x.array == 0).any():
            gy = ew.mul(g, self.output())
            return (ew.div(flip(cumsum(flip(gy, ax), ax), ax), x),)
        if not _grad_state.enabled:
            return (_make(_cumprod_grad_with_zeros(x.array, g.array, self.out, ax)),)
        # others[..., j, k] = prod_{i <= k, i != j} x_i  (axis moved last; j, k along it)
        xp = xp_of(x.array)
        n = x.shape[ax]
        xt = _move_last(x, ax)
        rep = broadcast_to(reshape(xt, xt.shape[:-1] + (1, n)), xt.shape[:-1] + (n, n))
        eye = _make(xp.eye(n, dtype=bool))
        others = Cumprod(rep.ndim - 1)(ew.where(eye, 1.0, rep))                  # [..., j, k]
        upper = _make(xp.triu(xp.ones((n, n), dtype=bool)))                      # k >= j
        gt = reshape(_move_last(g, ax), xt.shape[:-1] + (1, n))
        gx = sum(ew.where(upper, ew.mul(others, gt), 0.0), -1)
        return (_move_back(gx, ax),)


def _cumprod_grad_with_zeros(x, g, y, ax):
    """PyTorch's O(n) cumprod gradient for inputs with zeros (raw arrays, first order):
    before the first zero z1, the no-zero formula; at z1, sum_{k >= z1} g_k prod_{z1 < i <= k} x_i
    times y_{z1 - 1}; after z1, 0."""
    xp = xp_of(x)
    zero = x == 0
    csum = xp.cumsum(zero, axis=ax)
    out = xp.zeros(x.shape, dtype=g.dtype)
    before = csum == 0
    w = xp.where(before, y * g, 0)
    rev = xp.flip(xp.cumsum(xp.flip(w, ax), axis=ax), ax)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xp.where(before, rev / xp.where(before, x, 1), out)
    between = csum == 1
    first = xp.argmax(between, axis=ax)
    first_k = xp.expand_dims(first, ax)
    first_mask = xp.zeros(x.shape, dtype=bool)
    xp.put_along_axis(first_mask, first_k, True, axis=ax)
    first_mask &= between
    after_first = between & ~first_mask
    part = xp.cumprod(xp.where(after_first, x, 1), axis=ax) * xp.where(between, g, 0)
    total = part.sum(axis=ax, keepdims=True)
    prev = xp.take_along_axis(y, xp.maximum(first_k - 1, 0), axis=ax)
    prev = xp.where(first_k == 0, 1, prev)
    return xp.where(first_mask, total * prev, out).astype(g.dtype, copy=False)


def _move_last(x, ax):
    if ax == x.ndim - 1:
        return x
    return permute(x, tuple(i for i in range(x.ndim) if i != ax) + (ax,))


def _move_back(x, ax):
    if ax == x.ndim - 1:
        return x
    order = [i for i in range(x.ndim) if i != ax] + [ax]
    return permute(x, tuple(np.argsort(order)))


def _scan_axis(x, dim, name):
    if dim is None:
        raise TypeError(f"{name}: dim is required")
    return normalize_dim(dim, x.ndim, name)


def cumprod(x, dim=None, *, axis=None, dtype=None):
    """y_k = prod_{i <= k} x_i along ``dim`` (integers and bools in int64, as PyTorch)."""
    d = _scan_axis(x, _dim_arg(dim, axis), "cumprod")
    if dtype is not None:
        from .shape import cast
        from ..backend import as_dtype

        x = cast(x, as_dtype(dtype))
    if x.array.dtype.kind in "biu":
        a = x.array.reshape(x.shape or (1,))
        return _make(xp_of(a).cumprod(a, axis=d, dtype=np.int64).reshape(x.shape))
    if x.ndim == 0:
        return reshape(Cumprod(0)(reshape(x, (1,))), ())
    return Cumprod(d)(x)


class LogCumSumExp(Function):
    """y_k = log sum_{i <= k} exp(x_i) along ``axis``, as the scan y_k = logaddexp(y_{k-1}, x_k)
    (stable, O(n)).  dL/dx_j = sum_{k >= j} g_k exp(x_j - y_k), computed in log space with the
    positive and negative parts of g apart (PyTorch's formula):
        exp(x_j + rlcse(log g+ - y)_j) - exp(x_j + rlcse(log g- - y)_j),
    rlcse being logcumsumexp from the end; differentiable again."""

    __slots__ = ("axis",)
    save_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return _running(x, self.axis, "logaddexp", xp_of(x))

    def backward(self, g):
        (x,) = self.inputs
        ax = self.axis
        y = self.output()
        xp = xp_of(g.array)
        if _grad_state.enabled:  # create_graph: the O(n^2) form sum_k [j <= k] g_k exp(x_j - y_k)
            n = x.shape[ax]
            xt, yt, gt = _move_last(x, ax), _move_last(y, ax), _move_last(g, ax)
            lead = xt.shape[:-1]
            mask = xp.tril(xp.ones((n, n), dtype=bool))                        # [k, j]: j <= k
            diff = ew.sub(reshape(xt, lead + (1, n)), reshape(yt, lead + (n, 1)))
            w = ew.exp(ew.where(xp.broadcast_to(mask, lead + (n, n)), diff, -np.inf))
            return (_move_back(sum(ew.mul(w, reshape(gt, lead + (n, 1))), -2), ax),)
        with np.errstate(divide="ignore"):
            out = None
            for sign in (1.0, -1.0):
                part = g.array * sign > 0
                if not part.any():
                    continue
                lg = ew.log(ew.where(part, ew.mul(g, sign), 0.0))             # log|g| where g has this sign, else -inf
                r = flip(logcumsumexp(flip(ew.sub(lg, y), ax), ax), ax)
                term = ew.exp(ew.add(x, r))
                out = (term if sign > 0 else ew.neg(term)) if out is None else (
                    ew.add(out, term) if sign > 0 else ew.sub(out, term))
        if out is None:
            out = _make(xp.zeros(x.shape, dtype=x.dtype))
        return (out,)


def logcumsumexp(x, dim):
    """y_k = log sum_{i <= k} exp(x_i) along ``dim`` (stable for large |x|)."""
    d = _scan_axis(x, dim, "logcumsumexp")
    x = ew._floating(x)
    if x.ndim == 0 or x.array.size == 0:
        return x
    return LogCumSumExp(d)(x)


def _running(a, axis, ufunc, xp):
    """The inclusive scan of an associative ufunc (``maximum``, ``minimum``, ``logaddexp``) along
    ``axis``: ufunc.accumulate on NumPy; on the device (CuPy has no ``accumulate`` for these) the
    log-step Hillis-Steele scan  acc_k <- op(acc_k, acc_{k-s})  for s = 1, 2, 4, ... < n, which
    takes ceil(log2 n) whole-array steps, O(n log n) work, all on the device (exact for max/min,
    which only select; logaddexp sums in a tree order, within rounding of the sequential scan)."""
    op = getattr(xp, ufunc)
    if xp is np:
        return op.accumulate(a, axis=axis)
    n = a.shape[axis]
    acc = a
    s = 1
    while s < n:
        lo = (slice(None),) * axis + (slice(None, n - s),)
        hi = (slice(None),) * axis + (slice(s, None),)
        nxt = acc.copy()
        nxt[hi] = op(acc[hi], acc[lo])
        acc = nxt
        s *= 2
    return acc


def _cum_extreme(x, dim, is_max):
    """Running max (min) values and the index where each was reached (the last such index on
    ties; NaN propagates and its index is the last NaN's), as PyTorch's cummax/cummin."""
    from .indexing import take_along_dim

    name = "cummax" if is_max else "cummin"
    d = _scan_axis(x, dim, name)
    if x.ndim == 0:
        return MinMaxResult(x, _make(xp_of(x.array).zeros((), dtype=np.int64)))
    xp = xp_of(x.array)
    a = x.array
    acc = _running(a, d, "maximum" if is_max else "minimum", xp)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = xp.arange(a.shape[d], dtype=np.int64).reshape(shape)
    hit = (a == acc)
    if a.dtype.kind == "f":
        hit |= xp.isnan(a)
    idx = _running(xp.where(hit, pos, 0), d, "maximum", xp)
    return MinMaxResult(take_along_dim(x, _make(idx), d), _make(idx))


def cummax(x, dim):
    """(values, indices) of the running maximum along ``dim``."""
    return _cum_extreme(x, dim, True)


def cummin(x, dim):
    """(values, indices) of the running minimum along ``dim``."""
    return _cum_extreme(x, dim, False)


def _median_index(a, axis, xp):
    """Index (along ``axis``) of the lower median of each line; a line with NaN selects a NaN."""
    n = a.shape[axis]
    order = xp.argsort(a, axis=axis, kind="stable")
    k = (n - 1) // 2
    sel = xp.take(order, [k], axis=axis)
    if a.dtype.kind == "f":
        nan = xp.isnan(a)
        if nan.any():
            first_nan = xp.argmax(nan, axis=axis)
            has = nan.any(axis=axis)
            sel = xp.where(xp.expand_dims(has, axis), xp.expand_dims(first_nan, axis), sel)
    return sel


def median(x, dim=None, keepdim=False):
    """The lower median (the ((n-1)//2)-th smallest entry; NaN if a NaN is present).  With
    ``dim``: (values, indices) along it.  The gradient goes to the selected entry."""
    from .indexing import take_along_dim

    xp = xp_of(x.array)
    if dim is None:
        if x.array.size == 0:  # PyTorch: NaN (connected to the input, so it has a gradient)
            return ew.mul(sum(x), np.nan)
        flat = reshape(x, (-1,))
        sel = _median_index(flat.array, 0, xp)
        return reshape(take_along_dim(flat, _make(sel), 0), ())
    d = normalize_dim(dim, x.ndim, "median")
    if x.ndim == 0:
        return MinMaxResult(x, _make(xp.zeros((), dtype=np.int64)))
    if x.shape[d] == 0:
        raise IndexError(f"median: dimension {dim} of the input has size 0")
    sel = _median_index(x.array, d, xp).astype(np.int64)
    vals = take_along_dim(x, _make(sel), d)
    if not keepdim:
        vals, sel = reshape(vals, vals.shape[:d] + vals.shape[d + 1:]), sel.squeeze(d)
    return MinMaxResult(vals, _make(sel))


def nanmedian(x, dim=None, keepdim=False):
    """median ignoring NaN (NaN only where a line is all NaN)."""
    from .indexing import take_along_dim

    xp = xp_of(x.array)
    if dim is None:
        return nanmedian(reshape(x, (-1,)), 0)[0] if x.array.size else median(x)
    d = normalize_dim(dim, x.ndim, "nanmedian")
    if x.ndim == 0:
        return MinMaxResult(x, _make(xp.zeros((), dtype=np.int64)))
    a = x.array
    nan = xp.isnan(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool)
    order = xp.argsort(a, axis=d, kind="stable")           # NaN last
    cnt = (~nan).sum(axis=d, keepdims=True)
    k = xp.maximum((cnt - 1) // 2, 0)
    sel = xp.take_along_axis(order, k, axis=d).astype(np.int64)
    vals = take_along_dim(x, _make(sel), d)
    if not keepdim:
        vals, sel = reshape(vals, vals.shape[:d] + vals.shape[d + 1:]), sel.squeeze(d)
    return MinMaxResult(vals, _make(sel))


def quantile(x, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles (q in [0, 1], a number or a 1-D tensor) over ``dim`` (all entries by
    default), interpolating between the sorted entries at floor and ceil of q (n - 1) by
    ``interpolation`` ('linear', 'lower', 'higher', 'midpoint', 'nearest'); NaN if the line has
    a NaN.  A tensor q adds a leading dimension."""
    from .indexing import take_along_dim
    from .sorting import sort

    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"quantile: interpolation must be one of linear, lower, higher, midpoint, nearest; "
                         f"got {interpolation!r}")
    if x.array.dtype.kind not in "f" and x.dtype.name != "bfloat16":
        raise TypeError(f"quantile: expected a floating input, got dtype {x.dtype}")
    qa = np.asarray(q.array if isinstance(q, Tensor) else q, dtype=np.float64)
    if qa.ndim > 1:
        raise ValueError(f"quantile: q must be a number or a 1-D tensor, got {qa.ndim} dimensions")
    if ((qa < 0) | (qa > 1)).any():
        raise ValueError("quantile: q values must be in the range [0, 1]")
    zero_d = x.ndim == 0
    if dim is None:
        x, d, out_shape = reshape(x, (-1,)), 0, (1,) * x.ndim if keepdim else ()
    else:
        d = normalize_dim(dim, x.ndim, "quantile")
        if zero_d:
            x, d = reshape(x, (1,)), 0
        out_shape = None
    n = x.shape[d]
    if n == 0:
        raise IndexError("quantile: input is empty")
    xs = _move_last(sort(x, d)[0], d)                   # sorted, axis last (NaN sort last)
    xp = xp_of(x.array)
    pos = qa.reshape(-1) * (n - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    frac = pos - lo
    if interpolation == "lower":
        hi, frac = lo, frac * 0
    elif interpolation == "higher":
        lo, frac = hi, frac * 0
    elif interpolation == "nearest":
        near = np.round(pos).astype(np.int64)
        lo = hi = near
        frac = frac * 0
    elif interpolation == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    lead = xs.shape[:-1]
    idx_lo = xp.broadcast_to(xp.asarray(lo), lead + (len(lo),))
    idx_hi = xp.broadcast_to(xp.asarray(hi), lead + (len(hi),))
    vlo = take_along_dim(xs, _make(idx_lo), -1)
    vhi = take_along_dim(xs, _make(idx_hi), -1)
    w = _make(xp.asarray(frac, dtype=x.dtype))
    from .pointwise import lerp

    out = lerp(vlo, vhi, w)                               # [..., nq], PyTorch's lerp formula
    if xs.dtype.kind == "f":
        has_nan = xp.isnan(xs.array).any(axis=-1, keepdims=True)
        if has_nan.any():
            out = ew.where(xp.broadcast_to(has_nan, out.shape), np.nan, out)
    # q's axis first, then the kept dims
    out = permute(out, (out.ndim - 1,) + tuple(range(out.ndim - 1)))
    if dim is None:
        out = reshape(out, (len(lo),) + out_shape)
    elif keepdim and not zero_d:
        out = unsqueeze_at(out, d + 1)
    elif zero_d:
        out = reshape(out, (len(lo),))
    if qa.ndim == 0:
        out = reshape(out, out.shape[1:])
    return out


def unsqueeze_at(x, d):
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def nanquantile(x, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile ignoring NaN: computed line by line over the non-NaN entries."""
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
        flat = True
    else:
        flat = False
    xp = xp_of(x.array)
    d = normalize_dim(dim, x.ndim, "nanquantile")
    xt = _move_last(x, d)
    lines = reshape(xt, (-1, xt.shape[-1]))
    outs = []
    from .indexing import getitem
    from .shape import stack

    for i in range(lines.shape[0]):
        row = getitem(lines, i)
        keep = ~xp.isnan(row.array)
        outs.append(quantile(getitem(row, keep), q, 0, interpolation=interpolation) if keep.any()
                    else ew.mul(quantile(row, q, 0, interpolation=interpolation), np.nan))
    out = stack(outs, -1)
    out = reshape(out, out.shape[:-1] + xt.shape[:-1])
    if keepdim and not flat:
        out = unsqueeze_at(out, out.ndim - (xt.ndim - 1) + d)
    return out


def nansum(x, dim=None, keepdim=False, *, dtype=None):
    """sum over ``dim`` treating NaN as 0."""
    if x.array.dtype.kind == "f":
        x = ew.where(xp_of(x.array).isnan(x.array), 0.0, x)
    return sum(x, dim, keepdim, dtype=dtype)


def nanmean(x, dim=None, keepdim=False):
    """mean over ``dim`` of the non-NaN entries."""
    xp = xp_of(x.array)
    ok = ~xp.isnan(x.array)
    cnt = _make(ok.sum(axis=normalize_dims(dim, x.ndim), keepdims=keepdim).astype(x.dtype))
    return ew.div(nansum(x, dim, keepdim), cnt)


def std_mean(x, dim=None, keepdim=False, *, correction=1, unbiased=None):
    """(std, mean) over ``dim``."""
    return std(x, dim, keepdim, correction=correction, unbiased=unbiased), mean(x, dim, keepdim)


def var_mean(x, dim=None, keepdim=False, *, correction=1, unbiased=None):
    """(var, mean) over ``dim``."""
    return var(x, dim, keepdim, correction=correction, unbiased=unbiased), mean(x, dim, keepdim)


def count_nonzero(x, dim=None):
    """The number of non-zero entries over ``dim`` (int64)."""
    axes = normalize_dims(dim, x.ndim)
    return _make(xp_of(x.array).asarray((x.array != 0).sum(axis=axes), dtype=np.int64))


def aminmax(x, *, dim=None, keepdim=False):
    """(amin, amax) over ``dim``."""
    MinMax = namedtuple("aminmax", ["min", "max"])
    return MinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def dist(x, y, p=2):
    """The p-norm of x - y (broadcast)."""
    return norm(ew.sub(x, y), p)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule along ``dim``: sum (y_i + y_{i+1}) / 2 (x_{i+1} - x_i) (spacing ``dx``,
    1 by default, or the sample points ``x``)."""
    from .indexing import getitem

    d = normalize_dim(dim, y.ndim, "trapezoid")
    n = y.shape[d]
    if n == 0:  # PyTorch: zeros, with no gradient
        return _make(xp_of(y.array).zeros(y.shape[:d] + y.shape[d + 1:], dtype=y.dtype))
    hi = (slice(None),) * d + (slice(1, None),)
    lo = (slice(None),) * d + (slice(0, n - 1),)
    if x is None:  # PyTorch's form: h (sum y - (y_0 + y_last) / 2)
        ends = ew.mul(ew.add(getitem(y, (slice(None),) * d + (0,)), getitem(y, (slice(None),) * d + (n - 1,))), 0.5)
        return ew.mul(ew.sub(sum(y, d), ends), 1.0 if dx is None else dx)
    mid = ew.mul(ew.add(getitem(y, hi), getitem(y, lo)), 0.5)
    if x.ndim == 1:
        shape = [1] * y.ndim
        shape[d] = n
        x = reshape(x, tuple(shape))
    dxs = ew.sub(getitem(x, hi), getitem(x, lo))
    return sum(ew.mul(mid, dxs), d)


trapz = trapezoid
