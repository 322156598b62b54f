"""Linear maps, functional forms.

  linear(x, W, b)        y = x W^T + b,  x (..., in), W (out, in), b (out,)
  bilinear(x1, x2, W, b) y_k = x1^T W_k x2 + b_k,  W (out, in1, in2)

``LinearFn`` is the primitive: its backward is raw BLAS products when no graph is recorded and
mathdl ops under ``create_graph``.
"""

from __future__ import annotations

from ...autograd.function import Function
from ...amp.autocast_mode import _state as _amp, cast_lower
from ...autograd.grad_mode import state as _grad_state
from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.linalg import matmul
from ...ops.reduce import sum as _sum
from ...ops.shape import permute, reshape, transpose, unsqueeze

__all__ = ["linear", "bilinear"]


_make = Tensor._make


def _rows(shape):
    """The number of rows of x viewed as (rows, in_features): the product of the leading sizes."""
    r = 1
    for s in shape[:-1]:
        r *= s
    return r


class LinearFn(Function):
    """y = x @ W^T (+ b), x of shape (..., in), W of shape (out, in), b of shape (out,)."""

    __slots__ = ("has_b",)

    def __init__(self, has_b):
        self.has_b = has_b

    def forward(self, x, w, *b):
        if x.ndim == 2:
            y = x @ w.T
        else:
            y = (x.reshape(_rows(x.shape), w.shape[1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        if b:
            y += b[0]
        return y if y.dtype == x.dtype else y.astype(x.dtype)  # bfloat16 products come back as float32

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        n_in, n_out = w.shape[1], w.shape[0]
        gx = gw = gb = None
        if not _grad_state.enabled:
            rows = _rows(x.shape)  # explicit sizes: reshape(-1, 0) is ambiguous for empty tensors
            g2 = g.array.reshape(rows, n_out)
            if x.requires_grad:
                gx = _make((g2 @ w.array).reshape(x.shape).astype(x.dtype, copy=False))
            if w.requires_grad:
                gw = _make((g2.T @ x.array.reshape(rows, n_in)).astype(w.dtype, copy=False))
            if self.has_b and self.inputs[2].requires_grad:
                gb = _make(g2.sum(axis=0))
        else:
            g2 = reshape(g, (_rows(x.shape), n_out)) if g.ndim != 2 else g
            if x.requires_grad:
                gx = matmul(g2, w)
                if x.ndim != 2:
                    gx = reshape(gx, x.shape)
            if w.requires_grad:
                x2 = reshape(x, (_rows(x.shape), n_in)) if x.ndim != 2 else x
                gw = matmul(transpose(g2, 0, 1), x2)
            if self.has_b and self.inputs[2].requires_grad:
                gb = _sum(g2, 0)
        return (gx, gw, gb) if self.has_b else (gx, gw)


def linear(x, weight, bias=None):
    """y = x W^T + b for x of shape (..., in_features), W (out_features, in_features)."""
    if _amp.dtype is not None:  # autocast: linear layers compute in the low precision
        x, weight, bias = cast_lower(x, weight, bias)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(x.shape)} has {x.shape[-1] if x.ndim else 0} features "
                         f"in its last dimension, but the weight of shape {tuple(weight.shape)} expects "
                         f"{weight.shape[1]}")
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}; convert the "
                        f"input (x.to({str(weight.dtype)!r})) or the module (.to({str(x.dtype)!r}))")
    if bias is not None:
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"linear: bias has shape {tuple(bias.shape)}, expected ({weight.shape[0]},)")
        return LinearFn(True)(x, weight, bias)
    return LinearFn(False)(x, weight)


def bilinear(x1, x2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k for W of shape (out, in1, in2), x1 (..., in1), x2 (..., in2)."""
    if weight.ndim != 3 or x1.shape[-1] != weight.shape[1] or x2.shape[-1] != weight.shape[2]:
        raise ValueError(f"bilinear: inputs of shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not match "
                         f"the weight of shape {tuple(weight.shape)} (out, in1, in2)")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(f"bilinear: inputs have different batch shapes {tuple(x1.shape[:-1])} and "
                         f"{tuple(x2.shape[:-1])}")
    out, n1, n2 = weight.shape
    batch = x1.shape[:-1]
    a = reshape(x1, (-1, n1))
    b = reshape(x2, (-1, n2))
    # t[n, k, j] = sum_i a[n, i] W[k, i, j];   y[n, k] = sum_j t[n, k, j] b[n, j]
    t = reshape(matmul(a, reshape(permute(weight, (1, 0, 2)), (n1, out * n2))), (-1, out, n2))
    y = reshape(matmul(t, unsqueeze(b, 2)), (-1, out))
    if bias is not None:
        y = ew.add(y, bias)
    return reshape(y, batch + (out,))
