"""Activation functions (formulas next to each function and in :mod:`mathdl.ops.activations`).

``inplace`` arguments are accepted for PyTorch compatibility and ignored (every result is a new
tensor).
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...backend import xp_of
from ...ops import elementwise as ew
from ...ops import special as _special
from ...ops.activations import elu as _elu
from ...ops.activations import gelu, leaky_relu, mish, silu, softplus
from ...ops.shape import chunk, cast, reshape

__all__ = [
    "glu", "softmin", "tanhshrink", "relu_", "elu_", "leaky_relu_", "hardtanh_", "threshold_", "selu_", "celu_",
    "rrelu_", "threshold", "hardshrink", "softshrink", "rrelu",
    "relu", "relu6", "hardtanh", "prelu", "elu", "selu", "celu", "swish", "sigmoid", "logsigmoid", "tanh",
    "hardsigmoid", "hardswish", "softsign", "softmax", "log_softmax", "gelu", "silu", "mish", "softplus",
    "leaky_relu",
]


_SELU_ALPHA = 1.6732632423543772848170429916717


_SELU_SCALE = 1.0507009873554804934193349852946


# --------------------------------------------------------------------------- activations
def relu(x, inplace: bool = False):
    """max(x, 0)."""
    return ew.relu(x)


def relu6(x, inplace: bool = False):
    """min(max(x, 0), 6) (an integer input keeps its dtype, as PyTorch's)."""
    return hardtanh(x, 0.0, 6.0)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """clamp(x, min_val, max_val); an integer input keeps its dtype (the bounds are cast to it,
    as PyTorch does)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is larger than max_val {max_val}")
    if x.dtype.kind in "iu":
        return ew.clamp(x, int(min_val), int(max_val))
    return ew.clamp(x, float(min_val), float(max_val))


def prelu(x, weight):
    """max(x, 0) + a * min(x, 0), with a (shape (1,) or (C,)) learnable; C is axis 1 of the input."""
    n = weight.numel()
    if n != 1:
        if x.ndim < 2 or x.shape[1] != n:
            raise ValueError(f"prelu: weight has {n} slopes but the input of shape {tuple(x.shape)} has "
                             f"{x.shape[1] if x.ndim >= 2 else 1} channels (axis 1)")
        a = reshape(weight, (1, n) + (1,) * (x.ndim - 2))
    else:
        a = reshape(weight, ()) if x.ndim else weight
    # max(x, 0) + a min(x, 0): no boolean selection, derivative 1 or a, and d/da = min(x, 0)
    return ew.add(ew.relu(x), ew.mul(a, ew.clamp(x, max=0.0)))


def elu(x, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha (e^x - 1)."""
    return _elu(x, alpha)


def selu(x, inplace: bool = False):
    """scale * elu(x, alpha) with the self-normalizing constants alpha = 1.6733, scale = 1.0507."""
    return _elu(x, _SELU_ALPHA, _SELU_SCALE)


def celu(x, alpha: float = 1.0, inplace: bool = False):
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero")
    return _elu(x, alpha, 1.0, 1.0 / alpha)


def swish(x, beta=1.0):
    """x * sigmoid(beta x); beta may be a (learnable) tensor.  beta = 1 is SiLU."""
    if isinstance(beta, Tensor):
        return ew.mul(x, ew.sigmoid(ew.mul(x, beta)))
    if beta == 1:
        return silu(x)
    if beta == 0:
        return ew.mul(x, 0.5)
    return ew.div(silu(ew.mul(x, float(beta))), float(beta))


def sigmoid(x):
    """1 / (1 + e^-x)."""
    return ew.sigmoid(x)


def logsigmoid(x):
    """log sigmoid(x) = -softplus(-x)."""
    return ew.neg(softplus(ew.neg(x)))


def tanh(x):
    """(e^x - e^-x) / (e^x + e^-x)."""
    return ew.tanh(x)


def hardsigmoid(x, inplace: bool = False):
    """relu6(x + 3) / 6."""
    return ew.div(ew.clamp(ew.add(x, 3.0), 0.0, 6.0), 6.0)


def hardswish(x, inplace: bool = False):
    """x * relu6(x + 3) / 6."""
    return ew.mul(x, hardsigmoid(x))


def softsign(x):
    """x / (1 + |x|)."""
    return ew.div(x, ew.add(ew.abs(x), 1.0))


def _cast_for(x, dtype):
    return x if dtype is None else cast(x, dtype)


def _softmax_dim(x, dim):
    """PyTorch's legacy default when ``dim`` is omitted: 0 for 0-, 1- and 3-D input, else 1."""
    if dim is None:
        return 0 if x.ndim in (0, 1, 3) else 1
    return dim


def softmax(x, dim=None, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (computed stably)."""
    return _special.softmax(_cast_for(x, dtype), _softmax_dim(x, dim))


def log_softmax(x, dim=None, dtype=None):
    """x_i - logsumexp(x) along ``dim``."""
    return _special.log_softmax(_cast_for(x, dtype), _softmax_dim(x, dim))


def glu(input, dim=-1):
    """Gated linear unit: a * sigmoid(b), where (a, b) are the two halves of ``input`` along ``dim``."""
    n = input.shape[dim] if input.ndim else 0
    if input.ndim == 0 or n % 2:
        raise ValueError(f"glu: the size of dim {dim} must be even, got input of shape {tuple(input.shape)}")
    a, b = chunk(input, 2, dim)
    return ew.mul(a, ew.sigmoid(b))


def softmin(input, dim=None, dtype=None):
    """softmax(-x) along ``dim``."""
    return softmax(ew.neg(input), dim, dtype)


def threshold(input, threshold, value, inplace=False):
    """x if x > threshold else value."""
    return ew.where(input.array > threshold, input, float(value))


def hardshrink(input, lambd=0.5):
    """x if |x| > lambd else 0."""
    if lambd < 0:
        raise ValueError(f"hardshrink: lambd must be non-negative, got {lambd}")
    return ew.where(np.abs(input.array) > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0  (= x - clamp(x, -lambd, lambd))."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return ew.sub(input, ew.clamp(input, -float(lambd), float(lambd)))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: x if x >= 0 else a x with a ~ U(lower, upper) drawn per entry in
    training, a = (lower + upper) / 2 in evaluation."""
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    xp = xp_of(input.array)
    a = backend.rng.np.uniform(lower, upper, size=input.shape)
    slope = xp.where(input.array >= 0, 1.0, xp.asarray(a)).astype(input.dtype)
    return ew.mul(input, Tensor._make(slope))


def tanhshrink(input):
    """x - tanh(x)."""
    return ew.sub(input, ew.tanh(input))


def _inplace(fn):
    """PyTorch's in-place activation ``fn_``: the result written into ``input``'s array, which is
    returned (allowed only where no recorded op needs the old values: outside autograd)."""

    def apply(input, *args, **kwargs):
        from ...autograd.grad_mode import state

        if input.requires_grad and state.enabled:
            raise RuntimeError(f"{fn.__name__}_: an in-place activation of a tensor that requires grad would lose "
                               f"the values its gradient needs; use F.{fn.__name__}(x) instead")
        input.array[...] = fn(input, *args, **kwargs).array
        input._version += 1
        return input

    apply.__name__ = apply.__qualname__ = fn.__name__ + "_"
    apply.__doc__ = f"In-place :func:`{fn.__name__}` (no autograd)."
    return apply


relu_ = _inplace(relu)
elu_ = _inplace(elu)
leaky_relu_ = _inplace(leaky_relu)
hardtanh_ = _inplace(hardtanh)
threshold_ = _inplace(threshold)
selu_ = _inplace(selu)
celu_ = _inplace(celu)
rrelu_ = _inplace(rrelu)
