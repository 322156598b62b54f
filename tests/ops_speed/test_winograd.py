"""Winograd F(2x2, 3x3) and F(4x4, 3x3) (mathdl/ops/winograd.py), on both roads (compiled transforms
in tiles of images, F(4x4) wherever it needs no more products, and whole-batch F(2x2) array passes
without numba): exact in float64 against torch, the float32 error against a float64 reference
bounded by a multiple of the im2col road's error (3x for F(2x2), 20x for F(4x4)), and, forced
through conv2d, the same values, gradients, gradcheck and gradgradcheck as any conv."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.ops import conv as cv
from mathdl.ops import winograd as wg

torch = pytest.importorskip("torch")


@pytest.fixture(params=["compiled", "arrays"])
def road(request, monkeypatch):
    """Run the test on the compiled road (skipped without numba) and on the array road."""
    if request.param == "compiled":
        if not wg.compiled_available():
            pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")
    else:
        monkeypatch.setattr(wg, "_kernels", False)
    return request.param


def _no_winograd(monkeypatch):
    monkeypatch.setattr(cv, "WINOGRAD_MIN_CHANNELS", 10**9)
    monkeypatch.setattr(cv, "WINOGRAD_ARRAY_MIN_CHANNELS", 10**9)

# (N, C, H, W, O, pads (pt, pb, pl, pr)): even and odd output sizes, unpadded and asymmetric
SHAPES = [(2, 3, 7, 6, 4, (1, 1, 1, 1)), (2, 3, 8, 8, 5, (0, 0, 0, 0)), (1, 2, 5, 9, 3, (1, 1, 1, 1)),
          (3, 4, 6, 7, 2, (1, 1, 2, 0)), (1, 1, 3, 3, 1, (0, 0, 0, 0))]


def _torch_conv(x, w, pads):
    tx = torch.nn.functional.pad(torch.tensor(x), (pads[2], pads[3], pads[0], pads[1]))
    return tx, torch.nn.functional.conv2d(tx, torch.tensor(w))


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_weight_gradient_float64_match_torch(shape, road):
    N, C, H, W, O, pads = shape
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, 3, 3)), rng.standard_normal(O)
    tx, ty = _torch_conv(x, w, pads)
    np.testing.assert_allclose(wg.conv3x3(x, w, b, pads), ty.numpy() + b.reshape(1, -1, 1, 1), atol=1e-12)
    g = rng.standard_normal(ty.shape)
    tw = torch.tensor(w, requires_grad=True)
    (torch.nn.functional.conv2d(tx, tw) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(wg.conv3x3_weight(x, g, pads), tw.grad.numpy(), atol=1e-11)


@pytest.mark.parametrize("N, C, H, O", [(4, 64, 16, 64), (2, 128, 8, 96), (8, 16, 12, 16), (2, 32, 6, 32)])
def test_float32_error_bounded_by_direct_convolution(N, C, H, O, monkeypatch, road):
    """Relative to max |y|, for the forward, the input gradient and the weight gradient: F(2x2)'s
    float32 error <= 3x the im2col road's (+ 1e-7) and < 3e-6; F(4x4)'s (its transforms multiply
    by up to 8 and 5) <= 20x the im2col road's and < 2e-5 (measured 5-13x, up to 7e-6)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, H))
    w = rng.standard_normal((O, C, 3, 3)) / np.sqrt(9 * C)
    g = rng.standard_normal((N, O, H, H))
    pads = (1, 1, 1, 1)
    wf = cv._flipped_transposed(w, 1)
    _no_winograd(monkeypatch)  # the im2col road for the comparison
    ref = wg.conv3x3(x, w, None, pads)
    ref_w = wg.conv3x3_weight(x, g, pads)
    ref_x = wg.conv3x3(g, wf, None, pads)
    x32, w32, g32, wf32 = (a.astype(np.float32) for a in (x, w, g, wf))
    direct = cv._conv_forward(x32, w32, None, (1, 1), pads, (1, 1), 1)
    direct_w = cv._conv_weight(x32, g32, w.shape, (1, 1), pads, (1, 1), 1)
    direct_x = cv._conv_forward(g32, wf32, None, (1, 1), pads, (1, 1), 1)
    m = wg.output_tile(H, H)
    assert m == (4 if road == "compiled" and H != 6 else 2)  # 6x6: F(4x4) would compute 8x8
    U = wg.kernel_transform(w32, m)
    win, win_w = wg.conv3x3(x32, w32, None, pads, U), wg.conv3x3_weight(x32, g32, pads)
    win_x, win_w2 = wg.conv3x3_backward(g32, wf32, pads, wg.adjoint_transform(U, wf32), x32, pads)
    assert win.dtype == win_w.dtype == win_x.dtype == np.float32
    assert np.abs(win_w2 - win_w).max() <= 1e-5 * np.abs(win_w).max()  # tiles summed in another order
    factor, cap = (3, 3e-6) if m == 2 else (20, 2e-5)
    for ours, theirs, r in ((win, direct, ref), (win_w, direct_w, ref_w), (win_x, direct_x, ref_x)):
        scale = np.abs(r).max()
        err_w, err_d = np.abs(ours - r).max() / scale, np.abs(theirs - r).max() / scale
        assert err_w <= factor * err_d + 1e-7 and err_w < cap, (m, err_w, err_d)


