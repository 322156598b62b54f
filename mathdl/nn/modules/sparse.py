"""Lookup tables: ``Embedding`` (y = W[idx], W (num_embeddings, embedding_dim) ~ N(0, 1),
the ``padding_idx`` row zero and not updated) and ``EmbeddingBag`` (per bag, the sum, mean or
maximum of the looked-up rows, optionally weighted per index in mode 'sum').
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from .. import functional as F
from .. import init
from .linear import _empty
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """A lookup table: y = W[idx] with W of shape (num_embeddings, embedding_dim).

    The row ``padding_idx`` (if given) starts at zero and gets no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, device=None, dtype=None,
                 _weight=None):
        super().__init__()
        self.num_embeddings = size_arg(type(self).__name__, "num_embeddings", num_embeddings, 0)
        self.embedding_dim = size_arg(type(self).__name__, "embedding_dim", embedding_dim, 0)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"num_embeddings={num_embeddings}")
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        if _weight is not None:
            w = _weight.array if isinstance(_weight, Tensor) else np.asarray(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(w.shape)}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(w)
        else:
            self.weight = Parameter(_empty(num_embeddings, embedding_dim, dtype=dtype))
            self.reset_parameters()
        _to_device(self, device)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None):
        n, d = embeddings.shape
        m = cls(n, d, padding_idx=padding_idx, _weight=embeddings)
        m.weight.requires_grad_(not freeze)
        return m

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

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


class EmbeddingBag(Module):
    """Reduces bags of embeddings: y[b] = reduce_{i in bag b} w_i W[idx_i], W (num_embeddings,
    embedding_dim) ~ N(0, 1); bags are the rows of a 2-D input or given by ``offsets`` into a 1-D one."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        super().__init__()
        self.num_embeddings = size_arg("EmbeddingBag", "num_embeddings", num_embeddings, 0)
        self.embedding_dim = size_arg("EmbeddingBag", "embedding_dim", embedding_dim, 0)
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("EmbeddingBag: max_norm, scale_grad_by_freq and sparse are not supported")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"EmbeddingBag: padding_idx {padding_idx} is out of range for "
                                 f"num_embeddings={num_embeddings}")
            padding_idx %= num_embeddings
        self.mode, self.include_last_offset, self.padding_idx = mode, include_last_offset, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, False, False
        if _weight is not None:
            w = _weight.array if isinstance(_weight, Tensor) else np.asarray(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight has shape {tuple(w.shape)}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(w)
        else:
            self.weight = Parameter(_empty(num_embeddings, embedding_dim, dtype=dtype))
            self.reset_parameters()
        _to_device(self, device)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, mode="mean", include_last_offset=False, padding_idx=None):
        n, d = embeddings.shape
        m = cls(n, d, mode=mode, _weight=embeddings, include_last_offset=include_last_offset,
                padding_idx=padding_idx)
        m.weight.requires_grad_(not freeze)
        return m

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, mode=self.mode, per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset, padding_idx=self.padding_idx)
