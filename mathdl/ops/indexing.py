"""Indexing: selecting entries, and the scatter-adds that are their adjoints.

  y = x[idx]               dL/dx = scatter_add(zeros(x.shape), idx, g)
                           (repeated integer indices accumulate: an entry read twice gets
                           both gradients)
  y = take_along(x, i, d)  dL/dx = scatter_add_along(zeros, i, g, d)
  scatter_add is linear, so its own derivative is the selection again.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from .shape import broadcast_to, normalize_dim

_make = Tensor._make


def _normalize_index(index, xp):
    """Turn Tensors and lists inside an index into backend arrays; report whether any integer
    array is present (those may repeat entries)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    has_int_array = False
    for i in index:
        if isinstance(i, Tensor):
            i = i.array
        elif isinstance(i, list):
            i = xp.asarray(i)
        if hasattr(i, "dtype") and getattr(i, "ndim", 0) >= 0 and not isinstance(i, (int, np.integer)):
            if i.dtype.kind in "iu":
                has_int_array = True
            elif i.dtype.kind != "b":
                raise IndexError(f"index arrays must be integer or boolean, got dtype {i.dtype}")
        out.append(i)
    return tuple(out), has_int_array


def _scatter_add(out, index, g, xp):
    """out[index] += g in place, accumulating repeated indices (NumPy's add.at, CuPy's scatter_add)."""
    if xp is np:
        np.add.at(out, index, g)
    else:  # pragma: no cover - GPU
        import cupyx

        cupyx.scatter_add(out, index, g)


def _scatter_multiply(out, index, src, xp):
    """out[index] *= src in place, multiplying repeated indices together (NumPy's multiply.at).
    On the device (CuPy has no multiply.at) the writes are grouped by their rank among the
    writes to the same entry (a stable sort of the flat targets): the writes of one rank hit
    distinct entries, so ``out[t_r] *= s_r`` is exact, one pass per rank (as many passes as the
    largest repeat count); the product order per entry is that of the sources, as multiply.at's."""
    if xp is np:
        np.multiply.at(out, index, src)
        return
    parts = xp.broadcast_arrays(*[xp.asarray(i) for i in index], src)
    flat = xp.ravel_multi_index(tuple(p.reshape(-1) for p in parts[:-1]), out.shape) if out.ndim else \
        xp.zeros(parts[-1].size, dtype=np.int64)
    vals = parts[-1].reshape(-1)
    if flat.size == 0:
        return
    order = xp.argsort(flat, kind="stable")
    t, v = flat[order], vals[order]
    pos = xp.arange(t.size)
    start = xp.where(xp.concatenate([xp.ones(1, dtype=bool), t[1:] != t[:-1]]), pos, 0)
    from .reduce import _running

    rank = pos - _running(start, 0, "maximum", xp)
    view = out.reshape(-1)
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        tr = t[sel]
        view[tr] = view[tr] * v[sel]


class GetItem(Function):
    __slots__ = ("index", "has_int_array", "in_shape")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, index, has_int_array):
        self.index, self.has_int_array = index, has_int_array

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.index]

    def backward(self, g):
        return (IndexAdd(self.in_shape, self.index, self.has_int_array)(g),)


class IndexAdd(Function):
    """zeros(shape) with ``g`` added at ``index`` (accumulating repeats)."""

    __slots__ = ("shape", "index", "has_int_array")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, shape, index, has_int_array):
        self.shape, self.index, self.has_int_array = shape, index, has_int_array

    def forward(self, g):
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.has_int_array:
            _scatter_add(out, self.index, g, xp)
        else:
            out[self.index] = g
        return out

    def backward(self, gg):
        return (GetItem(self.index, self.has_int_array)(gg),)


class IndexPut(IndexAdd):
    """zeros(shape) with ``g`` written at ``index`` (a repeated index keeps the last write, as
    ``x[idx] = v`` does); the adjoint read is the selection again, as in PyTorch."""

    __slots__ = ()

    def forward(self, g):
        out = xp_of(g).zeros(self.shape, dtype=g.dtype)
        out[self.index] = g
        return out


def getitem(x, index):
    xp = xp_of(x.array)
    idx, has_int = _normalize_index(index, xp)
    try:
        return GetItem(idx, has_int)(x)
    except IndexError as e:
        raise IndexError(f"indexing a tensor of shape {tuple(x.shape)}: {e}") from None


