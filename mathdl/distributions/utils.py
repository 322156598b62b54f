"""Parameter helpers with ``torch.distributions.utils``' names.

  broadcast_all(*values): tensors of one broadcast shape (numbers become tensors of the others' dtype)
  logits_to_probs(l) = softmax(l)  (or sigmoid(l) when is_binary)
  probs_to_logits(p) = log p       (or log p - log1p(-p) when is_binary), p clamped to [eps, 1 - eps]
  lazy_property: computed on first access, then stored on the instance
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..backend import get_default_dtype, rng, xp_of

__all__ = ["broadcast_all", "lazy_property", "logits_to_probs", "probs_to_logits", "clamp_probs",
           "as_float_tensor", "standard_normal", "uniform01", "generator"]


def as_float_tensor(value, like=None) -> Tensor:
    """``value`` as a floating Tensor (a number takes ``like``'s dtype, else the default dtype)."""
    if isinstance(value, Tensor):
        if value.dtype.kind != "f":
            return value.to(get_default_dtype() if like is None else like.dtype)
        return value
    dtype = like.dtype if like is not None else get_default_dtype()
    xp = xp_of(like.array) if like is not None else np
    return Tensor._make(xp.asarray(value, dtype=dtype))


def broadcast_all(*values):
    """Broadcast tensors and numbers to one shape; numbers take the dtype of the first tensor."""
    like = next((v for v in values if isinstance(v, Tensor) and v.dtype.kind == "f"), None)
    ts = [as_float_tensor(v, like) for v in values]
    shape = np.broadcast_shapes(*[t.shape for t in ts])
    return tuple(t if t.shape == shape else ops.broadcast_to(t, shape) for t in ts)


class lazy_property:  # noqa: N801  (PyTorch's name)
    """A property computed once, on first access, and stored in the instance's ``__dict__``."""

    def __init__(self, fn):
        self.wrapped = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def clamp_probs(probs):
    eps = float(np.finfo(probs.dtype).eps)
    return ops.clamp(probs, eps, 1 - eps)


def logits_to_probs(logits, is_binary=False):
    return ops.sigmoid(logits) if is_binary else ops.softmax(logits, -1)


def probs_to_logits(probs, is_binary=False):
    p = clamp_probs(probs)
    return ops.log(p) - ops.log1p(-p) if is_binary else ops.log(p)


def generator(like):
    """The seeded generator (``mathdl.manual_seed``) for ``like``'s array module."""
    return rng.for_module(xp_of(like.array if isinstance(like, Tensor) else like))


def standard_normal(shape, like) -> Tensor:
    """N(0, 1) noise of ``shape`` with ``like``'s dtype and device (not differentiable)."""
    g = generator(like)
    return Tensor._make(g.standard_normal(tuple(shape), dtype=like.dtype))


def uniform01(shape, like, tiny=True) -> Tensor:
    """U(0, 1) noise; with ``tiny`` in [tiny, 1 - eps] so that logs of it and of 1 - u stay finite."""
    g = generator(like)
    u = g.random(tuple(shape), dtype=like.dtype)
    if tiny:
        fi = np.finfo(like.dtype)
        u = xp_of(u).clip(u, fi.tiny, 1 - fi.eps)
    return Tensor._make(u)
