"""Weight initializations (in place, drawn from mathdl's seeded generator).

For a weight of shape (out, in, *k) with receptive field r = prod(k):
  fan_in = in * r,  fan_out = out * r.
  xavier (Glorot):  Var = gain^2 * 2 / (fan_in + fan_out)
                    uniform bound a = gain * sqrt(6 / (fan_in + fan_out)),
                    normal std = gain * sqrt(2 / (fan_in + fan_out))
  kaiming (He):     Var = gain^2 / fan  (fan = fan_in or fan_out)
                    uniform bound = gain * sqrt(3 / fan),  normal std = gain / sqrt(fan)
  orthogonal:       Q from the QR decomposition of a Gaussian matrix, signs fixed by diag(R),
                    scaled by gain.
  dirac:            the identity convolution: W[g*out_g + i, i, centre] = 1 (per group), else 0
  sparse:           N(0, std^2) with a fraction ``sparsity`` of each column set to zero
``calculate_gain`` gives the gain that keeps the activation variance constant through a
nonlinearity (relu: sqrt 2, tanh: 5/3, leaky_relu(a): sqrt(2 / (1 + a^2)), selu: 3/4).
Every draw comes from ``mathdl.backend.rng.np``, so ``mathdl.manual_seed`` fixes them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
    "xavier_uniform_", "xavier_normal_", "glorot_uniform_", "glorot_normal_", "kaiming_uniform_",
    "kaiming_normal_", "he_uniform_", "he_normal_", "orthogonal_", "dirac_", "sparse_", "calculate_fan_in_and_fan_out",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for ``nonlinearity`` (as PyTorch's ``calculate_gain``)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{list(_LINEAR) + ['tanh', 'relu', 'leaky_relu', 'selu']}")


def calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, "
                         f"got shape {tuple(tensor.shape)}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def _write(tensor: Tensor, values) -> Tensor:
    """Store ``values`` (a NumPy array drawn on the CPU) into ``tensor`` in place."""
    arr = tensor.array
    values = np.asarray(values)
    if backend.xp_of(arr) is np:
        if arr.flags.writeable:
            arr[...] = values
        else:
            tensor.array = values.astype(arr.dtype)
    else:  # pragma: no cover - GPU
        arr[...] = backend.to_device(values.astype(arr.dtype), "cuda")
    tensor._version += 1
    return tensor


def _gen():
    return backend.rng.np


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with draws from U(a, b)."""
    return _write(tensor, _gen().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with draws from N(mean, std^2)."""
    return _write(tensor, _gen().normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """N(mean, std^2) truncated to [a, b] (by redrawing the entries that fall outside)."""
    g = _gen()
    out = g.normal(mean, std, size=tensor.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = g.normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    return _write(tensor, out)


def constant_(tensor, val: float):
    return _write(tensor, np.full(tensor.shape, val))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    if tensor.ndim != 2:
        raise ValueError(f"eye_: expected a 2-D tensor, got shape {tuple(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor, gain: float = 1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain: float = 1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor, gain: float = 1.0):
    """A (semi-)orthogonal matrix (rows or columns orthonormal), reshaped to the tensor's shape."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: expected at least 2 dimensions, got shape {tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _gen().normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    d = np.sign(np.diag(r))
    d[d == 0] = 1
    q = q * d
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tensor.shape))


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def dirac_(tensor, groups: int = 1):
    """The identity of a convolution: a 3-, 4- or 5-D weight (out, in, *k) that passes input channel i
    to output channel i of each of ``groups`` groups (the centre tap), zeros elsewhere."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: expected a 3-, 4- or 5-D tensor, got shape {tuple(tensor.shape)}")
    if groups < 1 or tensor.shape[0] % groups:
        raise ValueError(f"dirac_: groups={groups} must divide the {tensor.shape[0]} output channels")
    out_g = tensor.shape[0] // groups
    w = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for i in range(min(out_g, tensor.shape[1])):
            w[(g * out_g + i, i) + centre] = 1.0
    return _write(tensor, w)


def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """A 2-D tensor drawn from N(0, std^2) with ceil(sparsity * rows) zeros in every column."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: expected a 2-D tensor, got shape {tuple(tensor.shape)}")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity}")
    g = _gen()
    rows, cols = tensor.shape
    w = g.normal(0.0, std, size=(rows, cols))
    k = int(math.ceil(sparsity * rows))
    for c in range(cols):
        w[g.permutation(rows)[:k], c] = 0.0
    return _write(tensor, w)
