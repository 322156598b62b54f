"""The fast paths of the CNN training step: row-wrapped stride-1 im2col, the weight gradient taken
from the input gradient's im2col tiles, batch norm on channel-major input with an optional fused
ReLU, and the fused residual join add + ReLU.  Each is checked against torch (values and
gradients) or the unfused composition and, in float64, with gradcheck and gradgradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
import mathdl.ops.conv as conv_ops
from mathdl import nn
from mathdl.autograd import gradcheck, gradgradcheck
from mathdl.models.resnet import BasicBlock, add_relu
from mathdl.ops.elementwise import add, relu

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")

# (N, C, H, W, O, kernel, padding, dilation): stride 1, so all take the row-wrapped path
STRIDE1 = [
    (2, 3, 6, 7, 4, 3, 1, 1),
    (2, 3, 6, 7, 4, 3, 0, 1),
    (2, 2, 8, 8, 3, 3, 2, 2),
    (1, 3, 7, 6, 2, (3, 2), (1, 0), 1),
    (2, 3, 5, 9, 2, 4, "same", 1),  # even kernel: asymmetric padding
]


@pytest.mark.parametrize("case", STRIDE1)
@pytest.mark.parametrize("x_grad", [True, False])
def test_stride1_conv_gradients_match_torch(case, x_grad):
    """x_grad=True: dL/dW comes out of the input gradient's im2col tiles; False: on its own."""
    N, C, H, W, O, k, p, d = case
    kk = k if isinstance(k, tuple) else (k, k)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C) + kk)
    xs, ws = mathdl.tensor(x, requires_grad=x_grad), mathdl.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=x_grad), torch.tensor(w, requires_grad=True)
    y, yt = F.conv2d(xs, ws, padding=p, dilation=d), TF.conv2d(xt, wt, padding=p, dilation=d)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-10)
    v = rng.standard_normal(yt.shape)
    (y * mathdl.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), atol=1e-10)
    if x_grad:
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), atol=1e-10)


def test_fused_weight_gradient_is_used_and_tiled(monkeypatch):
    """One image per tile: the weight gradient accumulates over tiles of the input gradient."""
    monkeypatch.setattr(conv_ops, "TILE_BYTES", 1)
    calls = []
    orig = conv_ops._conv_forward_rowwrap

    def spy(*args, **kw):
        calls.append(len(args) > 7 and args[7] is not None)
        return orig(*args, **kw)

    monkeypatch.setattr(conv_ops, "_conv_forward_rowwrap", spy)
    test_stride1_conv_gradients_match_torch(STRIDE1[0], True)
    assert any(calls)


def test_stride1_conv_gradgradcheck():
    rng = np.random.default_rng(4)
    x = mathdl.tensor(rng.standard_normal((2, 2, 4, 5)), requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    f = lambda x, w: F.conv2d(x, w, padding=1)  # noqa: E731
    assert gradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w))


def test_row_wrapped_path_is_taken_only_when_cheap():
    assert conv_ops._rowwrap_ok((1, 1), 34, 32)
    assert not conv_ops._rowwrap_ok((2, 2), 34, 16)
    assert not conv_ops._rowwrap_ok((1, 1), 15, 7)  # 5x5 kernel with padding 4 on width 7
    assert not conv_ops._rowwrap_ok((1, 1), 28, 26, (0, 0, 0, 0))  # unpadded: the old path


