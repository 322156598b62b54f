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

__all__ = ["sort", "argsort", "topk", "msort", "unique", "unique_consecutive", "searchsorted", "bucketize",
           "bincount", "isin", "kthvalue", "histc"]

#: (values, indices), like PyTorch's named tuple
SortResult = namedtuple("SortResult", ["values", "indices"])


def _axis(x, dim, name):
    """The axis to sort along; None for a 0-d tensor (which is its own sort)."""
    axis = normalize_dim(dim, x.ndim, name)
    return axis if x.ndim else None


def _zero_index(x):
    """The index (int64 0) of the one entry of a 0-d tensor."""
    return _make(xp_of(x.array).zeros((), dtype=np.int64))


def _order(a, axis, descending, stable):
    xp = xp_of(a)
    kind = "stable" if stable else None
    if not descending:
        return xp.argsort(a, axis=axis, kind=kind)
    # descending: a stable ascending sort of the reversed array, reversed back (NaN, the
    # largest in PyTorch's order, comes first; no negation overflow for integers)
    n = a.shape[axis]
    rev = xp.flip(a, axis)
    idx = xp.argsort(rev, axis=axis, kind="stable")
    return xp.flip(n - 1 - idx, axis)


def argsort(x, dim=-1, descending=False, stable=False):
    """Indices that sort ``x`` along ``dim`` (int64)."""
    axis = _axis(x, dim, "argsort")
    if axis is None:
        return _zero_index(x)
    return _make(_order(x.array, axis, descending, stable).astype(np.int64, copy=False))


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) of ``x`` sorted along ``dim``; values are differentiable."""
    axis = _axis(x, dim, "sort")
    if axis is None:
        return SortResult(x, _zero_index(x))
    idx = _order(x.array, axis, descending, stable).astype(np.int64, copy=False)
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
    xp = xp_of(x.array)
    a = x.array
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


# --------------------------------------------------------------------------- sets, counts and searches
def unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct entries (sorted), optionally with the inverse indices (shaped like x) and
    the counts; with ``dim``, the distinct slices along it.  No gradient."""
    xp = xp_of(x.array)
    a = x.array
    if dim is None:
        vals, inv, cnt = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = normalize_dim(dim, a.ndim, "unique")
        vals, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out = [_make(vals)]
    if return_inverse:
        out.append(_make(inv.astype(np.int64)))
    if return_counts:
        out.append(_make(cnt.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(x, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive entries (flattened, or slices along ``dim``)."""
    xp = xp_of(x.array)
    a = x.array
    if dim is None:
        flat = a.reshape(-1)
        change = xp.ones(flat.shape, dtype=bool)
        change[1:] = flat[1:] != flat[:-1]
        vals = flat[change]
    else:
        d = normalize_dim(dim, a.ndim, "unique_consecutive")
        moved = xp.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        change = xp.ones(moved.shape[0], dtype=bool)
        change[1:] = (moved[1:] != moved[:-1]).any(axis=1)
        vals = xp.compress(change, a, axis=d)
    group = xp.cumsum(change) - 1
    out = [_make(vals)]
    if return_inverse:
        out.append(_make(group.reshape(a.shape if dim is None else (-1,)).astype(np.int64)))
    if return_counts:
        starts = xp.flatnonzero(change)
        out.append(_make(xp.diff(xp.append(starts, change.shape[0])).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where ``values`` would be inserted into ``sorted_sequence`` (along its last
    dimension, batched over the others) to keep it sorted; ``right``/``side='right'`` puts
    them after equal entries."""
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: side='left' and right=True contradict each other")
        right = side == "right"
    seq = sorted_sequence.array if isinstance(sorted_sequence, Tensor) else np.asarray(sorted_sequence)
    vals = values.array if isinstance(values, Tensor) else np.asarray(values)
    srt = None if sorter is None else (sorter.array if isinstance(sorter, Tensor) else np.asarray(sorter))
    xp = xp_of(seq)
    how = "right" if right else "left"
    dt = np.int32 if out_int32 else np.int64
    if seq.ndim <= 1:
        out = xp.searchsorted(seq, vals, side=how, sorter=srt)
        return _make(xp.asarray(out).astype(dt))
    if seq.shape[:-1] != vals.shape[:-1]:
        raise ValueError(f"searchsorted: the leading dimensions of sorted_sequence {tuple(seq.shape)} and values "
                         f"{tuple(vals.shape)} must match")
    s2 = seq.reshape(-1, seq.shape[-1])
    v2 = vals.reshape(-1, vals.shape[-1])
    o2 = srt.reshape(-1, seq.shape[-1]) if srt is not None else None
    out = xp.stack([xp.searchsorted(s2[i], v2[i], side=how, sorter=None if o2 is None else o2[i])
                    for i in range(s2.shape[0])]) if s2.shape[0] else xp.zeros(v2.shape, dtype=np.int64)
    return _make(out.reshape(vals.shape).astype(dt))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each entry: i with boundaries[i-1] < x <= boundaries[i] (``right=True``:
    boundaries[i-1] <= x < boundaries[i])."""
    b = boundaries.array if isinstance(boundaries, Tensor) else np.asarray(boundaries)
    if b.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {tuple(b.shape)}")
    if not isinstance(input, Tensor):
        return searchsorted(boundaries, Tensor._make(np.asarray(input)), out_int32=out_int32, right=right)
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def bincount(input, weights=None, minlength=0):
    """counts[k] = number of entries equal to k (or the sum of their ``weights``) of a 1-D
    tensor of non-negative integers."""
    a = input.array
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise ValueError(f"bincount: expected a 1-D tensor of non-negative integers, got shape {tuple(a.shape)} "
                         f"and dtype {a.dtype}")
    if a.size and a.min() < 0:
        raise ValueError("bincount: input must be non-negative")
    xp = xp_of(a)
    if weights is None:
        return _make(xp.bincount(a, minlength=minlength).astype(np.int64))
    w = weights.array
    if w.shape != a.shape:
        raise ValueError(f"bincount: weights of shape {tuple(w.shape)} must match the input {tuple(a.shape)}")
    out_dt = w.dtype if w.dtype.kind == "f" else np.float64
    return _make(xp.bincount(a, weights=w.astype(np.float64), minlength=minlength).astype(out_dt))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each entry of ``elements`` is among ``test_elements`` (boolean)."""
    e = elements.array if isinstance(elements, Tensor) else np.asarray(elements)
    t = test_elements.array if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    xp = xp_of(e)
    return _make(xp.asarray(xp.isin(e, t, assume_unique=assume_unique, invert=invert)))


def kthvalue(x, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest entry along ``dim`` (k counts from 1)."""
    axis = _axis(x, dim, "kthvalue")
    n = 1 if axis is None else x.shape[axis]
    if not 1 <= k <= n:
        raise ValueError(f"kthvalue: k={k} is out of range for dimension {dim} of size {n}")
    if axis is None:
        return SortResult(x, _zero_index(x))
    xp = xp_of(x.array)
    idx = xp.take(_order(x.array, axis, False, True), [k - 1], axis=axis).astype(np.int64)
    vals = take_along_dim(x, idx, axis)
    if not keepdim:
        from .shape import squeeze

        vals, idx = squeeze(vals, axis), idx.squeeze(axis)
    return SortResult(vals, _make(idx))


def histc(input, bins=100, min=0, max=0):
    """A histogram of ``bins`` equal bins over [min, max] (the data's range when both are 0);
    entries outside are ignored."""
    a = input.array
    xp = xp_of(a)
    lo, hi = float(min), float(max)
    if lo == hi:
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = xp.histogram(a, bins=int(bins), range=(lo, hi))
    return _make(counts.astype(a.dtype if a.dtype.kind == "f" else np.float32))
