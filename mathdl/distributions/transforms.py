"""Invertible transforms y = f(x) that carry log|det J| (``torch.distributions.transforms``).

  ExpTransform          y = exp(x)                  log|J| = x
  AffineTransform       y = loc + scale x           log|J| = log|scale|   (summed over event_dim dims)
  SigmoidTransform      y = 1 / (1 + e^-x)          log|J| = -softplus(-x) - softplus(x)
  TanhTransform         y = tanh(x)                 log|J| = 2 (log 2 - x - softplus(-2x))
  SoftplusTransform     y = log(1 + e^x)            log|J| = -softplus(-x)
  PowerTransform        y = x^p                     log|J| = log|p y / x|
  StickBreakingTransform  R^(K-1) -> simplex in R^K: z_i = sigmoid(x_i - log(K - i)),
                        y_i = z_i prod_(j<i) (1 - z_j), y_K = prod (1 - z_j)
                        log|J| = sum_i [-x'_i + log sigmoid(x'_i) + log y_i],  x'_i = x_i - log(K - i)
  ComposeTransform([f1, ..., fn])  y = fn(...f1(x)), log|J| = sum of the parts (each summed to the
                        composition's event_dim)
  t.inv                 the inverse transform, log|J^-1|(y) = -log|J|(x)
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..nn import functional as F
from . import constraints

__all__ = [
    "Transform", "ComposeTransform", "ExpTransform", "AffineTransform", "SigmoidTransform", "TanhTransform",
    "SoftplusTransform", "PowerTransform", "StickBreakingTransform", "identity_transform",
]


def _sum_rightmost(x, dim):
    return x.sum(tuple(range(-dim, 0))) if dim > 0 else x


class Transform:
    """Base class: ``__call__`` (forward), ``inv`` (the inverse transform), ``log_abs_det_jacobian(x, y)``."""

    bijective = False
    domain = constraints.real
    codomain = constraints.real
    sign = 1

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise ValueError(f"cache_size must be 0 or 1, got {cache_size!r}")
        self._cache_size = cache_size
        self._inv = None

    @property
    def event_dim(self):
        return self.domain.event_dim

    @property
    def inv(self):
        if self._inv is None:
            self._inv = _InverseTransform(self)
        return self._inv

    def __call__(self, x):
        return self._call(x)

    def _inv_call(self, y):
        return self._inverse(y)

    def _call(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _inverse(self, y):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_shape(self, shape):
        return shape

    def inverse_shape(self, shape):
        return shape

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    def __init__(self, transform):
        super().__init__()
        self._inv = transform

    @property
    def domain(self):
        return self._inv.codomain

    @property
    def codomain(self):
        return self._inv.domain

    @property
    def bijective(self):
        return self._inv.bijective

    @property
    def sign(self):
        return self._inv.sign

    @property
    def event_dim(self):
        return self._inv.codomain.event_dim

    @property
    def inv(self):
        return self._inv

    def __call__(self, x):
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    __hash__ = Transform.__hash__


class ComposeTransform(Transform):
    def __init__(self, parts, cache_size=0):
        super().__init__(cache_size)
        self.parts = list(parts)

    def __eq__(self, other):
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    __hash__ = Transform.__hash__

    @property
    def domain(self):
        if not self.parts:
            return constraints.real
        domain = self.parts[0].domain
        event_dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim += part.domain.event_dim - part.codomain.event_dim
            event_dim = max(event_dim, part.domain.event_dim)
        if event_dim > domain.event_dim:
            domain = constraints.independent(domain, event_dim - domain.event_dim)
        return domain

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        codomain = self.parts[-1].codomain
        event_dim = self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim += part.codomain.event_dim - part.domain.event_dim
            event_dim = max(event_dim, part.codomain.event_dim)
        if event_dim > codomain.event_dim:
            codomain = constraints.independent(codomain, event_dim - codomain.event_dim)
        return codomain

    @property
    def bijective(self):
        return all(p.bijective for p in self.parts)

    @property
    def sign(self):
        s = 1
        for p in self.parts:
            s = s * p.sign
        return s

    @property
    def inv(self):
        if self._inv is None:
            self._inv = ComposeTransform([p.inv for p in reversed(self.parts)])
        return self._inv

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return x.detach() * 0
        xs = [x]
        for part in self.parts[:-1]:
            xs.append(part(xs[-1]))
        xs.append(y)
        terms = []
        event_dim = self.domain.event_dim
        for part, a, b in zip(self.parts, xs[:-1], xs[1:]):
            terms.append(_sum_rightmost(part.log_abs_det_jacobian(a, b), event_dim - part.domain.event_dim))
            event_dim += part.codomain.event_dim - part.domain.event_dim
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out

    def forward_shape(self, shape):
        for p in self.parts:
            shape = p.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for p in reversed(self.parts):
            shape = p.inverse_shape(shape)
        return shape

    def __repr__(self):
        return "ComposeTransform(" + ", ".join(map(repr, self.parts)) + ")"


identity_transform = ComposeTransform([])


class ExpTransform(Transform):
    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def _call(self, x):
        return ops.exp(x)

    def _inverse(self, y):
        return ops.log(y)

    def log_abs_det_jacobian(self, x, y):
        return x


class PowerTransform(Transform):
    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size=0):
        super().__init__(cache_size)
        self.exponent = exponent

    @property
    def sign(self):
        return 1

    def _call(self, x):
        return x ** self.exponent

    def _inverse(self, y):
        return y ** (1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        return ops.log(ops.abs(self.exponent * y / x))


class SigmoidTransform(Transform):
    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = 1

    def _call(self, x):
        fi = np.finfo(x.dtype)
        return ops.clamp(ops.sigmoid(x), fi.tiny, 1 - fi.eps)

    def _inverse(self, y):
        fi = np.finfo(y.dtype)
        y = ops.clamp(y, fi.tiny, 1 - fi.eps)
        return ops.log(y) - ops.log1p(-y)

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x) - F.softplus(x)


class TanhTransform(Transform):
    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = 1

    def _call(self, x):
        return ops.tanh(x)

    def _inverse(self, y):
        return 0.5 * (ops.log1p(y) - ops.log1p(-y))

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))


class SoftplusTransform(Transform):
    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def _call(self, x):
        return F.softplus(x)

    def _inverse(self, y):
        return y + ops.log(-ops.expm1(-y))

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x)


class AffineTransform(Transform):
    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size)
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        return constraints.real if self._event_dim == 0 else constraints.independent(constraints.real, self._event_dim)

    codomain = domain

    @property
    def sign(self):
        s = self.scale
        if isinstance(s, (int, float)):
            return 1 if s > 0 else -1 if s < 0 else 0
        return ops.sign(s)

    def __eq__(self, other):
        if not isinstance(other, AffineTransform):
            return False
        same = []
        for a, b in ((self.loc, other.loc), (self.scale, other.scale)):
            if isinstance(a, Tensor) or isinstance(b, Tensor):
                same.append(a is b or (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape
                                       and bool(np.all(a.array == b.array))))
            else:
                same.append(a == b)
        return all(same)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale
        if isinstance(scale, (int, float)):
            result = x.detach() * 0 + math.log(abs(scale))
        else:
            result = ops.broadcast_to(ops.log(ops.abs(scale)), np.broadcast_shapes(x.shape, scale.shape))
        if self._event_dim:
            result = result.sum(tuple(range(-self._event_dim, 0)))
            shape = x.shape[: x.ndim - self._event_dim]
            if result.shape != shape:
                result = ops.broadcast_to(result, shape)
        return result


def _stick_offset(k, like):
    """log(K - i) for i = 0..K-1 (the offsets that make x = 0 map to the simplex's centre)."""
    xp = xp_of(like.array)
    return Tensor._make(xp.log(xp.arange(k, 0, -1, dtype=like.dtype)))


class StickBreakingTransform(Transform):
    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def _call(self, x):
        k = x.shape[-1]
        offset = _stick_offset(k, x)
        z = ops.sigmoid(x - offset)
        one = z.detach()[..., :1] * 0 + 1
        z_cumprod = ops.exp(ops.cumsum(ops.log1p(-z), -1))
        pad_z = ops.cat([z, one], -1)
        pad_c = ops.cat([one, z_cumprod], -1)
        return pad_z * pad_c

    def _inverse(self, y):
        y_crop = y[..., :-1]
        k = y_crop.shape[-1]
        offset = _stick_offset(k, y)
        sf = 1 - ops.cumsum(y_crop, -1)
        fi = np.finfo(y.dtype)
        sf = ops.clamp(sf, min=fi.tiny)
        return ops.log(y_crop) - ops.log(sf) + offset

    def log_abs_det_jacobian(self, x, y):
        k = x.shape[-1]
        offset = _stick_offset(k, x)
        x = x - offset
        detJ = (-x + F.logsigmoid(x) + ops.log(y[..., :-1])).sum(-1)
        return detJ

    def forward_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] - 1,)
