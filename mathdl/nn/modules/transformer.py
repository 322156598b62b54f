"""Positional encodings and transformer layers.

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

from ... import backend
from ...autograd.tensor import Tensor
from ...ops import elementwise as ew
from ...ops.indexing import getitem
from ...ops.shape import reshape
from .. import functional as F
from .. import init
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from ._args import size_arg
from .module import _to_device, Module, Parameter
from .normalization import LayerNorm

__all__ = [
    "SinusoidalPositionalEncoding", "LearnedPositionalEncoding", "TransformerEncoderLayer",
    "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer",
]


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

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=True, device=None, dtype=None):
        super().__init__()
        size_arg(type(self).__name__, "d_model", d_model)
        size_arg(type(self).__name__, "max_len", max_len)
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        pos = np.arange(max_len, dtype=np.float64)[:, None]
        div = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model), dtype=np.float64)
        pe[:, 0::2] = np.sin(pos * div)
        pe[:, 1::2] = np.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", Tensor._make(pe.astype(backend.as_dtype(dtype))), persistent=False)
        self.dropout = Dropout(dropout)
        _to_device(self, device)

    def forward(self, x):
        L = self._length(x)
        pe = self.pe.array[:L]
        if not self.batch_first:
            pe = pe[:, None, :]
        return self.dropout(ew.add(x, Tensor._make(pe.astype(x.dtype, copy=False))))


class LearnedPositionalEncoding(_PositionalEncoding):
    """x + P[:L] with a trained table P of shape (max_len, D) (init N(0, 0.02^2)), then dropout."""

    def __init__(self, d_model, max_len=512, dropout=0.0, batch_first=True, device=None, dtype=None):
        super().__init__()
        size_arg(type(self).__name__, "d_model", d_model)
        size_arg(type(self).__name__, "max_len", max_len)
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        self.weight = Parameter(np.zeros((max_len, d_model), dtype=backend.as_dtype(dtype)))
        init.normal_(self.weight, 0.0, 0.02)
        self.dropout = Dropout(dropout)
        _to_device(self, device)

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
    size_arg(name, "d_model", d_model)
    size_arg(name, "nhead", nhead)
    if d_model % nhead != 0:
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
        size_arg(name, "dim_feedforward", dim_feedforward)
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
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__("TransformerEncoderLayer", False, d_model, nhead, dim_feedforward, dropout, activation,
                         layer_norm_eps, batch_first, norm_first, bias, dtype)
        _to_device(self, device)

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
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__("TransformerDecoderLayer", True, d_model, nhead, dim_feedforward, dropout, activation,
                         layer_norm_eps, batch_first, norm_first, bias, dtype)
        _to_device(self, device)

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
        size_arg("TransformerEncoder", "num_layers", num_layers, 0)
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
        size_arg("TransformerDecoder", "num_layers", num_layers, 0)
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
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        _check_heads("Transformer", d_model, nhead)
        size_arg("Transformer", "num_encoder_layers", num_encoder_layers, 0)
        size_arg("Transformer", "num_decoder_layers", num_decoder_layers, 0)
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
        _to_device(self, device)

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
