"""The compiled row loops (mathdl/ops/row_kernels.py) against the array code they replace and torch.

Each op is run twice: with the kernels, and with ``row_kernels._k = False`` (the array code, as
without numba); the two must agree to float rounding, and both must agree with torch.  NaN, +inf,
all -inf rows and fully masked attention rows keep torch's semantics.
"""

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl.ops import row_kernels

pytestmark = pytest.mark.skipif(not row_kernels.available(), reason="numba not importable")


@pytest.fixture
def array_code(monkeypatch):
    """A context that turns the compiled kernels off (the array code runs)."""

    class Off:
        def __enter__(self):
            monkeypatch.setattr(row_kernels, "_k", False)

        def __exit__(self, *exc):
            monkeypatch.undo()

    return Off


def _both(fn, array_code):
    on = fn()
    with array_code():
        assert not row_kernels.available()
        off = fn()
    return on, off


def _grads(fn, *arrays, gout=None):
    ts = [mathdl.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(mathdl.tensor(gout) if gout is not None else mathdl.ones_like(y))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("shape", [(7, 5), (2, 3, 64, 64), (1, 1), (300, 33), (64, 257)])
def test_softmax_matches_array_code_and_torch(array_code, dtype, tol, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    on, off = _both(lambda: _grads(lambda t: F.softmax(t, dim=-1), x, gout=g), array_code)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.softmax(tx, -1)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(on[0], ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(on[1], tx.grad.numpy(), rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("row", [[np.nan, 1, 2], [1, 2, np.nan], [np.inf, 1, 2], [1, np.inf, -np.inf],
                                 [-np.inf, -np.inf, -np.inf], [-np.inf, 1, -np.inf], [1e30, -1e30, 0]])
def test_softmax_special_values_as_torch(row):
    torch = pytest.importorskip("torch")
    x = np.array([row * 11] * 300, dtype=np.float32)  # rows of 33 (past one SIMD vector), 9,900 entries
    assert x.size >= row_kernels.MIN_ELEMENTS
    ours = F.softmax(mathdl.tensor(x), dim=-1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(torch.softmax(torch.tensor(x), -1).numpy()))
    np.testing.assert_allclose(ours, torch.softmax(torch.tensor(x), -1).numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 3e-5), (np.float64, 1e-12)])
def test_layer_norm_matches_array_code_and_torch(array_code, affine, dtype, tol):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = (2 + 3 * rng.standard_normal((20, 9, 48))).astype(dtype)
    assert x.size >= row_kernels.MIN_ELEMENTS
    g = rng.standard_normal(x.shape).astype(dtype)
    w = rng.standard_normal(48).astype(dtype)
    b = rng.standard_normal(48).astype(dtype)
    has_w, has_b = affine
    args = [x] + ([w] if has_w else []) + ([b] if has_b else [])

    def run():
        def f(t, *wb):
            it = iter(wb)
            return F.layer_norm(t, (48,), next(it) if has_w else None, next(it) if has_b else None)
        return _grads(f, *args, gout=g)

    on, off = _both(run, array_code)
    for a, c in zip(on, off):
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol)
    tt = [torch.tensor(a, requires_grad=True) for a in args]
    it = iter(tt[1:])
    ty = torch.nn.functional.layer_norm(tt[0], (48,), next(it) if has_w else None, next(it) if has_b else None)
    ty.backward(torch.tensor(g))
    for a, t in zip(on, [ty] + [t.grad for t in tt]):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=tol, atol=tol)


def test_layer_norm_broadcast_gradient_takes_the_kernel():
    """The gradient of a sum is a broadcast (non-contiguous) array: it is copied, and the result is
    the exact one."""
    x = mathdl.randn(30, 20, 16, dtype=mathdl.float64, requires_grad=True)
    F.layer_norm(x, (16,)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-12)  # d/dx sum(xhat) = 0 exactly in exact math


def test_attention_masked_rows_and_gradients(array_code):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    L = 48  # 2 * 3 * 48 * 48 scores: the kernels' size
    q, k, v = (rng.standard_normal((2, 3, L, 8)).astype(np.float32) for _ in range(3))
    mask = np.tril(np.ones((L, L), dtype=bool))
    mask[2] = False  # a fully masked query row: zero weights, as mathdl documents
    g = rng.standard_normal((2, 3, L, 8)).astype(np.float32)

    def run():
        return _grads(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mathdl.tensor(mask)),
                      q, k, v, gout=g)

    on, off = _both(run, array_code)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    assert np.all(np.isfinite(on[0])) and np.all(on[0][:, :, 2] == 0)
    # torch gives NaN on a fully masked row; compare the other rows against it
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ty = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(mask))
    rows = [i for i in range(L) if i != 2]
    np.testing.assert_allclose(on[0][:, :, rows], ty.detach().numpy()[:, :, rows], rtol=2e-5, atol=2e-6)


