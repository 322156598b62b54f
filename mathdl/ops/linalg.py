"""Matrix products.

  C = A B (batched, broadcasting over leading axes):
      dL/dA = sum_to(G B^T, A.shape),   dL/dB = sum_to(A^T G, B.shape)
  1-D operands are promoted to matrices (a row for the left, a column for the right) and the
  added axis is removed afterwards, as NumPy and PyTorch do.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from .elementwise import _pair
from .shape import reshape, sum_to, transpose

_make = Tensor._make


class MatMul(Function):
    __slots__ = ()

    def forward(self, a, b):
        return a @ b

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a.requires_grad:
            ga = sum_to(matmul(g, transpose(b, -1, -2)), a.shape)
        if b.requires_grad:
            gb = sum_to(matmul(transpose(a, -1, -2), g), b.shape)
        return ga, gb


def matmul(a, b):
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.ndim >= 2 and b.ndim >= 2:
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        return MatMul()(a, b)
    va, vb = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1, a.shape[0])) if va else a
    b2 = reshape(b, (b.shape[0], 1)) if vb else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    out = MatMul()(a2, b2)
    shape = out.shape
    if va:
        shape = shape[:-2] + shape[-1:]
    if vb:
        shape = shape[:-1]
    return reshape(out, shape)


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected 2-D matrices, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: expected 3-D batches, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expected 1-D vectors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def outer(a, b):
    from .elementwise import mul

    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))
