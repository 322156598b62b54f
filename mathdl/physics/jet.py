"""Forward-mode derivative propagation (Taylor mode to second order) through an MLP.

A physics-informed residual needs derivatives of the output u with respect to the inputs (u_t, u_x,
u_xx, ...) *and* the gradient of a loss of them with respect to the parameters.  Nested reverse mode
(:mod:`mathdl.physics.derivatives`, ``create_graph=True`` once per order) records the backward pass
of the network and then differentiates through it again.  For a feed-forward network it is cheaper
to carry the input derivatives *forward* through the layers: the result is an ordinary graph, and
one reverse pass gives the parameter gradient.

Each hidden quantity h is carried with its first derivatives h_i = dh/dx_i and second derivatives
h_ij = d^2h/(dx_i dx_j) for the requested input directions (rows of the batch do not interact):

* input x:                   x_i = e_i (the i-th unit vector in every row),  x_ij = 0
* affine z = W h + b:         z_i = W h_i,       z_ij = W h_ij           (no bias on derivatives)
* scaling z = s * (h - c):    z_i = s * h_i,     z_ij = s * h_ij
* activation a = f(z):        a_i = f'(z) z_i,   a_ij = f'(z) z_ij + f''(z) z_i z_j

with, for the supported activations, f' and f'' written through a = f(z):

* tanh:     f' = 1 - a^2,      f'' = -2 a f'
* sigmoid:  f' = a (1 - a),    f'' = f' (1 - 2 a)

The value and its derivatives are stacked along a leading axis, S = [h; h_i...; h_ij...] of shape
(1 + K, n, width), so that each affine layer is one GEMM (``F.linear`` on the stack, the bias added
to the value slot only) and each activation one fused op, :class:`ActivationJet`.  Its backward is
NumPy/CuPy on raw arrays when no graph is recorded (the training step) and mathdl ops under
``create_graph`` (so Hessians of a PINN loss work), like ``LinearFn``'s; for NumPy arrays with numba
installed both run as one fused loop (:mod:`mathdl.physics.jet_kernels`).

The network must be an ``nn.Sequential`` of ``nn.Linear``, ``nn.Tanh``, ``nn.Sigmoid``,
``nn.Identity`` and :class:`~mathdl.physics.scaling.InputScale` modules; :func:`supports_jet` says
whether a model is one.  The derivatives and the parameter gradients agree with nested reverse mode
to rounding (tests/physics/test_jet.py).
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..nn import functional as F
from ..nn.modules.activation import Sigmoid, Tanh
from ..nn.modules.container import Sequential
from ..nn.modules.linear import Identity, Linear
from ..ops import elementwise as ew
from ..ops.reduce import sum as _sum
from ..ops.shape import cat, reshape
from . import jet_kernels
from .scaling import InputScale

__all__ = ["ActivationJet", "Jet", "mlp_jet", "supports_jet"]

_ACTIVATIONS = {Tanh: "tanh", Sigmoid: "sigmoid"}
_SUPPORTED = (Linear, Identity, InputScale, Tanh, Sigmoid)


def _layers(model):
    return list(model) if isinstance(model, Sequential) else [model]


def supports_jet(model):
    """True if :func:`mlp_jet` can propagate derivatives through ``model``."""
    return all(isinstance(m, _SUPPORTED) for m in _layers(model))


def _slopes(kind, a, xp=None):
    """f'(z), f''(z) and their derivatives with respect to a = f(z): (s, c, ds/da, dc/da).

    Works on raw arrays (``xp`` given) and on Tensors (mathdl ops)."""
    if kind == "tanh":
        s = 1.0 - a * a
        c = (a * s) * -2.0
        return s, c, a * -2.0, (a * a) * 6.0 - 2.0  # dc/da = -2 s + 4 a^2 = 6 a^2 - 2
    s = a * (1.0 - a)
    one_2a = 1.0 - 2.0 * a
    return s, s * one_2a, one_2a, one_2a * one_2a - 2.0 * s  # dc/da = (1 - 2a)^2 - 2 s


class ActivationJet(Function):
    """S_out = f applied to the stacked jet S = [z; z_i...; z_ij...] (shape (1 + K, n, w)) with the bias
    b added to the value slot:  a = f(z + b),  a_i = s z_i,  a_ij = s z_ij + c z_i z_j  (s = f', c = f'').

    ``pairs[q] = (i, j)`` names the first-derivative slots (0-based among the P first derivatives)
    whose product enters second-derivative slot q."""

    __slots__ = ("kind", "n_first", "pairs", "saved")
    save_output = True

    def __init__(self, kind, n_first, pairs):
        self.kind, self.n_first, self.pairs = kind, int(n_first), tuple(pairs)
        self.saved = None

    def forward(self, S, *b):
        if type(S) is np.ndarray and jet_kernels.available():
            self.saved = None
            return jet_kernels.forward(S, b[0] if b else None, self.pairs, self.n_first, self.kind)
        xp = xp_of(S)
        P = self.n_first
        out = xp.empty_like(S)
        z = S[0] + b[0] if b else S[0].copy()
        a = xp.tanh(z, out=out[0]) if self.kind == "tanh" else _sigmoid(xp, z, out[0])
        s, c, _, _ = _slopes(self.kind, a)
        xp.multiply(S[1:], s, out=out[1:])
        for q, (i, j) in enumerate(self.pairs):
            t = S[1 + i] * S[1 + j]
            t *= c
            out[1 + P + q] += t
        self.saved = (s, c)
        return out

    def backward(self, g):
        S = self.inputs[0]
        has_b = len(self.inputs) == 2
        if not _grad_state.enabled:
            return self._backward_raw(g.array, S.array, has_b)
        # create_graph: the same formulas in mathdl ops, so the backward is itself differentiable
        P = self.n_first
        z = S[0] + self.inputs[1] if has_b else S[0]
        a = ew.tanh(z) if self.kind == "tanh" else ew.sigmoid(z)
        s, c, ds, dc = _slopes(self.kind, a)
        K = S.shape[0] - 1
        gd = [g[1 + r] * s for r in range(K)]
        t = _sum(g[1:] * S[1:], 0)
        ga = g[0] + ds * t
        if self.pairs:
            pt = None
            for q, (i, j) in enumerate(self.pairs):
                gq = g[1 + P + q]
                gd[i] = gd[i] + gq * c * S[1 + j]
                gd[j] = gd[j] + gq * c * S[1 + i]
                term = gq * S[1 + i] * S[1 + j]
                pt = term if pt is None else pt + term
            ga = ga + dc * pt
        gz = ga * s
        gS = cat([reshape(v, (1,) + tuple(v.shape)) for v in [gz] + gd], 0)
        return (gS, _sum(gz, 0)) if has_b else (gS,)

    def _backward_raw(self, g, S, has_b):
        if self.saved is None:  # the forward ran the compiled kernel
            gS, gb = jet_kernels.backward(g, S, self.out, self.pairs, self.n_first, self.kind)
            return (Tensor._make(gS), Tensor._make(gb)) if has_b else (Tensor._make(gS),)
        xp = xp_of(g)
        P = self.n_first
        s, c = self.saved
        a = self.out[0]
        if self.kind == "tanh":
            ds = a * -2.0
            dc = (a * a) * 6.0 - 2.0 if self.pairs else None
        else:
            ds = 1.0 - 2.0 * a
            dc = ds * ds - 2.0 * s if self.pairs else None
        gS = xp.empty_like(S)
        xp.multiply(g[1:], s, out=gS[1:])
        t = g[1] * S[1]
        for r in range(2, S.shape[0]):
            t += g[r] * S[r]
        t *= ds
        t += g[0]  # t = dL/da
        if self.pairs:
            pt = xp.zeros_like(t)
            for q, (i, j) in enumerate(self.pairs):
                gq = g[1 + P + q] * c
                gS[1 + i] += gq * S[1 + j]
                gS[1 + j] += gq * S[1 + i]
                pt += g[1 + P + q] * S[1 + i] * S[1 + j]
            pt *= dc
            t += pt
        xp.multiply(t, s, out=gS[0])
        gSt = Tensor._make(gS)
        if has_b:
            return gSt, Tensor._make(gS[0].sum(0))
        return (gSt,)



def _sigmoid(xp, z, out):
    xp.tanh(z * 0.5, out=out)
    out += 1
    out *= 0.5
    return out


class Jet:
    """The value ``u`` and derivatives of a network's output at a batch of points.

    ``J()`` = u, ``J(i)`` = du/dx_i, ``J(i, j)`` = d^2u/(dx_i dx_j) (the same interface as
    :class:`mathdl.physics.Derivatives`); each of shape (n,) for a one-output network (``component``
    picks a column otherwise)."""

    def __init__(self, stack, first, pairs, x, component=None):
        self.x, self.stack, self.component = x, stack, component
        self._slot = {(): 0}
        self._slot.update({(i,): 1 + k for k, i in enumerate(first)})
        self._slot.update({p: 1 + len(first) + k for k, p in enumerate(pairs)})
        self._cache = {}

    def __call__(self, *dims):
        dims = tuple(int(d) for d in dims)
        if len(dims) > 2:
            raise ValueError(f"Jet: derivatives of order {len(dims)} > 2 are not propagated; use "
                             f"mathdl.physics.Derivatives (nested reverse mode)")
        key = tuple(sorted(dims))
        if key not in self._slot:
            have = sorted(k for k in self._slot if k)
            raise ValueError(f"Jet: the derivative along {key} was not requested (propagated: {have})")
        if key not in self._cache:
            t = self.stack[self._slot[key]]
            if t.shape[1] != 1 and self.component is None:
                raise ValueError(f"Jet: the network has {t.shape[1]} outputs; pass component=")
            self._cache[key] = t[:, self.component or 0]
        return self._cache[key]


def mlp_jet(model, x, first=(), second=(), component=None):
    """Propagate u = model(x) with du/dx_i (i in ``first``) and d^2u/dx_i dx_j ((i, j) in ``second``).

    ``x`` is an (n, d) Tensor; returns a :class:`Jet`.  Every first derivative a second derivative
    needs is propagated too.  The result is recorded against the parameters (and x, if it requires
    grad), so ``loss.backward()`` on a residual built from it gives the gradient in one reverse pass.
    """
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"mlp_jet: x must be an (n, d) Tensor, got {type(x).__name__} "
                         f"of shape {tuple(getattr(x, 'shape', ()))}")
    layers = [m for m in _layers(model) if not isinstance(m, Identity)]
    for m in layers:
        if not isinstance(m, _SUPPORTED):
            raise TypeError(f"mlp_jet: cannot propagate derivatives through {type(m).__name__}; supported: Linear, "
                            f"Tanh, Sigmoid, Identity, InputScale (use mathdl.physics.Derivatives otherwise)")
    n, d = x.shape
    pairs = sorted({tuple(sorted((int(i), int(j)))) for i, j in second})
    dirs = sorted({int(i) for i in first} | {i for p in pairs for i in p})
    for i in dirs:
        if not 0 <= i < d:
            raise ValueError(f"mlp_jet: input dimension {i} out of range for x of shape {(n, d)}")
    slot = {i: k for k, i in enumerate(dirs)}
    pair_slots = [(slot[i], slot[j]) for i, j in pairs]
    S = _input_stack(x, dirs, len(pairs))
    pending_bias = None  # a Linear's bias, added by the activation that follows (or at the end)
    for m in layers:
        if pending_bias is not None and not isinstance(m, (Tanh, Sigmoid)):
            S, pending_bias = _add_value_bias(S, pending_bias), None
        if isinstance(m, Linear):
            S = F.linear(S, m.weight)
            pending_bias = m.bias if m.bias is not None else None
        elif isinstance(m, InputScale):
            S = _scale(S, m)
        else:
            fn = ActivationJet(_ACTIVATIONS[type(m)], len(dirs), pair_slots)
            S = fn(S, pending_bias) if pending_bias is not None else fn(S)
            pending_bias = None
    if pending_bias is not None:
        S = _add_value_bias(S, pending_bias)
    return Jet(S, dirs, pairs, x, component)


def _value_mask(S, like):
    """A (1 + K, 1, 1) array: 1 at the value slot, 0 at the derivative slots."""
    xp = xp_of(like.array)
    e0 = xp.zeros((S.shape[0], 1, 1), dtype=like.array.dtype)
    e0[0] = 1
    return Tensor._make(e0)


def _add_value_bias(S, b):
    return S + b * _value_mask(S, b)


def _scale(S, m):
    """InputScale on the stack: (h - lo) * scale - 1 on the value slot, * scale on the derivatives."""
    offset = (m.lo * m.scale + 1.0) * _value_mask(S, m.scale)
    return S * m.scale - offset


def _input_stack(x, dirs, n_pairs):
    """[x; e_i for i in dirs; 0 for each pair] of shape (1 + K, n, d)."""
    xp = xp_of(x.array)
    n, d = x.shape
    rest = xp.zeros((len(dirs) + n_pairs, n, d), dtype=x.array.dtype)
    for k, i in enumerate(dirs):
        rest[k, :, i] = 1
    if not x.requires_grad:
        full = xp.concatenate([x.array[None], rest], 0)
        return Tensor._make(full)
    return cat([reshape(x, (1, n, d)), Tensor._make(rest)], 0)
