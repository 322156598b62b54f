"""Activation modules (the functions are in :mod:`mathdl.nn.functional.activation`).

  ReLU       max(x, 0)                          ReLU6      min(max(x, 0), 6)
  LeakyReLU  x if x > 0 else a x                PReLU      x if x > 0 else a x, a learnable (1 or per channel)
  ELU        x if x > 0 else alpha (e^x - 1)    SELU       scale * ELU(x, alpha), alpha = 1.6733, scale = 1.0507
  CELU       max(0, x) + min(0, alpha (e^(x/alpha) - 1))
  GELU       x Phi(x)  (or its tanh approximation)
  SiLU       x sigmoid(x)                       Swish      x sigmoid(beta x), beta optionally learnable
  Mish       x tanh(softplus(x))                Softplus   log(1 + e^(beta x)) / beta
  Sigmoid    1 / (1 + e^-x)                     Tanh       tanh x
  Hardtanh   clamp(x, min_val, max_val)         Softsign   x / (1 + |x|)
  Hardsigmoid relu6(x + 3) / 6                  Hardswish  x relu6(x + 3) / 6
  Softmax    e^x_i / sum_j e^x_j along dim      LogSoftmax x_i - logsumexp(x) along dim
  LogSigmoid log sigmoid(x)                     Softmin    softmax(-x) along dim
  GLU        a sigmoid(b), (a, b) the halves of x along dim
  Threshold  x if x > threshold else value      RReLU      x if x >= 0 else a x, a ~ U(lower, upper) in
                                                           training, (lower + upper) / 2 in eval
  Tanhshrink x - tanh(x)                        Softmax2d  softmax over the channels of (N, C, H, W)
  Hardshrink x if |x| > lambd else 0            Softshrink x - clamp(x, -lambd, lambd)
"""

from __future__ import annotations

import numpy as np

from ... import backend
from .. import functional as F
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = [
    "ReLU", "ReLU6", "Sigmoid", "Tanh", "SiLU", "Mish", "SELU", "Softsign", "Hardsigmoid", "Hardswish",
    "LogSigmoid", "LeakyReLU", "PReLU", "ELU", "CELU", "GELU", "Swish", "Hardtanh", "Softplus", "Softmax",
    "LogSoftmax", "Softmin", "GLU", "Threshold", "Hardshrink", "Softshrink", "RReLU", "Tanhshrink", "Softmax2d",
]


class _Stateless(Module):
    """An activation without parameters; ``inplace`` is accepted for PyTorch compatibility."""

    def __init__(self, inplace: bool = False):
        super().__init__()


class ReLU(_Stateless):
    def forward(self, x):
        return F.relu(x)


class ReLU6(_Stateless):
    def forward(self, x):
        return F.relu6(x)


class Sigmoid(_Stateless):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(_Stateless):
    def forward(self, x):
        return F.tanh(x)


class SiLU(_Stateless):
    def forward(self, x):
        return F.silu(x)


class Mish(_Stateless):
    def forward(self, x):
        return F.mish(x)


class SELU(_Stateless):
    def forward(self, x):
        return F.selu(x)


class Softsign(_Stateless):
    def forward(self, x):
        return F.softsign(x)


class Hardsigmoid(_Stateless):
    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(_Stateless):
    def forward(self, x):
        return F.hardswish(x)


class LogSigmoid(_Stateless):
    def forward(self, x):
        return F.logsigmoid(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """x if x > 0 else a x with a learnable slope: one shared, or one per channel (axis 1)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = size_arg("PReLU", "num_parameters", num_parameters)
        self.init = float(init)
        self.weight = Parameter(np.full((self.num_parameters,), init, dtype=backend.as_dtype(dtype)))
        _to_device(self, device)

    def reset_parameters(self):
        self.weight.array[...] = self.init

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(ELU):
    def forward(self, x):
        return F.celu(x, self.alpha)


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Swish(Module):
    """x sigmoid(beta x); with ``learnable=True`` beta is a Parameter (a scalar)."""

    def __init__(self, beta: float = 1.0, learnable: bool = False, device=None, dtype=None):
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = Parameter(np.asarray(beta, dtype=backend.as_dtype(dtype)))
        else:
            self.beta = float(beta)
        _to_device(self, device)

    def forward(self, x):
        return F.swish(x, self.beta)

    def extra_repr(self):
        return f"beta={float(self.beta.array) if self.learnable else self.beta}, learnable={self.learnable}"


class Hardtanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is larger than max_val {max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim)


class Softmin(Module):
    """softmax(-x) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmin(x, self.dim)


class GLU(Module):
    """Gated linear unit along ``dim`` (the size there must be even)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.glu(x, self.dim)


class Threshold(Module):
    """x if x > threshold else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}"

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value)


class Hardshrink(Module):
    """x if |x| > lambd else 0."""

    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Hardshrink: lambd must be non-negative, got {lambd}")
        self.lambd = lambd

    def forward(self, x):
        return F.hardshrink(x, self.lambd)


class Softshrink(Module):
    """x - clamp(x, -lambd, lambd)."""

    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be non-negative, got {lambd}")
        self.lambd = lambd

    def forward(self, x):
        return F.softshrink(x, self.lambd)


class RReLU(Module):
    """Randomized leaky ReLU (slopes drawn in training, their mean in eval)."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}"

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, x):
        return F.tanhshrink(x)


class Softmax2d(Module):
    """Softmax over the channel dim of (N, C, H, W) or (C, H, W) input."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape {tuple(x.shape)}")
        return F.softmax(x, -3)