def setitem(x, index, value):
    """``x[index] = value``.  Without grad this writes in place; with grad the write is
    recorded as  x_new = x * (1 - mask) + scatter(value)  and ``x`` is rebound to the result."""
    from .inplace import rebind, snapshot

    xp = xp_of(x.array)
    idx, has_int = _normalize_index(index, xp)
    v = value.array if isinstance(value, Tensor) else value
    needs_graph = _grad_on() and (x.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if not needs_graph:
        x.array[idx] = v
        x._mark_modified()
        return
    if x._node is None and x.requires_grad:
        raise RuntimeError("setitem: a leaf tensor that requires grad cannot be modified in place")
    vt = value if isinstance(value, Tensor) else _make(xp.asarray(v, dtype=x.dtype))
    from .elementwise import add, where

    keep = xp.ones(x.shape, dtype=bool)
    keep[idx] = False
    target_shape = x.array[idx].shape
    vt = broadcast_to(vt, target_shape) if vt.shape != target_shape else vt
    # where, not a multiplication by the mask: inf * 0 would leave NaN at the written places
    new = add(where(keep, snapshot(x), 0.0), IndexPut(x.shape, idx, has_int)(vt))
    rebind(x, new)


def _grad_on():
    from ..autograd.grad_mode import state

    return state.enabled


class TakeAlong(Function):
    __slots__ = ("indices", "axis", "in_shape")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, x):
        self.in_shape = x.shape
        return xp_of(x).take_along_axis(x, self.indices, axis=self.axis)

    def backward(self, g):
        return (ScatterAddAlong(self.in_shape, self.indices, self.axis)(g),)


class ScatterAddAlong(Function):
    __slots__ = ("shape", "indices", "axis")
    saves_inputs = False  # backward never reads the inputs' values

    def __init__(self, shape, indices, axis):
        self.shape, self.indices, self.axis = shape, indices, axis

    def forward(self, g):
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        ind = self.indices
        if ind.shape != g.shape:  # take_along_dim broadcast the indices
            ind = xp.broadcast_to(ind, g.shape)
        if xp is np and ind.shape[self.axis] == 1:  # one index per line: no repeats
            np.put_along_axis(out, ind, g, self.axis)
            return out
        _scatter_add(out, _along_index(ind, self.axis, xp), g, xp)
        return out

    def backward(self, gg):
        return (TakeAlong(self.indices, self.axis)(gg),)


def _along_index(indices, axis, xp):
    """The full advanced index that take_along_axis(…, indices, axis) reads."""
    grids = xp.ogrid[tuple(slice(n) for n in indices.shape)]
    grids = list(grids) if isinstance(grids, (list, tuple)) else [grids]
    grids[axis] = indices
    return tuple(grids)


def take_along_dim(x, indices, dim):
    idx = indices.array if isinstance(indices, Tensor) else indices
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_dim: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: indices have {idx.ndim} dims, input has {x.ndim}")
    return TakeAlong(idx, normalize_dim(dim, x.ndim, "take_along_dim"))(x)


def gather(x, dim, index):
    """PyTorch's gather: out[i][j] = x[i][index[i][j]] along ``dim``.  ``index`` may be smaller
    than ``x`` in the other dimensions (x is then cropped to it), as in PyTorch."""
    idx = index.array if isinstance(index, Tensor) else index
    if getattr(idx, "ndim", None) != x.ndim:
        raise ValueError(f"gather: index of shape {tuple(getattr(idx, 'shape', ()))} needs as many dimensions as "
                         f"the input of shape {tuple(x.shape)}")
    axis = normalize_dim(dim, x.ndim, "gather")
    if any(i != axis and idx.shape[i] != x.shape[i] for i in range(x.ndim)):
        if any(i != axis and idx.shape[i] > x.shape[i] for i in range(x.ndim)):
            raise ValueError(f"gather: index of shape {tuple(idx.shape)} is larger than the input of shape "
                             f"{tuple(x.shape)} outside dim {dim}")
        x = getitem(x, tuple(slice(None) if i == axis else slice(0, idx.shape[i]) for i in range(x.ndim)))
    return take_along_dim(x, idx, axis)


def index_select(x, dim, index):
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    key = [slice(None)] * x.ndim
    key[normalize_dim(dim, x.ndim, "index_select")] = idx
    return getitem(x, tuple(key))


