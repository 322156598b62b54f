"""Reshaping layers: ``Flatten`` (merges dims start_dim..end_dim) and ``Unflatten`` (splits one
dim into ``unflattened_size``).
"""

from __future__ import annotations

from ...ops.shape import flatten as _flatten
from ...ops.shape import unflatten as _unflatten
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim into one (default: all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return _flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        sizes = tuple(unflattened_size)
        if any(isinstance(s, bool) or not isinstance(s, int) or (s < 0 and s != -1) for s in sizes) or \
                sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: unflattened_size must be non-negative ints (one may be -1), got {sizes}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x):
        return _unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
