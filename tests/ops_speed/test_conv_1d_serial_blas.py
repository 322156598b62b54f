"""Small convolutions (below PARALLEL_MIN_MACS) run with BLAS on one thread at T > 1
(mathdl/ops/conv.py, _serial_blas): the forward and both gradients enter and leave that state,
BLAS's thread count is restored (also after an error); large ones too when they run in tiles of
at least T images (else they keep BLAS's threads), and the results at 1 and 2 threads agree."""

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import parallel
from mathdl.ops import conv


def _step(xs, ws, bs, stride=2, pad=1):
    x, w, b = (mathdl.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    fn = F.conv1d if x.ndim == 3 else F.conv2d
    y = fn(x, w, b, stride=stride, padding=pad)
    (y * y).sum().backward()
    return y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()


def _data(shape=(100, 25, 19), wshape=(25, 25, 3), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(wshape).astype(dtype),
            rng.standard_normal(wshape[0]).astype(dtype))


def _count_entries(monkeypatch):
    calls = []
    real = parallel._enter_blas_serial
    monkeypatch.setattr(parallel, "_enter_blas_serial", lambda: (calls.append(1), real())[1])
    return calls


def test_small_conv_runs_blas_serial_at_2_threads_and_restores(monkeypatch):
    _step(*_data())  # loads whatever BLAS libraries the step loads, so that both lists below are alike
    calls = _count_entries(monkeypatch)
    with mathdl.parallel.num_threads(2):
        before = [c.get_num_threads() for c in parallel._blas_set_functions()]
        _step(*_data())
        after = [c.get_num_threads() for c in parallel._blas_set_functions()]
    assert len(calls) == 3  # forward, input gradient, weight gradient
    assert parallel._blas_users == 0 and before == after


def test_not_at_1_thread_nor_switched_off_nor_large(monkeypatch):
    calls = _count_entries(monkeypatch)
    with mathdl.parallel.num_threads(1):
        _step(*_data())
    assert not calls
    with mathdl.parallel.num_threads(2):
        monkeypatch.setattr(conv, "SMALL_SERIAL_BLAS", False)
        _step(*_data())
        assert not calls
        monkeypatch.setattr(conv, "SMALL_SERIAL_BLAS", True)
        monkeypatch.setattr(conv, "PARALLEL_MIN_MACS", 1000)  # this conv now counts as large
        entered = []
        real = conv._serial_blas
        monkeypatch.setattr(conv, "_serial_blas", lambda *a: (entered.append(real(*a)), entered[-1])[1])
        xs, ws, bs = _data()
        _step(xs, ws, bs)
        # its tiles of images go to mathdl's threads (blocks), so BLAS stays on one thread throughout
        assert len(entered) == 3 and all(entered)
        entered.clear()
        _step(xs[:1], ws, bs)  # one image, fewer than the threads: one big product on BLAS's threads
        assert len(entered) == 3 and not any(entered)


def test_blas_count_restored_after_an_error(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(conv, "_conv_forward", boom)
    with mathdl.parallel.num_threads(2):
        with pytest.raises(RuntimeError, match="boom"):
            _step(*_data())
    assert parallel._blas_users == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [((100, 25, 19), (25, 25, 3)), ((4, 3, 9, 11), (5, 3, 3, 3))])
def test_same_results_at_1_and_2_threads_and_torch(case, dtype):
    torch = pytest.importorskip("torch")
    xs, ws, bs = _data(*case, dtype=dtype)
    with mathdl.parallel.num_threads(1):
        one = _step(xs, ws, bs)
    with mathdl.parallel.num_threads(2):
        two = _step(xs, ws, bs)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(a).max())
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xs, ws, bs))
    tfn = torch.nn.functional.conv1d if len(case[0]) == 3 else torch.nn.functional.conv2d
    ty = tfn(tx, tw, tb, stride=2, padding=1)
    (ty * ty).sum().backward()
    for a, b in zip(two, (ty.detach(), tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(a, b.numpy(), rtol=10 * tol, atol=10 * tol * np.abs(a).max())


def test_gradcheck_and_gradgradcheck_at_2_threads():
    rng = np.random.default_rng(1)
    x = mathdl.tensor(rng.standard_normal((2, 3, 9)), requires_grad=True)
    w = mathdl.tensor(rng.standard_normal((4, 3, 3)), requires_grad=True)
    f = lambda a, b: F.conv1d(a, b, stride=2, padding=1)  # noqa: E731
    with mathdl.parallel.num_threads(2):
        assert mathdl.autograd.gradcheck(f, (x, w))
        assert mathdl.autograd.gradgradcheck(f, (x, w))
