"""Convolutions whose image tiles run on mathdl's threads (mathdl.parallel.blocks, BLAS on one thread
inside): the block runner itself, and conv2d's values and gradients on that road against PyTorch, against
one thread, and float64 gradcheck / gradgradcheck through it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import parallel
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.ops import conv as cv


@pytest.fixture
def tiled(monkeypatch):
    """Two threads, every convolution on the parallel tile road, tiles of one or two images."""
    old = parallel.get_num_threads()
    monkeypatch.setattr(cv, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(cv, "TILE_BYTES", 1)
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(old)


def _blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_blocks_in_order_on_both_threads_and_blas_restored(tiled):
    before = _blas_threads()
    inside, names = [], set()
    barrier = threading.Barrier(2, timeout=10)

    def fn(k):
        if k < 2:  # both threads must hold a block at once (the caller and one pool thread)
            barrier.wait()
        names.add(threading.current_thread().name)
        inside.append(_blas_threads())
        return k * k

    assert parallel.blocks(fn, 7) == [k * k for k in range(7)]
    assert len(names) == 2
    assert all(all(n == 1 for n in b) for b in inside)  # BLAS on one thread inside the blocks
    assert _blas_threads() == before


def test_blocks_serial_when_asked_or_one_thread(tiled):
    names = set()
    assert parallel.blocks(lambda k: names.add(threading.current_thread().name) or k, 5, parallel=False) == list(
        range(5))
    parallel.set_num_threads(1)
    assert parallel.blocks(lambda k: names.add(threading.current_thread().name) or k, 5) == list(range(5))
    assert names == {threading.current_thread().name}


def test_blocks_error_propagates_and_restores(tiled):
    before = _blas_threads()

    def fn(k):
        if k == 3:
            raise RuntimeError("block 3 failed")
        return k

    with pytest.raises(RuntimeError, match="block 3 failed"):
        parallel.blocks(fn, 6)
    assert _blas_threads() == before
    # the calling thread is not left marked as a worker: its passes split again afterwards
    assert not getattr(parallel._local, "worker", False)


CASES = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, 1),  # row-wrapped road, padded per tile
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, 0, 1, 1),  # no padding: the general im2col road (LeNet)
    ((5, 4, 9, 8), (6, 4, 3, 3), 2, 1, 1, 1),  # stride 2: col2im input gradient
    ((5, 4, 9, 8), (6, 2, 3, 3), 1, 1, 1, 2),  # groups
    ((5, 3, 10, 9), (4, 3, 3, 3), 1, 2, 2, 1),  # dilation
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, (0, 2), 1, 1),  # no top padding: x padded before the tiles
    ((3, 4, 6, 6), (4, 4, 5, 5), 1, 2, 1, 1),
]


def _run(x, w, b, stride, padding, dil, groups, g):
    mx, mw, mb = (mathdl.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(mx, mw, mb, stride=stride, padding=padding, dilation=dil, groups=groups)
    (y * mathdl.tensor(g)).sum().backward()
    return y.array.copy(), mx.grad.array.copy(), mw.grad.array.copy(), mb.grad.array.copy()


@pytest.mark.parametrize("xs, ws, stride, padding, dil, groups", CASES)
def test_tiled_conv_matches_torch_and_one_thread(tiled, xs, ws, stride, padding, dil, groups):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding, dilation=dil, groups=groups)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * torch.tensor(g)).sum().backward()
    two = _run(x, w, b, stride, padding, dil, groups, g)
    for got, want in zip(two, (ty.detach(), tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)
    parallel.set_num_threads(1)
    one = _run(x, w, b, stride, padding, dil, groups, g)
    for a, c in zip(one, two):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs, ws, stride, padding, dil, groups", [CASES[0], CASES[2], CASES[3], CASES[5]])
def test_tiled_conv_gradcheck_and_gradgradcheck(tiled, xs, ws, stride, padding, dil, groups):
    rng = np.random.default_rng(1)
    xs = (3,) + xs[1:2] + (5, 4)
    x = mathdl.tensor(rng.standard_normal(xs), dtype=mathdl.float64, requires_grad=True)
    w = mathdl.tensor(rng.standard_normal(ws), dtype=mathdl.float64, requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(ws[0]), dtype=mathdl.float64, requires_grad=True)
    f = lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dil, groups=groups)  # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("kernel, stride, padding, hw", [(2, 2, 0, (9, 8)), (2, 2, 0, (8, 6)), (3, 2, 1, (9, 8)),
                                                         (3, 1, 1, (9, 8))])
@pytest.mark.parametrize("layout", ["nchw", "channel_major"])
def test_max_pool_split_over_images_matches_torch(monkeypatch, kernel, stride, padding, hw, layout):
    """Split over images at two threads, np.empty handing out NaN-filled memory (positions no
    window covers must still get a zero gradient)."""
    torch = pytest.importorskip("torch")
    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    empty = np.empty
    monkeypatch.setattr(np, "empty", lambda *a, **k: _nan_filled(empty(*a, **k)))
    parallel.set_num_threads(2)
    try:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((5, 3) + hw).astype(np.float32)
        x[0, 0, 0, :2] = 1.0  # a tie: the first maximum wins, as in PyTorch
        xs = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3) if layout == "channel_major" else x
        mx = mathdl.tensor(xs, requires_grad=True)
        y = F.max_pool2d(mx, kernel, stride, padding)
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.max_pool2d(tx, kernel, stride, padding)
        g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        (y * mathdl.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        got = (y.array, mx.grad.array)
    finally:
        monkeypatch.setattr(np, "empty", empty)
        parallel.set_num_threads(old)
    np.testing.assert_array_equal(got[0], ty.detach().numpy())
    np.testing.assert_allclose(got[1], tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def _nan_filled(a):
    if a.dtype.kind == "f":
        a.fill(np.nan)
    return a


@pytest.mark.parametrize("xs, ws, stride, padding, dil, groups", [CASES[0], CASES[4], CASES[5], CASES[6]])
def test_tiled_conv_never_reads_unwritten_memory(tiled, monkeypatch, xs, ws, stride, padding, dil, groups):
    """np.empty handing out NaN-filled memory: the tiles (padded per tile, row-wrapped reads past a
    plane) still give torch's finite values and gradients."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding, dilation=dil, groups=groups)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * torch.tensor(g)).sum().backward()
    empty = np.empty

    def nan_empty(shape, dtype=float, *args, **kwargs):
        a = empty(shape, dtype, *args, **kwargs)
        if a.dtype.kind == "f":
            a.fill(np.nan)
        return a

    with monkeypatch.context() as m:
        m.setattr(np, "empty", nan_empty)
        got = _run(x, w, b, stride, padding, dil, groups, g)
    for a, want in zip(got, (ty.detach(), tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(a, want.numpy(), rtol=1e-4, atol=1e-4)


def test_blocks_from_several_program_threads_restore_blas(tiled):
    """Two of the program's own threads running blocks at once: BLAS's count is back afterwards."""
    before = _blas_threads()
    barrier = threading.Barrier(2, timeout=10)
    errors = []

    def user():
        try:
            barrier.wait()
            for _ in range(20):
                parallel.blocks(lambda k: k, 4)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=user) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _blas_threads() == before


@pytest.mark.parametrize("layout", ["nchw", "channel_major"])
def test_conv1x1_blocks_match_torch_and_gradcheck(tiled, layout):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 4, 6)).astype(np.float32)
    w = rng.standard_normal((7, 5, 1, 1)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    xs = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3) if layout == "channel_major" else x
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * torch.tensor(g)).sum().backward()
    got = _run(xs, w, b, 1, 0, 1, 1, g)
    for a, want in zip(got, (ty.detach(), tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(a, want.numpy(), rtol=1e-4, atol=1e-4)
    x64 = mathdl.tensor(xs.astype(np.float64), requires_grad=True)
    w64 = mathdl.tensor(w.astype(np.float64), requires_grad=True)
    f = lambda x, w: F.conv2d(x, w)  # noqa: E731
    assert gradcheck(f, (x64, w64))
    assert gradgradcheck(f, (x64, w64))
