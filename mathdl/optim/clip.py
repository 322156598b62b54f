"""Gradient clipping, in place on the parameters' ``.grad``.

``clip_grad_norm_``: with the total norm over all gradients taken together,

    N = ( sum_i ||g_i||_p^p )^(1/p)        (p = inf: N = max_i max |g_i|)

every gradient is scaled by min(1, max_norm / (N + 1e-6)), so the clipped total norm is at
most ``max_norm`` and the direction is unchanged.  Returns N (before clipping), like PyTorch.

``clip_grad_value_``: each gradient entry is clamped to [-clip_value, clip_value].
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(a, norm_type: float):
    """The p-norm of one array, as a 0-d array of a's dtype."""
    xp = backend.xp_of(a)
    a = a.reshape(-1)
    if norm_type == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if norm_type == -math.inf:
        return xp.abs(a).min()
    if norm_type == 2:
        return xp.sqrt(xp.dot(a, a)) if a.dtype.kind == "f" else xp.linalg.norm(a)
    if norm_type == 1:
        return xp.abs(a).sum()
    if norm_type == 0:
        return xp.asarray((a != 0).sum(), dtype=a.dtype)
    return (xp.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False):
    """The norm of the norms of ``tensors`` (Tensors or arrays) — the norm of all of them concatenated."""
    norm_type = float(norm_type)
    arrays = [t.array if isinstance(t, Tensor) else t for t in tensors]
    if not arrays:
        return Tensor._make(np.zeros((), backend.get_default_dtype()))
    xp = backend.xp_of(arrays[0])
    norms = xp.stack([_norm(a, norm_type) for a in arrays])
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
            f"({float(total)}), so it cannot be clipped; set error_if_nonfinite=False to skip this check"
        )
    return Tensor._make(xp.asarray(total))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None):
    """Scale all gradients so their total ``norm_type``-norm is at most ``max_norm``; returns the
    total norm before clipping as a 0-d Tensor.  ``foreach`` is accepted for PyTorch compatibility."""
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        _scale(grads, max_norm, total)
    return total


def _scale(grads, max_norm, total_norm):
    coef = float(max_norm) / (float(total_norm.array if isinstance(total_norm, Tensor) else total_norm) + 1e-6)
    if coef < 1.0:
        for g in grads:
            g.array *= coef


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6)) for a total norm computed
    beforehand (e.g. with :func:`get_total_norm`, or across processes)."""
    _scale(_grads(parameters), max_norm, total_norm)


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None):
    """PyTorch's deprecated name of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        a = g.array
        backend.xp_of(a).clip(a, -clip_value, clip_value, out=a)
