"""Padding layers (``F.pad`` with a fixed mode; ``padding`` an int or (left, right[, top, bottom[,
front, back]])):

  ZeroPad1d/2d/3d, ConstantPad1d/2d/3d   value outside the input
  ReflectionPad1d/2d/3d                  mirrored at the edges without repeating them
  ReplicationPad1d/2d/3d                 the edge values repeated
  CircularPad1d/2d/3d                    wrapped around (periodic)
"""

from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d",
]


class _PadNd(Module):
    mode = "constant"
    _dims = 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        name, n = type(self).__name__, 2 * self._dims
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * n
        padding = tuple(padding)
        if len(padding) != n or any(isinstance(p, bool) or not isinstance(p, numbers.Integral) for p in padding):
            raise ValueError(f"{name}: padding must be an int or {n} ints, got {padding!r}")
        if self.mode != "constant" and min(padding) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {padding}")
        self.padding = tuple(int(p) for p in padding)
        self.value = value

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" else "")

    def forward(self, x):
        if self.mode == "constant":
            return F.pad(x, self.padding, "constant", self.value)
        return F.pad(x, self.padding, self.mode)


def _make(name, mode, dims, doc):
    def init(self, padding, value=0.0):
        _PadNd.__init__(self, padding, value)

    def init_fixed(self, padding):
        _PadNd.__init__(self, padding, 0.0)

    cls = type(name, (_PadNd,), {"mode": mode, "_dims": dims, "__doc__": doc,
                                 "__init__": init if name.startswith("Constant") else init_fixed})
    cls.__module__ = __name__
    return cls


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_make(f"ZeroPad{d}d", "constant", d, f"Pads the last {d} dims with zeros.")
                                   for d in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (
    _make(f"ConstantPad{d}d", "constant", d, f"Pads the last {d} dims with ``value``.") for d in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (
    _make(f"ReflectionPad{d}d", "reflect", d, f"Pads the last {d} dims with the reflection of the input.")
    for d in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _make(f"ReplicationPad{d}d", "replicate", d, f"Pads the last {d} dims with copies of the edge values.")
    for d in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (
    _make(f"CircularPad{d}d", "circular", d, f"Pads the last {d} dims with the input wrapped around.")
    for d in (1, 2, 3))
