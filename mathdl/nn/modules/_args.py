"""Checks of layer constructor arguments: sizes, kernel sizes, strides (one clear ValueError
naming the layer and the argument instead of NumPy's "negative dimensions are not allowed")."""

from __future__ import annotations

import numbers

__all__ = ["size_arg", "tuple_arg"]


def size_arg(layer, name, value, minimum=1):
    """``value`` as an int >= ``minimum`` (a ValueError/TypeError naming ``layer`` and ``name`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value}")
    return int(value)


def tuple_arg(layer, name, value, n, minimum=1):
    """``value`` (an int or n ints, each >= ``minimum``) as an n-tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n:
        raise ValueError(f"{layer}: {name} must be an int or {n} ints, got {value!r}")
    return tuple(size_arg(layer, name, v, minimum) for v in items)
