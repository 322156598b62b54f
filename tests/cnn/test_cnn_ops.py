"""Convolution and pooling ops: torch parity (values, first and second derivatives), gradcheck and
gradgradcheck in float64, and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def _pair(seed, *shapes):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [mathdl.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return arrays, ours, theirs


def _check(fn_ours, fn_torch, ours, theirs, seed=0, atol=1e-10):
    """Outputs, then gradients of <y, v> for a random v, agree with torch (float64)."""
    y, yt = fn_ours(*ours), fn_torch(*theirs)
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=atol, rtol=1e-9)
    v = np.random.default_rng(seed + 100).standard_normal(yt.shape)
    (y * mathdl.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None or np.all(a.grad.numpy() == 0)
            continue
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol, rtol=1e-9)


# --------------------------------------------------------------------------- conv2d
CONV_CASES = [
    # (N, C, H, W, O, kernel, stride, padding, dilation, groups, bias)
    (2, 3, 7, 8, 4, 3, 1, 1, 1, 1, True),
    (2, 3, 7, 8, 4, 3, 1, 0, 1, 1, False),
    (2, 4, 9, 7, 6, 3, 2, 1, 1, 2, True),
    (1, 2, 9, 9, 4, (2, 3), (2, 1), (1, 2), (2, 1), 1, True),
    (2, 4, 6, 7, 4, 3, 1, "same", 2, 4, True),
    (1, 3, 7, 6, 2, 4, 1, "same", 1, 1, False),
    (2, 3, 5, 6, 2, 3, 1, "valid", 1, 1, True),
    (2, 6, 8, 8, 6, 1, 2, 0, 1, 3, True),
    (1, 2, 10, 11, 3, 3, 3, 2, 2, 1, True),
    (3, 1, 5, 5, 2, 5, 1, 0, 1, 1, True),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case):
    N, C, H, W, O, k, s, p, d, g, bias = case
    kk = k if isinstance(k, tuple) else (k, k)
    shapes = [(N, C, H, W), (O, C // g) + kk] + ([(O,)] if bias else [])
    _, ours, theirs = _pair(1, *shapes)
    _check(lambda *a: F.conv2d(*a, stride=s, padding=p, dilation=d, groups=g) if bias else
           F.conv2d(*a, None, s, p, d, g),
           lambda *a: TF.conv2d(*a, stride=s, padding=p, dilation=d, groups=g) if bias else
           TF.conv2d(*a, None, s, p, d, g), ours, theirs)


def test_conv2d_float32_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    y = F.conv2d(mathdl.tensor(x), mathdl.tensor(w), padding=1)
    assert y.dtype == np.float32
    yt = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    np.testing.assert_allclose(y.numpy(), yt.numpy(), atol=1e-4)


@pytest.mark.parametrize("s,p,d,g", [(1, 0, 1, 1), (2, 1, 1, 2), (1, "same", 2, 1), (3, 2, 1, 1)])
def test_conv1d_matches_torch(s, p, d, g):
    _, ours, theirs = _pair(2, (2, 4, 11), (6, 4 // g, 3), (6,))
    _check(lambda x, w, b: F.conv1d(x, w, b, s, p, d, g), lambda x, w, b: TF.conv1d(x, w, b, s, p, d, g),
           ours, theirs)


CONVT_CASES = [
    # (Cin, Cout, kernel, stride, padding, output_padding, groups, dilation)
    (4, 3, 3, 2, 1, 1, 1, 1),
    (4, 6, 3, 1, 0, 0, 2, 1),
    (2, 2, (2, 3), (2, 3), (0, 1), (1, 2), 1, 1),
    (2, 4, 3, 1, 1, 0, 1, 2),
    (3, 3, 4, 2, 1, 0, 3, 1),
]


@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_matches_torch(case):
    Cin, Cout, k, s, p, op, g, d = case
    kk = k if isinstance(k, tuple) else (k, k)
    _, ours, theirs = _pair(3, (2, Cin, 5, 4), (Cin, Cout // g) + kk, (Cout,))
    _check(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d),
           lambda x, w, b: TF.conv_transpose2d(x, w, b, s, p, op, g, d), ours, theirs)


# --------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("k,s,p,d,ceil", [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 2, True),
                                          ((2, 3), (1, 2), (1, 0), 1, True), (3, 1, 1, 1, False)])
def test_max_pool2d_matches_torch(k, s, p, d, ceil):
    _, ours, theirs = _pair(4, (2, 3, 7, 8))
    _check(lambda x: F.max_pool2d(x, k, s, p, d, ceil), lambda x: TF.max_pool2d(x, k, s, p, d, ceil), ours, theirs)
    y, idx = F.max_pool2d(mathdl.tensor(ours[0].numpy()), k, s, p, d, ceil, return_indices=True)
    _, idx_t = TF.max_pool2d(theirs[0].detach(), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), idx_t.numpy())


@pytest.mark.parametrize("k,s,p,ceil,cip", [(2, None, 0, False, True), (3, 2, 1, False, True),
                                            (3, 2, 1, True, False), ((2, 3), (1, 2), (1, 0), True, True),
                                            (3, 2, 1, False, False)])
def test_avg_pool2d_matches_torch(k, s, p, ceil, cip):
    _, ours, theirs = _pair(5, (2, 3, 7, 8))
    _check(lambda x: F.avg_pool2d(x, k, s, p, ceil, cip), lambda x: TF.avg_pool2d(x, k, s, p, ceil, cip),
           ours, theirs)


def test_avg_pool2d_divisor_override_and_1d_pools():
    _, ours, theirs = _pair(6, (2, 3, 6, 6))
    _check(lambda x: F.avg_pool2d(x, 2, divisor_override=3), lambda x: TF.avg_pool2d(x, 2, divisor_override=3),
           ours, theirs)
    _, ours, theirs = _pair(7, (2, 3, 9))
    _check(lambda x: F.max_pool1d(x, 3, 2, 1), lambda x: TF.max_pool1d(x, 3, 2, 1), ours, theirs)
    _, ours, theirs = _pair(8, (2, 3, 9))
    _check(lambda x: F.avg_pool1d(x, 3, 2, 1), lambda x: TF.avg_pool1d(x, 3, 2, 1), ours, theirs)


@pytest.mark.parametrize("out", [1, (3, 4), (2, 3), (7, 9), (5, 2), (None, 3)])
def test_adaptive_avg_pool2d_matches_torch(out):
    _, ours, theirs = _pair(9, (2, 3, 7, 9))
    _check(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out), ours, theirs)


@pytest.mark.parametrize("kw", [dict(size=(5, 13), mode="nearest"), dict(scale_factor=2, mode="nearest"),
                                dict(size=(10, 4), mode="bilinear", align_corners=False),
                                dict(scale_factor=1.7, mode="bilinear", align_corners=True),
                                dict(scale_factor=2, mode="bilinear", align_corners=False)])
def test_interpolate_matches_torch(kw):
    _, ours, theirs = _pair(10, (2, 3, 7, 9))
    _check(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), ours, theirs)


def test_group_norm_matches_torch():
    _, ours, theirs = _pair(11, (3, 6, 4, 5), (6,), (6,))
    _check(lambda x, w, b: F.group_norm(x, 3, w, b), lambda x, w, b: TF.group_norm(x, 3, w, b), ours, theirs,
           atol=1e-9)


def test_dropout2d_zeroes_whole_channels():
    mathdl.manual_seed(0)
    x = mathdl.ones(200, 16, 3, 3, requires_grad=True)
    y = F.dropout2d(x, 0.25, training=True)
    per_channel = y.numpy().reshape(200, 16, 9)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # one mask value per map
    kept = (per_channel[:, :, 0] != 0).mean()
    assert abs(kept - 0.75) < 0.03
    np.testing.assert_allclose(per_channel[per_channel != 0], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())
    assert F.dropout2d(x, 0.5, training=False) is x


# --------------------------------------------------------------------------- second derivatives vs torch
def _double_backward(fn, arrays, lib):
    """Gradient of sum(grad(<f(x), v>, x)^2) with respect to all inputs: a second-order quantity."""
    rng = np.random.default_rng(42)
    if lib == "torch":
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        v = torch.tensor(rng.standard_normal(tuple(y.shape)))
        gs = torch.autograd.grad((y * v).sum(), xs, create_graph=True)
        pen = sum((g ** 2).sum() for g in gs)
        return [g.numpy() for g in torch.autograd.grad(pen, xs)]
    xs = [mathdl.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    v = mathdl.tensor(rng.standard_normal(tuple(y.shape)))
    gs = mathdl.autograd.grad((y * v).sum(), xs, create_graph=True)
    pen = gs[0].square().sum()
    for g in gs[1:]:
        pen = pen + g.square().sum()
    return [g.numpy() for g in mathdl.autograd.grad(pen, xs)]


@pytest.mark.parametrize("name", ["conv2d", "conv2d_grouped_strided", "conv_transpose2d", "max_pool2d",
                                  "avg_pool2d", "conv_relu_pool"])
def test_double_backward_matches_torch(name):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 4, 7, 7))
    w = rng.standard_normal((4, 2, 3, 3))
    cases = {
        "conv2d": ((x, w[:, :4].repeat(2, axis=1)), lambda lib: lambda a, b: lib.conv2d(a, b, None, 1, 1)),
        "conv2d_grouped_strided": ((x, w), lambda lib: lambda a, b: lib.conv2d(a, b, None, 2, 1, 2, 2)),
        "conv_transpose2d": ((x, w), lambda lib: lambda a, b: lib.conv_transpose2d(a, b, None, 2, 1, 1, 1)),
        "max_pool2d": ((x,), lambda lib: lambda a: lib.max_pool2d(a, 3, 2, 1) ** 2),
        "avg_pool2d": ((x,), lambda lib: lambda a: lib.avg_pool2d(a, 3, 2, 1) ** 2),
        "conv_relu_pool": ((x, w[:, :4].repeat(2, axis=1)),
                           lambda lib: lambda a, b: lib.max_pool2d(lib.conv2d(a, b, None, 1, 1), 2) ** 3),
    }
    arrays, make = cases[name]
    ours = _double_backward(make(F), arrays, "mathdl")
    theirs = _double_backward(make(TF), arrays, "torch")
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, atol=1e-9, rtol=1e-8)


# --------------------------------------------------------------------------- gradcheck / gradgradcheck
def _t(rng, *shape):
    return mathdl.tensor(rng.standard_normal(shape), requires_grad=True)


GRADCHECK = {
    "conv2d": (lambda r: [_t(r, 1, 2, 5, 4), _t(r, 2, 1, 2, 3), _t(r, 2)],
               lambda x, w, b: F.conv2d(x, w, b, (2, 1), 1, (1, 2), 2)),
    "conv2d_same": (lambda r: [_t(r, 1, 2, 4, 4), _t(r, 2, 2, 2, 2)],
                    lambda x, w: F.conv2d(x, w, padding="same")),
    "conv1d": (lambda r: [_t(r, 1, 2, 6), _t(r, 2, 2, 3), _t(r, 2)], lambda x, w, b: F.conv1d(x, w, b, 2, 1)),
    "conv_transpose2d": (lambda r: [_t(r, 1, 2, 3, 3), _t(r, 2, 2, 2, 2), _t(r, 2)],
                         lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1)),
    "max_pool2d": (lambda r: [_t(r, 1, 2, 5, 5)], lambda x: F.max_pool2d(x, 3, 2, 1)),
    "max_pool2d_ceil": (lambda r: [_t(r, 1, 1, 5, 6)], lambda x: F.max_pool2d(x, 2, 2, 0, 1, True)),
    "avg_pool2d": (lambda r: [_t(r, 1, 2, 5, 5)], lambda x: F.avg_pool2d(x, 3, 2, 1, True, False)),
    "adaptive_avg_pool2d": (lambda r: [_t(r, 1, 2, 5, 5)], lambda x: F.adaptive_avg_pool2d(x, (2, 3))),
    "interpolate_bilinear": (lambda r: [_t(r, 1, 1, 3, 4)],
                             lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear")),
    "interpolate_nearest": (lambda r: [_t(r, 1, 1, 3, 4)], lambda x: F.interpolate(x, size=(5, 3))),
    "group_norm": (lambda r: [_t(r, 2, 4, 2, 2), _t(r, 4), _t(r, 4)],
                   lambda x, w, b: F.group_norm(x, 2, w, b)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_and_gradgradcheck(name):
    make, fn = GRADCHECK[name]
    inputs = make(np.random.default_rng(13))
    assert gradcheck(fn, inputs, name=name)
    assert gradgradcheck(fn, inputs, name=name)


# --------------------------------------------------------------------------- bad input
def test_conv2d_errors_name_shapes():
    x = mathdl.randn(2, 3, 5, 5)
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D input .*\(3, 5, 5\)"):
        F.conv2d(mathdl.randn(3, 5, 5), mathdl.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expected input with 4 channels .*\(2, 3, 5, 5\)"):
        F.conv2d(x, mathdl.randn(4, 4, 3, 3))
    with pytest.raises(ValueError, match=r"kernel size \(7, 7\).*larger than the padded input \(5, 5\)"):
        F.conv2d(x, mathdl.randn(4, 3, 7, 7))
    with pytest.raises(ValueError, match="groups=2 must divide input channels 3"):
        F.conv2d(x, mathdl.randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(x, mathdl.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(x, mathdl.randn(4, 3, 3, 3), mathdl.randn(3))


def test_pool_and_transpose_errors():
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 4-D input"):
        F.max_pool2d(mathdl.randn(3, 4, 4), 2)
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        F.max_pool2d(mathdl.randn(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="padding 2 must be at most half the kernel size 3"):
        F.avg_pool2d(mathdl.randn(1, 1, 6, 6), 3, padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(mathdl.randn(1, 2, 3, 3), mathdl.randn(2, 2, 3, 3), stride=1, output_padding=1)
    with pytest.raises(ValueError, match="num_groups=4 must divide the 6 channels"):
        F.group_norm(mathdl.randn(2, 6, 3, 3), 4)


@pytest.mark.parametrize("groups,stride", [(1, 1), (2, 1), (1, 2)])
def test_conv2d_tiled_im2col_matches_torch(monkeypatch, groups, stride):
    """With a tiny tile budget every image is its own im2col tile (forward, input and weight
    gradients all go through the tiled products)."""
    import mathdl.ops.conv as conv_ops

    monkeypatch.setattr(conv_ops, "TILE_BYTES", 1)
    _, ours, theirs = _pair(14, (3, 4, 6, 5), (6, 4 // groups, 3, 3), (6,))
    _check(lambda x, w, b: F.conv2d(x, w, b, stride, 1, 1, groups),
           lambda x, w, b: TF.conv2d(x, w, b, stride, 1, 1, groups), ours, theirs)


def test_conv_output_layout_is_channel_major_view():
    """conv2d returns an NCHW view of a (C, N, H, W) block; the next conv reads it directly."""
    rng = np.random.default_rng(15)
    x, w1, w2 = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 3, 3))
    y = F.conv2d(mathdl.tensor(x), mathdl.tensor(w1), padding=1)
    assert tuple(y.shape) == (2, 4, 5, 5) and y.numpy().strides[1] > y.numpy().strides[0]
    z = F.conv2d(y, mathdl.tensor(w2))
    zt = TF.conv2d(TF.conv2d(torch.tensor(x), torch.tensor(w1), padding=1), torch.tensor(w2))
    np.testing.assert_allclose(z.numpy(), zt.numpy(), atol=1e-10)
