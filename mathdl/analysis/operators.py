"""Symmetric operators for the spectral tools, and the Hessian of a model's loss as one.

:func:`as_operator` accepts any of
  * a ``scipy.sparse.linalg.LinearOperator`` (or a dense square array),
  * an object with ``to_linear_operator()`` (the curvature operators of :mod:`mathdl.curvature`),
  * an object with ``matvec(v)`` and ``shape`` (or ``numel``/``n``),
  * a callable ``matvec`` together with the size ``n``,
and returns a float64 ``LinearOperator``.  :func:`check_symmetric` tests u^T A v = v^T A u on random
pairs (Lanczos assumes a symmetric operator).

:class:`ModelHessian` is H = d^2 L / d theta^2 of L(theta) (see :mod:`mathdl.analysis.params`) as a
matrix-free operator: H v = d/d theta <grad L(theta), v>, reverse over reverse, one batch at a time
(H = sum_b (n_b / N) H_b).  :func:`model_hessian` returns mathdl.curvature's ``HessianOperator`` when
that package is present and this one otherwise.
"""

from __future__ import annotations

import numpy as np

from .params import get_flat, iter_batches, trainable_parameters, unflatten

__all__ = ["as_operator", "check_symmetric", "ModelHessian", "model_hessian"]


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


class ModelHessian:
    """H v for the loss of ``model`` over ``data`` w.r.t. ``params`` (flat float64 vectors in and out).

    ``loss_fn(output, target)`` defaults to cross-entropy.  The model's train/eval mode is used as
    it is (put BatchNorm models in eval mode for a Hessian that does not depend on the batch).
    """

    def __init__(self, model, loss_fn=None, data=None, params=None):
        if data is None:
            raise ValueError("ModelHessian: data (an (x, y) pair or an iterable of batches) is required")
        from ..nn import functional as F

        self.model, self.data = model, data
        self.loss_fn = loss_fn or F.cross_entropy
        self.params = trainable_parameters(model, params)
        self.n = int(sum(p.data.size for p in self.params))
        self.shape = (self.n, self.n)
        self.dtype = np.dtype(np.float64)
        self.num_matvecs = 0

    def gradient(self):
        """grad L(theta) as a flat float64 vector (and the loss)."""
        from ..autograd.functional import grad

        total, g, count = 0.0, np.zeros(self.n), 0
        for x, y in iter_batches(self.data):
            nb = int(y.shape[0])
            loss = self.loss_fn(self.model(x), y)
            gs = grad(loss, self.params, allow_unused=True)
            g += nb * np.concatenate([np.zeros(p.data.size) if gi is None else
                                      np.asarray(gi.data, dtype=np.float64).ravel() for gi, p in zip(gs, self.params)])
            total += nb * float(loss.item())
            count += nb
        return g / count, total / count

    def matvec(self, v):
        from ..autograd.functional import grad
        from ..autograd.tensor import Tensor

        vs = [Tensor._make(a) for a in unflatten(np.asarray(v, dtype=np.float64).ravel(), self.params)]
        out, count = np.zeros(self.n), 0
        for x, y in iter_batches(self.data):
            nb = int(y.shape[0])
            loss = self.loss_fn(self.model(x), y)
            gs = grad(loss, self.params, create_graph=True, allow_unused=True)
            dot = None
            for gi, vi in zip(gs, vs):
                if gi is not None:
                    term = (gi * vi).sum()
                    dot = term if dot is None else dot + term
            hv = grad(dot, self.params, allow_unused=True)
            out += nb * np.concatenate([np.zeros(p.data.size) if h is None else
                                        np.asarray(h.data, dtype=np.float64).ravel() for h, p in zip(hv, self.params)])
            count += nb
        self.num_matvecs += 1
        return out / count

    def to_linear_operator(self):
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec, dtype=np.float64)

    def to_dense(self):
        """The n x n matrix, one matvec per column (small models only)."""
        if self.n > 20000:
            raise ValueError(f"ModelHessian.to_dense: {self.n} parameters is too many for a dense Hessian")
        eye = np.eye(self.n)
        return np.stack([self.matvec(eye[i]) for i in range(self.n)], axis=1)

    def theta(self):
        return get_flat(self.params)


def model_hessian(model, loss_fn=None, data=None, params=None):
    """mathdl.curvature.HessianOperator(model, loss_fn, data, params) when present, else :class:`ModelHessian`."""
    try:
        from ..curvature import HessianOperator
    except ImportError:
        HessianOperator = None
    if HessianOperator is not None:
        try:
            return HessianOperator(model, loss_fn, data, params=params)
        except TypeError:
            pass
    return ModelHessian(model, loss_fn, data, params)
