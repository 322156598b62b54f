"""In-place operations, decided once (DESIGN.md, in-place policy).

Without a graph to protect (grad mode off, or nothing requires grad) an in-place op writes
into the tensor's array and bumps its version counter; a recorded op that saved the tensor
then refuses to run backward (see ``engine._check_versions``).

With a graph, the in-place op is recorded out of place: the tensor is rebound to the result
(new array, new node) and the old array, which earlier ops may have saved, is left intact.
A leaf that requires grad cannot be changed in place under grad mode.
"""

from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import xp_of

_make = Tensor._make


def snapshot(x):
    """A tensor standing for x's current value and graph position."""
    return _make(x.array, x.requires_grad, x._node)


def rebind(x, new):
    x.array = new.array
    x._node = new._node
    x.requires_grad = new.requires_grad
    x._version += 1


def _same_device(x, other, kind):
    """``other`` on x's device: copy_ transfers it (as PyTorch's copy_ does, differentiably); the
    arithmetic in-place ops refuse a tensor on another device, naming both."""
    if not isinstance(other, Tensor) or other.array.__class__ is x.array.__class__:
        return other
    from ..backend import device_of

    dx, do = device_of(x.array), device_of(other.array)
    if dx == do:
        return other
    if kind == "copy":
        from .shape import to_device

        return to_device(other, dx)
    raise RuntimeError(f"{kind}_: expected all tensors to be on the same device, but found at least two devices, "
                       f"{dx} and {do}")


def inplace(x, kind, other):
    from . import elementwise as ew

    other = _same_device(x, other, kind)
    needs_graph = _grad_state.enabled and (
        x.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
    )
    if needs_graph:
        if x._node is None and x.requires_grad:
            raise RuntimeError(
                f"{kind}_: a leaf tensor that requires grad is used in an in-place operation; "
                "wrap the update in mathdl.no_grad() or use an out-of-place op"
            )
        old = snapshot(x)
        if kind == "add":
            new = ew.add(old, other)
        elif kind == "sub":
            new = ew.sub(old, other)
        elif kind == "mul":
            new = ew.mul(old, other)
        elif kind == "div":
            new = ew.div(old, other)
        elif kind == "clamp":
            new = ew.clamp(old, *other)
        elif kind in ("copy", "fill", "zero"):
            from .shape import broadcast_to

            if kind == "zero":
                other = 0.0
            src = other if isinstance(other, Tensor) else _make(xp_of(x.array).full(x.shape, other, dtype=x.dtype))
            new = ew.add(ew.mul(old, 0.0), broadcast_to(src, x.shape) if src.shape != x.shape else src)
        else:  # pragma: no cover
            raise ValueError(kind)
        if new.shape != x.shape:
            raise ValueError(f"{kind}_: result shape {tuple(new.shape)} differs from the tensor's {tuple(x.shape)}")
        rebind(x, new)
        return x
    a = x.array
    if type(a) is np.ndarray and not a.flags.writeable:
        raise RuntimeError(f"{kind}_: unsupported operation: the tensor's memory is read-only (a view made by expand() "
                           "or a broadcast, where several elements share one memory location, or a read-only NumPy "
                           "array); clone() it first")
    o = other.array if isinstance(other, Tensor) else other
    if kind == "add":
        a += o
    elif kind == "sub":
        a -= o
    elif kind == "mul":
        a *= o
    elif kind == "div":
        a /= o
    elif kind == "clamp":
        xp_of(a).clip(a, o[0], o[1], out=a)
    elif kind == "copy":
        a[...] = o
    elif kind == "fill":
        a[...] = o
    elif kind == "zero":
        a[...] = 0
    x._mark_modified()
    return x


def assign_(x, new):
    """x <- new (x's shape and dtype), under the in-place policy above: written into x's array
    without a graph to protect, recorded out of place (x rebound to ``new``) with one."""
    if not isinstance(new, Tensor):
        new = _make(xp_of(x.array).asarray(new, dtype=x.dtype))
    new = _same_device(x, new, "assign")
    if tuple(new.shape) != tuple(x.shape):
        from .shape import broadcast_to

        try:
            new = broadcast_to(new, x.shape)
        except ValueError:
            raise ValueError(f"in-place op: result shape {tuple(new.shape)} does not fit the tensor's "
                             f"{tuple(x.shape)}") from None
    if _grad_state.enabled and (x.requires_grad or new.requires_grad):
        if x._node is None and x.requires_grad:
            raise RuntimeError("in-place op: a leaf tensor that requires grad is used in an in-place operation; "
                               "wrap the update in mathdl.no_grad() or use an out-of-place op")
        if new.dtype != x.dtype:
            from .shape import cast

            new = cast(new, x.dtype)
        rebind(x, new)
        return x
    x.array[...] = new.array
    x._mark_modified()
    return x
