"""Lookup tables: ``Embedding`` (y = W[idx], W (num_embeddings, embedding_dim) ~ N(0, 1),
the ``padding_idx`` row zero and not updated).
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from .. import functional as F
from .. import init
from .linear import _empty
from .module import Module, Parameter

__all__ = ["Embedding"]


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
