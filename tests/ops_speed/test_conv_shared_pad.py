"""The row-wrapped stride-1 road of mathdl/ops/conv.py with shared side padding: the padded block
stores rows of Wq = W + max(pl, pr) values (a row's trailing zeros are the next row's left
padding), so its products run over Wq columns per output row instead of W + pl + pr.  Checked:
the stored layout, the road taken (and left when the padding is wider than the kernel reaches),
values and both gradients against torch (float32) and the plain im2col road, float64 gradcheck
and gradgradcheck, and per-tile filling on two threads equal bit for bit to one thread."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
import mathdl.ops.conv as cv
from mathdl import parallel
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (2, 0, 1, 2), (0, 1, 3, 0)])
def test_padded_block_layout(pads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4, 5)).astype(np.float32)
    view = cv._padded_slack(x, pads, 2)
    pt, pb, pl, pr = pads
    want = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    np.testing.assert_array_equal(view, want)
    Wq = 5 + max(pl, pr)
    assert view.strides[2] == Wq * 4 and view.strides[3] == 4  # stored rows of Wq values
    assert view.strides[0] == (4 + pt + pb) * Wq * 4  # (C, N, Hp, Wq) block
    # the row-wrapped im2col reads Ho Wq columns per image
    cols = cv._cols_rowwrap(view, 3, 3, (1, 1), 4 + pt + pb - 2)
    assert cols.shape == (2 * 9, 3 * (4 + pt + pb - 2) * Wq)


def test_row_width_and_road_choice():
    assert cv._row_width(16, (1, 1, 1, 1)) == 17
    assert cv._row_width(16, (0, 0, 2, 1)) == 18
    assert cv._rowwrap_ok((1, 1), 17, 16, (1, 1, 1, 1))
    assert not cv._rowwrap_ok((1, 1), 10, 12, (3, 3, 3, 3))  # padding wider than the kernel reach: Wo > Wq
    assert not cv._rowwrap_ok((2, 2), 17, 8, (1, 1, 1, 1))


def _spy_rowwrap(monkeypatch):
    calls = []
    orig = cv._conv_forward_rowwrap

    def spy(*a, **k):
        calls.append(True)
        return orig(*a, **k)

    monkeypatch.setattr(cv, "_conv_forward_rowwrap", spy)
    return calls


# (N, C, H, W, O, kernel, padding, dilation, groups, row-wrapped?)
CASES = [
    (2, 3, 8, 8, 4, 3, 1, 1, 1, True),
    (3, 4, 7, 9, 6, 3, 1, 1, 2, True),  # groups, odd sizes
    (2, 3, 9, 8, 4, 3, 2, 2, 1, True),  # dilation
    (2, 3, 6, 9, 5, 4, "same", 1, 1, True),  # even kernel: pl = 1, pr = 2
    (2, 3, 7, 6, 4, 5, 2, 1, 1, True),
    (2, 3, 6, 7, 4, 3, 3, 1, 1, False),  # padding wider than the kernel reaches: im2col road
    (2, 3, 6, 7, 4, 3, 0, 1, 1, False),  # unpadded: im2col road
]


@pytest.mark.parametrize("case", CASES)
def test_matches_torch_and_im2col_float32(monkeypatch, case):
    N, C, H, W, O, k, p, d, g, wrapped = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((O, C // g, k, k)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    calls = _spy_rowwrap(monkeypatch)
    mx, mw, mb = (mathdl.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(mx, mw, mb, padding=p, dilation=d, groups=g)
    assert bool(calls) == wrapped
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=p, dilation=d, groups=g)
    v = rng.standard_normal(ty.shape).astype(np.float32)
    (y * mathdl.tensor(v)).sum().backward()
    (ty * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mx.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mw.grad.array, tw.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mb.grad.array, tb.grad.numpy(), rtol=1e-4, atol=1e-4)
    # the plain im2col road (row-wrapping off) gives the same numbers
    monkeypatch.setattr(cv, "_rowwrap_ok", lambda *a, **k: False)
    px, pw = mathdl.tensor(x, requires_grad=True), mathdl.tensor(w, requires_grad=True)
    py = F.conv2d(px, pw, mathdl.tensor(b), padding=p, dilation=d, groups=g)
    (py * mathdl.tensor(v)).sum().backward()
    np.testing.assert_allclose(y.array, py.array, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mx.grad.array, px.grad.array, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(mw.grad.array, pw.grad.array, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("p, k", [(1, 3), ("same", 4)])
def test_gradcheck_and_gradgradcheck_float64(p, k):
    rng = np.random.default_rng(2)
    x = mathdl.tensor(rng.standard_normal((2, 2, 4, 5)), dtype=mathdl.float64, requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((3, 2, k, k)), dtype=mathdl.float64, requires_grad=True)
    f = lambda x, w: F.conv2d(x, w, padding=p)  # noqa: E731
    assert gradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w))


@pytest.mark.parametrize("p, k", [(1, 3), ("same", 4), (2, 3)])
def test_per_tile_fill_on_two_threads_is_bit_identical(monkeypatch, p, k):
    """One image per tile, the tiles on two threads (each pads its own images, see _fill_images):
    the same operations in the same order as on one thread."""
    monkeypatch.setattr(cv, "TILE_BYTES", 1)
    monkeypatch.setattr(cv, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 6, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, k, k)).astype(np.float32)
    v = None
    old = parallel.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            mx, mw = mathdl.tensor(x, requires_grad=True), mathdl.tensor(w, requires_grad=True)
            y = F.conv2d(mx, mw, padding=p)
            if v is None:
                v = rng.standard_normal(y.shape).astype(np.float32)
            (y * mathdl.tensor(v)).sum().backward()
            out.append((y.array.copy(), mx.grad.array.copy(), mw.grad.array.copy()))
    finally:
        parallel.set_num_threads(old)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_conv1x1_weight_gradient_same_tiles_any_thread_count(monkeypatch):
    """The 1x1 weight gradient sums over tiles of whole images: one-image tiles give the same sum at
    1 and 2 threads, bit for bit."""
    monkeypatch.setattr(cv, "TILE_BYTES", 1)
    monkeypatch.setattr(cv, "PARALLEL_MIN_MACS", 0)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5, 3, 4)).astype(np.float32)
    g = rng.standard_normal((6, 7, 3, 4)).astype(np.float32)
    old = parallel.get_num_threads()
    try:
        got = []
        for n in (1, 2):
            parallel.set_num_threads(n)
            got.append(cv._conv1x1_weight(x, g, (7, 5, 1, 1)))
    finally:
        parallel.set_num_threads(old)
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_allclose(got[0][:, :, 0, 0], np.einsum("nohw,nchw->oc", g, x), rtol=1e-4, atol=1e-4)
