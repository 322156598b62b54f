"""Sorting and selection: sort, argsort, topk.

The values are a permutation (or a selection) of the input along ``dim``:
    values = take_along_dim(x, indices, dim)
so their gradient is the scatter-add of g back to the chosen positions (the adjoint of the
gather, see :mod:`mathdl.ops.indexing`).  The indices are int64 and carry no gradient.
Gradients are defined where the order is strict (no ties).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import xp_of
from .indexing import take_along_dim
from .shape import normalize_dim

_make = Tensor._make

__all__ = ["sort", "argsort", "topk", "msort"]

#: (values, indices), like PyTorch's named tuple
SortResult = namedtuple("SortResult", ["values", "indices"])


def _axis(x, dim, name):
    """The axis to sort along; None for a 0-d tensor (which is its own sort)."""
    axis = normalize_dim(dim, x.ndim, name)
    return axis if x.ndim else None


def _zero_index(x):
    """The index (int64 0) of the one entry of a 0-d tensor."""
    return _make(xp_of(x.data).zeros((), dtype=np.int64))


def _order(a, axis, descending, stable):
    xp = xp_of(a)
    kind = "stable" if stable else None
    if not descending:
        return xp.argsort(a, axis=axis, kind=kind)
    if a.dtype.kind == "f":
        return xp.argsort(-a, axis=axis, kind=kind)
    # integers/bools: a stable descending order without negation overflow
    n = a.shape[axis]
    rev = xp.flip(a, axis)
    idx = xp.argsort(rev, axis=axis, kind="stable")
    return xp.flip(n - 1 - idx, axis)


def argsort(x, dim=-1, descending=False, stable=False):
    """Indices that sort ``x`` along ``dim`` (int64)."""
    axis = _axis(x, dim, "argsort")
    if axis is None:
        return _zero_index(x)
    return _make(_order(x.data, axis, descending, stable).astype(np.int64, copy=False))


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) of ``x`` sorted along ``dim``; values are differentiable."""
    axis = _axis(x, dim, "sort")
    if axis is None:
        return SortResult(x, _zero_index(x))
    idx = _order(x.data, axis, descending, stable).astype(np.int64, copy=False)
    return SortResult(take_along_dim(x, idx, axis), _make(idx))


def msort(x):
    """Sorted along the first dimension (values only)."""
    return sort(x, 0)[0]


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices."""
    axis = _axis(x, dim, "topk")
    n = 1 if axis is None else x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size {n} (shape {tuple(x.shape)})")
    if axis is None:
        return SortResult(x, _zero_index(x))
    xp = xp_of(x.data)
    a = x.data
    if k < n and not sorted:
        part = xp.argpartition(-a if largest and a.dtype.kind == "f" else a,
                               k - 1 if (not largest or a.dtype.kind == "f") else n - k, axis=axis)
        if largest and a.dtype.kind != "f":
            idx = xp.take(part, xp.arange(n - k, n), axis=axis)
        else:
            idx = xp.take(part, xp.arange(k), axis=axis)
    else:
        order = _order(a, axis, largest, stable=True)
        idx = xp.take(order, xp.arange(k), axis=axis)
    idx = idx.astype(np.int64, copy=False)
    return SortResult(take_along_dim(x, idx, axis), _make(idx))
