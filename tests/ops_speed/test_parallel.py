"""mathdl.parallel: the thread setting, its bad input, and results that do not depend on it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import mathdl
from mathdl import nn, parallel


@pytest.fixture
def threads(monkeypatch):
    """Restore the thread count afterwards; force every pass, recurrence block and convolution tile over the
    split path."""
    from mathdl.ops import conv, recurrent

    old = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(conv, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(recurrent, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(recurrent, "MIN_BLOCK_COLUMNS", 1)
    yield
    parallel.set_num_threads(old)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), ("2", TypeError), (2.0, TypeError),
                                      (True, TypeError)])
def test_set_num_threads_rejects_bad_counts(bad, exc):
    with pytest.raises(exc, match="number of threads"):
        parallel.set_num_threads(bad)


def test_set_and_get(threads):
    parallel.set_num_threads(3)
    assert parallel.get_num_threads() == 3
    parallel.set_num_threads(1)
    assert parallel.get_num_threads() == 1


@pytest.mark.parametrize("value, msg", [("abc", "MATHDL_NUM_THREADS must be a positive integer"),
                                        ("0", "MATHDL_NUM_THREADS: the number of threads must be at least 1"),
                                        ("-2", "at least 1")])
def test_env_variable_bad_values(monkeypatch, value, msg):
    monkeypatch.setenv("MATHDL_NUM_THREADS", value)
    with pytest.raises(ValueError, match=msg):
        parallel._from_env()


def test_env_variable_read_at_import():
    env = dict(os.environ, MATHDL_NUM_THREADS="3")
    code = "import mathdl.parallel as p; print(p.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "3", out.stderr
    env["MATHDL_NUM_THREADS"] = "two"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "MATHDL_NUM_THREADS must be a positive integer" in out.stderr


def test_for_ranges_covers_range_once(threads):
    parallel.set_num_threads(3)
    seen = np.zeros(1001, dtype=np.int64)
    parallel.for_ranges(lambda lo, hi: np.add(seen[lo:hi], 1, out=seen[lo:hi]), 1001)
    assert (seen == 1).all()


def test_elementwise_matches_serial_and_falls_back(threads):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 301, 7)).astype(np.float32)
    want = a * b + a
    parallel.set_num_threads(2)
    out = np.empty_like(a)

    def kern(a, b, o):
        np.multiply(a, b, out=o)
        o += a

    parallel.elementwise(kern, a, b, out)
    np.testing.assert_array_equal(out, want)
    out2 = np.empty((301, 7), dtype=np.float32).T  # not C-contiguous: one serial call
    calls = []
    parallel.elementwise(lambda *xs: calls.append(xs[0].shape) or kern(*xs), a.T, b.T, out2)
    assert calls == [(7, 301)]
    np.testing.assert_array_equal(out2, want.T)


def _train(n_threads, opt_name):
    parallel.set_num_threads(n_threads)
    mathdl.manual_seed(0)
    # no bias before the batch norm: its true gradient is 0, and Adam would blow up its rounding noise
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3),
                          nn.MaxPool2d(2), nn.Conv2d(8, 8, 1), nn.Flatten(), nn.LayerNorm(8 * 3 * 3),
                          nn.Linear(8 * 3 * 3, 10))
    opt = {"adam": lambda p: mathdl.optim.Adam(p, lr=1e-2),
           "sgd": lambda p: mathdl.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
           "rmsprop": lambda p: mathdl.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True)}[opt_name](
        model.parameters())
    rng = np.random.default_rng(1)
    x = mathdl.tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
    y = mathdl.tensor(rng.integers(0, 10, 4))
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses, [p.array.copy() for p in model.parameters()]


@pytest.mark.parametrize("opt_name", ["adam", "sgd", "rmsprop"])
def test_training_step_same_at_1_and_2_threads(threads, opt_name):
    l1, p1 = _train(1, opt_name)
    l2, p2 = _train(2, opt_name)
    np.testing.assert_allclose(l1, l2, rtol=1e-4)  # the tiles change float rounding, amplified by the updates
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_num_threads_context_restores_both(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    parallel.set_num_threads(1)
    with parallel.num_threads(3):
        assert parallel.get_num_threads() == 3
        blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(b == 3 for b in blas)
    assert parallel.get_num_threads() == 1
    blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert all(b == 1 for b in blas)
    with pytest.raises(ValueError, match="at least 1"):
        with parallel.num_threads(0):
            pass


def test_for_ranges_min_work_lowers_the_cut_over():
    old = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        work = parallel.MIN_PARALLEL_ELEMENTS // 2
        calls = []
        parallel.for_ranges(lambda lo, hi: calls.append((lo, hi)), 100, work)
        assert calls == [(0, 100)]
        calls.clear()
        parallel.for_ranges(lambda lo, hi: calls.append((lo, hi)), 100, work, min_work=work)
        assert len(calls) >= 2 and sorted(calls)[0][0] == 0 and sorted(calls)[-1][1] == 100
        calls.clear()  # a min_work above the global cut-over does not raise it
        parallel.for_ranges(lambda lo, hi: calls.append((lo, hi)), 100, 2 * parallel.MIN_PARALLEL_ELEMENTS,
                            min_work=1 << 40)
        assert len(calls) >= 2
    finally:
        parallel.set_num_threads(old)


def test_for_ranges_pieces_taken_by_caller_when_pool_is_late(threads):
    """A pool thread that gets a core late: the caller takes the pieces it has not started."""
    import threading
    import time

    parallel.set_num_threads(2)
    gate = threading.Event()
    parallel.for_ranges(lambda lo, hi: None, 8)  # the pool exists
    blocker = parallel._get_pool().submit(gate.wait, 10)  # the only pool thread is busy
    try:
        done = []
        t0 = time.perf_counter()
        parallel.for_ranges(lambda lo, hi: done.append(threading.current_thread().name), 1000,
                            work=8 * parallel.PIECE_WORK)
        assert time.perf_counter() - t0 < 5
        assert len(done) == 2 * parallel.PIECES_PER_THREAD
        assert set(done) == {threading.current_thread().name}
    finally:
        gate.set()
        blocker.result()


def test_for_ranges_error_in_a_piece_is_raised(threads):
    parallel.set_num_threads(2)

    def fn(lo, hi):
        if lo == 0:
            raise ValueError("piece at 0 failed")

    with pytest.raises(ValueError, match="piece at 0 failed"):
        parallel.for_ranges(fn, 100, work=1 << 30)


@pytest.mark.parametrize("opt_name", ["adam", "rmsprop"])
def test_training_step_bit_identical_with_the_same_tiles(threads, monkeypatch, opt_name):
    """One-image tiles at both thread counts: every number is computed by the same operations in
    the same order, so 1 and 2 threads agree exactly (a race between threads would show here)."""
    from mathdl.ops import conv

    monkeypatch.setattr(conv, "TILE_BYTES", 1)
    l1, p1 = _train(1, opt_name)
    l2, p2 = _train(2, opt_name)
    assert l1 == l2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


def test_elementwise_many_matches_serial(threads):
    parallel.set_num_threads(2)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((7, 3), (1,), (40,), (5, 5, 2))]
    want = [a * 2 + 1 for a in arrays]
    calls = []

    def kern(a):
        calls.append(a.size)
        a *= 2
        a += 1

    odd = np.arange(12.0).reshape(3, 4).T  # not C-contiguous: its own elementwise call
    parallel.elementwise_many([(kern, (a,)) for a in arrays] + [(kern, (odd,))])
    for a, w in zip(arrays, want):
        np.testing.assert_array_equal(a, w)
    np.testing.assert_array_equal(odd, np.arange(12.0).reshape(3, 4).T * 2 + 1)
    assert sum(calls) == 7 * 3 + 1 + 40 + 50 + 12 and len(calls) > 5  # the concatenation was split


@pytest.mark.parametrize("opt", ["adam", "adamw", "adam_amsgrad", "adam_wd"])
def test_adam_one_pass_over_all_parameters_equals_one_thread(threads, opt):
    """Adam's update of all parameters as one split pass: the same numbers as one thread, and as
    torch's Adam after a few steps."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    shapes = [(33, 17), (17,), (5, 33), (5,), (1,)]
    init = [rng.standard_normal(s) for s in shapes]  # float64: torch's numbers to 1e-9
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(3)]
    kw = {"adam": {}, "adamw": {"weight_decay": 0.1}, "adam_amsgrad": {"amsgrad": True},
          "adam_wd": {"weight_decay": 0.1}}[opt]
    cls = mathdl.optim.AdamW if opt == "adamw" else mathdl.optim.Adam
    tcls = torch.optim.AdamW if opt == "adamw" else torch.optim.Adam
    results = []
    for n in (1, 2):
        parallel.set_num_threads(n)
        ps = [mathdl.tensor(a.copy(), dtype=mathdl.float64, requires_grad=True) for a in init]
        o = cls(ps, lr=0.05, **kw)
        for gs in grads:
            for p, g in zip(ps, gs):
                p.grad = mathdl.tensor(g, dtype=mathdl.float64)
            o.step()
        results.append([p.array.copy() for p in ps])
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    to = tcls(tp, lr=0.05, **kw)
    for gs in grads:
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g)
        to.step()
    for a, b, t in zip(*results, tp):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_blas_serial_switch_through_direct_calls_restores_counts():
    """_enter/_leave_blas_serial set OpenBLAS's count through its own C functions (mathdl.parallel
    ._direct); threadpoolctl sees the same counts, and a library already at the count is left alone."""
    from threadpoolctl import threadpool_info

    def counts():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with parallel.num_threads(2):
        before = counts()
        parallel._enter_blas_serial()
        try:
            assert counts() == [1] * len(before)
        finally:
            parallel._leave_blas_serial()
        assert counts() == before
        assert parallel._set_blas(before) == before  # nothing to change: old counts returned as they are


def test_blas_serial_and_in_worker(threads):
    """blas_serial: BLAS on one thread inside (nested too), restored after; in_worker: True inside a
    piece of a parallel region only."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_counts():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    parallel.set_num_threads(2)
    before = blas_counts()
    with parallel.blas_serial():
        assert set(blas_counts()) <= {1}
        with parallel.blas_serial():
            assert set(blas_counts()) <= {1}
        assert set(blas_counts()) <= {1}
    assert blas_counts() == before
    assert not parallel.in_worker()
    assert parallel.blocks(lambda k: parallel.in_worker(), 4) == [True] * 4
    assert not parallel.in_worker()
