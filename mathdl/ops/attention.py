"""Scaled dot-product attention: content-based matrix multiplication.

For queries q (..., L, E), keys k (..., S, E) and values v (..., S, Ev):

  A = softmax(scale * q k^T + B)        B: additive bias from the mask (0 or -inf, or floats)
  out = dropout(A) v                    scale = 1 / sqrt(E) unless given

``AttentionWeights`` is one fused primitive for A (a batched GEMM, the bias and a stable softmax
in place: three passes over the (..., L, S) scores).  With dS = scale * A * (G - rowsum(G * A))
(``SoftmaxGrad``, itself a primitive with a differentiable backward):

  dL/dq = dS k,        dL/dk = dS^T q

and ``out = A v`` is the ordinary matmul primitive, so dL/dA = G v^T, dL/dv = A^T G.  Both
backward passes are written in mathdl ops, so grad-of-grad works; without a recorded graph they
take a raw NumPy fast path.

Masks follow PyTorch: a boolean ``attn_mask`` marks the positions that may be attended (True =
attend); a floating mask is added to the scores; ``is_causal`` masks the upper triangle
(query i sees keys j <= i).  A query row with every key masked gets all-zero weights (no NaN).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..parallel import for_ranges
from . import elementwise as ew
from . import row_kernels
from .linalg import matmul
from .reduce import sum as _sum
from .shape import sum_to, transpose

__all__ = ["scaled_dot_product_attention"]

_make = Tensor._make


def _reduce_to(arr, shape):
    """Sum a broadcast result back to ``shape`` (raw arrays)."""
    if arr.shape == tuple(shape):
        return arr
    lead = arr.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and arr.shape[i + lead] != 1)
    out = arr.sum(axis=axes, keepdims=True)
    return out.reshape(shape)


def _row_sums(t):
    """Sums over the last axis, kept: einsum is 5-10x faster than ``sum(axis=-1)`` on short rows."""
    if type(t) is np.ndarray:
        return np.einsum("...j->...", t)[..., None]
    return t.sum(axis=-1, keepdims=True)


def softmax_grad(a, g, scale=1.0):
    """Raw arrays: scale * a * (g - rowsum(g * a)) over the last axis (compiled row loops for large
    NumPy float arrays, mathdl/ops/row_kernels.py; else array passes)."""
    if (a.shape == g.shape and a.ndim and a.shape[-1] and type(g) is np.ndarray and g.dtype == a.dtype
            and row_kernels.usable(a)):
        n = a.shape[-1]
        a2, g2 = a.reshape(-1, n), np.ascontiguousarray(g).reshape(-1, n)
        out = np.empty_like(a2)

        def part(lo, hi):
            row_kernels.softmax_grad(a2[lo:hi], g2[lo:hi], scale, out[lo:hi])

        for_ranges(part, a2.shape[0], 3 * a2.size)
        return out.reshape(a.shape)
    t = g * a
    r = _row_sums(t)
    r = a * r
    t -= r
    if scale != 1.0:
        t *= scale
    return t


class SoftmaxGrad(Function):
    """dS = scale * A * (G - rowsum(G * A)), the gradient through a row softmax (last axis).

    Its own derivative (h the incoming gradient, r = rowsum(G * A)):
      d/dG = SoftmaxGrad(scale)(A, h)
      d/dA = scale * (h * (G - r) - G * rowsum(h * A))
    """

    __slots__ = ("scale",)

    def __init__(self, scale):
        self.scale = scale

    def forward(self, a, g):
        return softmax_grad(a, g, self.scale)

    def backward(self, h):
        a, g = self.inputs
        ga = gg = None
        if self.needs(1):
            gg = SoftmaxGrad(self.scale)(a, h)
        if self.needs(0):
            r = _sum(ew.mul(g, a), -1, keepdim=True)
            rh = _sum(ew.mul(h, a), -1, keepdim=True)
            ga = ew.mul(ew.sub(ew.mul(h, ew.sub(g, r)), ew.mul(g, rh)), self.scale)
        return ga, gg


class AttentionWeights(Function):
    """A = softmax(scale * q k^T + bias) over the last axis; ``bias`` is a constant array
    broadcastable to the scores (..., L, S), or None."""

    __slots__ = ("scale", "bias")
    save_output = True

    def __init__(self, scale, bias=None):
        self.scale, self.bias = scale, bias

    def forward(self, q, k):
        xp = xp_of(q)
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= self.scale
        bias = self.bias
        if bias is not None:
            if s.shape == xp.broadcast_shapes(s.shape, bias.shape):
                s += bias
            else:  # pragma: no cover - rejected by the public function
                s = s + bias
        n = s.shape[-1]
        if n and row_kernels.usable(s):  # compiled row loops (row_kernels): shift, SIMD exp, normalize
            s2 = s.reshape(-1, n)

            def part(lo, hi):  # in place; fully masked rows (bias given) stay 0
                row_kernels.softmax_rows(s2[lo:hi], s2[lo:hi], empty_rows_zero=bias is not None)

            for_ranges(part, s2.shape[0], 3 * s2.size)
            return s
        m = s.max(axis=-1, keepdims=True)
        if bias is not None:
            m = xp.where(xp.isfinite(m), m, 0.0).astype(s.dtype, copy=False)
        s -= m
        xp.exp(s, out=s)
        z = s.sum(axis=-1, keepdims=True)
        if bias is not None:
            z[z == 0] = 1.0  # fully masked rows: all-zero weights instead of 0/0
        s /= z
        return s

    def backward(self, g):
        q, k = self.inputs
        gq = gk = None
        if not _grad_state.enabled:
            t = softmax_grad(self.out, g.array, self.scale)
            if q.requires_grad:
                gq = _make(_reduce_to(t @ k.array, q.shape))
            if k.requires_grad:
                gk = _make(_reduce_to(xp_of(t).swapaxes(t, -1, -2) @ q.array, k.shape))
            return gq, gk
        ds = SoftmaxGrad(self.scale)(self.output(), g)
        if q.requires_grad:
            gq = sum_to(matmul(ds, k), q.shape)
        if k.requires_grad:
            gk = sum_to(matmul(transpose(ds, -1, -2), q), k.shape)
        return gq, gk


def _shape(t):
    return tuple(t.shape)


def attention_bias(attn_mask, L, S, dtype, is_causal=False, name="scaled_dot_product_attention"):
    """The additive bias array (or None) for a PyTorch-style mask.

    Boolean masks: True = attend -> 0, False -> -inf.  Floating masks are used as they are.
    ``is_causal`` gives the (L, S) lower-triangular mask (query i attends keys j <= i).
    """
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: pass either attn_mask or is_causal=True, not both")
        keep = np.tril(np.ones((L, S), dtype=bool))
        return np.where(keep, 0.0, -np.inf).astype(dtype)
    if attn_mask is None:
        return None
    m = attn_mask.array if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    if m.ndim < 2 or m.shape[-2:] != (L, S):
        if m.ndim < 2 or not all(a in (1, b) for a, b in zip(m.shape[-2:], (L, S))):
            raise ValueError(
                f"{name}: attn_mask of shape {tuple(m.shape)} does not match the attention scores: "
                f"expected (..., {L}, {S}) (query length L={L}, key length S={S}), or a shape broadcastable to it"
            )
    if m.dtype == np.bool_:
        xp = xp_of(m)
        return xp.where(m, 0.0, -np.inf).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{name}: attn_mask must be boolean (True = attend) or floating (added to the scores), "
                        f"got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


def _dropout_mask(shape, p, dtype, xp):
    gen = backend.rng.for_module(xp)
    keep = gen.random(shape, dtype=np.float32) >= p
    mask = keep.astype(dtype)
    mask *= 1.0 / (1.0 - p)
    return mask


def attention(q, k, v, bias=None, dropout_p=0.0, scale=None, name="scaled_dot_product_attention"):
    """(out, weights) for the bias array ``bias`` (see :func:`attention_bias`); the weights are the ones
    multiplied with v (after dropout, as PyTorch's MultiheadAttention returns them)."""
    for t, nm in ((q, "query"), (k, "key"), (v, "value")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {nm} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{name}: {nm} must have at least 2 dimensions (..., length, features), "
                             f"got shape {_shape(t)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{name}: query and key need the same feature size, got shapes {_shape(q)} and {_shape(k)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{name}: key and value need the same length, got shapes {_shape(k)} and {_shape(v)}")
    if q.dtype != k.dtype or q.dtype != v.dtype:
        raise TypeError(f"{name}: query, key and value need one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{name}: dropout_p must be in [0, 1), got {dropout_p}")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    try:
        scores_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    except ValueError:
        raise ValueError(f"{name}: the batch dimensions of query {_shape(q)} and key {_shape(k)} "
                         f"cannot be broadcast together") from None
    if bias is not None:
        try:
            full = np.broadcast_shapes(scores_shape, bias.shape)
        except ValueError:
            full = None
        if full != scores_shape:
            raise ValueError(f"{name}: attn_mask of shape {tuple(bias.shape)} cannot be broadcast to the attention "
                             f"scores of shape {scores_shape} (batch..., L, S)")
    a = AttentionWeights(float(scale), bias)(q, k)
    ad = a
    if dropout_p > 0.0:
        ad = ew.mul(a, _make(_dropout_mask(a.shape, dropout_p, a.dtype, xp_of(a.array))))
    return matmul(ad, v), ad


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(scale * q k^T + mask) v with PyTorch's semantics.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).  ``attn_mask``:
    boolean (True = attend) or floating (added to the scores), broadcastable to (..., L, S).
    ``is_causal``: query i attends keys j <= i.  ``dropout_p``: dropout on the weights (always
    applied when > 0, as in PyTorch's functional form).  ``scale`` defaults to 1/sqrt(E).
    """
    if not isinstance(query, Tensor):
        raise TypeError(f"scaled_dot_product_attention: query must be a Tensor, got {type(query).__name__}")
    if query.ndim < 2 or key.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: query and key must have at least 2 dimensions, "
                         f"got shapes {_shape(query)} and {_shape(key)}")
    L, S = query.shape[-2], key.shape[-2]
    bias = attention_bias(attn_mask, L, S, query.dtype, is_causal)
    out, _ = attention(query, key, value, bias, dropout_p, scale)
    return out
