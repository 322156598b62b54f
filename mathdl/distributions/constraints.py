"""Constraints: the sets that parameters and samples live in (``torch.distributions.constraints``).

``constraint.check(value)`` returns a boolean array over the batch (the event dimensions of an
event constraint are reduced): ``True`` where ``value`` lies in the set.  Distributions check
their parameters against ``arg_constraints`` and, in ``log_prob``, values against ``support``.

  real: R             positive: (0, inf)       nonnegative: [0, inf)      greater_than(a): (a, inf)
  interval(a, b): [a, b]   half_open_interval(a, b): [a, b)   unit_interval: [0, 1]
  boolean: {0, 1}     nonnegative_integer: {0, 1, ...}   integer_interval(a, b): {a, ..., b}
  simplex: x_i >= 0, sum x = 1   one_hot: one-hot vectors   real_vector: R^n
  lower_cholesky: lower triangular with positive diagonal   positive_definite: symmetric, x^T A x > 0
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import xp_of

__all__ = [
    "Constraint", "boolean", "dependent", "dependent_property", "greater_than", "greater_than_eq",
    "half_open_interval", "independent", "integer_interval", "interval", "is_dependent", "less_than",
    "lower_cholesky", "lower_triangular", "nonnegative", "nonnegative_integer", "one_hot", "positive",
    "positive_definite", "positive_integer", "real", "real_vector", "simplex", "unit_interval",
]


def _arr(value):
    """The array of a Tensor; Python numbers stay numbers (they mix with device arrays, host arrays do not)."""
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, (int, float, bool, np.generic)):
        return value
    return np.asarray(value)


class Constraint:
    """A set; ``check`` tells membership elementwise over the batch."""

    is_discrete = False
    event_dim = 0

    def check(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """Placeholder for a set that depends on other parameters (not checked)."""

    def __init__(self, *, is_discrete=False, event_dim=0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, *, is_discrete=None, event_dim=None):
        return _Dependent(is_discrete=self.is_discrete if is_discrete is None else is_discrete,
                          event_dim=self.event_dim if event_dim is None else event_dim)

    def check(self, value):
        raise ValueError("cannot check a dependent constraint")


def is_dependent(constraint):
    return isinstance(constraint, _Dependent)


class _DependentProperty(property, _Dependent):
    """A property whose value is a support that depends on the parameters."""

    def __init__(self, fn=None, *, is_discrete=False, event_dim=0):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)

    def __call__(self, fn):
        return _DependentProperty(fn, is_discrete=self.is_discrete, event_dim=self.event_dim)


class _IndependentConstraint(Constraint):
    """``base`` on each element, reduced over the last ``reinterpreted_batch_ndims`` dims."""

    def __init__(self, base, reinterpreted_batch_ndims):
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims

    @property
    def is_discrete(self):
        return self.base.is_discrete

    @property
    def event_dim(self):
        return self.base.event_dim + self.reinterpreted_batch_ndims

    def check(self, value):
        r = self.base.check(value)
        n = self.reinterpreted_batch_ndims
        if n:
            r = r.reshape(r.shape[: r.ndim - n] + (-1,)).all(-1)
        return r

    def __repr__(self):
        return f"IndependentConstraint({self.base!r}, {self.reinterpreted_batch_ndims})"


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        v = _arr(value)
        return (v == 0) | (v == 1)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value):
        v = _arr(value)
        return ((v == 0) | (v == 1)).all(-1) & (v.sum(-1) == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        v, lo, hi = _arr(value), _arr(self.lower_bound), _arr(self.upper_bound)
        return (v % 1 == 0) & (lo <= v) & (v <= hi)

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        v = _arr(value)
        return (v % 1 == 0) & (v >= self.lower_bound)

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Real(Constraint):
    def check(self, value):
        v = _arr(value)
        return v == v  # False for NaN


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return _arr(self.lower_bound) < _arr(value)

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value):
        return _arr(self.lower_bound) <= _arr(value)

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return _arr(value) < _arr(self.upper_bound)

    def __repr__(self):
        return f"LessThan(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        v = _arr(value)
        return (_arr(self.lower_bound) <= v) & (v <= _arr(self.upper_bound))

    def __repr__(self):
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    def check(self, value):
        v = _arr(value)
        return (_arr(self.lower_bound) <= v) & (v < _arr(self.upper_bound))

    def __repr__(self):
        return f"HalfOpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value):
        v = _arr(value)
        return (v >= 0).all(-1) & (np.abs(v.sum(-1) - 1) < 1e-6)


class _LowerTriangular(Constraint):
    event_dim = 2

    def check(self, value):
        v = _arr(value)
        xp = xp_of(v)
        return (xp.tril(v) == v).reshape(v.shape[:-2] + (-1,)).all(-1)


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, value):
        v = _arr(value)
        xp = xp_of(v)
        tri = (xp.tril(v) == v).reshape(v.shape[:-2] + (-1,)).all(-1)
        return tri & (xp.diagonal(v, axis1=-2, axis2=-1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def check(self, value):
        v = _arr(value)
        xp = xp_of(v)
        sym = xp.abs(v - xp.swapaxes(v, -1, -2)).reshape(v.shape[:-2] + (-1,)).max(-1) <= (
            1e-6 * xp.abs(v).reshape(v.shape[:-2] + (-1,)).max(-1) + 1e-12)
        with np.errstate(invalid="ignore"):
            w = xp.linalg.eigvalsh(v) if v.size else xp.ones(v.shape[:-1])
        return sym & (w > 0).all(-1)


dependent = _Dependent()
dependent_property = _DependentProperty
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
