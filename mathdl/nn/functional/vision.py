"""Resampling of images, functional forms: ``interpolate`` (nearest, linear, bilinear; a separable
interpolation matrix per spatial axis, :mod:`mathdl.ops.conv`).
"""

from __future__ import annotations

from ...ops.conv import interpolate

__all__ = ["interpolate"]
