"""Linear maps: ``Identity`` (y = x), ``Linear`` (y = x W^T + b, W (out, in)), ``Bilinear``
(y_k = x1^T W_k x2 + b_k, W (out, in1, in2)).

PyTorch's initialization: W ~ kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""

from __future__ import annotations

import math

import numpy as np

from ... import backend
from .. import functional as F
from .. import init
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = ["Identity", "Linear", "Bilinear"]


def _empty(*shape, dtype=None):
    return np.empty(shape, dtype=backend.as_dtype(dtype))


class Identity(Module):
    """y = x (arguments to the constructor are accepted and ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features = size_arg("Linear", "in_features", in_features, 0)
        self.out_features = size_arg("Linear", "out_features", out_features, 0)
        self.weight = Parameter(_empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None and device != "cpu":
            self.to(device)

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): expected input "
                f"with {self.in_features} features in its last dimension, got shape {tuple(x.shape)} "
                f"({x.shape[-1] if x.ndim else 0} features)")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T W_k x2 + b_k with W of shape (out_features, in1_features, in2_features)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = (
            size_arg("Bilinear", n, v, 0) for n, v in (("in1_features", in1_features), ("in2_features", in2_features),
                                                       ("out_features", out_features)))
        self.weight = Parameter(_empty(out_features, in1_features, in2_features, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        _to_device(self, device)

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x1, x2):
        if x1.shape[-1] != self.in1_features or x2.shape[-1] != self.in2_features:
            raise ValueError(f"{self._desc()}: expected inputs with {self.in1_features} and {self.in2_features} "
                             f"features, got shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
        return F.bilinear(x1, x2, self.weight, self.bias)

    def _desc(self):
        return f"Bilinear({self.extra_repr()})"

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