@pytest.fixture
def force_winograd(monkeypatch, road):
    calls = {"fwd": 0, "wgrad": 0, "both": 0}
    fwd, wgrad, both = wg.conv3x3, wg.conv3x3_weight, wg.conv3x3_backward

    def f(*a, **k):
        calls["fwd"] += 1
        return fwd(*a, **k)

    def gw(*a, **k):
        calls["wgrad"] += 1
        return wgrad(*a, **k)

    def gb(*a, **k):
        calls["both"] += 1
        return both(*a, **k)

    for name in ("WINOGRAD_MIN_CHANNELS", "WINOGRAD_MIN_PIXELS", "WINOGRAD_MIN_PIXELS_ANY",
                 "WINOGRAD_ARRAY_MIN_CHANNELS", "WINOGRAD_ARRAY_MIN_PIXELS", "WINOGRAD_ARRAY_MIN_PIXELS_ANY"):
        monkeypatch.setattr(cv, name, 1)
    monkeypatch.setattr(wg, "conv3x3", f)
    monkeypatch.setattr(wg, "conv3x3_weight", gw)
    monkeypatch.setattr(wg, "conv3x3_backward", gb)
    return calls


@pytest.mark.parametrize("padding", [1, 0, "same"])
def test_conv2d_through_winograd_matches_torch(force_winograd, padding):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    mx, mw, mb = (mathdl.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(mx, mw, mb, padding=padding)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=padding)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    (y * mathdl.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, t in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-4, atol=1e-4)
    # the forward, then both gradients in one pass (conv3x3_backward)
    assert force_winograd == {"fwd": 1, "wgrad": 0, "both": 1}


def test_conv2d_through_winograd_gradcheck_and_gradgradcheck(force_winograd):
    rng = np.random.default_rng(3)
    x = mathdl.tensor(rng.standard_normal((1, 2, 4, 5)), dtype=mathdl.float64, requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((2, 2, 3, 3)), dtype=mathdl.float64, requires_grad=True)
    f = lambda x, w: F.conv2d(x, w, padding=1)  # noqa: E731
    assert gradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w))
    assert force_winograd["fwd"] > 0 and force_winograd["both"] > 0 and force_winograd["wgrad"] > 0  # + double backward


