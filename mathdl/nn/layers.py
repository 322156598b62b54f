"""Basic layers: Linear, Bilinear, Dropout, LayerNorm, BatchNorm1d, Embedding, Identity, Flatten.

Default initializations follow PyTorch so a model can be checked weight for weight:
  Linear / Bilinear: W ~ kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
                     b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  Embedding:         W ~ N(0, 1) (the padding row zero)
  LayerNorm / BatchNorm: weight = 1, bias = 0; running_mean = 0, running_var = 1
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..ops.shape import flatten as _flatten
from ..ops.shape import unflatten as _unflatten
from . import functional_core as F
from . import init
from .module import Module, Parameter

__all__ = ["Identity", "Linear", "Bilinear", "Dropout", "AlphaDropout", "LayerNorm", "BatchNorm1d", "Embedding",
           "Flatten", "Unflatten"]


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

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None, device=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
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

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(_empty(out_features, in1_features, in2_features, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

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


class Dropout(Module):
    """In training: zero each entry with probability p, scale the rest by 1/(1-p).  In eval: identity."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class AlphaDropout(Dropout):
    """Dropout for SELU networks that keeps zero mean and unit variance."""

    def forward(self, x):
        return F.alpha_dropout(x, self.p, self.training)


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` axes."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
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


class _BatchNorm(Module):
    """Shared by BatchNorm1d and (in mathdl.nn.conv) BatchNorm2d.

    Training: normalize with the batch's mean and (biased) variance per channel and update
    running_mean/var with ``momentum`` (or a cumulative average when momentum is None).
    Eval: normalize with the running statistics.
    """

    _expected_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None):
        super().__init__()
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

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data = np.zeros((), dtype=np.int64)

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
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
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


class Embedding(Module):
    """A lookup table: y = W[idx] with W of shape (num_embeddings, embedding_dim).

    The row ``padding_idx`` (if given) starts at zero and gets no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=None,
                 _weight=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"num_embeddings={num_embeddings}")
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        if _weight is not None:
            w = _weight.data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(w.shape)}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(w)
        else:
            self.weight = Parameter(_empty(num_embeddings, embedding_dim, dtype=dtype))
            self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None):
        n, d = embeddings.shape
        m = cls(n, d, padding_idx=padding_idx, _weight=embeddings)
        m.weight.requires_grad_(not freeze)
        return m

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, idx):
        try:
            return F.embedding(idx, self.weight, self.padding_idx)
        except (IndexError, TypeError) as e:
            raise type(e)(f"Embedding({self.num_embeddings}, {self.embedding_dim}): {e}") from None

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim into one (default: all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return _flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return _unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
