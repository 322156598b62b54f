"""Recurrent models, and the MNIST-1D paper's baselines.

* :class:`RNNClassifier` (task ``classification``, registered as ``gru``): the input of shape (T,)
  is read as a sequence of T scalars ((T, F) as T vectors); a (by default bidirectional) GRU
  with hidden size H gives states h_1..h_T, and a linear layer reads all of them, flattened:
  logits = W [h_1; ...; h_T] + b.  With hidden 6 this is the GRU of Greydanus & Kobak's MNIST-1D
  benchmark (5,134 parameters; 91% test accuracy in the paper).
* :class:`RNNLanguageModel` (task ``language_model``, registered as ``lstm``): token embedding
  E (V, D), a multi-layer LSTM, and per-position logits W h_t + b for the next character (the
  output contract of the GPT model: logits (N, T, V)).  :meth:`RNNLanguageModel.generate`
  carries the recurrent state along, so each new token costs one step.
* The other MNIST-1D baselines of the paper, on the flat 40-sample signal:
  ``mnist1d_logistic`` (logits = W x + b), ``mnist1d_mlp`` (h1 = relu(W1 x + b1),
  h2 = h1 + relu(W2 h1 + b2), logits = W3 h2 + b3; width 100) and ``mnist1d_cnn`` (three Conv1d
  with 25 channels, kernels 5, 3, 3, stride 2, padding 1, ReLU, then a linear layer on the
  flattened 25 x 5 features).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import Conv1d, Embedding, Linear, Module
from ..nn.modules.recurrent import GRU, LSTM, RNN
from ..ops.shape import reshape
from .registry import register_model
from .transformer import sample_next

__all__ = ["RNNClassifier", "RNNLanguageModel", "MNIST1DMLP", "MNIST1DCNN", "build_gru", "build_lstm"]

_CELLS = {"gru": GRU, "lstm": LSTM, "rnn": RNN}


def _sequence_shape(input_shape, name):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        return shape[0], 1
    if len(shape) == 2:
        return shape
    raise ValueError(f"{name}: expected inputs of shape (T,) (a sequence of scalars) or (T, F), got {shape}")


class RNNClassifier(Module):
    """Sequence classifier: recurrent layer over the T steps, linear layer on all states, flattened."""

    def __init__(self, input_shape, num_classes, cell="gru", hidden_size=6, num_layers=1, bidirectional=True,
                 dropout=0.0):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"RNNClassifier: unknown cell {cell!r}; expected one of {tuple(_CELLS)}")
        self.steps, self.features = _sequence_shape(input_shape, "RNNClassifier")
        self.rnn = _CELLS[cell](self.features, int(hidden_size), int(num_layers), batch_first=True,
                                bidirectional=bool(bidirectional), dropout=float(dropout))
        D = 2 if bidirectional else 1
        self.head = Linear(self.steps * D * int(hidden_size), int(num_classes))

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = Tensor._make(np.asarray(x, dtype=backend.get_default_dtype()))
        N = x.shape[0]
        if tuple(x.shape[1:]) not in ((self.steps,), (self.steps, self.features)):
            raise ValueError(f"RNNClassifier: expected inputs of shape (N, {self.steps}) or (N, {self.steps}, "
                             f"{self.features}), got {tuple(x.shape)}")
        out, _ = self.rnn(reshape(x, (N, self.steps, self.features)))
        return self.head(reshape(out, (N, -1)))


class RNNLanguageModel(Module):
    """Character/token language model: embedding -> LSTM (or GRU) -> per-position next-token logits."""

    def __init__(self, vocab_size, embed_dim=64, hidden_size=256, num_layers=2, dropout=0.1, cell="lstm"):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"RNNLanguageModel: unknown cell {cell!r}; expected one of {tuple(_CELLS)}")
        self.vocab_size = int(vocab_size)
        self.embed = Embedding(self.vocab_size, int(embed_dim))
        self.rnn = _CELLS[cell](int(embed_dim), int(hidden_size), int(num_layers), batch_first=True,
                                dropout=float(dropout) if num_layers > 1 else 0.0)
        self.head = Linear(int(hidden_size), self.vocab_size)

    def _ids(self, idx):
        arr = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"RNNLanguageModel: expected integer token ids, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            bad = int(arr.max()) if arr.max() >= self.vocab_size else int(arr.min())
            raise IndexError(f"RNNLanguageModel: token id {bad} is out of range for a vocabulary of "
                             f"{self.vocab_size} (0..{self.vocab_size - 1})")
        if arr.ndim != 2:
            raise ValueError(f"RNNLanguageModel: expected token ids of shape (N, T), got {tuple(arr.shape)}")
        return idx if isinstance(idx, Tensor) else Tensor._make(arr)

    def forward(self, idx, state=None, return_state=False):
        out, state = self.rnn(self.embed(self._ids(idx)), state)
        logits = self.head(out)
        return (logits, state) if return_state else logits

    def generate(self, prompt_ids, max_new_tokens=100, temperature=1.0, top_k=None, top_p=None, seed=None):
        """Continue the 1-D ``prompt_ids`` by ``max_new_tokens`` tokens (greedy at temperature 0, else
        sampled with top-k / top-p as :func:`mathdl.models.transformer.sample_next`); returns all ids."""
        ids = np.asarray(prompt_ids.data if isinstance(prompt_ids, Tensor) else prompt_ids, dtype=np.int64)
        ids = ids.reshape(-1)
        if ids.size == 0:
            raise ValueError("RNNLanguageModel.generate: the prompt must contain at least one token")
        if temperature < 0:
            raise ValueError(f"RNNLanguageModel.generate: temperature must be >= 0, got {temperature}")
        rng = np.random.default_rng(seed)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                logits, state = self(ids[None, :], return_state=True)
                for _ in range(int(max_new_tokens)):
                    last = np.asarray(backend.to_device(logits.data[0, -1], "cpu"), dtype=np.float64)
                    nxt = sample_next(last, temperature, top_k, top_p, rng)
                    ids = np.append(ids, nxt)
                    logits, state = self(np.array([[nxt]], dtype=np.int64), state, return_state=True)
        finally:
            self.train(was_training)
        return ids


class MNIST1DMLP(Module):
    """h1 = relu(W1 x + b1), h2 = h1 + relu(W2 h1 + b2), logits = W3 h2 + b3 (the paper's MLP)."""

    def __init__(self, in_features, num_classes, hidden=100):
        super().__init__()
        self.linear1 = Linear(int(in_features), int(hidden))
        self.linear2 = Linear(int(hidden), int(hidden))
        self.linear3 = Linear(int(hidden), int(num_classes))

    def forward(self, x):
        h = self.linear1(reshape(x, (x.shape[0], -1))).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class MNIST1DCNN(Module):
    """Three Conv1d (kernels 5, 3, 3, stride 2, padding 1) with ReLU, then a linear layer (the paper's CNN)."""

    def __init__(self, length, num_classes, channels=25):
        super().__init__()
        c = int(channels)
        self.conv1 = Conv1d(1, c, 5, stride=2, padding=1)
        self.conv2 = Conv1d(c, c, 3, stride=2, padding=1)
        self.conv3 = Conv1d(c, c, 3, stride=2, padding=1)
        n = int(length)
        for k in (5, 3, 3):
            n = (n + 2 - k) // 2 + 1
        if n < 1:
            raise ValueError(f"MNIST1DCNN: a signal of length {length} is too short for three stride-2 convolutions")
        self.length = int(length)
        self.linear = Linear(c * n, int(num_classes))

    def forward(self, x):
        h = reshape(x, (x.shape[0], 1, self.length))
        h = self.conv3(self.conv2(self.conv1(h).relu()).relu()).relu()
        return self.linear(reshape(h, (h.shape[0], -1)))


# --------------------------------------------------------------------------- registry
def _flat_size(spec, name):
    if spec.task != "classification":
        raise ValueError(f"{name}: needs a classification dataset (e.g. --dataset mnist1d), got task {spec.task!r}")
    return math.prod(spec.input_shape)


_PAPER_TRAINING = {"epochs": 200, "batch_size": 100, "lr": 1e-2, "optimizer": "adam", "scheduler": "none"}


@register_model("gru")
def build_gru(spec, hidden_size=6, num_layers=1, bidirectional=True, dropout=0.0):
    """Bidirectional GRU over a 1-D signal, linear layer on all states (MNIST-1D paper's GRU, hidden 6)."""
    if spec.task != "classification":
        raise ValueError(f"gru: needs a classification dataset of sequences (e.g. --dataset mnist1d), got task "
                         f"{spec.task!r}")
    return RNNClassifier(spec.input_shape, spec.num_classes, "gru", hidden_size, num_layers, bidirectional, dropout)


# the paper's training (Adam, lr 1e-2, batch 100, 8000 steps = 200 epochs of 4000 examples); one
# BLAS thread: the matrices are tiny
build_gru.train_defaults = {**_PAPER_TRAINING, "threads": 1}


@register_model("lstm")
def build_lstm(spec, embed_dim=64, hidden_size=256, num_layers=2, dropout=0.1):
    """Character-level LSTM language model (embedding, 2-layer LSTM 256, next-character logits)."""
    if spec.task != "language_model":
        raise ValueError(f"lstm: needs a language_model dataset (e.g. --dataset text), got task {spec.task!r}")
    return RNNLanguageModel(spec.num_classes, embed_dim, hidden_size, num_layers, dropout, "lstm")


build_lstm.train_defaults = {"epochs": 5, "batch_size": 32, "lr": 2e-3, "scheduler": "cosine", "clip_grad": 1.0}


@register_model("mnist1d_logistic")
def build_mnist1d_logistic(spec):
    """Logistic regression on the flat signal: logits = W x + b (MNIST-1D paper's baseline)."""
    return Linear(_flat_size(spec, "mnist1d_logistic"), spec.num_classes)


build_mnist1d_logistic.train_defaults = dict(_PAPER_TRAINING, threads=1)


@register_model("mnist1d_mlp")
def build_mnist1d_mlp(spec, hidden=100):
    """MLP with a residual hidden layer, width 100 (MNIST-1D paper's baseline)."""
    return MNIST1DMLP(_flat_size(spec, "mnist1d_mlp"), spec.num_classes, hidden)


build_mnist1d_mlp.train_defaults = dict(_PAPER_TRAINING, threads=1)


@register_model("mnist1d_cnn")
def build_mnist1d_cnn(spec, channels=25):
    """1-D CNN: three stride-2 Conv1d of 25 channels, ReLU, linear (MNIST-1D paper's baseline)."""
    return MNIST1DCNN(_flat_size(spec, "mnist1d_cnn"), spec.num_classes, channels)


build_mnist1d_cnn.train_defaults = dict(_PAPER_TRAINING, threads=1)
