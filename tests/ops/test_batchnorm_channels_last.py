"""Batch norm on channels-last (NHWC memory) input: mathdl/ops/normalization.py's (L, C) road and its
loops (mathdl/ops/bn_channels_last_kernels.py) against the channel-major and plain NCHW roads, torch's
channels_last memory format, finite differences, the NumPy fallback, and 1 vs 2 threads."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import parallel
from mathdl.autograd.gradcheck import gradcheck, gradgradcheck
from mathdl.ops import bn_channels_last_kernels as clk
from mathdl.ops import normalization as norm
from mathdl.ops.normalization import BatchNormFn

LAYOUTS = ("nhwc", "channel_major", "nchw")


def _memory(a, layout):
    """The (N, C, H, W) array ``a`` with the given memory layout (same values)."""
    if layout == "nhwc":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "channel_major":
        return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(a)


def _is_nhwc(a):
    return not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous


@pytest.fixture(params=["compiled", "numpy"])
def road(request, monkeypatch):
    """The compiled loops (down to a few entries), or their NumPy versions (as with MATHDL_NO_NUMBA=1)."""
    if request.param == "compiled":
        if not clk.available():
            pytest.skip("compiled loops off (numba missing or MATHDL_NO_NUMBA=1)")
        monkeypatch.setattr(clk, "MIN_ELEMENTS", 0)
    else:
        monkeypatch.setattr(clk, "_k", False)
        assert not clk.available()
    return request.param


def _run(x, g, w, b, layout, relu, momentum=0.1):
    """y, dL/dx, dL/dw, dL/db and the running statistics of batch_norm (training) on ``layout`` memory."""
    xt = mathdl.from_numpy(_memory(x, layout)).requires_grad_()  # from_numpy keeps the memory layout
    wt = None if w is None else mathdl.tensor(w, requires_grad=True)
    bt = None if b is None else mathdl.tensor(b, requires_grad=True)
    C = x.shape[1]
    rm, rv = mathdl.zeros(C, dtype=xt.dtype), mathdl.ones(C, dtype=xt.dtype)
    y = F.batch_norm(xt, rm, rv, wt, bt, training=True, momentum=momentum, relu=relu)
    if layout == "nhwc":
        assert _is_nhwc(y.array)
    y.backward(mathdl.from_numpy(_memory(g, layout)))
    out = {"y": y.numpy(), "gx": xt.grad.numpy(), "rm": rm.numpy(), "rv": rv.numpy()}
    if w is not None:
        out.update(gw=wt.grad.numpy(), gb=bt.grad.numpy())
    return out


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = (1.5 + 2 * rng.standard_normal(shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = (1 + 0.5 * rng.standard_normal(C)).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    return x, g, w, b


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape", [(4, 16, 12, 12), (3, 5, 7, 9), (2, 200, 3, 5)])
def test_nhwc_matches_channel_major_and_nchw(road, relu, affine, dtype, tol, shape):
    x, g, w, b = _data(shape, dtype)
    if not affine:
        w = b = None
    got = {layout: _run(x, g, w, b, layout, relu) for layout in LAYOUTS}
    for layout in ("channel_major", "nchw"):
        for k, v in got["nhwc"].items():
            np.testing.assert_allclose(v, got[layout][k], rtol=tol, atol=tol, err_msg=f"{k} vs {layout}")


def test_the_channels_last_road_is_taken_and_keeps_the_layout():
    x, g, w, b = _data((4, 16, 12, 12), np.float32)
    fn = BatchNormFn(1e-5, True, True, relu=True)
    xt = mathdl.from_numpy(_memory(x, "nhwc")).requires_grad_()
    y = fn(xt, mathdl.tensor(w, requires_grad=True), mathdl.tensor(b, requires_grad=True))
    assert fn.channels_last and _is_nhwc(y.array)
    with mathdl.no_grad():
        grads = [fn.backward(mathdl.from_numpy(_memory(g, layout))) for layout in LAYOUTS]
        # a broadcast gradient (of a sum): copied once into (L, C)
        ones = fn.backward(mathdl.from_numpy(np.broadcast_to(np.float32(1), x.shape)))
        ones_ref = fn.backward(mathdl.from_numpy(_memory(np.ones_like(x), "nhwc")))
    for gx, gw, gb in grads:
        assert _is_nhwc(gx.array)  # whatever the gradient's layout, dL/dx comes back in x's
        for a, c in zip((gx, gw, gb), grads[0]):
            np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-6, atol=1e-6)
    for a, c in zip(ones, ones_ref):
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-6, atol=1e-6)
    # layouts that are also channel-major (C == 1) or plain NCHW (H = W = 1) keep their roads
    for shape, attr in (((8, 1, 16, 16), "channel-major"), ((64, 8, 1, 1), "nchw")):
        f2 = BatchNormFn(1e-5, False, False)
        f2(mathdl.from_numpy(_memory(np.ones(shape, np.float32), "nhwc")))
        assert not f2.channels_last, attr


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_torch_channels_last_parity(road, relu, affine):
    torch = pytest.importorskip("torch")
    x, g, w, b = _data((4, 16, 12, 12), np.float32, seed=1)
    if not affine:
        w = b = None
    ours = _run(x, g, w, b, "nhwc", relu)
    tx = torch.tensor(x).to(memory_format=torch.channels_last).requires_grad_()
    tw = None if w is None else torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    trm, trv = torch.zeros(16), torch.ones(16)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True, momentum=0.1)
    if relu:
        ty = torch.relu(ty)
    ty.backward(torch.tensor(g).to(memory_format=torch.channels_last))
    want = {"y": ty, "gx": tx.grad, "rm": trm, "rv": trv}
    if w is not None:
        want.update(gw=tw.grad, gb=tb.grad)
    for k, t in want.items():
        np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=1e-4, atol=1e-4, err_msg=k)


def _nhwc_fn(relu, affine):
    def fn(leaf, *wb):  # leaf (N, H, W, C) C-contiguous: its permute is NHWC memory
        return F.batch_norm(leaf.permute(0, 3, 1, 2), None, None, *(wb if affine else (None, None)), training=True,
                            relu=relu)
    return fn


@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck_and_gradgradcheck_float64(road, affine):
    rng = np.random.default_rng(2)
    leaf = mathdl.tensor(rng.standard_normal((3, 4, 5, 6)), requires_grad=True)  # (N, H, W, C)
    wb = [mathdl.tensor(1 + 0.5 * rng.standard_normal(6), requires_grad=True),
          mathdl.tensor(rng.standard_normal(6), requires_grad=True)] if affine else []
    fn = _nhwc_fn(False, affine)
    y = fn(leaf, *wb)
    assert _is_nhwc(y.array)
    assert gradcheck(fn, [leaf, *wb])
    assert gradgradcheck(fn, [leaf, *wb])


def test_gradcheck_fused_relu_float64(road):
    rng = np.random.default_rng(3)
    leaf = mathdl.tensor(rng.standard_normal((2, 3, 4, 6)), requires_grad=True)
    w = mathdl.tensor(1 + 0.5 * rng.standard_normal(6), requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(6), requires_grad=True)
    fn = _nhwc_fn(True, True)
    with mathdl.no_grad():
        y = F.batch_norm(leaf.permute(0, 3, 1, 2), None, None, w, b, training=True)
    assert np.abs(y.numpy()).min() > 1e-4  # no output at relu's kink: finite differences are valid
    assert gradcheck(fn, [leaf, w, b])
    assert gradgradcheck(fn, [leaf, w, b])


@pytest.mark.parametrize("relu", [False, True])
def test_one_and_two_threads_give_the_same_bits(monkeypatch, relu):
    if not clk.available():
        pytest.skip("compiled loops off (numba missing or MATHDL_NO_NUMBA=1)")
    monkeypatch.setattr(norm, "BN_CHANNELS_LAST_MIN_WORK", 0)  # every pass split over the threads
    x, g, w, b = _data((8, 16, 16, 16), np.float32, seed=4)
    outs = []
    for n in (1, 2):
        with parallel.num_threads(n):
            outs.append(_run(x, g, w, b, "nhwc", relu))
    for k in outs[0]:
        np.testing.assert_array_equal(outs[0][k], outs[1][k], err_msg=k)


@pytest.mark.parametrize("relu", [False, True])
def test_weight_gradients_without_input_gradient(road, relu):
    x, g, w, b = _data((4, 16, 12, 12), np.float32, seed=9)
    got = []
    for layout in ("nhwc", "nchw"):
        wt, bt = mathdl.tensor(w, requires_grad=True), mathdl.tensor(b, requires_grad=True)
        y = F.batch_norm(mathdl.from_numpy(_memory(x, layout)), None, None, wt, bt, training=True, relu=relu)
        y.backward(mathdl.from_numpy(_memory(g, layout)))
        got.append((y.numpy(), wt.grad.numpy(), bt.grad.numpy()))
    for a, c in zip(*got):
        np.testing.assert_allclose(a, c, rtol=2e-5, atol=2e-5)


def test_numpy_fallback_matches_compiled_loops(monkeypatch):
    if not clk.available():
        pytest.skip("compiled loops off (numba missing or MATHDL_NO_NUMBA=1)")
    x, g, w, b = _data((4, 32, 9, 11), np.float32, seed=5)
    fast = _run(x, g, w, b, "nhwc", True)
    monkeypatch.setattr(clk, "_k", False)  # what MATHDL_NO_NUMBA=1 gives (mathdl.ops.compiled.enabled())
    slow = _run(x, g, w, b, "nhwc", True)
    for k in fast:
        np.testing.assert_allclose(fast[k], slow[k], rtol=2e-5, atol=2e-5, err_msg=k)


def test_statistics_of_a_large_offset_are_exact_two_pass():
    """mean 1e4, spread 1: the chunked two-pass variance keeps float64 accuracy (a one-pass
    E[x^2] - E[x]^2 in float64 would lose about 8 digits here)."""
    rng = np.random.default_rng(6)
    x = (1e4 + rng.standard_normal((8, 16, 16, 16))).astype(np.float64)
    fn = BatchNormFn(1e-5, False, False)
    fn(mathdl.from_numpy(_memory(x, "nhwc")))
    np.testing.assert_allclose(fn.mean, x.mean(axis=(0, 2, 3)), rtol=1e-15)
    np.testing.assert_allclose(fn.var, x.var(axis=(0, 2, 3)), rtol=1e-12)


def test_infinite_weight_and_nan_input_as_torch(road):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 4, 12, 12)).astype(np.float32)
    x[0, 2, 0, 0] = np.nan  # channel 2 all NaN
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = np.array([1.0, np.inf, 1.0, 2.0], np.float32)
    b = np.array([0.0, 0.5, np.inf, 0.0], np.float32)
    for relu in (False, True):
        ours = _run(x, g, w, b, "nhwc", relu)
        tx = torch.tensor(x).to(memory_format=torch.channels_last).requires_grad_()
        tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        ty = torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True)
        if relu:
            ty = torch.relu(ty)
        ty.backward(torch.tensor(g).to(memory_format=torch.channels_last))
        for k, t in (("y", ty), ("gx", tx.grad), ("gw", tw.grad), ("gb", tb.grad)):
            t = t.detach().numpy()
            np.testing.assert_array_equal(np.isnan(ours[k]), np.isnan(t), err_msg=f"{k} relu={relu}")
            np.testing.assert_array_equal(np.isinf(ours[k]), np.isinf(t), err_msg=f"{k} relu={relu}")
            fin = np.isfinite(t)
            np.testing.assert_allclose(ours[k][fin], t[fin], rtol=1e-4, atol=1e-4, err_msg=f"{k} relu={relu}")


def test_eval_mode_and_module_relu_fusion_on_nhwc_input():
    x, g, w, b = _data((4, 16, 12, 12), np.float32, seed=8)
    bn = mathdl.nn.BatchNorm2d(16)
    with mathdl.no_grad():
        bn.weight.array[...] = w
        bn.bias.array[...] = b
    xs = {layout: mathdl.from_numpy(_memory(x, layout)) for layout in ("nhwc", "nchw")}
    fused = {k: bn.forward_relu(v).numpy() for k, v in xs.items()}  # ResNet's BN + ReLU (training)
    np.testing.assert_allclose(fused["nhwc"], fused["nchw"], rtol=2e-5, atol=2e-5)
    m = x.mean(axis=(0, 2, 3))  # two training steps, momentum 0.1: 0.1 m, then 0.9 (0.1 m) + 0.1 m
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.19 * m, rtol=1e-5, atol=1e-6)
    bn.eval()
    ev = {k: bn(v).numpy() for k, v in xs.items()}
    np.testing.assert_allclose(ev["nhwc"], ev["nchw"], rtol=1e-6, atol=1e-6)