def one_hot(indices, num_classes=-1):
    """One-hot encoding of integer class indices (int64, no gradient)."""
    idx = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    xp = xp_of(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got range "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return _make(out)


def masked_fill(x, mask, value):
    from .elementwise import where

    m = mask.array if isinstance(mask, Tensor) else mask
    return where(m, _make(xp_of(x.array).asarray(value, dtype=x.dtype)), x)


# --------------------------------------------------------------------------- scatter, index_add and friends
def _index_array(index, name):
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx


def _check_scatter(x, dim, idx, name, src=None):
    axis = normalize_dim(dim, x.ndim, name)
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise ValueError(f"{name}: index of shape {tuple(idx.shape)} needs as many dimensions as the input "
                         f"of shape {tuple(x.shape)}")
    for i in range(idx.ndim):
        if i != axis and idx.shape[i] > x.shape[i]:
            raise ValueError(f"{name}: index of shape {tuple(idx.shape)} is larger than the input of shape "
                             f"{tuple(x.shape)} outside dim {dim}")
        if src is not None and idx.shape[i] > src.shape[i]:
            raise ValueError(f"{name}: index of shape {tuple(idx.shape)} is larger than src of shape "
                             f"{tuple(src.shape)}")
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{name}: index out of range for dimension {dim} of size {n}")
    return axis, xp_of(idx).where(idx < 0, idx + n, idx)


def _crop(t, shape):
    if tuple(t.shape) == tuple(shape):
        return t
    return getitem(t, tuple(slice(0, s) for s in shape))


class ScatterAlong(Function):
    """out = x with out[index along axis] = src (``add``: += src, accumulating repeats).
    Gradients: to x, g with the written places zeroed (all of g for ``add``); to src, g read
    back at the index (the gather)."""

    __slots__ = ("indices", "axis", "add")
    saves_inputs = False

    def __init__(self, indices, axis, add):
        self.indices, self.axis, self.add = indices, axis, add

    def forward(self, x, src):
        xp = xp_of(x)
        out = x.copy()
        key = _along_index(self.indices, self.axis, xp)
        if self.add:
            _scatter_add(out, key, src, xp)
        else:
            out[key] = src
        return out

    def backward(self, g):
        x, src = self.inputs
        gx = gs = None
        if x.requires_grad:
            if self.add:
                gx = g
            else:
                keep = xp_of(g.array).ones(g.shape, dtype=bool)
                keep[_along_index(self.indices, self.axis, xp_of(g.array))] = False
                from .elementwise import where

                gx = where(keep, g, 0.0)
        if src.requires_grad:
            gs = gather(g, self.axis, _make(self.indices))
        return gx, gs


def scatter(x, dim, index, src=None, *, value=None, reduce=None):
    """out = x, then out[index[i][j]][j] = src[i][j] along ``dim`` (src a tensor or a number;
    ``reduce='add'`` accumulates, 'multiply' multiplies)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: expected src (a tensor) or value (a number)")
    idx = _index_array(index, "scatter")
    axis, idx = _check_scatter(x, dim, idx, "scatter", src if isinstance(src, Tensor) else None)
    xp = xp_of(x.array)
    if isinstance(src, Tensor):
        s = _crop(src, idx.shape)
        if s.dtype != x.dtype:
            from .shape import cast

            s = cast(s, x.dtype)
    else:
        s = _make(xp.full(idx.shape, src, dtype=x.dtype))
    if reduce is None:
        return ScatterAlong(idx, axis, False)(x, s)
    if reduce == "add":
        return ScatterAlong(idx, axis, True)(x, s)
    if reduce == "multiply":  # no gradient (as PyTorch's scatter with reduce='multiply')
        out = x.array.copy()
        _scatter_multiply(out, _along_index(idx, axis, xp), s.array, xp)
        return _make(out)
    raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")


def scatter_add(x, dim, index, src):
    """out = x, then out[index[i][j]][j] += src[i][j] along ``dim`` (repeats accumulate)."""
    idx = _index_array(index, "scatter_add")
    axis, idx = _check_scatter(x, dim, idx, "scatter_add", src)
    s = _crop(src, idx.shape)
    if s.dtype != x.dtype:
        from .shape import cast

        s = cast(s, x.dtype)
    return ScatterAlong(idx, axis, True)(x, s)


def _index_key(x, dim, index, name):
    d = normalize_dim(dim, x.ndim, name)
    idx = _index_array(index, name)
    if idx.ndim > 1:
        raise ValueError(f"{name}: index must be 0-D or 1-D, got shape {tuple(idx.shape)}")
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{name}: index out of range for dimension {dim} of size {n}")
    return d, (slice(None),) * d + (idx.reshape(-1),)


def index_add(x, dim, index, source, *, alpha=1):
    """out = x, then out[..., index[i], ...] += alpha source[..., i, ...] along ``dim``."""
    from .elementwise import add, mul

    d, key = _index_key(x, dim, index, "index_add")
    if alpha != 1:
        source = mul(source, alpha)
    if source.dtype != x.dtype:
        from .shape import cast

        source = cast(source, x.dtype)
    if x.ndim == 0:
        source = reshape_like(source, (1,))
        return add(x, reshape_like(IndexAdd((1,), key, True)(source), ()))
    return add(x, IndexAdd(x.shape, key, True)(source))


def index_put(x, indices, values, accumulate=False):
    """PyTorch's ``index_put``: out = x with ``out[indices] = values`` (``indices`` a tuple of integer or
    boolean index tensors), or ``out[indices] += values`` with ``accumulate`` (repeated indices add up).
    Differentiable in ``x`` and ``values``."""
    from .elementwise import add, where

    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of index tensors, got {type(indices).__name__}")
    xp = xp_of(x.array)
    idx, has_int = _normalize_index(tuple(indices), xp)
    try:
        target_shape = x.array[idx].shape
    except IndexError as e:
        raise IndexError(f"index_put: indexing a tensor of shape {tuple(x.shape)}: {e}") from None
    v = values if isinstance(values, Tensor) else _make(xp.asarray(values, dtype=x.dtype))
    if v.dtype != x.dtype:
        from .shape import cast

        v = cast(v, x.dtype)
    v = broadcast_to(v, target_shape) if tuple(v.shape) != target_shape else v
    if accumulate:
        return add(x, IndexAdd(x.shape, idx, has_int)(v))
    keep = xp.ones(x.shape, dtype=bool)
    keep[idx] = False
    return add(where(keep, x, _make(xp.zeros((), dtype=x.dtype))), IndexPut(x.shape, idx, has_int)(v))


def reshape_like(t, shape):
    from .shape import reshape

    return reshape(t, shape)


def index_copy(x, dim, index, source):
    """out = x, then out[..., index[i], ...] = source[..., i, ...] along ``dim``."""
    from .elementwise import add, where

    d, key = _index_key(x, dim, index, "index_copy")
    xp = xp_of(x.array)
    keep = xp.ones(x.shape, dtype=bool)
    keep[key] = False
    if source.dtype != x.dtype:
        from .shape import cast

        source = cast(source, x.dtype)
    zero = _make(xp.zeros((), dtype=x.dtype))
    return add(where(keep, x, zero), IndexPut(x.shape, key, True)(source))


def index_fill(x, dim, index, value):
    """out = x with the slices ``index`` along ``dim`` set to ``value``."""
    from .elementwise import where

    d, key = _index_key(x, dim, index, "index_fill")
    mask = xp_of(x.array).zeros(x.shape, dtype=bool)
    mask[key] = True
    v = value if isinstance(value, Tensor) else _make(xp_of(x.array).asarray(value, dtype=x.dtype))
    return where(mask, v, x)


def masked_select(x, mask):
    """The entries of x where ``mask`` (broadcast together) is true, as a 1-D tensor."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be boolean, got dtype {m.dtype}")
    shape = np.broadcast_shapes(x.shape, m.shape)
    if tuple(x.shape) != shape:
        x = broadcast_to(x, shape)
    return getitem(x, xp_of(m).broadcast_to(m, shape))


