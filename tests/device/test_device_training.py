"""Training steps on the device path (emulated CuPy in CI, real CuPy with MATHDL_TEST_CUPY=1):
an MLP, a small CNN with batch norm and pooling, and a transformer encoder, each with an
optimizer, give the CPU's losses and parameters after a few steps, and nothing leaves the device."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mathdl as md
import mathdl.nn.functional as F
from mathdl import nn, optim

from .test_device_path import _host, device  # noqa: F401  (fixture)


def _mlp():
    return nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.LayerNorm(16), nn.Dropout(0.0), nn.Linear(16, 3))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 8)
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.layer(self.embed(x)).mean(1))


def _data(kind, rng):
    if kind == "mlp":
        return rng.standard_normal((8, 12)), rng.integers(0, 3, 8)
    if kind == "cnn":
        return rng.standard_normal((4, 1, 8, 8)), rng.integers(0, 3, 4)
    return rng.integers(0, 7, (4, 5)), rng.integers(0, 3, 4)


@pytest.mark.parametrize("kind,make,opt", [("mlp", _mlp, "adam"), ("cnn", _cnn, "sgd"),
                                          ("transformer", _Encoder, "adamw")])
def test_training_step_on_device_equals_cpu(device, kind, make, opt):  # noqa: F811
    md.manual_seed(0)
    cpu = make().double()
    dev = copy.deepcopy(cpu).to("cuda")
    x, y = _data(kind, np.random.default_rng(0))
    xs = md.tensor(x.astype(np.float64) if x.dtype.kind == "f" else x)
    ys = md.tensor(y)
    make_opt = {"adam": lambda p: optim.Adam(p, lr=1e-2), "sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                "adamw": lambda p: optim.AdamW(p, lr=1e-2)}[opt]
    runs = []
    for model, xx, yy in ((cpu, xs, ys), (dev, xs.to("cuda"), ys.to("cuda"))):
        o = make_opt(model.parameters())
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(model(xx), yy)
            o.zero_grad()
            loss.backward()
            o.step()
            losses.append(loss.item())
        runs.append((losses, [p for p in model.parameters()]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-9)
    for pc, pd in zip(runs[0][1], runs[1][1]):
        assert pd.device == "cuda", f"{kind}: a parameter left the device"
        np.testing.assert_allclose(_host(pd), _host(pc), rtol=1e-8, atol=1e-10)
