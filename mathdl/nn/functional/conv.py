"""Convolutions, functional forms (primitives in :mod:`mathdl.ops.conv`).

  conv1d/conv2d(x, W, b)   y[n, o] = b[o] + sum_{c, k} W[o, c, k] x[n, c, s*i + d*k - p]
  conv_transpose2d         the adjoint of conv2d in x (a gradient of conv2d), plus bias
"""

from __future__ import annotations

from ...ops.conv import conv1d, conv2d, conv_transpose2d

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]
