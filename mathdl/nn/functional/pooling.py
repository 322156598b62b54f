"""Pooling, functional forms (primitives in :mod:`mathdl.ops.conv`).

  max_pool1d/2d        y = max of x over each (dilated) window
  avg_pool1d/2d        y = mean of x over each window
  adaptive_avg_pool2d  windows [floor(i H / Ho), ceil((i+1) H / Ho)), a fixed output size
"""

from __future__ import annotations

from ...ops.conv import adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d"]
