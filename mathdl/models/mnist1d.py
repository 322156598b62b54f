"""The MNIST-1D paper's baselines (Greydanus & Kobak, "Scaling down deep learning"), on the flat
40-sample signal; their GRU is ``gru`` in :mod:`mathdl.models.rnn`.

* ``mnist1d_logistic``: logits = W x + b;
* ``mnist1d_mlp``: h1 = relu(W1 x + b1), h2 = h1 + relu(W2 h1 + b2), logits = W3 h2 + b3 (width 100);
* ``mnist1d_cnn``: three Conv1d with 25 channels, kernels 5, 3, 3, stride 2, padding 1, ReLU, then a
  linear layer on the flattened 25 x 5 features.

Each carries the paper's training (Adam, lr 1e-2, batch 100, 200 epochs) as ``train_defaults``.
"""

from __future__ import annotations

import math

from ..nn import Conv1d, Linear, Module
from ..ops.shape import reshape
from .registry import register_model
from .rnn import _PAPER_TRAINING

__all__ = ["MNIST1DMLP", "MNIST1DCNN", "build_mnist1d_logistic", "build_mnist1d_mlp", "build_mnist1d_cnn"]


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



def _flat_size(spec, name):
    if spec.task != "classification":
        raise ValueError(f"{name}: needs a classification dataset (e.g. --dataset mnist1d), got task {spec.task!r}")
    return math.prod(spec.input_shape)



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
