"""ReLU's compiled select loops (mathdl/ops/select_kernels.py) against the array code and torch,
and the one numba switch (mathdl/ops/compiled.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import mathdl
from mathdl.ops import compiled, select_kernels

pytestmark = pytest.mark.skipif(not compiled.enabled(), reason="numba not importable or MATHDL_NO_NUMBA set")

N = select_kernels.MIN_ELEMENTS


def _relu_and_grad(x, g):
    t = mathdl.tensor(x, requires_grad=True)
    y = t.relu()
    y.backward(mathdl.tensor(g))
    return y.numpy(), t.grad.numpy()


def _reference(x, g):
    y = np.where(np.isnan(x), x, np.maximum(x, 0))
    return y, np.where(~(y <= 0), g, 0).astype(x.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_special_values_as_threshold_backward(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(2 * N).astype(dtype)
    g = rng.standard_normal(2 * N).astype(dtype)
    x[:6] = [np.nan, -np.inf, np.inf, 0.0, -0.0, 1.0]
    g[:6] = [2.0, np.inf, 3.0, np.nan, np.inf, np.nan]  # inf/NaN of g where relu is flat must give 0
    assert select_kernels.usable(x, g)
    y, gx = _relu_and_grad(x, g)
    ry, rg = _reference(x, g)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(gx, rg)
    assert gx[1] == 0 and gx[3] == 0 and gx[4] == 0 and np.isnan(gx[5]) and gx[0] == 2.0
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(gx, tx.grad.numpy())


def test_channel_major_layout_is_kept_and_strided_views_fall_back():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((64, 8, 8, 16)).astype(np.float32)  # a (C, N, H, W) block
    x = base.transpose(1, 0, 2, 3)  # NCHW view of it, as convolutions return
    assert not x.flags.c_contiguous and select_kernels.usable(x)
    y = select_kernels.relu(x)
    assert y.strides == x.strides
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert not select_kernels.usable(x[:, ::2])  # not one dense block: array code
    assert not select_kernels.usable(x, np.ascontiguousarray(x))  # layouts differ: array code
    t = mathdl.tensor(x[:, ::2], requires_grad=True)
    np.testing.assert_array_equal(t.relu().numpy(), np.maximum(x[:, ::2], 0))


def test_small_and_integer_arrays_keep_the_array_code():
    assert not select_kernels.usable(np.ones(N - 1, np.float32))
    assert not select_kernels.usable(np.ones(N, np.int32))
    x = mathdl.tensor(np.arange(-3, 3))
    np.testing.assert_array_equal(x.relu().numpy(), [0, 0, 0, 0, 1, 2])


def test_mathdl_no_numba_turns_every_kernel_module_off():
    code = ("from mathdl.ops import compiled, row_kernels, select_kernels; import numpy as np; "
            "print(compiled.enabled(), row_kernels.available(), select_kernels.usable(np.ones(1 << 16, np.float32)))")
    env = dict(os.environ, MATHDL_NO_NUMBA="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_passes_split_over_two_threads_equal_one_thread(monkeypatch):
    """Large passes run in chunks of memory on mathdl's threads: the same numbers as one thread
    (each entry computed by the same operation), for relu, its gradient and the residual join."""
    from mathdl import parallel

    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS_CNN", 1 << 10)
    monkeypatch.setattr(select_kernels, "MIN_PARALLEL_ELEMENTS_CNN", 1 << 10)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((64, 8, 16, 16)).astype(np.float32).transpose(1, 0, 2, 3)  # channel-major
    b = rng.standard_normal((64, 8, 16, 16)).astype(np.float32).transpose(1, 0, 2, 3)
    a[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]
    assert select_kernels.usable(a, b)
    old = parallel.get_num_threads()
    res = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            y = select_kernels.add_relu(a, b)
            res.append((y, select_kernels.relu(a), select_kernels.relu_backward(y, b)))
    finally:
        parallel.set_num_threads(old)
    for one, two in zip(*res):
        assert one.strides == two.strides == a.strides
        np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(res[0][0], np.where(np.isnan(a + b), a + b, np.maximum(a + b, 0)))


def test_residual_join_takes_the_branch_layout_when_the_shortcut_differs():
    """A channel-major shortcut meeting a channels-last branch (a stem's output and a Winograd
    block): the join copies the shortcut into the branch's layout and leaves in it."""
    from mathdl.autograd.tensor import Tensor
    from mathdl.models.resnet import add_relu

    rng = np.random.default_rng(2)
    a = np.ascontiguousarray(rng.standard_normal((4, 16, 32, 32)).astype(np.float32).transpose(0, 2, 3, 1))
    a = a.transpose(0, 3, 1, 2)  # NHWC memory
    b = np.ascontiguousarray(rng.standard_normal((4, 16, 32, 32)).astype(np.float32).transpose(1, 0, 2, 3))
    b = b.transpose(1, 0, 2, 3)  # CNHW memory
    ta, tb = Tensor._make(a).requires_grad_(), Tensor._make(b).requires_grad_()
    y = add_relu(ta, tb)
    assert y.array.strides == a.strides
    np.testing.assert_array_equal(y.numpy(), np.maximum(a + b, 0))
    g = rng.standard_normal(a.shape).astype(np.float32)
    y.backward(mathdl.tensor(g))
    np.testing.assert_array_equal(ta.grad.numpy(), np.where(a + b > 0, g, 0))
    np.testing.assert_array_equal(tb.grad.numpy(), ta.grad.numpy())
