"""Symmetric operators for the spectral tools, and the Hessian of a model's loss as one.

:func:`as_operator` accepts any of
  * a ``scipy.sparse.linalg.LinearOperator`` (or a dense square array),
  * an object with ``to_linear_operator()`` (the curvature operators of :mod:`mathdl.curvature`),
  * an object with ``matvec(v)`` and ``shape`` (or ``numel``/``n``),
  * a callable ``matvec`` together with the size ``n``,
and returns a float64 ``LinearOperator``.  :func:`check_symmetric` tests u^T A v = v^T A u on random
pairs (Lanczos assumes a symmetric operator).

:func:`model_hessian` is H = d^2 L / d theta^2 of a model's loss over a data set, the matrix-free
:class:`mathdl.curvature.HessianOperator` (H v = d/d theta <grad L(theta), v>, reverse over reverse).
With ``distributed=True`` in a job of N > 1 ranks (``mpiexec -n N``) the batches are split over the
ranks and their products summed (:class:`mathdl.distributed.analysis.ShardedOperator`): the same
products, bit for bit, as one process computes; in a single process it changes nothing.
"""

from __future__ import annotations

import numpy as np


__all__ = ["as_operator", "check_symmetric", "model_hessian"]


def as_operator(op, n=None):
    """A float64 scipy ``LinearOperator`` for ``op`` (see the module docstring)."""
    from scipy.sparse.linalg import LinearOperator, aslinearoperator

    if isinstance(op, LinearOperator):
        lin = op
    elif hasattr(op, "to_linear_operator"):
        lin = op.to_linear_operator()
    elif isinstance(op, np.ndarray):
        if op.ndim != 2 or op.shape[0] != op.shape[1]:
            raise ValueError(f"operator: a matrix must be square, got shape {op.shape}")
        lin = aslinearoperator(op.astype(np.float64, copy=False))
    elif hasattr(op, "matvec"):
        size = n or (op.shape[0] if hasattr(op, "shape") else None) or getattr(op, "n", None)
        if size is None:
            raise ValueError("operator: an object with matvec needs a shape (or pass n)")
        lin = LinearOperator((int(size), int(size)), matvec=op.matvec, dtype=np.float64)
    elif callable(op):
        if n is None:
            raise ValueError("operator: a matvec callable needs the size n")
        lin = LinearOperator((int(n), int(n)), matvec=op, dtype=np.float64)
    else:
        raise TypeError(f"operator: expected a LinearOperator, an array, an object with to_linear_operator() "
                        f"or matvec(), or a callable with n; got {type(op).__name__}")
    if lin.shape[0] != lin.shape[1]:
        raise ValueError(f"operator: must be square, got shape {lin.shape}")
    if lin.dtype != np.float64:
        inner = lin
        lin = LinearOperator(inner.shape, matvec=lambda v: np.asarray(inner.matvec(v), dtype=np.float64).ravel(),
                             dtype=np.float64)
    return lin


def check_symmetric(op, probes=2, rtol=1e-3, seed=0):
    """Raise ``ValueError`` unless |u^T A v - v^T A u| <= rtol (|u^T A v| + |v^T A u|) + tiny on random
    pairs (u, v).  Returns the largest relative asymmetry seen."""
    A = as_operator(op)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(probes):
        u, v = rng.standard_normal(A.shape[0]), rng.standard_normal(A.shape[0])
        Au, Av = A.matvec(u), A.matvec(v)
        a, b = float(u @ Av), float(v @ Au)
        scale = np.linalg.norm(Au) * np.linalg.norm(v) + np.linalg.norm(Av) * np.linalg.norm(u)
        rel = abs(a - b) / scale if scale > 0 else 0.0
        worst = max(worst, rel)
        if rel > rtol:
            raise ValueError(f"operator is not symmetric: u^T A v = {a:.6g} but v^T A u = {b:.6g} (relative "
                             f"asymmetry {rel:.2g} > {rtol:g}); Lanczos needs a symmetric operator")
    return worst


def model_hessian(model, loss_fn=None, data=None, params=None, allow_nondeterministic=False, distributed=False):
    """The Hessian of ``loss_fn(model(x), y)`` over ``data`` (default loss: cross-entropy, mean over the
    whole set) as :class:`mathdl.curvature.HessianOperator` (split over the ranks of an MPI job with
    ``distributed=True``; see the module docstring)."""
    from ..curvature import HessianOperator
    from ..nn import functional as F

    if data is None:
        raise ValueError("model_hessian: data (an (x, y) pair or an iterable of batches) is required")
    H = HessianOperator(model, loss_fn or F.cross_entropy, data, params=params,
                        allow_nondeterministic=allow_nondeterministic)
    if distributed:
        from ..distributed.group import get_world_size

        if get_world_size() > 1:
            from ..distributed.analysis import ShardedOperator

            return ShardedOperator(H)
    return H
