"""col2im as one compiled scatter-add (mathdl/ops/conv_kernels.py): bit-identical to the array
additions, equal to torch, and differentiable twice."""

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.ops import compiled, conv, conv_kernels

pytestmark = pytest.mark.skipif(not compiled.enabled(), reason="numba not importable or MATHDL_NO_NUMBA set")

CASES = [  # (input shape, weight shape, stride, padding, dilation, groups)
    ((100, 25, 19), (25, 25, 3), 2, 1, 1, 1),   # MNIST-1D's second layer
    ((7, 4, 23), (6, 2, 5), 3, 2, 2, 2),         # groups, dilation, stride 3
    ((5, 3, 11, 13), (4, 3, 3, 2), (2, 3), (1, 0), (1, 2), 1),
]


def _grad_x(xs, ws, stride, pad, dil, groups, g):
    x = mathdl.tensor(xs, requires_grad=True)
    w = mathdl.tensor(ws)
    fn = F.conv1d if x.ndim == 3 else F.conv2d
    y = fn(x, w, stride=stride, padding=pad, dilation=dil, groups=groups)
    y.backward(mathdl.tensor(g))
    return y.numpy(), x.grad.numpy()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_scatter_bit_identical_to_array_additions_and_torch(case, dtype, monkeypatch):
    torch = pytest.importorskip("torch")
    shape, wshape, stride, pad, dil, groups = case
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(shape).astype(dtype)
    ws = rng.standard_normal(wshape).astype(dtype)
    fn = F.conv1d if len(shape) == 3 else F.conv2d
    y = fn(mathdl.tensor(xs), mathdl.tensor(ws), stride=stride, padding=pad, dilation=dil, groups=groups)
    g = rng.standard_normal(y.shape).astype(dtype)
    calls = []
    real = conv_kernels.col2im_add
    monkeypatch.setattr(conv_kernels, "col2im_add", lambda *a: (calls.append(1), real(*a)))
    _, gx_compiled = _grad_x(xs, ws, stride, pad, dil, groups, g)
    assert calls, "the compiled scatter was not used"
    monkeypatch.setattr(conv, "COL2IM_COMPILED_MAX_WO", 0)  # the array additions
    _, gx_arrays = _grad_x(xs, ws, stride, pad, dil, groups, g)
    np.testing.assert_array_equal(gx_compiled, gx_arrays)
    tx = torch.tensor(xs, requires_grad=True)
    tfn = torch.nn.functional.conv1d if len(shape) == 3 else torch.nn.functional.conv2d
    tfn(tx, torch.tensor(ws), stride=stride, padding=pad, dilation=dil, groups=groups).backward(torch.tensor(g))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx_compiled, tx.grad.numpy(), rtol=tol, atol=tol)


def test_compiled_road_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(1)
    x = mathdl.tensor(rng.standard_normal((2, 3, 9)), requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((4, 3, 3)), requires_grad=True)
    f = lambda a, b: F.conv1d(a, b, stride=2, padding=1)  # noqa: E731
    assert mathdl.autograd.gradcheck(f, (x, w))
    assert mathdl.autograd.gradgradcheck(f, (x, w))


def test_not_used_for_long_rows_or_non_contiguous_buffers():
    assert not conv_kernels.col2im_available(np.zeros((2, 3, 4, 5), np.float32)[:, :, :, ::2])
    assert not conv_kernels.col2im_available(np.zeros((2, 3), np.int64))
    assert conv_kernels.col2im_available(np.zeros((2, 3, 4, 5), np.float32))
