"""The input gradient of 3x3 stride-2 convolutions by output phases (conv._conv_transpose_s2_phases):
equal to col2im's and PyTorch's, float64 gradcheck / gradgradcheck through it, the same numbers on
one and two threads, and col2im kept where the road does not apply."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import parallel
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.ops import conv as cv


def _channel_major(a):
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def _grads(x, w, g, dtype=np.float32):
    mx, mw = (mathdl.tensor(a.astype(dtype), requires_grad=True) for a in (x, w))
    y = F.conv2d(mx, mw, stride=2, padding=1)
    (y * mathdl.tensor(g.astype(dtype))).sum().backward()
    return mx.grad.array.copy(), mw.grad.array.copy()


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = cv._conv_transpose_s2_phases

    def wrapped(g, w):
        calls.append(g.shape)
        return real(g, w)

    monkeypatch.setattr(cv, "_conv_transpose_s2_phases", wrapped)
    return calls


@pytest.mark.parametrize("xs, o", [((3, 4, 8, 8), 6), ((2, 5, 6, 10), 3), ((4, 16, 4, 4), 32)])
@pytest.mark.parametrize("layout", ["nchw", "channel_major"])
def test_phases_match_col2im_and_torch(monkeypatch, spy, xs, o, layout):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((o, xs[1], 3, 3)).astype(np.float32)
    g = rng.standard_normal((xs[0], o, xs[2] // 2, xs[3] // 2)).astype(np.float32)
    gl = _channel_major(g) if layout == "channel_major" else g
    got = _grads(x, w, gl)
    assert spy, "the phase road was not taken"
    monkeypatch.setattr(cv, "PHASES_S2", False)
    ref = _grads(x, w, gl)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    (torch.nn.functional.conv2d(tx, tw, stride=2, padding=1) * torch.tensor(g)).sum().backward()
    for a, b, t in zip(got, ref, (tx.grad, tw.grad)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-4, atol=1e-4)


def test_phases_gradcheck_and_gradgradcheck(spy):
    rng = np.random.default_rng(1)
    x = mathdl.tensor(rng.standard_normal((2, 3, 4, 6)), dtype=mathdl.float64, requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((4, 3, 3, 3)), dtype=mathdl.float64, requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(4), dtype=mathdl.float64, requires_grad=True)
    f = lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))
    assert spy


def test_phases_two_threads_equal_one(monkeypatch, spy):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 8, 6)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    g = rng.standard_normal((6, 5, 4, 3)).astype(np.float32)
    old = parallel.get_num_threads()
    monkeypatch.setattr(cv, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(cv, "TILE_BYTES", 1)  # tiles of one image, on both threads
    try:
        parallel.set_num_threads(2)
        two = _grads(x, w, g)
        parallel.set_num_threads(1)
        one = _grads(x, w, g)
    finally:
        parallel.set_num_threads(old)
    assert spy
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xs, ws, padding", [((2, 3, 9, 8), (4, 3, 3, 3), 1), ((2, 3, 8, 8), (4, 3, 3, 3), 0),
                                             ((2, 3, 8, 8), (4, 3, 5, 5), 2)])
def test_col2im_where_phases_do_not_apply(spy, xs, ws, padding):
    """Odd sizes, other paddings and kernels keep col2im (and still match torch)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    mx = mathdl.tensor(x, requires_grad=True)
    y = F.conv2d(mx, mathdl.tensor(w), stride=2, padding=padding)
    y.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(tx, torch.tensor(w), stride=2, padding=padding).sum().backward()
    np.testing.assert_allclose(mx.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert not spy


def test_nonfinite_kernel_keeps_col2im(spy):
    """A kernel holding inf takes col2im (the phase products would meet g's zero padding: 0 inf = NaN)."""
    w = np.ones((2, 2, 3, 3), np.float32)
    w[0, 0, 1, 1] = np.inf
    g = np.ones((1, 2, 2, 2), np.float32)
    assert not cv._phases_ok(g, w, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert cv._phases_ok(g, np.ones_like(w), (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), 1)