def test_dispatch_rule_array_road(monkeypatch):
    monkeypatch.setattr(wg, "_kernels", False)
    x128 = np.zeros((1, 128, 16, 16), np.float32)
    x16 = np.zeros((1, 16, 32, 32), np.float32)
    assert cv._winograd_ok(x128, (128, 128, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    # small maps take im2col at any width (the transforms cost more than the products they save)
    for hw in (1, 2, 4, 8):
        assert not cv._winograd_ok(np.zeros((1, 512, hw, hw), np.float32), (512, 512, 3, 3), (1, 1),
                                   (1, 1, 1, 1), (1, 1), 1)
    assert not cv._winograd_ok(x16, (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert not cv._winograd_ok(x128, (128, 128, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert not cv._winograd_ok(x128, (128, 128, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1)
    assert not cv._winograd_ok(x128, (128, 64, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2)


def test_dispatch_rule_compiled_road():
    if not wg.compiled_available():
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")

    def ok(c, o, hw, pads=(1, 1, 1, 1), stride=(1, 1), k=3, dil=(1, 1), groups=1, dtype=np.float32):
        x = np.zeros((1, c, hw, hw), dtype)
        return cv._winograd_ok(x, (o, c // groups, k, k), stride, pads, dil, groups)

    assert ok(32, 32, 16) and ok(64, 64, 8) and ok(16, 16, 32) and ok(16, 32, 13, (0, 0, 0, 0))  # ResNet-20, LeNet
    assert not ok(8, 8, 32) and not ok(3, 16, 32) and not ok(1, 16, 28)  # few channels: im2col
    assert ok(16, 16, 8) and not ok(16, 16, 3) and not ok(64, 64, 3)  # 9 output pixels: im2col
    assert not ok(64, 64, 8, stride=(2, 2)) and not ok(64, 64, 8, k=5, pads=(2, 2, 2, 2))
    assert not ok(64, 64, 8, dil=(2, 2), pads=(2, 2, 2, 2)) and not ok(64, 64, 8, groups=2)
    assert not ok(64, 64, 8, dtype=np.float16)


@pytest.mark.parametrize("shape", SHAPES + [(3, 5, 9, 4, 6, (2, 1, 0, 2))])
def test_compiled_road_equals_array_road_float64(shape, monkeypatch):
    """Odd sizes, asymmetric padding, a bias, NCHW and channel-major input: the compiled
    transforms compute the same numbers as the array passes (float64)."""
    if not wg.compiled_available():
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")
    N, C, H, W, O, pads = shape
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, 3, 3)), rng.standard_normal(O)
    g = rng.standard_normal((N, O, H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2))
    xcm = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    got = [wg.conv3x3(xx, w, b, pads) for xx in (x, xcm)] + [wg.conv3x3_weight(xx, g, pads) for xx in (x, xcm)]
    monkeypatch.setattr(wg, "_kernels", False)
    want_y, want_w = wg.conv3x3(x, w, b, pads), wg.conv3x3_weight(x, g, pads)
    for a, want in zip(got, (want_y, want_y, want_w, want_w)):
        np.testing.assert_allclose(a, want, rtol=1e-12, atol=1e-12)


def test_compiled_road_tiles_on_two_threads_bit_identical(monkeypatch):
    """One image per tile on one and on two threads: each tile computed by the same operations, the
    weight gradient's parts added in tile order, so the numbers agree bit for bit."""
    if not wg.compiled_available():
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")
    from mathdl import parallel

    monkeypatch.setattr(cv, "TILE_BYTES", 1)
    monkeypatch.setattr(cv, "PARALLEL_MIN_MACS", 0)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 4, 7, 6)).astype(np.float32)
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    g = rng.standard_normal((5, 3, 7, 6)).astype(np.float32)
    old = parallel.get_num_threads()
    res = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            res.append((wg.conv3x3(x, w, None, (1, 1, 1, 1)), wg.conv3x3_weight(x, g, (1, 1, 1, 1))))
    finally:
        parallel.set_num_threads(old)
    for a, b in zip(*res):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_kernel_transform_and_its_adjoint():
    """U = G w G^T per (o, c), and <U, dU> = <w, G^T dU G> (the weight map is its adjoint)."""
    rng = np.random.default_rng(13)
    w, dU = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((16, 3, 2))
    G = wg._G[2]
    U = wg.kernel_transform(w)
    np.testing.assert_allclose(U[:, 1, 0].reshape(4, 4), G @ w[1, 0] @ G.T, atol=1e-14)
    np.testing.assert_allclose((U * dU).sum(), (w * wg._weight_from_winograd(dU)).sum(), rtol=1e-12)
    wf = w[:, :, ::-1, ::-1]  # a strided (flipped) kernel view, as the input gradient passes
    np.testing.assert_allclose(wg.kernel_transform(wf), wg.kernel_transform(np.ascontiguousarray(wf)), atol=1e-14)
    # the input gradient's kernel W'[c, o] = W[o, c, ::-1, ::-1]: its transform is a permutation of U
    wft = wf.transpose(1, 0, 2, 3)
    np.testing.assert_allclose(wg.adjoint_transform(U, wft), wg.kernel_transform(wft), atol=1e-14)
    assert not np.shares_memory(wg.adjoint_transform(U, wft), wft)


def test_f4_kernel_transform_adjoint_and_one_dimensional_identity():
    """F(4x4, 3x3): A^T [(G g) . (B^T d)] is the correlation of d (6) with g (3); U = G w G^T
    (36, O, C); <U, dU> = <w, G^T dU G>; the flipped kernel's transform is its own."""
    from mathdl.ops import winograd_kernels as wk

    rng = np.random.default_rng(16)
    G, BT = wg._G[4], np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                                [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float)
    AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], float)
    d, k = rng.standard_normal(6), rng.standard_normal(3)
    np.testing.assert_allclose(AT @ ((G @ k) * (BT @ d)), np.correlate(d, k, "valid"), atol=1e-13)
    assert "4, 0, -5, 0, 1, 0" in wk.__doc__ and "0, 1, -1, 8, -8, 1" in wk.__doc__  # the matrices stated
    w, dU = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((36, 3, 2))
    U = wg.kernel_transform(w, 4)
    assert U.shape == (36, 3, 2)
    np.testing.assert_allclose(U[:, 1, 0].reshape(6, 6), G @ w[1, 0] @ G.T, atol=1e-14)
    np.testing.assert_allclose((U * dU).sum(), (w * wg._weight_from_winograd(dU)).sum(), rtol=1e-12)
    wft = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    np.testing.assert_allclose(wg.adjoint_transform(U, wft), wg.kernel_transform(wft, 4), atol=1e-14)


def test_output_tile_rule():
    """F(4x4) where its 36 products per 4x4 block need at most 0.6 of F(2x2)'s 16 per 2x2 block and
    a tile of images gives its products at least 32 columns; F(2x2) without the compiled road."""
    if not wg.compiled_available():
        assert wg.output_tile(32, 32) == 2
        return
    assert wg.output_tile(32, 32) == wg.output_tile(16, 16) == wg.output_tile(8, 8) == 4
    assert wg.output_tile(7, 7) == wg.output_tile(11, 11) == wg.output_tile(4, 4) == 4
    assert wg.output_tile(6, 6) == wg.output_tile(2, 2) == wg.output_tile(2, 9) == 2  # 4x4 blocks waste more
    assert wg.output_tile(14, 14) == wg.output_tile(13, 11) == 2  # ratio 0.73 and 0.64
    assert wg.output_tile(28, 28, 256, 256) == 4 and wg.output_tile(16, 16, 128, 128) == 4
    assert wg.output_tile(16, 16, 256, 256) == 4  # 3 images per 4 MiB tile: 48 columns
    assert wg.output_tile(7, 7, 512, 512) == wg.output_tile(16, 16, 512, 512) == 2  # thin products


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_two_threads_equal_one_thread(shape, monkeypatch, road):
    """The 16 products on mathdl's threads (BLAS on one thread each) and the transforms split:
    the same numbers as one thread."""
    from mathdl import parallel

    N, C, H, W, O, pads = shape
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C, 3, 3))
    g = rng.standard_normal((N, O, H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2))
    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    res = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            res.append((wg.conv3x3(x, w, None, pads), wg.conv3x3_weight(x, g, pads)))
    finally:
        parallel.set_num_threads(old)
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES + [(3, 5, 9, 4, 6, (2, 1, 0, 2))])
def test_backward_in_one_pass_equals_the_two_gradients(shape, road):
    """conv3x3_backward (both gradients, one pass over tiles) = conv3x3 of g with the flipped,
    transposed kernel and the full padding, and conv3x3_weight (float64)."""
    N, C, H, W, O, pads = shape
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, 3, 3))
    g = rng.standard_normal((N, O, H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2))
    full = (2 - pads[0], 2 - pads[1], 2 - pads[2], 2 - pads[3])
    if min(full) < 0:
        pytest.skip("padding wider than the kernel: the input gradient takes col2im")
    wf = cv._flipped_transposed(w, 1)
    m = wg.output_tile(H + pads[0] + pads[1] - 2, W + pads[2] + pads[3] - 2)
    U = wg.kernel_transform(w, m)
    dx, dw = wg.conv3x3_backward(g, wf, full, wg.adjoint_transform(U, wf), x, pads)
    np.testing.assert_allclose(dx, wg.conv3x3(g, np.ascontiguousarray(wf), None, full), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, wg.conv3x3_weight(x, g, pads), rtol=1e-12, atol=1e-12)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, (pads[2], pads[3], pads[0], pads[1])), tw)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(dw, tw.grad.numpy(), atol=1e-11)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # 0 inf in the padding, as torch
