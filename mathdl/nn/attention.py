"""Attention layers and the transformer, with PyTorch's parameter layout and mask conventions.

MultiheadAttention (h heads of size d = E/h):
  head_i = softmax(Q_i K_i^T / sqrt(d) + B) V_i,   Q = q W_q^T + b_q, K = k W_k^T + b_k, V = v W_v^T + b_v
  out = concat(head_1..head_h) W_o^T + b_o
with [W_q; W_k; W_v] stored as ``in_proj_weight`` (3E, E) (or ``q/k/v_proj_weight`` when kdim or
vdim differ from E) and W_o in ``out_proj`` (a Linear), so state dicts copy to and from
``torch.nn.MultiheadAttention``.  Masks: ``key_padding_mask`` (N, S) and a boolean ``attn_mask``
mark with True the positions that must NOT be attended (PyTorch's module convention, the opposite
of ``scaled_dot_product_attention``'s); floating masks are added to the scores.

Positional encodings: sinusoidal, PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(same),
and learned (a trained (max_len, D) table).

Transformer layers (post-norm, the default, and pre-norm with ``norm_first=True``):
  post-norm encoder:  x = LN1(x + SA(x));          x = LN2(x + FF(x))
  pre-norm encoder:   x = x + SA(LN1(x));          x = x + FF(LN2(x))
  decoder adds cross-attention to ``memory`` between the two: x = LN2(x + CA(x, mem)) (post) or
  x = x + CA(LN2(x), mem) (pre), and LN3 for the feed-forward FF(x) = W2 dropout(act(W1 x + b1)) + b2.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..ops import elementwise as ew
from ..ops.attention import attention
from ..ops.indexing import getitem
from ..ops.reduce import mean as _mean
from ..ops.shape import permute, reshape
from . import functional as F
from . import init
from .layers import Dropout, LayerNorm, Linear
from .module import Module, ModuleList, Parameter

__all__ = [
    "MultiheadAttention", "SinusoidalPositionalEncoding", "LearnedPositionalEncoding",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder",
    "Transformer",
]


def _mask_array(mask):
    return mask.data if isinstance(mask, Tensor) else np.asarray(mask)


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
                 kdim=None, vdim=None, batch_first=False, dtype=None):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        embed_dim, num_heads = int(embed_dim), int(num_heads)
        if num_heads <= 0 or embed_dim % num_heads != 0:
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
            self.last_attn_weights = backend.to_device(weights.data, "cpu").copy()
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


# --------------------------------------------------------------------------- positional encodings
class _PositionalEncoding(Module):
    """Shared by the encodings: x + PE[:L] for x of shape (N, L, D) (or (L, N, D)), then dropout."""

    def _length(self, x):
        L = x.shape[1] if self.batch_first else x.shape[0]
        if L > self.max_len:
            raise ValueError(f"{type(self).__name__}: sequence length {L} exceeds max_len={self.max_len}")
        return L

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"


class SinusoidalPositionalEncoding(_PositionalEncoding):
    """x + PE[:L] with PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(p / 10000^(2i/D)), then dropout."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=True, dtype=None):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        pos = np.arange(max_len, dtype=np.float64)[:, None]
        div = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model), dtype=np.float64)
        pe[:, 0::2] = np.sin(pos * div)
        pe[:, 1::2] = np.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", Tensor._make(pe.astype(backend.as_dtype(dtype))), persistent=False)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        L = self._length(x)
        pe = self.pe.data[:L]
        if not self.batch_first:
            pe = pe[:, None, :]
        return self.dropout(ew.add(x, Tensor._make(pe.astype(x.dtype, copy=False))))


class LearnedPositionalEncoding(_PositionalEncoding):
    """x + P[:L] with a trained table P of shape (max_len, D) (init N(0, 0.02^2)), then dropout."""

    def __init__(self, d_model, max_len=512, dropout=0.0, batch_first=True, dtype=None):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        self.weight = Parameter(np.zeros((max_len, d_model), dtype=backend.as_dtype(dtype)))
        init.normal_(self.weight, 0.0, 0.02)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        L = self._length(x)
        pe = getitem(self.weight, slice(0, L))
        if not self.batch_first:
            pe = reshape(pe, (L, 1, self.d_model))
        return self.dropout(ew.add(x, pe))


# --------------------------------------------------------------------------- transformer layers
def _activation(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"activation should be 'relu', 'gelu' or a callable, got {activation!r}")


def _check_heads(name, d_model, nhead):
    if nhead <= 0 or d_model % nhead != 0:
        raise ValueError(f"{name}: d_model={d_model} must be divisible by nhead={nhead}")


class _TransformerLayer(Module):
    """What encoder and decoder layers share: residual blocks (self-attention, with
    ``cross_attention`` also attention to the memory, then the feed-forward
    FF(x) = W2 dropout(act(W1 x + b1)) + b2), each with a layer norm ``norm{i}`` and a dropout
    ``dropout{i}``.  Attributes are registered in PyTorch's order, so parameters, state dicts
    and initial draws match it."""

    def __init__(self, name, cross_attention, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                 batch_first, norm_first, bias, dtype):
        super().__init__()
        _check_heads(name, d_model, nhead)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        if cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        n_blocks = 3 if cross_attention else 2
        for i in range(1, n_blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for i in range(1, n_blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)
        self.batch_first = bool(batch_first)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff(self, x, out_dropout):
        return out_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and feed-forward blocks with residuals and layer norms (post- or pre-norm)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=None):
        super().__init__("TransformerEncoderLayer", False, d_model, nhead, dim_feedforward, dropout, activation,
                         layer_norm_eps, batch_first, norm_first, bias, dtype)

    def _ff_block(self, x):
        return self._ff(x, self.dropout2)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention to ``memory`` and feed-forward blocks (post- or pre-norm)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=None):
        super().__init__("TransformerDecoderLayer", True, d_model, nhead, dim_feedforward, dropout, activation,
                         layer_norm_eps, batch_first, norm_first, bias, dtype)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self._ff(x, self.dropout3)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


def _clones(layer, n):
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` copies of an encoder layer applied in turn, then an optional final norm.

    ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch compatibility and ignored.
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x


class TransformerDecoder(Module):
    """``num_layers`` copies of a decoder layer applied in turn, then an optional final norm."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=bool(memory_is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x


class Transformer(Module):
    """Encoder-decoder transformer (Vaswani et al. 2017) with final layer norms on both stacks."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=None):
        super().__init__()
        _check_heads("Transformer", d_model, nhead)
        kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                  layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                  dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = int(d_model), int(nhead), bool(batch_first)
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    @staticmethod
    def generate_square_subsequent_mask(sz, dtype=None):
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i sees j <= i)."""
        m = np.triu(np.full((sz, sz), -np.inf), k=1).astype(backend.as_dtype(dtype))
        return Tensor._make(m)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=False, tgt_is_causal=False,
                memory_is_causal=False):
        b = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[b] != tgt.shape[b]:
            raise ValueError(f"Transformer: src and tgt batch sizes differ: shapes {tuple(src.shape)} and "
                             f"{tuple(tgt.shape)} (batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src and tgt need d_model={self.d_model} features, got shapes "
                             f"{tuple(src.shape)} and {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)
