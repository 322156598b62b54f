"""Batch normalization over the batch (and spatial) axes, per channel c:

  y = (x - mu_c) / sqrt(var_c + eps) * gamma_c + beta_c

with batch statistics in training (running averages updated with ``momentum``; the running
variance uses the unbiased estimate) and the running ones in eval.  gamma = 1, beta = 0,
running_mean = 0, running_var = 1 at init.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...ops.normalization import batch_norm as _batch_norm
from .. import functional as F
from .. import init
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d.

    Training: normalize with the batch's mean and (biased) variance per channel and update
    running_mean/var with ``momentum`` (or a cumulative average when momentum is None).
    Eval: normalize with the running statistics.
    """

    _expected_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        size_arg(type(self).__name__, "num_features", num_features)
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: eps must be non-negative, got {eps}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = backend.as_dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            self.bias = Parameter(np.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._make(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor._make(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor._make(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        _to_device(self, device)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array = np.zeros((), dtype=np.int64)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input(self, x):
        if x.ndim not in self._expected_dims or x.shape[1] != self.num_features:
            dims = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected {dims} input with "
                             f"{self.num_features} channels in dimension 1, got shape {tuple(x.shape)}")

    def _step(self, x):
        """Check ``x``, count the batch, and return (use batch statistics?, running-average factor):
        the factor is ``momentum``, or 1/batches-seen for a cumulative average (momentum None)."""
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)  # in place, as PyTorch (the 0-d int64 array stays an array)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        return self.training or not self.track_running_stats, factor

    def forward(self, x):
        use_batch, factor = self._step(x)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor,
                            self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input (statistics over N, and L)."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W): statistics per channel over N, H and W (the fused
    ``F.batch_norm``); running statistics, momentum and eval mode as in BatchNorm1d."""

    _expected_dims = (4,)

    def forward_relu(self, x):
        """max(self(x), 0) as one fused op (one pass less forward and backward; used by the ResNet
        blocks).  Same statistics, running-average updates and eval behaviour as ``forward``;
        forward hooks do not run."""
        use_batch, factor = self._step(x)
        return _batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor,
                           self.eps, relu=True)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) input over N, D, H, W per channel."""

    _expected_dims = (5,)
