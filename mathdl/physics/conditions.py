"""Boundary, initial and data conditions of a physics-informed network, each a mean squared misfit:

* Dirichlet  u(x_b) = g(x_b):                 mean (u(x_b) - g)^2
* Neumann    du/dn(x_b) = h(x_b), n the outward normal: mean (grad u(x_b) . n - h)^2
* Initial    u(0, x) = u_0(x) (a Dirichlet condition on the face t = 0) and, for second order in
  time, u_t(0, x) = v_0(x) (``derivative_dim``)
* Data       u(x_d) = y_d observed (the inverse problem).

``values`` may be an array (one value per point) or a function of the (n, d) point array.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from .derivatives import Derivatives

__all__ = ["Condition", "DirichletBC", "NeumannBC", "InitialCondition", "DataCondition"]


def _values(values, points):
    v = values(points) if callable(values) else values
    v = np.broadcast_to(np.asarray(v, dtype=np.float64), (len(points),))
    return v


class Condition:
    """Base: points (n, d), target values (n,), a weight; ``loss(model, dtype)`` = weight * misfit."""

    kind = "condition"
    is_boundary = True

    def __init__(self, points, values=0.0, weight=1.0, component=None):
        self.points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if len(self.points) == 0:
            raise ValueError(f"{type(self).__name__}: no points given")
        self.values = _values(values, self.points)
        self.weight = float(weight)
        self.component = component

    def _u(self, model, x):
        u = model(x)
        if u.ndim == 2:
            u = u[:, self.component or 0]
        return u

    def misfit(self, model, dtype):
        x = Tensor._make(self.points.astype(dtype))
        return self._u(model, x) - Tensor._make(self.values.astype(dtype))

    def loss(self, model, dtype=np.float64):
        r = self.misfit(model, dtype)
        return (r * r).mean() * self.weight


class DirichletBC(Condition):
    kind = "dirichlet"


class InitialCondition(Condition):
    """u(t=0, x) = values; with ``derivative_dim`` (the time axis) the condition is on du/dt instead."""

    kind = "initial"

    def __init__(self, points, values=0.0, weight=1.0, component=None, derivative_dim=None):
        super().__init__(points, values, weight, component)
        self.derivative_dim = derivative_dim

    def misfit(self, model, dtype):
        if self.derivative_dim is None:
            return super().misfit(model, dtype)
        x = Tensor._make(self.points.astype(dtype), True, None)
        D = Derivatives(model(x), x, self.component)
        return D(self.derivative_dim) - Tensor._make(self.values.astype(dtype))


class NeumannBC(Condition):
    """grad u . n = values on the points, ``normals`` (n, d) or one (d,) vector for all."""

    kind = "neumann"

    def __init__(self, points, normals, values=0.0, weight=1.0, component=None):
        super().__init__(points, values, weight, component)
        self.normals = np.broadcast_to(np.asarray(normals, dtype=np.float64), self.points.shape)

    def misfit(self, model, dtype):
        x = Tensor._make(self.points.astype(dtype), True, None)
        D = Derivatives(model(x), x, self.component)
        dn = None
        for j in range(self.points.shape[1]):
            if np.any(self.normals[:, j]):
                term = D(j) * Tensor._make(self.normals[:, j].astype(dtype))
                dn = term if dn is None else dn + term
        return dn - Tensor._make(self.values.astype(dtype))


class DataCondition(Condition):
    """Observations u(x_d) = y_d (not a boundary condition)."""

    kind = "data"
    is_boundary = False
