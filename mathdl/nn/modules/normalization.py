"""Per-sample normalization layers:

  LayerNorm   y = (x - mean) / sqrt(var + eps) * gamma + beta over the trailing ``normalized_shape``
  GroupNorm   the same per sample over groups of channels (and spatial axes), per-channel gamma, beta
  RMSNorm     y = x / sqrt(mean(x^2 over normalized_shape) + eps) * gamma   (Zhang & Sennrich, 2019)
  LocalResponseNorm  y_c = x_c / (k + alpha/n sum_{c' near c} x_{c'}^2)^beta over n neighbouring channels
gamma = 1, beta = 0 at init.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...ops import conv as C
from .. import functional as F
from .. import init
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]


def _shape_arg(layer, normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    return tuple(size_arg(layer, "normalized_shape", s) for s in normalized_shape)


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` axes."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_arg("LayerNorm", normalized_shape)
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=backend.as_dtype(dtype)))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=backend.as_dtype(dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        _to_device(self, device)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}): input of shape {tuple(x.shape)} does not end "
                             f"with {self.normalized_shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalization: per sample over groups of C/num_groups channels; weight, bias (C,)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        size_arg("GroupNorm", "num_groups", num_groups)
        size_arg("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        dt = backend.as_dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dt))
            self.bias = Parameter(np.zeros(num_channels, dtype=dt))
        else:
            self.weight = self.bias = None
        _to_device(self, device)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.extra_repr()}): expected input (N, {self.num_channels}, ...), got "
                             f"shape {tuple(getattr(x, 'shape', ()))}")
        return C.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` axes
    (eps None: the dtype's machine epsilon)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_arg("RMSNorm", normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=backend.as_dtype(dtype)))
        else:
            self.register_parameter("weight", None)
        _to_device(self, device)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)


class LocalResponseNorm(Module):
    """Normalization over ``size`` neighbouring channels (no parameters)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size_arg("LocalResponseNorm", "size", size)
        self.alpha, self.beta, self.k = alpha, beta, k

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)
