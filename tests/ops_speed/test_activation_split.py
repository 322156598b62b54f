"""Softmax (mathdl/ops/special.py) and GELU (mathdl/ops/activations.py) on their threaded raw
paths: equal at 1 and 2 threads (every pass forced over the split path), equal to torch, and
softmax's edge rows (all -inf, +inf, nan) as torch has them."""

from __future__ import annotations

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import parallel
from mathdl.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

OPS = {
    "softmax": (lambda x: F.softmax(x, dim=-1), lambda x: torch.softmax(x, -1)),
    "gelu": (lambda x: F.gelu(x), lambda x: torch.nn.functional.gelu(x)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
}


@pytest.mark.parametrize("name", list(OPS))
def test_split_equals_one_thread_and_torch(monkeypatch, name):
    ours, theirs = OPS[name]
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((5, 3, 17, 16))).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    got = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            mx = mathdl.tensor(x, requires_grad=True)
            y = ours(mx)
            (y * mathdl.tensor(g)).sum().backward()
            got.append((y.array.copy(), mx.grad.array.copy()))
    finally:
        parallel.set_num_threads(old)
    np.testing.assert_array_equal(got[0][0], got[1][0])
    np.testing.assert_array_equal(got[0][1], got[1][1])
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(got[1][0], ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1][1], tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_softmax_edge_rows_match_torch():
    x = np.array([[1, 2, 3], [-np.inf] * 3, [np.inf, 0, 1], [-np.inf, 0, 1], [np.nan, 0, 1]], np.float32)
    ours, theirs = F.softmax(mathdl.tensor(x), dim=-1).array, torch.softmax(torch.tensor(x), -1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)  # nan where torch has nan


def test_softmax_last_axis_gradgradcheck():
    rng = np.random.default_rng(1)
    x = mathdl.tensor(rng.standard_normal((3, 4)), dtype=mathdl.float64, requires_grad=True)
    assert gradcheck(lambda x: F.softmax(x, dim=-1), (x,))
    assert gradgradcheck(lambda x: F.softmax(x, dim=-1), (x,))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "mul_scalar", "exp", "tanh"])
def test_elementwise_split_equals_one_thread(monkeypatch, op):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 37, 29)).astype(np.float32)
    f = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
         "mul_scalar": lambda x, y: x * 0.5, "exp": lambda x, y: mathdl.exp(x), "tanh": lambda x, y: mathdl.tanh(x)}[op]
    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    calls = []
    real = parallel.for_ranges
    monkeypatch.setattr(parallel, "for_ranges", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    got = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            got.append(f(mathdl.tensor(a), mathdl.tensor(b)).array)
    finally:
        parallel.set_num_threads(old)
    assert calls  # the 2-thread run went through the split path
    np.testing.assert_array_equal(got[0], got[1])
