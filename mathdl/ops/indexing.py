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
            i = i.data
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
    xp = xp_of(x.data)
    idx, has_int = _normalize_index(index, xp)
    try:
        return GetItem(idx, has_int)(x)
    except IndexError as e:
        raise IndexError(f"indexing a tensor of shape {tuple(x.shape)}: {e}") from None


def setitem(x, index, value):
    """``x[index] = value``.  Without grad this writes in place; with grad the write is
    recorded as  x_new = x * (1 - mask) + scatter(value)  and ``x`` is rebound to the result."""
    from .inplace import rebind, snapshot

    xp = xp_of(x.data)
    idx, has_int = _normalize_index(index, xp)
    v = value.data if isinstance(value, Tensor) else value
    needs_graph = _grad_on() and (x.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if not needs_graph:
        x.data[idx] = v
        x._mark_modified()
        return
    if x._node is None and x.requires_grad:
        raise RuntimeError("setitem: a leaf tensor that requires grad cannot be modified in place")
    vt = value if isinstance(value, Tensor) else _make(xp.asarray(v, dtype=x.dtype))
    from .elementwise import add, mul

    keep = xp.ones(x.shape, dtype=x.dtype)
    keep[idx] = 0
    target_shape = x.data[idx].shape
    vt = broadcast_to(vt, target_shape) if vt.shape != target_shape else vt
    new = add(mul(snapshot(x), _make(keep)), IndexPut(x.shape, idx, has_int)(vt))
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
    idx = indices.data if isinstance(indices, Tensor) else indices
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_dim: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: indices have {idx.ndim} dims, input has {x.ndim}")
    return TakeAlong(idx, normalize_dim(dim, x.ndim, "take_along_dim"))(x)


def gather(x, dim, index):
    """PyTorch's gather: out[i][j] = x[i][index[i][j]] along ``dim``.  ``index`` may be smaller
    than ``x`` in the other dimensions (x is then cropped to it), as in PyTorch."""
    idx = index.data if isinstance(index, Tensor) else index
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
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    key = [slice(None)] * x.ndim
    key[normalize_dim(dim, x.ndim, "index_select")] = idx
    return getitem(x, tuple(key))


def one_hot(indices, num_classes=-1):
    """One-hot encoding of integer class indices (int64, no gradient)."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
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

    m = mask.data if isinstance(mask, Tensor) else mask
    return where(m, _make(xp_of(x.data).asarray(value, dtype=x.dtype)), x)
