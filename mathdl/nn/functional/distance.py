"""Distances and similarities, functional forms.

  pairwise_distance(x1, x2, p, eps)   ||x1 - x2 + eps||_p over the last dim
  pdist(x, p)                         ||x_i - x_j||_p for the rows i < j of an (N, M) input (upper triangle,
                                      row by row)
  cosine_similarity(x1, x2, dim, eps) sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim``
"""

from __future__ import annotations

import numpy as np

from ...ops import elementwise as ew
from ...ops.indexing import getitem
from ...ops.reduce import norm as _norm
from ...ops.reduce import sum as _sum
from ...ops.shape import broadcast_to

__all__ = ["pdist", "pairwise_distance", "cosine_similarity"]


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of x1 - x2 + eps over the last dim (inputs broadcast)."""
    d = ew.add(ew.sub(x1, x2), eps)
    if d.ndim == 0:  # two 0-d inputs: the norm of one number (a 0-d result, keepdim or not, as PyTorch)
        return _norm(d, p, None, keepdim=False)
    return _norm(d, p, -1, keepdim=keepdim)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along ``dim`` (inputs broadcast)."""
    try:
        shape = tuple(int(s) for s in np.broadcast_shapes(x1.shape, x2.shape))
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not "
                         "broadcast") from None
    if tuple(x1.shape) != shape:
        x1 = broadcast_to(x1, shape)
    if tuple(x2.shape) != shape:
        x2 = broadcast_to(x2, shape)
    n1 = ew.maximum(_norm(x1, 2, dim, keepdim=True), eps)
    n2 = ew.maximum(_norm(x2, 2, dim, keepdim=True), eps)
    return _sum(ew.mul(ew.div(x1, n1), ew.div(x2, n2)), dim)


def pdist(input, p=2.0):
    """Distances between all pairs of rows i < j of an (N, M) input, in the order (0,1), (0,2), ..., (N-2,N-1)."""
    if input.ndim != 2:
        raise ValueError(f"pdist: expected a 2-D input (N, M), got shape {tuple(input.shape)}")
    i, j = np.triu_indices(input.shape[0], k=1)
    return _norm(ew.sub(getitem(input, (i,)), getitem(input, (j,))), p, -1)
