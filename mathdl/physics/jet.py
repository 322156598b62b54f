"""Forward-mode derivative propagation (Taylor mode to second order) through an MLP.

A physics-informed residual needs derivatives of the output u with respect to the inputs (u_t, u_x,
u_xx, ...) *and* the gradient of a loss of them with respect to the parameters.  Nested reverse mode
(:mod:`mathdl.physics.derivatives`, ``create_graph=True`` once per order) records the backward pass
of the network and then differentiates through it again.  For a feed-forward network it is cheaper
to carry the input derivatives *forward* through the layers, layer by layer, with mathdl ops: the
result is an ordinary graph, and one reverse pass gives the parameter gradient.

Each hidden quantity h is carried with its first derivatives h_i = dh/dx_i and second derivatives
h_ij = d^2h/(dx_i dx_j) for the requested input directions (rows of the batch do not interact):

* input x:                   x_i = e_i (the i-th unit vector in every row),  x_ij = 0
* affine z = W h + b:         z_i = W h_i,       z_ij = W h_ij           (no bias on derivatives)
* scaling z = s * (h - c):    z_i = s * h_i,     z_ij = s * h_ij
* activation a = f(z):        a_i = f'(z) z_i,   a_ij = f'(z) z_ij + f''(z) z_i z_j

with, for the supported activations,

* tanh:     a = tanh z,   f' = 1 - a^2,     f'' = -2 a f'
* sigmoid:  a = sigma(z), f' = a (1 - a),   f'' = f' (1 - 2 a)

Derivatives known to vanish (x_ij, and z_ij of the first layer) are carried as ``None`` so that no
work is spent on them.  The network must be an ``nn.Sequential`` of ``nn.Linear``, ``nn.Tanh``,
``nn.Sigmoid``, ``nn.Identity`` and :class:`~mathdl.physics.scaling.InputScale` modules;
:func:`supports_jet` says whether a model is one.  The unit input rows x_i are kept as a single
(1, d) row, so the first layer's z_i = W e_i costs nothing and broadcasts.
The derivatives agree with nested reverse mode to rounding (tests/physics/test_jet.py).
"""

from __future__ import annotations

from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..nn import functional as F
from ..nn.modules.activation import Sigmoid, Tanh
from ..nn.modules.container import Sequential
from ..nn.modules.linear import Identity, Linear
from ..ops import elementwise as ew
from .scaling import InputScale

__all__ = ["Jet", "mlp_jet", "supports_jet"]

_ACTIVATIONS = (Tanh, Sigmoid)


def _layers(model):
    return list(model) if isinstance(model, Sequential) else [model]


def supports_jet(model):
    """True if :func:`mlp_jet` can propagate derivatives through ``model``."""
    return all(isinstance(m, (Linear, Identity, InputScale) + _ACTIVATIONS) for m in _layers(model))


def _mul(a, b):
    return None if a is None or b is None else a * b


def _add(a, b):
    if a is None:
        return b
    return a if b is None else a + b


class Jet:
    """The value ``u`` and derivatives of a network's output at a batch of points.

    ``J()`` = u, ``J(i)`` = du/dx_i, ``J(i, j)`` = d^2u/(dx_i dx_j) (the same interface as
    :class:`mathdl.physics.Derivatives`); each of shape (n,) for a one-output network (``component``
    picks a column otherwise)."""

    def __init__(self, value, first, second, x, component=None):
        self.x = x
        self._value, self._first, self._second = value, first, second
        self.component = component

    def _pick(self, t):
        u = self._col(self._value)
        if t is None:  # a derivative that vanishes identically
            return u * 0
        t = self._col(t)
        return t if t.shape == u.shape else t + u * 0  # a (1,) row of a network with no activation

    def _col(self, t):
        if t.ndim == 2:
            if self.component is None and t.shape[1] != 1:
                raise ValueError(f"Jet: the network has {t.shape[1]} outputs; pass component=")
            return t[:, self.component or 0]
        return t

    def __call__(self, *dims):
        dims = tuple(int(d) for d in dims)
        if not dims:
            return self._col(self._value)
        if len(dims) == 1:
            if dims[0] not in self._first:
                raise ValueError(f"Jet: du/dx_{dims[0]} was not requested (first={sorted(self._first)})")
            return self._pick(self._first[dims[0]])
        if len(dims) == 2:
            key = tuple(sorted(dims))
            if key not in self._second:
                raise ValueError(f"Jet: d2u/dx_{key[0]}dx_{key[1]} was not requested (second={sorted(self._second)})")
            return self._pick(self._second[key])
        raise ValueError(f"Jet: derivatives of order {len(dims)} > 2 are not propagated; use "
                         f"mathdl.physics.Derivatives (nested reverse mode)")


