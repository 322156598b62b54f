"""On a GPU (``MATHDL_TEST_CUPY=1`` with CuPy and a CUDA device): the compiled CUDA kernels of
mathdl/ops/device_kernels.py and conv_device's maps on real CuPy arrays equal their NumPy
fallbacks (float64 and float32), and the cuDNN road (``MATHDL_CUDNN=1``, when CuPy ships it)
equals the pure-xp one.  Skipped everywhere else: CI checks the formulas on the emulated device."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mathdl.ops import conv_device
from mathdl.ops import device_kernels as dk

if os.environ.get("MATHDL_TEST_CUPY") != "1":
    pytest.skip("real CuPy tests run with MATHDL_TEST_CUPY=1 on a GPU machine", allow_module_level=True)
cp = pytest.importorskip("cupy")
if cp.cuda.runtime.getDeviceCount() < 1:  # pragma: no cover - needs a GPU
    pytest.skip("MATHDL_TEST_CUPY=1 but no CUDA device", allow_module_level=True)


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizer_kernels_compile_and_match(dtype):
    rng = np.random.default_rng(0)
    x, g, m, v = (rng.standard_normal(1000).astype(dtype) for _ in range(4))
    v = np.abs(v)
    host = [a.copy() for a in (x, m, v)]
    dk.adam_step(host[0], g, host[1], host[2], 0.9, 0.999, 1e-3, 1e-8)
    dev = [cp.asarray(a) for a in (x, m, v)]
    dk.adam_step(dev[0], cp.asarray(g), dev[1], dev[2], 0.9, 0.999, 1e-3, 1e-8)
    for d, h in zip(dev, host):
        np.testing.assert_allclose(d.get(), h, **_tol(dtype))
    for tau, nesterov in ((0.0, False), (0.1, True)):
        hx, hb = x.copy(), g.copy()
        dk.sgd_momentum_step(hx, m, hb, 0.1, 0.9, tau, nesterov)
        dx, db = cp.asarray(x), cp.asarray(g)
        dk.sgd_momentum_step(dx, cp.asarray(m), db, 0.1, 0.9, tau, nesterov)
        np.testing.assert_allclose(dx.get(), hx, **_tol(dtype))
        np.testing.assert_allclose(db.get(), hb, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("relu", [False, True])
def test_norm_kernels_compile_and_match(dtype, relu):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    host_f = dk.batch_norm_forward(x, w, b, 1e-5, relu)
    dev_f = dk.batch_norm_forward(cp.asarray(x), cp.asarray(w), cp.asarray(b), 1e-5, relu)
    for d, h in zip(dev_f, host_f):
        np.testing.assert_allclose(d.get(), h, **_tol(dtype))
    host_b = dk.batch_norm_backward(g, x, host_f[0], host_f[1], host_f[2], w, 1e-5, relu)
    dev_b = dk.batch_norm_backward(cp.asarray(g), cp.asarray(x), dev_f[0], dev_f[1], dev_f[2], cp.asarray(w), 1e-5,
                                   relu)
    for d, h in zip(dev_b, host_b):
        np.testing.assert_allclose(d.get(), h, **_tol(dtype))
    r_host, r_dev = np.ones(3, dtype=dtype), cp.ones(3, dtype=dtype)
    dk.running_update(r_host, host_f[2], 0.1, 1.5)
    dk.running_update(r_dev, dev_f[2], 0.1, 1.5)
    np.testing.assert_allclose(r_dev.get(), r_host, **_tol(dtype))
    x2, g2, w2, b2 = x.reshape(12, 30), g.reshape(12, 30), rng.standard_normal(30).astype(dtype), None
    hl = dk.layer_norm_forward(x2, w2, b2, 1e-5)
    dl = dk.layer_norm_forward(cp.asarray(x2), cp.asarray(w2), None, 1e-5)
    for d, h in zip(dl, hl):
        np.testing.assert_allclose(d.get(), h, **_tol(dtype))
    hb = dk.layer_norm_backward(g2, x2, hl[1], hl[2], w2, 1e-5, need_b=True)
    db = dk.layer_norm_backward(cp.asarray(g2), cp.asarray(x2), dl[1], dl[2], cp.asarray(w2), 1e-5, need_b=True)
    for d, h in zip(db, hb):
        np.testing.assert_allclose(d.get(), h, **_tol(dtype))


@pytest.mark.parametrize("cudnn", ["0", "1"])
@pytest.mark.parametrize("stride,pads,dil,groups", [((1, 1), (1, 1, 1, 1), (1, 1), 1),
                                                    ((2, 2), (1, 1, 1, 1), (1, 1), 2),
                                                    ((1, 2), (0, 0, 2, 2), (2, 1), 1)])
def test_conv_device_on_cupy_matches_numpy(monkeypatch, cudnn, stride, pads, dil, groups):
    monkeypatch.setenv("MATHDL_CUDNN", cudnn)
    if cudnn == "1" and conv_device.cudnn_module(cp) is None:
        pytest.skip("this CuPy has no cuDNN wrappers")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 3))
    b = rng.standard_normal(6)
    y = conv_device.conv2d_forward(x, w, b, stride, pads, dil, groups)
    g = rng.standard_normal(y.shape)
    gx = conv_device.conv2d_input_grad(g, w, (9, 8), stride, pads, dil, groups)
    gw = conv_device.conv2d_weight_grad(x, g, w.shape, stride, pads, dil, groups)
    X, W, B, G = (cp.asarray(a) for a in (x, w, b, g))
    for got, want in ((conv_device.conv2d_forward(X, W, B, stride, pads, dil, groups), y),
                      (conv_device.conv2d_input_grad(G, W, (9, 8), stride, pads, dil, groups), gx),
                      (conv_device.conv2d_weight_grad(X, G, W.shape, stride, pads, dil, groups), gw)):
        np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-10, atol=1e-10)
