"""The worker threads of mathdl.parallel: a task queue whose idle workers spin before they sleep.

A worker that sleeps as soon as the queue is empty (a futex wait, as concurrent.futures' pool
does) lets its core go idle, and waking an idle core takes time (on a virtual machine an interrupt
through the hypervisor): measured on a 2-core VM with concurrent.futures' pool, a pool thread
asleep for 1 ms started its piece of a parallel region a median 29 us after the hand-off, and in
28% of regions more than 100 us after it (the calling thread had then done both pieces alone).
OpenMP runtimes avoid it by spinning for a while after each region (GOMP_SPINCOUNT); so do these
workers: after finishing a task submitted with ``submit_spinning``, a worker polls the queue's
counter for up to ``SPIN_US`` microseconds in a compiled loop that holds neither the GIL nor a lock
(numba, nogil), and only then sleeps on a condition variable (ResNet-20's training step at 2
threads 73.9 -> 71.3 ms, 4 alternating rounds).  mathdl.parallel submits ``blocks``' tasks so (a
convolution's tiles, BLAS on one thread: such regions follow one another in a CNN step) and
``for_ranges``' with plain ``submit``: after elementwise passes BLAS's own threads often come next,
and a worker polling on their core took half of it (the MLP's Adam step at 2 threads 5.2-5.9 ->
6.7-7.3 ms when every task polled).  A thread waiting for a task's end (``Task.result``) polls
likewise before it sleeps.  Without numba (or with MATHDL_NO_NUMBA=1, or MATHDL_SPIN_US=0) nobody
polls: plain condition waits.

Tasks run in submission order; ``submit(fn, *args)`` returns a Task with ``cancel()`` (True when it
had not started: it never will) and ``result()`` (waits, re-raises the task's exception).
"""

from __future__ import annotations

import collections
import os
import threading
import time

import numpy as np

__all__ = ["SpinPool", "SPIN_US"]


def _spin_us_from_env():
    raw = os.environ.get("MATHDL_SPIN_US", "").strip()
    if not raw:
        return 1000
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"MATHDL_SPIN_US must be a non-negative integer (microseconds), got {raw!r}") from None
    if value < 0:
        raise ValueError(f"MATHDL_SPIN_US must be a non-negative integer (microseconds), got {raw!r}")
    return value


# How long an idle worker (or a thread waiting for a task) polls before it sleeps, in microseconds.
SPIN_US = _spin_us_from_env()

_spin = None  # the compiled poll loop, False without numba
_iters_per_us = 1.0
_spin_lock = threading.Lock()


def _spinner():
    """The compiled poll loop (compiled on first use; False when numba is unavailable or disabled)."""
    global _spin, _iters_per_us
    if _spin is None:
        with _spin_lock:
            if _spin is None:
                _spin = _compile()
    return _spin


def _compile():
    from .ops import compiled

    if not compiled.enabled() or SPIN_US == 0:
        return False
    from numba import njit

    @njit(nogil=True, cache=True)
    def poll(flags, index, seen, iters, scratch):
        # True as soon as flags[index] != seen, False after ``iters`` polls.  The store into
        # ``scratch`` (which may alias ``flags`` as far as the compiler knows) keeps the load of
        # flags[index] inside the loop.
        for i in range(iters):
            if flags[index] != seen:
                return True
            scratch[0] = i
        return False

    global _iters_per_us
    flags, scratch = np.zeros(1, np.int64), np.zeros(1, np.int64)
    poll(flags, 0, 0, 10, scratch)
    n = 200_000
    t = time.perf_counter()
    poll(flags, 0, 0, n, scratch)
    _iters_per_us = max(1.0, n / max((time.perf_counter() - t) * 1e6, 1e-3))
    return poll


class Task:
    """One submitted call: ``cancel()`` before it starts, ``result()`` after."""

    __slots__ = ("fn", "state", "error", "done", "event", "pool", "spin")

    def __init__(self, fn, pool, spin=False):
        self.fn, self.pool, self.spin = fn, pool, spin
        self.state = 0  # 0 queued, 1 running, 2 done, 3 cancelled
        self.error = None
        self.done = np.zeros(1, np.int64)  # 1 when finished (polled by ``result``)
        self.event = threading.Event()

    def cancel(self):
        with self.pool._cv:
            if self.state != 0:
                return self.state == 3
            self.state = 3
            try:
                self.pool._tasks.remove(self)
            except ValueError:  # pragma: no cover - a queued task is always in the queue
                pass
            return True

    def result(self):
        if not self.event.is_set():
            spin = _spinner()
            if spin:
                spin(self.done, 0, 0, int(SPIN_US * _iters_per_us), np.zeros(1, np.int64))
            self.event.wait()
        if self.error is not None:
            raise self.error
        return None

    def _run(self):
        try:
            self.fn()
        except BaseException as e:  # re-raised by result()
            self.error = e
        self.state = 2
        self.done[0] = 1
        self.event.set()


class SpinPool:
    """``workers`` daemon threads running submitted calls in order; ``initializer`` runs first in each."""

    def __init__(self, workers, initializer=None, name="mathdl"):
        self._tasks = collections.deque()
        self._cv = threading.Condition(threading.Lock())
        self._counter = np.zeros(1, np.int64)  # bumped by each submit (polled by idle workers)
        self._sleeping = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, args=(initializer,), name=f"{name}_{k}", daemon=True)
                         for k in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, fn, *args):
        """Run fn(*args) on a worker; after it the worker sleeps as soon as the queue is empty."""
        return self._submit(fn, args, False)

    def submit_spinning(self, fn, *args):
        """Run fn(*args) on a worker; after it the worker polls for the next task up to SPIN_US."""
        return self._submit(fn, args, True)

    def _submit(self, fn, args, spin):
        task = Task((lambda: fn(*args)) if args else fn, self, spin)
        with self._cv:
            if self._closed:
                raise RuntimeError("SpinPool.submit: the pool is shut down")
            self._tasks.append(task)
            self._counter[0] += 1
            if self._sleeping:
                self._cv.notify()
        return task

    def _take(self):
        with self._cv:
            if self._tasks:
                task = self._tasks.popleft()
                task.state = 1
                return task
            return None

    def _loop(self, initializer):
        if initializer is not None:
            initializer()
        scratch = np.zeros(1, np.int64)
        spin_next = False  # whether the last task asked its worker to poll before sleeping
        while True:
            seen = int(self._counter[0])
            task = self._take()
            if task is None:
                spin = _spinner() if spin_next else None
                if spin and not self._closed:
                    spin(self._counter, 0, seen, int(SPIN_US * _iters_per_us), scratch)
                    task = self._take()
                if task is None:
                    with self._cv:
                        while not self._tasks and not self._closed:
                            self._sleeping += 1
                            self._cv.wait()
                            self._sleeping -= 1
                        if not self._tasks:  # closed and drained
                            return
                        task = self._tasks.popleft()
                        task.state = 1
            task._run()
            spin_next = task.spin

    def shutdown(self, wait=True):
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if wait:
            for t in self._threads:
                t.join()
