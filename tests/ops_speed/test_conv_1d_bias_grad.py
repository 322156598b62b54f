"""The convolution's bias gradient of a C-contiguous NCHW g summed over images first, then pixels
(mathdl/ops/conv.py, _bias_grad): equal to the one reduction over (0, 2, 3) within rounding, to
torch, and differentiable twice; the same at 1 and 2 threads."""

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.ops import conv

CASES = [  # (input shape, weight shape, stride, padding): the last layer of MNIST-1D's CNN, a 2-D map
    ((100, 25, 10), (25, 25, 3), 2, 1),
    ((6, 3, 9, 7), (4, 3, 3, 3), 1, 1),
]


def _flatten_linear_grads(xs, ws, bs, stride, pad, lin):
    """conv -> flatten -> linear -> sum: g reaches the conv's backward as a C-contiguous NCHW array."""
    x, w, b = (mathdl.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    fn = F.conv1d if x.ndim == 3 else F.conv2d
    y = fn(x, w, b, stride=stride, padding=pad)
    out = y.reshape(y.shape[0], -1) @ mathdl.tensor(lin)
    out.sum().backward()
    return b.grad.numpy(), w.grad.numpy(), x.grad.numpy()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_bias_grad_matches_one_reduction_and_torch(case, dtype, monkeypatch):
    torch = pytest.importorskip("torch")
    shape, wshape, stride, pad = case
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(shape).astype(dtype)
    ws = rng.standard_normal(wshape).astype(dtype)
    bs = rng.standard_normal(wshape[0]).astype(dtype)
    fn = F.conv1d if len(shape) == 3 else F.conv2d
    y = fn(mathdl.tensor(xs), mathdl.tensor(ws), stride=stride, padding=pad)
    lin = rng.standard_normal((int(np.prod(y.shape[1:])), 3)).astype(dtype)
    seen = []
    real = conv._bias_grad
    monkeypatch.setattr(conv, "_bias_grad", lambda g: (seen.append(g.array.flags.c_contiguous), real(g))[1])
    split = _flatten_linear_grads(xs, ws, bs, stride, pad, lin)
    assert seen == [True], "g did not reach the bias gradient as a C-contiguous NCHW array"
    monkeypatch.setattr(conv, "BIAS_GRAD_SPLIT", False)
    one = _flatten_linear_grads(xs, ws, bs, stride, pad, lin)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(split[0], one[0], rtol=tol, atol=tol * np.abs(one[0]).max())
    for a, b in zip(split[1:], one[1:]):
        np.testing.assert_array_equal(a, b)  # the other gradients do not change
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    tfn = torch.nn.functional.conv1d if len(shape) == 3 else torch.nn.functional.conv2d
    ty = tfn(tx, tw, tb, stride=stride, padding=pad)
    (ty.reshape(ty.shape[0], -1) @ torch.tensor(lin)).sum().backward()
    np.testing.assert_allclose(split[0], tb.grad.numpy(), rtol=tol, atol=tol * np.abs(one[0]).max())


def test_split_bias_grad_equal_at_1_and_2_threads():
    rng = np.random.default_rng(2)
    xs, ws, bs = rng.standard_normal((100, 25, 10)), rng.standard_normal((25, 25, 3)), rng.standard_normal(25)
    lin = rng.standard_normal((125, 3))
    with mathdl.parallel.num_threads(1):
        one = _flatten_linear_grads(xs, ws, bs, 2, 1, lin)
    with mathdl.parallel.num_threads(2):
        two = _flatten_linear_grads(xs, ws, bs, 2, 1, lin)
    np.testing.assert_allclose(one[0], two[0], rtol=1e-12, atol=1e-12)


def test_split_bias_grad_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(1)
    x = mathdl.tensor(rng.standard_normal((3, 2, 7)), requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    b = mathdl.tensor(rng.standard_normal(4), requires_grad=True)
    lin = mathdl.tensor(rng.standard_normal((16, 2)))

    def f(a, c, d):
        y = F.conv1d(a, c, d, stride=2, padding=1)
        return y.reshape(y.shape[0], -1) @ lin

    assert mathdl.autograd.gradcheck(f, (x, w, b))
    assert mathdl.autograd.gradgradcheck(f, (x, w, b))
