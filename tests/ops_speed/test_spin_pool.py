"""mathdl/spin_pool.py: the pool behind mathdl.parallel runs tasks in order, returns and re-raises,
cancels tasks not started, shuts down, and its spin setting rejects bad values; with it the
parallel passes give the same numbers at 1 and 2 threads."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from mathdl import parallel, spin_pool


def test_tasks_run_on_the_workers_and_results_wait():
    pool = spin_pool.SpinPool(2)
    try:
        out, names = [], set()

        def task(k):
            def run():
                names.add(threading.current_thread().name)
                out.append(k)
            return run

        tasks = [pool.submit(task(k)) for k in range(50)]
        for t in tasks:
            assert t.result() is None
        assert sorted(out) == list(range(50))
        assert names and all(n.startswith("mathdl") for n in names)
    finally:
        pool.shutdown()


def test_exception_reraised_and_cancel_before_start():
    pool = spin_pool.SpinPool(1)
    try:
        gate = threading.Event()
        blocker = pool.submit(gate.wait)
        ran = []
        queued = pool.submit(lambda: ran.append(1))
        assert queued.cancel() and queued.cancel()  # not started: cancelled (twice is fine)
        gate.set()
        blocker.result()
        assert not blocker.cancel()  # finished: cannot be cancelled

        def boom():
            raise KeyError("from the worker")

        with pytest.raises(KeyError, match="from the worker"):
            pool.submit(boom).result()
        assert ran == []
    finally:
        pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: None)


def test_idle_workers_sleep_after_spinning(monkeypatch):
    """After a submit_spinning task an idle worker polls (here for 30 s) instead of sleeping; after a
    plain submit it sleeps on the condition at once; a new task wakes it."""
    import time

    if not spin_pool._spinner():
        pytest.skip("numba is not installed (or MATHDL_NO_NUMBA / MATHDL_SPIN_US=0): nobody spins")
    monkeypatch.setattr(spin_pool, "SPIN_US", 30_000_000)
    pool = spin_pool.SpinPool(1)

    def sleeping_within(seconds):
        t0 = time.perf_counter()
        while pool._sleeping == 0 and time.perf_counter() - t0 < seconds:
            time.sleep(0.01)
        return pool._sleeping == 1

    try:
        pool.submit_spinning(lambda: None).result()
        assert not sleeping_within(0.3)  # polling
        box = []
        pool.submit(lambda: box.append(7)).result()  # picked up by the polling worker
        assert box == [7] and sleeping_within(5.0)  # a plain task: it sleeps at once
        pool.submit_spinning(lambda: box.append(8)).result()  # wakes it
        assert box == [7, 8]
    finally:
        monkeypatch.setattr(spin_pool, "SPIN_US", 1000)  # let the worker see the shutdown soon
        pool._counter[0] += 1  # end its poll now
        pool.shutdown()
    assert all(not t.is_alive() for t in pool._threads)


@pytest.mark.parametrize("raw, ok", [("", 1000), ("0", 0), ("250", 250), ("-1", None), ("fast", None)])
def test_spin_setting_from_the_environment(monkeypatch, raw, ok):
    monkeypatch.setenv("MATHDL_SPIN_US", raw)
    if ok is None:
        with pytest.raises(ValueError, match="MATHDL_SPIN_US"):
            spin_pool._spin_us_from_env()
    else:
        assert spin_pool._spin_us_from_env() == ok


def test_blocks_on_two_threads_equal_one_thread(monkeypatch):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 300))
    old = parallel.get_num_threads()
    res = []
    try:
        for n in (1, 2):
            parallel.set_num_threads(n)
            res.append(parallel.blocks(lambda k: a[16 * k:16 * (k + 1)] @ a[16 * k:16 * (k + 1)].T, 4))
            out = np.zeros(a.size)
            monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)

            def double(lo, hi, out=out):
                np.multiply(a.reshape(-1)[lo:hi], 2.0, out=out[lo:hi])

            parallel.for_ranges(double, a.size)
            res.append(out)
    finally:
        parallel.set_num_threads(old)
    for x, y in zip(res[0], res[2]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(res[1], res[3])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_forked_child_runs_parallel_regions():
    """A child forked after the pool started has none of its threads: it makes its own pool and its
    regions run on two threads again (before, the calling thread did every piece alone, and a lock
    held by another thread at the fork would have stayed held)."""
    old = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        parallel.blocks(lambda k: k, 4)  # the parent's pool exists
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a region on its own pool, then report and leave at once
            try:
                import time

                names = set()

                def piece(k):
                    names.add(threading.current_thread().name)
                    time.sleep(0.05)  # long enough for a pool thread to take pieces
                    return k * k

                ok = parallel.blocks(piece, 6) == [0, 1, 4, 9, 16, 25]
                ok = ok and any(n.startswith("mathdl") for n in names)  # the child's own pool worked
                os.write(write, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write)
        import select

        ready, _, _ = select.select([read], [], [], 60)
        got = os.read(read, 1) if ready else b""
        os.close(read)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        assert got == b"1"
    finally:
        parallel.set_num_threads(old)
