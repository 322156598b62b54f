"""Normalizations split over threads (mathdl/ops/normalization.py): the same values and
gradients at 1 and 2 threads (every pass forced over the split path), and against torch."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
from mathdl import parallel
from mathdl.ops import normalization as norm

torch = pytest.importorskip("torch")


def _channel_major(a):
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


CASES = {
    "layer_norm": lambda x, w, b: norm.layer_norm(x, x.shape[-1:], w, b),
    "rms_norm": lambda x, w, b: norm.rms_norm(x, x.shape[-1:], w, 1e-6),
    "batch_norm": lambda x, w, b: norm.batch_norm(x, None, None, w, b, training=True),
    "batch_norm_relu": lambda x, w, b: norm.batch_norm(x, None, None, w, b, training=True, relu=True),
}
TORCH = {
    "layer_norm": lambda x, w, b: torch.nn.functional.layer_norm(x, x.shape[-1:], w, b),
    "rms_norm": lambda x, w, b: torch.nn.functional.rms_norm(x, x.shape[-1:], w, 1e-6),
    "batch_norm": lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
    "batch_norm_relu": lambda x, w, b: torch.relu(torch.nn.functional.batch_norm(x, None, None, w, b,
                                                                                    training=True)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("layout", ["nchw", "channel_major"])
def test_norm_split_equals_one_thread_and_torch(monkeypatch, name, layout):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5, 7)).astype(np.float32)
    C = x.shape[1] if name.startswith("batch") else x.shape[-1]
    w = (1 + 0.3 * rng.standard_normal(C)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    xs = _channel_major(x) if layout == "channel_major" else x
    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    got = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            mx, mw, mb = (mathdl.tensor(a, requires_grad=True) for a in (xs, w, b))
            y = CASES[name](mx, mw, mb)
            (y * mathdl.tensor(g)).sum().backward()
            got.append([y.array, mx.grad.array, mw.grad.array] + ([mb.grad.array] if mb.grad is not None else []))
    finally:
        parallel.set_num_threads(old)
    for a, c in zip(*got):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TORCH[name](tx, tw, tb)
    (ty * torch.tensor(g)).sum().backward()
    want = [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()] + ([tb.grad.numpy()] if tb.grad is not None else [])
    for a, c in zip(got[1], want):
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-4)
