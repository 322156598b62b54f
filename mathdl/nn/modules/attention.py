"""Multi-head attention, with PyTorch's parameter layout and mask conventions.

MultiheadAttention (h heads of size d = E/h):
  head_i = softmax(Q_i K_i^T / sqrt(d) + B) V_i,   Q = q W_q^T + b_q, K = k W_k^T + b_k, V = v W_v^T + b_v
  out = concat(head_1..head_h) W_o^T + b_o
with [W_q; W_k; W_v] stored as ``in_proj_weight`` (3E, E) (or ``q/k/v_proj_weight`` when kdim or
vdim differ from E) and W_o in ``out_proj`` (a Linear), so state dicts copy to and from
``torch.nn.MultiheadAttention``.  Masks: ``key_padding_mask`` (N, S) and a boolean ``attn_mask``
mark with True the positions that must NOT be attended (PyTorch's module convention, the opposite
of ``scaled_dot_product_attention``'s); floating masks are added to the scores.
"""

from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd.tensor import Tensor
from ...ops.attention import attention
from ...ops.indexing import getitem
from ...ops.reduce import mean as _mean
from ...ops.shape import permute, reshape
from .. import functional as F
from .. import init
from .linear import Linear
from ._args import size_arg
from .module import _to_device, Module, Parameter

__all__ = ["MultiheadAttention"]


def _mask_array(mask):
    return mask.array if isinstance(mask, Tensor) else np.asarray(mask)


def _module_mask_bias(mask, dtype):
    """PyTorch module convention: boolean True = masked out (-inf); floats are added."""
    m = _mask_array(mask)
    if m.dtype == np.bool_:
        return np.where(m, -np.inf, 0.0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"mask must be boolean (True = do not attend) or floating (added to the scores), "
                        f"got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters, masks and return values (see module doc)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        embed_dim = size_arg("MultiheadAttention", "embed_dim", embed_dim)
        num_heads = size_arg("MultiheadAttention", "num_heads", num_heads)
        for arg, v in (("kdim", kdim), ("vdim", vdim)):
            if v is not None:
                size_arg("MultiheadAttention", arg, v)
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = int(kdim) if kdim is not None else embed_dim
        self.vdim = int(vdim) if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        dt = backend.as_dtype(dtype)
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dt))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        self.store_attn_weights = False  # set by mathdl.analysis.attention_maps
        self.last_attn_weights = None
        self._reset_parameters()
        _to_device(self, device)

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        E = self.embed_dim
        b = self.in_proj_bias
        bs = [None] * 3 if b is None else [getitem(b, slice(i * E, (i + 1) * E)) for i in range(3)]
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = [getitem(w, slice(i * E, (i + 1) * E)) for i in range(3)]
        else:
            ws = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        return ws, bs

    def _heads(self, y, batch_first):
        """(N, L, E) or (L, N, E) -> (N, H, L, d) (a view)."""
        H, d = self.num_heads, self.head_dim
        if batch_first:
            N, L = y.shape[0], y.shape[1]
            return permute(reshape(y, (N, L, H, d)), (0, 2, 1, 3))
        L, N = y.shape[0], y.shape[1]
        return permute(reshape(y, (L, N, H, d)), (1, 2, 0, 3))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
        if query.ndim not in (2, 3):
            raise ValueError(f"{name}: query must be 2-D (L, E) or 3-D, got shape {tuple(query.shape)}")
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must have the same number of dimensions, got shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        bf = self.batch_first
        if not batched:  # one sequence: treat as batch of one, batch first
            query, key, value = (reshape(t, (1,) + tuple(t.shape)) for t in (query, key, value))
            if key_padding_mask is not None:
                kpm = _mask_array(key_padding_mask)
                key_padding_mask = kpm.reshape((1,) + tuple(kpm.shape))
            bf = True
        if query.shape[-1] != self.embed_dim:
            raise ValueError(f"{name}: query has {query.shape[-1]} features in its last dimension, "
                             f"expected embed_dim={self.embed_dim} (shape {tuple(query.shape)})")
        if key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"{name}: key/value feature sizes {key.shape[-1]}/{value.shape[-1]} do not match "
                             f"kdim={self.kdim}/vdim={self.vdim}")
        if bf:
            N, L, S = query.shape[0], query.shape[1], key.shape[1]
            nk = key.shape[0]
        else:
            L, N, S = query.shape[0], query.shape[1], key.shape[0]
            nk = key.shape[1]
        if nk != N or key.shape[:2] != value.shape[:2]:
            raise ValueError(f"{name}: query, key and value disagree on batch size / key length: shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)} "
                             f"(batch_first={self.batch_first})")
        H = self.num_heads
        dtype = query.dtype
        bias = None
        if attn_mask is None and is_causal:
            bias = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(dtype)
        elif attn_mask is not None:
            m = _module_mask_bias(attn_mask, dtype)
            if m.shape == (L, S):
                bias = m
            elif m.shape == (N * H, L, S):
                bias = m.reshape(N, H, L, S)
            else:
                raise ValueError(f"{name}: attn_mask of shape {tuple(m.shape)} is wrong: expected (L, S) = "
                                 f"({L}, {S}) or (N * num_heads, L, S) = ({N * H}, {L}, {S})")
        if key_padding_mask is not None:
            kp = _module_mask_bias(key_padding_mask, dtype)
            if kp.shape != (N, S):
                raise ValueError(f"{name}: key_padding_mask of shape {tuple(kp.shape)} is wrong: expected "
                                 f"(N, S) = ({N}, {S})")
            kp = kp.reshape(N, 1, 1, S)
            bias = kp if bias is None else bias + kp
        ws, bs = self._projections()
        q = self._heads(F.linear(query, ws[0], bs[0]), bf)
        k = self._heads(F.linear(key, ws[1], bs[1]), bf)
        v = self._heads(F.linear(value, ws[2], bs[2]), bf)
        p = self.dropout if self.training else 0.0
        out, weights = attention(q, k, v, bias, p, None, name=name)  # (N, H, L, d), (N, H, L, S)
        if bf:
            out = reshape(permute(out, (0, 2, 1, 3)), (N, L, self.embed_dim))
        else:
            out = reshape(permute(out, (2, 0, 1, 3)), (L, N, self.embed_dim))
        out = self.out_proj(out)
        if self.store_attn_weights:
            self.last_attn_weights = backend.to_device(weights.array, "cpu").copy()
        if not batched:
            out = reshape(out, tuple(out.shape[1:]))
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = _mean(weights, 1)
        if not batched:
            weights = reshape(weights, tuple(weights.shape[1:]))
        return out, weights

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")