# --------------------------------------------------------------------------- batch norm (+ relu)
def _channel_major(a):
    """An NCHW array stored as a contiguous (C, N, H, W) block (conv2d's output layout)."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


@pytest.mark.parametrize("layout", ["nchw", "channel_major", "ncl"])
@pytest.mark.parametrize("fuse", [False, True])
def test_batch_norm_relu_matches_torch(layout, fuse):
    rng = np.random.default_rng(5)
    shape = (4, 3, 7) if layout == "ncl" else (4, 3, 5, 6)
    x = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    xa = _channel_major(x) if layout == "channel_major" else x
    xs = mathdl.Tensor._make(xa, True)
    ws, bs = mathdl.tensor(w, requires_grad=True), mathdl.tensor(b, requires_grad=True)
    y = F.batch_norm(xs, None, None, ws, bs, training=True, relu=fuse)
    if layout == "channel_major":
        assert y.numpy().strides[1] > y.numpy().strides[0]  # keeps conv2d's layout
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = TF.batch_norm(xt, None, None, wt, bt, training=True)
    yt = torch.relu(yt) if fuse else yt
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-5)
    v = rng.standard_normal(shape).astype(np.float32)
    (y * mathdl.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    for a, t in ((xs, xt), (ws, wt), (bs, bt)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), atol=1e-4)


@pytest.mark.parametrize("channel_major", [False, True])
def test_batch_norm_relu_gradgradcheck(channel_major):
    rng = np.random.default_rng(6)
    x = mathdl.tensor(rng.standard_normal((3, 2, 3, 4) if not channel_major else (2, 3, 3, 4)) + 0.3,
                      requires_grad=True)
    w = mathdl.tensor(rng.standard_normal(2), requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(2), requires_grad=True)

    def f(x, w, b):
        xv = x.permute(1, 0, 2, 3) if channel_major else x  # a channel-major view
        return F.batch_norm(xv, None, None, w, b, training=True, relu=True)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_batch_norm_relu_eval_and_module_method():
    bn = nn.BatchNorm2d(3)
    x = mathdl.randn(4, 3, 5, 5)
    np.testing.assert_allclose(bn.forward_relu(x).numpy(), relu(bn(x)).numpy(), atol=1e-6)
    assert int(bn.num_batches_tracked.array) == 2
    bn.eval()
    np.testing.assert_allclose(bn.forward_relu(x).numpy(), np.maximum(bn(x).numpy(), 0), atol=1e-6)


# --------------------------------------------------------------------------- add + relu
def test_add_relu_matches_composition_and_gradgradcheck():
    rng = np.random.default_rng(7)
    a = mathdl.tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    b = mathdl.tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    y = add_relu(a, b)
    np.testing.assert_array_equal(y.numpy(), relu(add(a, b)).numpy())
    assert gradcheck(add_relu, (a, b))
    assert gradgradcheck(add_relu, (a, b))
    with pytest.raises(ValueError, match="add_relu: shapes"):
        add_relu(a, mathdl.randn(2, 3, 4, 1))


@pytest.mark.parametrize("channel_major", [False, True])
@pytest.mark.parametrize("compiled", [True, False])
def test_add_relu_large_matches_torch_with_nan_and_inf(compiled, channel_major, monkeypatch):
    """From select_kernels.MIN_ELEMENTS entries the join takes the compiled select passes: the same
    values and gradients as torch's relu(a + b), NaN kept forward and passing g backward, an inf
    of g where y <= 0 giving 0 (threshold_backward), on both roads."""
    from mathdl.ops import select_kernels

    if compiled and not select_kernels.usable(np.zeros(1 << 16, np.float32)):
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA is set)")
    if not compiled:
        monkeypatch.setattr(select_kernels, "MIN_ELEMENTS", 1 << 40)
    rng = np.random.default_rng(8)
    a0 = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
    b0 = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
    a0[0, 0, 0, 0] = np.nan
    g0 = rng.standard_normal(a0.shape).astype(np.float32)
    g0[0, 0, 0, 0] = 5.0
    neg = np.argwhere((a0 + b0) < 0)[0]
    g0[tuple(neg)] = np.inf
    if channel_major:  # views of (C, N, H, W) arrays, as convolutions return; g stays C order
        a = mathdl.tensor(np.ascontiguousarray(a0.transpose(1, 0, 2, 3)), requires_grad=True)
        b = mathdl.tensor(np.ascontiguousarray(b0.transpose(1, 0, 2, 3)), requires_grad=True)
        y = add_relu(a.permute(1, 0, 2, 3), b.permute(1, 0, 2, 3))
    else:
        a, b = mathdl.tensor(a0, requires_grad=True), mathdl.tensor(b0, requires_grad=True)
        y = add_relu(a, b)
    y.backward(mathdl.tensor(g0))
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    ty = torch.relu(ta + tb)
    ty.backward(torch.tensor(g0))
    ga, gb = a.grad.numpy(), b.grad.numpy()
    if channel_major:
        ga, gb = ga.transpose(1, 0, 2, 3), gb.transpose(1, 0, 2, 3)
        assert y.array.strides == a.array.transpose(1, 0, 2, 3).strides  # y keeps a's layout
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(ga, ta.grad.numpy())
    np.testing.assert_array_equal(gb, tb.grad.numpy())
    assert np.isnan(y.numpy()[0, 0, 0, 0]) and ga[0, 0, 0, 0] == 5.0 and ga[tuple(neg)] == 0


def test_basic_block_fused_equals_unfused():
    mathdl.manual_seed(0)
    blk = BasicBlock(4, 8, stride=2)
    x = mathdl.randn(2, 4, 8, 8, requires_grad=True)
    y = blk(x)
    y.sum().backward()
    g_fused = [p.grad.numpy().copy() for p in blk.parameters()] + [x.grad.numpy().copy()]
    blk.zero_grad()
    x.grad = None
    z = relu(blk.bn1(blk.conv1(x)))
    z = blk.bn2(blk.conv2(z))
    z = relu(add(z, blk.shortcut(x)))
    np.testing.assert_allclose(y.numpy(), z.numpy(), atol=1e-5)
    z.sum().backward()
    for gf, gu in zip(g_fused, [p.grad.numpy() for p in blk.parameters()] + [x.grad.numpy()]):
        np.testing.assert_allclose(gf, gu, atol=1e-4)


@pytest.mark.parametrize("C, O, stride, pad", [(16, 16, 1, 1), (16, 32, 1, 1), (3, 8, 1, 1), (16, 32, 2, 1),
                                               (4, 6, 1, 0)])
def test_empty_batch_gives_empty_output_and_zero_weight_gradient(C, O, stride, pad):
    """An empty batch through every road (Winograd, row-wrapped and strided im2col): PyTorch's shapes,
    an empty input gradient and zero weight and bias gradients."""
    x = mathdl.randn(0, C, 8, 8, requires_grad=True)
    w = mathdl.randn(O, C, 3, 3, requires_grad=True)
    b = mathdl.randn(O, requires_grad=True)
    y = F.conv2d(x, w, b, stride=stride, padding=pad)
    Ho = (8 + 2 * pad - 3) // stride + 1
    assert tuple(y.shape) == (0, O, Ho, Ho) and y.dtype == x.dtype
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, C, 8, 8)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((O, C, 3, 3), np.float32))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(O, np.float32))