def _activation(m, z, zi, zij):
    """(a, {i: a_i}, {(i, j): a_ij}) for a = f(z) by the chain rule to second order."""
    if isinstance(m, Tanh):
        a = ew.tanh(z)
        d1 = 1.0 - a * a
        d2 = (a * d1) * -2.0 if zij else None
    else:  # Sigmoid
        a = ew.sigmoid(z)
        d1 = a * (1.0 - a)
        d2 = d1 * (1.0 - 2.0 * a) if zij else None
    ai = {i: _mul(d1, v) for i, v in zi.items()}
    aij = {}
    for (i, j), v in zij.items():
        curv = zi[i] * zi[i] if i == j else _mul(zi[i], zi[j])
        aij[(i, j)] = _add(_mul(d1, v), _mul(d2, curv))
    return a, ai, aij


def mlp_jet(model, x, first=(), second=(), component=None):
    """Propagate u = model(x) with du/dx_i (i in ``first``) and d^2u/dx_i dx_j ((i, j) in ``second``).

    ``x`` is an (n, d) Tensor (no gradient needed); returns a :class:`Jet`.  Every first derivative
    a second derivative needs is propagated too.  The result is recorded against the parameters, so
    ``loss.backward()`` on a residual built from it gives the parameter gradient in one reverse pass.
    """
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"mlp_jet: x must be an (n, d) Tensor, got {type(x).__name__} "
                         f"of shape {tuple(getattr(x, 'shape', ()))}")
    layers = _layers(model)
    for m in layers:
        if not isinstance(m, (Linear, Identity, InputScale) + _ACTIVATIONS):
            raise TypeError(f"mlp_jet: cannot propagate derivatives through {type(m).__name__}; supported: Linear, "
                            f"Tanh, Sigmoid, Identity, InputScale (use mathdl.physics.Derivatives otherwise)")
    n, d = x.shape
    pairs = sorted({tuple(sorted((int(i), int(j)))) for i, j in second})
    dirs = sorted({int(i) for i in first} | {i for p in pairs for i in p})
    for i in dirs:
        if not 0 <= i < d:
            raise ValueError(f"mlp_jet: input dimension {i} out of range for x of shape {(n, d)}")
    h = x
    hi = {i: Tensor._make(_unit_row(x.array, i)) for i in dirs}
    hij = {p: None for p in pairs}
    for m in layers:
        if isinstance(m, Linear):
            h = F.linear(h, m.weight, m.bias)
            hi = {i: None if v is None else F.linear(v, m.weight) for i, v in hi.items()}
            hij = {p: None if v is None else F.linear(v, m.weight) for p, v in hij.items()}
        elif isinstance(m, InputScale):
            h = m(h)
            s = m.scale
            hi = {i: _mul(v, s) for i, v in hi.items()}
            hij = {p: _mul(v, s) for p, v in hij.items()}
        elif isinstance(m, Identity):
            continue
        else:
            h, hi, hij = _activation(m, h, hi, hij)
    return Jet(h, hi, hij, x, component)


def _unit_row(arr, i):
    """e_i as a (1, d) row on ``arr``'s backend: dx/dx_i, the same for every point (it broadcasts)."""
    out = xp_of(arr).zeros((1, arr.shape[1]), dtype=arr.dtype)
    out[0, i] = 1
    return out
