"""Winograd F(4x4, 3x3) on channels-last memory (mathdl/ops/winograd_nhwc.py and its kernels):
the same numbers as the channel-major compiled road and as torch's convolution (float64, every
block across an edge, channel counts that fill no vector, asymmetric padding), output and input
gradient in NHWC memory, any input layout accepted, and conv2d through it gradchecked."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.ops import conv as cv
from mathdl.ops import winograd as wg
from mathdl.ops import winograd_nhwc as wn

pytestmark = pytest.mark.skipif(not wg.compiled_available(), reason="numba is not installed (or MATHDL_NO_NUMBA)")

# (N, C, H, W, O, pads): 4 | output, blocks across the right/bottom edge, 1 image, C != O; channel
# counts 3 (less than a vector), 16 (one float32 vector) and 20 (a vector and a remainder) only:
# each count compiles its own kernels (about 1 s each)
SHAPES = [(2, 16, 8, 8, 16, (1, 1, 1, 1)), (3, 3, 13, 10, 20, (1, 1, 1, 1)), (2, 20, 9, 11, 3, (0, 2, 1, 0)),
          (1, 3, 6, 6, 3, (0, 0, 0, 0)), (2, 3, 7, 5, 20, (2, 2, 2, 2))]


@pytest.fixture
def f4(monkeypatch):
    """F(4x4) for every shape (the tile rule would take F(2x2) on some small ones)."""
    monkeypatch.setattr(wg, "output_tile", lambda *a, **k: 4)


def _data(shape, dtype=np.float64, seed=0):
    N, C, H, W, O, pads = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    Ho, Wo = H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2
    g = rng.standard_normal((N, O, Ho, Wo)).astype(dtype)
    return x, w, b, g, pads


def _all(x, w, b, g, pads):
    """forward, weight gradient, and the one-pass backward's input and weight gradients."""
    U = wg.kernel_transform(w, 4)
    wf = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    full = tuple(2 - p for p in pads)
    dx, dw2 = wg.conv3x3_backward(g, wf, full, wg.adjoint_transform(U, wf), x, pads)
    return wg.conv3x3(x, w, b, pads, U), wg.conv3x3_weight(x, g, pads), dx, dw2


def _is_nhwc(a):
    return a.transpose(0, 2, 3, 1).flags.c_contiguous


@pytest.mark.parametrize("shape", SHAPES)
def test_channels_last_road_equals_channel_major_road_float64(shape, f4, monkeypatch):
    data = _data(shape)
    new = _all(*data)
    monkeypatch.setattr(wg, "CHANNELS_LAST", False)
    old = _all(*data)
    for a, b in zip(new, old):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    assert _is_nhwc(new[0]) and _is_nhwc(new[2])
    if shape[0] > 1:  # one image, one row: both layouts can be the same memory
        assert not _is_nhwc(old[0])


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_channels_last_road_matches_torch(shape, f4):
    torch = pytest.importorskip("torch")
    x, w, b, g, pads = _data(shape, seed=1)
    y, dw, dx, _ = _all(x, w, b, g, pads)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, (pads[2], pads[3], pads[0], pads[1])), tw,
                                    torch.tensor(b))
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), atol=1e-11)
    np.testing.assert_allclose(dw, tw.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-11)


def test_float32_agrees_with_float64_like_the_channel_major_road(f4):
    x, w, b, g, pads = _data((4, 20, 16, 16, 16, (1, 1, 1, 1)), dtype=np.float32)
    ref = _all(*(a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in (x, w, b, g, pads)))
    for a, r in zip(_all(x, w, b, g, pads), ref):
        assert a.dtype == np.float32
        assert np.abs(a - r).max() <= 2e-5 * np.abs(r).max()


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "cnhw", "strided"])
def test_any_input_layout_gives_the_same_result(layout, f4):
    x, w, b, g, pads = _data(SHAPES[1])
    ref = _all(x, w, b, g, pads)
    if layout == "nhwc":
        x, g = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) for a in (x, g))
    elif layout == "cnhw":
        x, g = (np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3) for a in (x, g))
    elif layout == "strided":
        x, g = (np.repeat(a, 2, axis=3)[..., ::2] for a in (x, g))
    for a, r in zip(_all(x, w, b, g, pads), ref):
        np.testing.assert_array_equal(a, r)


def test_nhwc_is_a_view_of_channels_last_memory_and_a_copy_otherwise():
    a = np.ascontiguousarray(np.arange(2 * 3 * 4 * 5.0).reshape(2, 4, 5, 3)).transpose(0, 3, 1, 2)
    assert np.shares_memory(wn.nhwc(a), a)
    b = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    nb = wn.nhwc(b)
    assert nb.flags.c_contiguous and not np.shares_memory(nb, b)
    np.testing.assert_array_equal(nb, b.transpose(0, 2, 3, 1))


