"""Compiled max pooling (mathdl/ops/pooling.py: the 2x2 stride-2 forward and the scatter of any window,
numba): the same values, winning indices and gradients as the array code (ties: the first maximum;
NaN windows: the last NaN), for NCHW, channel-major and strided inputs, float32 and float64, odd
sizes; against torch; gradcheck and gradgradcheck in float64; equal at one and two threads."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
import mathdl.ops.pooling as cv
from mathdl import parallel
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def compiled_pool():
    if cv._pool_compiled(np.zeros(1, np.float32)) is None:
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")


def _layout(a, kind):
    if kind == "channel_major":
        return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    if kind == "channels_last":  # what F(4x4) Winograd convolutions return
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if kind == "strided":  # neither layout: a slice of a wider array
        wide = np.zeros(a.shape[:3] + (a.shape[3] + 3,), a.dtype)
        wide[..., 1:1 + a.shape[3]] = a
        return wide[..., 1:1 + a.shape[3]]
    return a


def _pool_and_grad(x, g, kernel, stride, padding):
    mx = mathdl.from_numpy(x).requires_grad_()  # x's memory layout kept
    y, idx = F.max_pool2d(mx, kernel, stride, padding, return_indices=True)
    (y * mathdl.tensor(g)).sum().backward()
    return y.array.copy(), idx.array.copy(), mx.grad.array.copy()


@pytest.mark.parametrize("layout", ["nchw", "channel_major", "channels_last", "strided"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride, padding, hw", [(2, 2, 0, (8, 8)), (2, 2, 0, (7, 9)), (3, 2, 1, (7, 6)),
                                                         (3, 1, 1, (5, 5))])
def test_same_as_array_code(monkeypatch, layout, dtype, kernel, stride, padding, hw):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4) + hw).astype(dtype)
    x[0, 0, :2, :2] = 1.5  # a tie: the first maximum wins
    x[1, 2, 2:4, 2:4] = [[np.nan, 0.0], [np.nan, 9.0]]  # NaN windows: the last NaN wins
    x[2, 1, 0, 1] = np.nan
    x = _layout(x, layout)
    ho = (hw[0] + 2 * padding - kernel) // stride + 1
    wo = (hw[1] + 2 * padding - kernel) // stride + 1
    g = rng.standard_normal((3, 4, ho, wo)).astype(dtype)
    got = _pool_and_grad(x, g, kernel, stride, padding)
    monkeypatch.setattr(cv, "_pool_kernels", False)
    want = _pool_and_grad(x, g, kernel, stride, padding)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    if stride >= kernel:  # disjoint windows: each input position receives at most one gradient
        np.testing.assert_array_equal(got[2], want[2])
    else:  # overlapping windows add in another order
        np.testing.assert_allclose(got[2], want[2], rtol=1e-6, atol=1e-6)
    assert got[0].dtype == got[2].dtype == dtype


@pytest.mark.parametrize("layout", ["nchw", "channel_major", "channels_last"])
def test_matches_torch_with_gradient_in_another_layout(layout):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 10, 9)).astype(np.float32)
    g = rng.standard_normal((4, 3, 5, 4)).astype(np.float32)
    g_other = _layout(g, "nchw" if layout == "channel_major" else "channel_major")
    mx = mathdl.from_numpy(_layout(x, layout)).requires_grad_()
    y = F.max_pool2d(mx, 2)
    y.backward(mathdl.tensor(g_other))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, 2)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.array, ty.detach().numpy())
    np.testing.assert_array_equal(mx.grad.array, tx.grad.numpy())
    if layout == "channels_last":  # the pool stays channels-last
        assert cv._channels_last(y.array)


def test_gradcheck_and_gradgradcheck_float64():
    rng = np.random.default_rng(2)
    x = mathdl.tensor(rng.standard_normal((2, 2, 6, 5)), dtype=mathdl.float64, requires_grad=True)
    f = lambda x: F.max_pool2d(x * x, 2)  # noqa: E731
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


def test_two_threads_equal_one_thread(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(cv, "MIN_PARALLEL_ELEMENTS_CNN", 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5, 8, 8)).astype(np.float32)
    g = rng.standard_normal((6, 5, 4, 4)).astype(np.float32)
    old = parallel.get_num_threads()
    res = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            res.append(_pool_and_grad(x, g, 2, 2, 0))
    finally:
        parallel.set_num_threads(old)
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


def test_gradcheck_and_gradgradcheck_channels_last_float64():
    rng = np.random.default_rng(4)
    x = mathdl.from_numpy(_layout(rng.standard_normal((2, 3, 6, 4)), "channels_last")).requires_grad_()
    f = lambda x: F.max_pool2d(x, 2) ** 2  # noqa: E731
    assert cv._channels_last(F.max_pool2d(x, 2).array)
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))