def test_kernel_with_inf_takes_im2col_like_torch():
    """A kernel holding inf: the transforms would give NaN (inf - inf) where a direct convolution
    gives inf, so such a conv takes the im2col road and matches torch."""
    rng = np.random.default_rng(15)
    x = np.abs(rng.standard_normal((2, 16, 8, 8))).astype(np.float32) + 0.1
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    w[0, 0, 1, 1] = np.inf
    assert cv._winograd_ok(x, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1) or not wg.compiled_available()
    y = F.conv2d(mathdl.tensor(x), mathdl.tensor(w), padding=1).array
    ty = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(ty))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ty))
    finite = np.isfinite(ty)
    np.testing.assert_allclose(y[finite], ty[finite], rtol=1e-4, atol=1e-4)


def test_forward_keeps_its_input_transform_for_the_weight_gradient(monkeypatch):
    """KEEP_WINOGRAD_INPUT on: with the weight's gradient to come, the forward keeps the whole
    batch's V = B^T d B and the backward's weight gradient uses it (not transforming x again),
    releasing it after; the gradients equal torch's.  Under no_grad, for a frozen weight, or with
    the switch off (the default), nothing is kept."""
    if not wg.compiled_available():
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")
    seen = {"keep": [], "saved": []}
    fwd, both = wg.conv3x3, wg.conv3x3_backward

    def f(*a, keep=False, **k):
        seen["keep"].append(keep)
        return fwd(*a, keep=keep, **k)

    def gb(*a, **k):
        seen["saved"].append(a[6] if len(a) > 6 else k.get("saved"))
        return both(*a, **k)

    monkeypatch.setattr(wg, "conv3x3", f)
    monkeypatch.setattr(wg, "conv3x3_backward", gb)
    monkeypatch.setattr(cv, "KEEP_WINOGRAD_INPUT", True)
    rng = np.random.default_rng(17)
    x0, w0 = rng.standard_normal((3, 16, 10, 9)), rng.standard_normal((16, 16, 3, 3))
    g0 = rng.standard_normal((3, 16, 10, 9))
    x = mathdl.tensor(x0, requires_grad=True)
    w = mathdl.tensor(w0, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert seen["keep"] == [True] and y._node.saved_v is not None
    y.backward(mathdl.tensor(g0))
    assert seen["saved"][0] is not None and y._node.saved_v is None
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, padding=1).backward(torch.tensor(g0))
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(w.grad.array, tw.grad.numpy(), atol=1e-11)
    with mathdl.no_grad():
        F.conv2d(x, w, padding=1)
    F.conv2d(x, mathdl.tensor(w0), padding=1)  # a frozen weight: no weight gradient
    assert seen["keep"] == [True, False, False]
    monkeypatch.setattr(cv, "KEEP_WINOGRAD_INPUT", False)  # the default: nothing kept
    F.conv2d(x, w, padding=1)
    assert seen["keep"][-1] is False