def test_two_threads_equal_one_thread(f4):
    x, w, b, g, pads = _data((9, 16, 12, 12, 16, (1, 1, 1, 1)), dtype=np.float32, seed=2)
    old = mathdl.get_num_threads()
    try:
        mathdl.set_num_threads(1)
        one = _all(x, w, b, g, pads)
        mathdl.set_num_threads(2)
        two = _all(x, w, b, g, pads)
    finally:
        mathdl.set_num_threads(old)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[2], two[2])
    for a, r in zip(one[1::2], two[1::2]):  # the weight gradient's tile sums (other tiles): rounding only
        assert np.abs(a - r).max() <= 1e-5 * np.abs(r).max()


def test_conv2d_through_the_channels_last_road_gradcheck(f4, monkeypatch):
    monkeypatch.setattr(cv, "WINOGRAD_MIN_CHANNELS", 1)
    rng = np.random.default_rng(3)
    x = mathdl.tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((3, 3, 3, 3)), requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(3), requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert _is_nhwc(y.array)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))


def test_switch_off_keeps_the_channel_major_layout(f4, monkeypatch):
    monkeypatch.setattr(wg, "CHANNELS_LAST", False)
    x, w, b, g, pads = _data(SHAPES[0])
    y = wg.conv3x3(x, w, b, pads, wg.kernel_transform(w, 4))
    assert y.transpose(1, 0, 2, 3).flags.c_contiguous


def test_conv2d_of_a_channel_major_input_converts_it_once(f4, monkeypatch):
    """A channel-major input (a stem's output) is copied to NHWC once in the forward, and the weight
    gradient reads that copy: the same values and gradients as an NCHW input, one conversion."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 16, 9, 10))
    w0 = rng.standard_normal((16, 16, 3, 3))
    copies = []
    real = wn.nhwc

    def counting(arr):
        out = real(arr)
        if not np.shares_memory(out, arr):
            copies.append(arr.shape)
        return out

    monkeypatch.setattr(wn, "nhwc", counting)
    grads = []
    for mem in (a, np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)):
        x = mathdl.from_numpy(mem).requires_grad_()
        w = mathdl.tensor(w0, requires_grad=True)
        y = F.conv2d(x, w, padding=1)
        (y * y).sum().backward()
        grads.append((y.numpy(), x.grad.numpy(), w.grad.numpy()))
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)
    assert len(copies) == 2  # one per input layout that is not NHWC, none in the backward


@pytest.mark.parametrize("shape", SHAPES)
def test_whole_convolution_pipelines_equal_the_per_tile_calls(shape, f4, monkeypatch):
    """One compiled call per convolution (its products through blas_kernels.gemm; C != O included)
    gives the per-tile Python calls' numbers (their products through NumPy's matmul)."""
    data = _data(shape)
    calls = []
    real = wn._run
    monkeypatch.setattr(wn, "_run", lambda *a: calls.append(a[1]) or real(*a))
    new = _all(*data)
    assert len(calls) == 2  # the forward, and the one-pass backward (conv3x3_weight alone: per-tile calls)
    monkeypatch.setattr(wn, "PIPELINES", False)
    old = _all(*data)
    for a, b in zip(new, old):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_pipelines_on_the_team_equal_the_serial_pipelines_bit_for_bit(f4, monkeypatch):
    """The same one-image tiles at 1 thread (serial pipeline) and 2 (on the OpenMP team)."""
    from mathdl import parallel

    old = mathdl.get_num_threads()
    mathdl.set_num_threads(2)
    if not parallel.on_team():
        mathdl.set_num_threads(old)
        pytest.skip("no OpenMP team")
    monkeypatch.setattr(cv, "TILE_BYTES", 1)
    monkeypatch.setattr(cv, "PARALLEL_MIN_MACS", 0)
    teams = []
    real = wn._run
    monkeypatch.setattr(wn, "_run", lambda *a: teams.append(a[1]) or real(*a))
    x, w, b, g, pads = _data((9, 16, 12, 12, 16, (1, 1, 1, 1)), dtype=np.float32, seed=7)
    try:
        mathdl.set_num_threads(1)
        one = _all(x, w, b, g, pads)
        mathdl.set_num_threads(2)
        two = _all(x, w, b, g, pads)
    finally:
        mathdl.set_num_threads(old)
    assert teams == [False, False, True, True]
    for a, r in zip(one, two):
        np.testing.assert_array_equal(a, r)
