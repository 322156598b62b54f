"""Instance normalization (Ulyanov et al., 2016): each sample's channel normalized over its
spatial positions,

  y = (x - mean_{n,c}) / sqrt(var_{n,c} + eps) * gamma_c + beta_c,

PyTorch's defaults: ``affine=False`` and ``track_running_stats=False``; with running statistics
tracked, evaluation mode uses them instead (``num_batches_tracked`` stays 0, as in PyTorch).
Unbatched (C, *spatial) input is accepted.
"""

from __future__ import annotations

from ...autograd.tensor import Tensor
from ...ops.shape import reshape
from .. import functional as F
from .batchnorm import _BatchNorm
from .module import _to_device

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(_BatchNorm):
    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)
        _to_device(self, device)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def forward(self, x):
        name = f"{type(self).__name__}({self.num_features})"
        nd = self._spatial + 2
        if not isinstance(x, Tensor) or x.ndim not in (nd - 1, nd):
            raise ValueError(f"{name}: expected a {nd}-D input (N, C, *spatial) or {nd - 1}-D unbatched, got shape "
                             f"{tuple(getattr(x, 'shape', ()))}")
        if x.ndim == nd - 1:
            return reshape(self.forward(reshape(x, (1,) + tuple(x.shape))), tuple(x.shape))
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels in dim 1, got shape {tuple(x.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                               0.1 if self.momentum is None else self.momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) input."""


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) input."""

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) input."""

    _spatial = 3
