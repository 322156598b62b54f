"""Transformer models: an encoder classifier, a sequence-to-sequence encoder, a GPT-style LM.

* :class:`TransformerClassifier` (task ``classification``): the input, flattened to D numbers,
  is cut into T tokens of P = ceil(D / T) numbers (zero padded); token t is
  e_t = W_in x_t + p_t (learned positions), then pre-norm encoder layers, mean pooling over
  tokens, a layer norm and a linear head.
* :class:`SequenceTransformer` (task ``sequence``): digit tokens -> embedding + learned
  positions -> encoder (full attention: every output position sees the whole input) -> per-position
  logits.  Learns maps such as reversal (y_i = x_{L-1-i}) and sorting.  With ``arch="seq2seq"``
  it is an encoder-decoder instead: the decoder reads the target shifted right (teacher forcing)
  under a causal mask and generation is greedy, one position at a time.
* :class:`GPT` (task ``language_model``): token embedding E (V, D) + learned positions, pre-norm
  causal encoder layers (query t attends keys s <= t), a final layer norm and logits h E^T (the
  output layer shares the embedding matrix: weight tying).  :meth:`GPT.generate` samples
  autoregressively: greedy at temperature 0, otherwise from softmax(logits / T) restricted to the
  top-k tokens and/or the smallest set whose probability reaches top_p (nucleus), with its own
  seeded generator.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import functional as F
from ..nn import init
from ..nn import (
    Dropout, Embedding, LayerNorm, LearnedPositionalEncoding, Linear, Module, TransformerDecoder,
    TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
)
from ..ops.reduce import mean as _mean
from ..ops.shape import pad, reshape
from .registry import register_model

__all__ = ["TransformerClassifier", "SequenceTransformer", "GPT", "build_transformer", "build_gpt"]


def _encoder(d_model, nhead, num_layers, dim_feedforward, dropout, activation, norm_first=True):
    layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation=activation,
                                    batch_first=True, norm_first=norm_first)
    return TransformerEncoder(layer, num_layers, LayerNorm(d_model) if norm_first else None)


def _as_ids(x, vocab, name):
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer token ids, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab):
        bad = int(arr.max()) if arr.max() >= vocab else int(arr.min())
        raise IndexError(f"{name}: token id {bad} is out of range for a vocabulary of {vocab} (0..{vocab - 1})")
    return Tensor._make(arr) if not isinstance(x, Tensor) else x


class TransformerClassifier(Module):
    """Encoder classifier over T tokens cut from the flattened input (see module docstring)."""

    def __init__(self, input_shape, num_classes, d_model=64, nhead=4, num_layers=2, dim_feedforward=128,
                 dropout=0.1, max_tokens=64, activation="gelu"):
        super().__init__()
        D = int(np.prod(input_shape))
        self.in_features = D
        self.num_tokens = min(D, int(max_tokens))
        self.token_size = math.ceil(D / self.num_tokens)
        self.input_shape = tuple(input_shape)
        self.embed = Linear(self.token_size, d_model)
        self.pos = LearnedPositionalEncoding(d_model, self.num_tokens, dropout)
        self.encoder = _encoder(d_model, nhead, num_layers, dim_feedforward, dropout, activation)
        self.head = Linear(d_model, num_classes)

    def forward(self, x):
        N = x.shape[0]
        if int(np.prod(x.shape[1:])) != self.in_features:
            shape = ", ".join(map(str, self.input_shape))
            raise ValueError(f"TransformerClassifier: expected inputs of shape (N, {shape}), got {tuple(x.shape)}")
        h = reshape(x, (N, self.in_features))
        extra = self.num_tokens * self.token_size - self.in_features
        if extra:
            h = pad(h, (0, extra))
        h = self.pos(self.embed(reshape(h, (N, self.num_tokens, self.token_size))))
        h = self.encoder(h)
        return self.head(_mean(h, 1))


class SequenceTransformer(Module):
    """Digit sequence -> per-position logits (encoder, or encoder-decoder with ``arch='seq2seq'``)."""

    def __init__(self, seq_len, vocab_size, d_model=64, nhead=4, num_layers=2, dim_feedforward=128, dropout=0.0,
                 activation="gelu", arch="encoder"):
        super().__init__()
        if arch not in ("encoder", "seq2seq"):
            raise ValueError(f"SequenceTransformer: arch must be 'encoder' or 'seq2seq', got {arch!r}")
        self.seq_len, self.vocab_size, self.arch, self.d_model = int(seq_len), int(vocab_size), arch, int(d_model)
        self.embed = Embedding(vocab_size, d_model)
        init.normal_(self.embed.weight, 0.0, 0.1)
        self.pos = LearnedPositionalEncoding(d_model, seq_len, dropout)
        self.encoder = _encoder(d_model, nhead, num_layers, dim_feedforward, dropout, activation)
        if arch == "seq2seq":
            self.bos = vocab_size  # start token of the decoder input
            self.tgt_embed = Embedding(vocab_size + 1, d_model)
            init.normal_(self.tgt_embed.weight, 0.0, 0.1)
            self.tgt_pos = LearnedPositionalEncoding(d_model, seq_len, dropout)
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation=activation,
                                            batch_first=True, norm_first=True)
            self.decoder = TransformerDecoder(layer, num_layers, LayerNorm(d_model))
        self.head = Linear(d_model, vocab_size)

    def encode(self, x):
        x = _as_ids(x, self.vocab_size, "SequenceTransformer")
        if x.ndim != 2 or x.shape[1] > self.seq_len:
            raise ValueError(f"SequenceTransformer: expected token ids of shape (N, L <= {self.seq_len}), "
                             f"got {tuple(x.shape)}")
        return self.encoder(self.pos(self.embed(x)))

    def decode(self, memory, tgt_in):
        h = self.tgt_pos(self.tgt_embed(tgt_in))
        return self.head(self.decoder(h, memory, tgt_is_causal=True))

    def forward(self, x, target=None):
        memory = self.encode(x)
        if self.arch == "encoder":
            return self.head(memory)
        N, L = x.shape[0], x.shape[1]
        if target is not None and self.training:
            t = target.array if isinstance(target, Tensor) else np.asarray(target)
            tgt_in = np.concatenate([np.full((N, 1), self.bos, dtype=np.int64), t[:, :-1]], axis=1)
            return self.decode(memory, Tensor._make(tgt_in))
        if self.training:
            raise ValueError("SequenceTransformer(arch='seq2seq'): training needs the target for teacher forcing, "
                             "model(x, target); the generic 'mathdl train' passes inputs only, so use the default "
                             "arch='encoder' there")
        return self.greedy_decode(memory, N, L)

    def greedy_decode(self, memory, N, L):
        """Greedy autoregressive decoding: y_t = argmax p(y_t | y_<t, x); returns the logits."""
        tgt = np.full((N, 1), self.bos, dtype=np.int64)
        logits = None
        for _ in range(L):
            logits = self.decode(memory, Tensor._make(tgt))
            nxt = np.asarray(logits.array[:, -1]).argmax(-1)
            tgt = np.concatenate([tgt, nxt[:, None]], axis=1)
        return logits


class GPT(Module):
    """Decoder-only character/token language model with weight tying (see module docstring)."""

    def __init__(self, vocab_size, block_size, d_model=128, nhead=4, num_layers=4, dim_feedforward=None,
                 dropout=0.1, activation="gelu"):
        super().__init__()
        self.vocab_size, self.block_size, self.d_model = int(vocab_size), int(block_size), int(d_model)
        dim_feedforward = dim_feedforward or 4 * d_model
        self.tok_emb = Embedding(vocab_size, d_model)
        init.normal_(self.tok_emb.weight, 0.0, 0.02)
        self.pos = LearnedPositionalEncoding(d_model, block_size, 0.0)
        self.drop = Dropout(dropout)
        layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation=activation,
                                        batch_first=True, norm_first=True)
        self.blocks = TransformerEncoder(layer, num_layers)
        self.ln_f = LayerNorm(d_model)

    def forward(self, idx):
        idx = _as_ids(idx, self.vocab_size, "GPT")
        if idx.ndim != 2 or idx.shape[1] > self.block_size:
            raise ValueError(f"GPT: expected token ids of shape (N, T <= block_size={self.block_size}), "
                             f"got {tuple(idx.shape)}")
        h = self.drop(self.pos(self.tok_emb(idx)))
        h = self.ln_f(self.blocks(h, is_causal=True))
        return F.linear(h, self.tok_emb.weight)  # tied output layer: logits = h E^T

    def generate(self, prompt_ids, max_new_tokens=100, temperature=1.0, top_k=None, top_p=None, seed=None):
        """Continue ``prompt_ids`` (1-D ids) by ``max_new_tokens`` tokens; returns the full id array.

        temperature 0: greedy (argmax).  Otherwise sample from softmax(logits / temperature) kept to
        the ``top_k`` largest and/or the nucleus of cumulative probability ``top_p``.
        """
        ids = np.asarray(prompt_ids.array if isinstance(prompt_ids, Tensor) else prompt_ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            raise ValueError("GPT.generate: the prompt must contain at least one token")
        if temperature < 0:
            raise ValueError(f"GPT.generate: temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"GPT.generate: top_k must be >= 1, got {top_k}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise ValueError(f"GPT.generate: top_p must be in (0, 1], got {top_p}")
        _as_ids(ids, self.vocab_size, "GPT.generate")
        rng = np.random.default_rng(seed)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(int(max_new_tokens)):
                    ctx = ids[-self.block_size:][None, :]
                    last = self(Tensor._make(ctx)).array[0, -1]
                    logits = np.asarray(backend.to_device(last, "cpu"), dtype=np.float64)
                    ids = np.append(ids, sample_next(logits, temperature, top_k, top_p, rng))
        finally:
            self.train(was_training)
        return ids


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, rng=None):
    """One token id from 1-D ``logits``: argmax when temperature == 0, else a top-k / top-p sample."""
    if temperature == 0:
        return int(np.argmax(logits))
    rng = rng if rng is not None else np.random.default_rng()
    z = logits / temperature
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.sum(cum < top_p - 1e-9)) + 1]  # smallest prefix with mass >= top_p
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(p.size, p=p))


# --------------------------------------------------------------------------- registry
@register_model("transformer")
def build_transformer(spec, **options):
    """Transformer: encoder classifier, sequence-to-sequence encoder, or GPT LM (by the dataset's task)."""
    if spec.task == "classification":
        return TransformerClassifier(spec.input_shape, spec.num_classes, **options)
    if spec.task == "sequence":
        return SequenceTransformer(spec.input_shape[0], spec.num_classes, **options)
    if spec.task == "language_model":
        return GPT(spec.num_classes, spec.input_shape[0], **options)
    raise ValueError(f"transformer: no model for task {spec.task!r} (expected classification, sequence or "
                     f"language_model)")


build_transformer.train_defaults = {"epochs": 5, "batch_size": 64, "lr": 3e-3, "scheduler": "cosine"}


@register_model("gpt")
def build_gpt(spec, **options):
    """GPT: decoder-only causal language model with weight tying (character or token level)."""
    if spec.task != "language_model":
        raise ValueError(f"gpt: needs a language_model dataset (e.g. --dataset text), got task {spec.task!r}")
    return GPT(spec.num_classes, spec.input_shape[0], **options)


build_gpt.train_defaults = {"epochs": 10, "batch_size": 32, "lr": 2e-3, "scheduler": "cosine", "clip_grad": 1.0}
