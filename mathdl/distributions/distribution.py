"""The base class of every distribution (``torch.distributions.Distribution``).

A distribution has a ``batch_shape`` (independent, differently parameterized copies) and an
``event_shape`` (the shape of one draw).  ``sample(sample_shape)`` returns a tensor of shape
``sample_shape + batch_shape + event_shape``; ``rsample`` does the same as a differentiable function
of the parameters (reparameterization: x = g(params, noise), so d E[f(x)]/d params = E[f'(x) dg/dparams]);
``log_prob(x)`` has shape ``sample_shape + batch_shape``.

With ``validate_args`` (on by default, as PyTorch's default under ``__debug__``), the parameters are
checked against ``arg_constraints`` at construction and values against ``support`` in ``log_prob``;
a violation raises ``ValueError`` naming the parameter and the constraint.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]


def _shape(s):
    if s is None:
        return ()
    if isinstance(s, int):
        return (s,)
    return tuple(int(d) for d in s)


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value):
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = _shape(batch_shape)
        self._event_shape = _shape(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                    continue  # the other parameterization was given
                value = getattr(self, param)
                ok = constraint.check(value)
                if not np.all(ok):
                    raise ValueError(
                        f"Expected parameter {param} (Tensor of shape {tuple(value.shape)}) of distribution "
                        f"{type(self).__name__} to satisfy the constraint {constraint!r}, but found invalid values")

    # ------------------------------------------------------------------ shapes
    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    _param_event_ndims: dict = {}  # parameters whose trailing dims are per-event (e.g. MVN's loc: 1)
    _expand_extra: tuple = ()  # non-parameter attributes with the batch shape, expanded as well

    def expand(self, batch_shape, _instance=None):
        """The same distribution broadcast to a larger ``batch_shape`` (parameters are broadcast views)."""
        batch_shape = _shape(batch_shape)
        try:
            np.broadcast_shapes(self._batch_shape, batch_shape)
        except ValueError:
            raise ValueError(f"{type(self).__name__}.expand: cannot expand batch shape {self._batch_shape} "
                             f"to {batch_shape}") from None
        new = self.__new__(type(self)) if _instance is None else _instance
        nb = len(self._batch_shape)
        keep = set(self.arg_constraints) | set(self._expand_extra)
        for k, v in self.__dict__.items():
            if isinstance(v, Tensor) and k in keep:
                tail = tuple(v.shape[nb:])
                new.__dict__[k] = ops.broadcast_to(v, batch_shape + tail)
            elif not isinstance(v, Tensor):
                new.__dict__[k] = v
        new._batch_shape = batch_shape
        return new

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"subclass {type(self).__name__} of {cls.__name__} that defines a custom "
                                      "__init__ must also define a custom .expand()")
        return self.__new__(type(self)) if _instance is None else _instance

    # ------------------------------------------------------------------ moments
    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self):
        return ops.sqrt(self.variance)

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    def perplexity(self):
        return ops.exp(self.entropy())

    # ------------------------------------------------------------------ sampling and densities
    def sample(self, sample_shape=()):
        """A draw of shape ``sample_shape + batch_shape + event_shape``, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sampler (rsample)")

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form icdf")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} cannot enumerate its support")

    def _validate_sample(self, value):
        if not isinstance(value, Tensor):
            raise ValueError(f"{type(self).__name__}: the value argument must be a Tensor, got {type(value).__name__}")
        ev = len(self._event_shape)
        if ev and tuple(value.shape[-ev:]) != self._event_shape:
            raise ValueError(f"{type(self).__name__}: the rightmost dims of the value {tuple(value.shape)} must "
                             f"match the event shape {self._event_shape}")
        try:
            np.broadcast_shapes(tuple(value.shape[: value.ndim - ev]), self._batch_shape)
        except ValueError:
            raise ValueError(f"{type(self).__name__}: value of shape {tuple(value.shape)} does not broadcast with "
                             f"batch shape {self._batch_shape}") from None
        support = self.support
        if support is None or constraints.is_dependent(support):
            return
        ok = support.check(value)
        if not np.all(ok):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within the "
                             f"support ({support!r}) of the distribution {type(self).__name__}, but found invalid "
                             "values")

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{k}: {tuple(getattr(self, k).shape) if getattr(self, k).ndim else getattr(self, k).item()}"
                         for k in names)
        return f"{type(self).__name__}({args})"


_LOG_2PI = math.log(2 * math.pi)
