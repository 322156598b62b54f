"""Padding, functional form: ``pad(x, pad, mode='constant', value=0)``; ``pad`` lists
(left, right) pairs starting from the last dimension, as in PyTorch.
"""

from __future__ import annotations

from ...ops.shape import pad

__all__ = ["pad"]