def take(x, index):
    """The entries of the flattened x at ``index`` (shaped like index)."""
    from .shape import reshape

    idx = _index_array(index, "take")
    n = x.array.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    return getitem(reshape(x, (-1,)), _make(idx))


# --------------------------------------------------------------------------- where are the entries
def nonzero(x, *, as_tuple=False):
    """The indices of the non-zero entries: an (n, ndim) int64 tensor, or one 1-D tensor per
    dimension with ``as_tuple=True``."""
    xp = xp_of(x.array)
    a = x.array
    if as_tuple:
        if a.ndim == 0:
            return (_make(xp.zeros(int(a != 0), dtype=np.int64)),)
        return tuple(_make(i.astype(np.int64)) for i in xp.nonzero(a))
    return _make(xp.argwhere(a).astype(np.int64))  # (n, ndim); (n, 0) for a 0-d tensor


def argwhere(x):
    """nonzero(x) as an (n, ndim) tensor."""
    return nonzero(x)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) row and column indices of the upper triangle of a row x col matrix."""
    r, c = np.triu_indices(int(row), int(offset), int(col))
    return _make(np.stack([r, c]).astype(dtype or np.int64))


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) row and column indices of the lower triangle of a row x col matrix."""
    r, c = np.tril_indices(int(row), int(offset), int(col))
    return _make(np.stack([r, c]).astype(dtype or np.int64))
