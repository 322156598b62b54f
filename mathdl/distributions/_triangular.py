"""Triangular solve X = L^-1 B for lower-triangular L (batched, broadcasting), with its derivative.

  gB = L^-T G            (a solve with the upper-triangular L^T)
  gL = -tril(gB X^T)

Both are written with this op itself, so the derivative is differentiable again.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp_of
from ..ops.linalg import matmul
from ..ops.shape import sum_to, transpose, tril, triu

__all__ = ["solve_triangular"]


class SolveTriangular(Function):
    __slots__ = ("upper",)
    save_output = True

    def __init__(self, upper):
        self.upper = upper

    def forward(self, L, B):
        xp = xp_of(L)
        shape = xp.broadcast_shapes(L.shape[:-2], B.shape[:-2])
        L = xp.broadcast_to(L, shape + L.shape[-2:])
        B = xp.broadcast_to(B, shape + B.shape[-2:])
        if not shape:
            try:
                from scipy.linalg import solve_triangular as st

                if xp.__name__ == "numpy":
                    return st(L, B, lower=not self.upper)
            except ImportError:  # pragma: no cover
                pass
        return xp.linalg.solve(L, B)

    def backward(self, g):
        L, B = self.inputs
        X = self.output()
        Lt = transpose(L, -1, -2)
        gB = SolveTriangular(not self.upper)(Lt, g)
        gL = None
        if self.needs(0):
            m = matmul(gB, transpose(X, -1, -2)).__neg__()
            gL = sum_to(triu(m) if self.upper else tril(m), L.shape)
        return gL, sum_to(gB, B.shape) if self.needs(1) else None


def solve_triangular(L, B, upper=False):
    """X with L X = B (L lower triangular unless ``upper``); shapes (..., n, n) and (..., n, k)."""
    return SolveTriangular(upper)(L, B)
