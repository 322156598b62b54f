"""Attention, functional form: ``scaled_dot_product_attention(q, k, v)`` =
softmax(q k^T / sqrt(d) + mask) v (primitive in :mod:`mathdl.ops.attention`).
"""

from __future__ import annotations

from ...ops.attention import scaled_dot_product_attention

__all__ = ["scaled_dot_product_attention"]