def test_small_arrays_keep_the_array_code(monkeypatch):
    calls = []
    monkeypatch.setattr(row_kernels, "softmax_shift", lambda *a: calls.append(a))
    F.softmax(mathdl.randn(10, 10), dim=-1)
    assert calls == []
    with np.errstate(all="ignore"):  # the big one goes through the (patched, do-nothing) kernel
        F.softmax(mathdl.randn(100, 100), dim=-1)
    assert len(calls) == 1


def test_results_do_not_depend_on_thread_count():
    x = np.random.default_rng(3).standard_normal((4096, 64)).astype(np.float32)
    outs = []
    for n in (1, 2):
        with mathdl.parallel.num_threads(n):
            outs.append(F.softmax(mathdl.tensor(x), dim=-1).numpy())
            outs.append(F.layer_norm(mathdl.tensor(x), (64,)).numpy())
    np.testing.assert_array_equal(outs[0], outs[2])
    np.testing.assert_array_equal(outs[1], outs[3])


def _channel_major(a):
    """An NCHW view of a contiguous (C, N, H, W) block: the layout convolutions return."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 3e-5), (np.float64, 1e-12)])
def test_batch_norm_channel_major_matches_array_code_and_torch(array_code, relu, affine, dtype, tol):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = _channel_major((1.5 + 2 * rng.standard_normal((12, 6, 13, 11))).astype(dtype))
    g = _channel_major(rng.standard_normal(x.shape).astype(dtype))
    w = (1 + rng.standard_normal(6)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    assert x.size >= row_kernels.MIN_ELEMENTS

    def run():
        leaf = mathdl.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)), requires_grad=True)
        xt = leaf.permute(1, 0, 2, 3)
        assert not xt.array.flags.c_contiguous  # the channel-major road
        wt = mathdl.tensor(w, requires_grad=True) if affine else None
        bt = mathdl.tensor(b, requires_grad=True) if affine else None
        rm, rv = mathdl.zeros(6, dtype=xt.dtype), mathdl.ones(6, dtype=xt.dtype)
        y = F.batch_norm(xt, rm, rv, wt, bt, training=True, relu=relu) if relu else \
            F.batch_norm(xt, rm, rv, wt, bt, training=True)
        y.backward(mathdl.tensor(g))
        return [y.numpy(), leaf.grad.numpy().transpose(1, 0, 2, 3), rm.numpy(), rv.numpy()] + (
            [wt.grad.numpy(), bt.grad.numpy()] if affine else [])

    on, off = _both(run, array_code)
    for a, c in zip(on, off):
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol)
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) if affine else (None, None)
    trm, trv = torch.zeros(6, dtype=tx.dtype), torch.ones(6, dtype=tx.dtype)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True)
    if relu:
        ty = torch.relu(ty)
    ty.backward(torch.tensor(g))
    ref = [ty, tx.grad, trm, trv] + ([tw.grad, tb.grad] if affine else [])
    for a, t in zip(on, ref):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=10 * tol, atol=10 * tol)


def test_batch_norm_infinite_weight_and_nan_input_as_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = _channel_major(rng.standard_normal((8, 4, 16, 16)).astype(np.float32))
    x[0, 2, 0, 0] = np.nan  # channel 2 all NaN
    w = np.array([1.0, np.inf, 1.0, 2.0], np.float32)
    xt = mathdl.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3))).permute(1, 0, 2, 3)
    ours = F.batch_norm(xt, None, None, mathdl.tensor(w), None, training=True).numpy()
    tx = torch.tensor(np.ascontiguousarray(x))  # torch's own result depends on the layout here: its NCHW one
    theirs = torch.nn.functional.batch_norm(tx, None, None, torch.tensor(w), None, training=True).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    fin = np.isfinite(theirs)
    np.testing.assert_allclose(ours[fin], theirs[fin], rtol=1e-5, atol=1e-5)


def test_batch_norm_same_at_one_and_two_threads():
    x = _channel_major(np.random.default_rng(6).standard_normal((32, 16, 32, 32)).astype(np.float32))
    outs = []
    for n in (1, 2):
        with mathdl.parallel.num_threads(n):
            leaf = mathdl.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)), requires_grad=True)
            y = F.batch_norm(leaf.permute(1, 0, 2, 3), None, None, training=True)
            y.backward(mathdl.tensor(x))
            outs.append((y.numpy(), leaf.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
