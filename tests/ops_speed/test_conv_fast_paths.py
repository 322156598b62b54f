"""Fast conv roads of mathdl/ops/conv.py: 1x1 convolutions as one product (no im2col), and the
copies split over threads (results equal to one thread's).  Values and gradients against torch,
float64 gradcheck and gradgradcheck through the 1x1 road."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import parallel
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


def _channel_major(a):
    """The same NCHW values held in a contiguous (C, N, H, W) block (conv2d's output layout)."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


@pytest.mark.parametrize("layout", ["nchw", "channel_major"])
@pytest.mark.parametrize("bias", [True, False])
def test_conv1x1_matches_torch(layout, bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4, 6)).astype(np.float32)
    w = rng.standard_normal((7, 5, 1, 1)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    xs = _channel_major(x) if layout == "channel_major" else x
    mx, mw, mb = (mathdl.tensor(a, requires_grad=True) for a in (xs, w, b))
    y = F.conv2d(mx, mw, mb if bias else None)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb if bias else None)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    (y * mathdl.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(mx.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mw.grad.array, tw.grad.numpy(), rtol=1e-4, atol=1e-4)
    if bias:
        np.testing.assert_allclose(mb.grad.array, tb.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", ["nchw", "channel_major"])
def test_conv1x1_gradcheck_and_gradgradcheck(layout):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 3, 2))
    x = _channel_major(x) if layout == "channel_major" else x
    x = mathdl.tensor(x, dtype=mathdl.float64, requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((4, 3, 1, 1)), dtype=mathdl.float64, requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(4), dtype=mathdl.float64, requires_grad=True)
    f = lambda x, w, b: F.conv2d(x, w, b)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("stride, padding, k", [(1, 1, 3), (2, 1, 3), (1, 0, 1), (1, 2, 5)])
def test_conv_split_copies_equal_one_thread(monkeypatch, stride, padding, k):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6, 10, 9)).astype(np.float32)
    w = rng.standard_normal((5, 6, k, k)).astype(np.float32)
    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    results = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            mx, mw = mathdl.tensor(x, requires_grad=True), mathdl.tensor(w, requires_grad=True)
            y = F.conv2d(mx, mw, stride=stride, padding=padding)
            (y * y).sum().backward()
            results.append((y.array.copy(), mx.grad.array.copy(), mw.grad.array.copy()))
    finally:
        parallel.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
