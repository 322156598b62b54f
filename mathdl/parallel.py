"""Threads for mathdl's CPU work: one setting for BLAS and for the memory-bound passes.

A training step spends its time in two kinds of work: matrix products (BLAS, already
multi-threaded) and memory-bound passes (elementwise ufuncs, copies such as im2col,
normalizations, optimizer updates), which NumPy runs on the calling thread.  NumPy releases
the GIL inside ufuncs and copies, so a pass over an array of n elements split into T
contiguous chunks [k n/T, (k+1) n/T) and run on T threads takes about 1/T of the time once n
is large enough that the hand-off (a few tens of microseconds) is small beside the pass.

  set_num_threads(T)   T >= 1 threads for BLAS (through threadpoolctl) and for this pool
  get_num_threads()    the current T
  num_threads(T)       a ``with`` block using T threads for both; restores both after
  MATHDL_NUM_THREADS   T at import (else OMP_NUM_THREADS, else the cores this process may use)

``elementwise(kernel, *arrays)`` runs ``kernel`` on matching contiguous 1-D chunks of same-size
arrays; ``for_ranges(fn, n, work)`` calls ``fn(lo, hi)`` over a split of range(n) (rows,
channels, images).  Both stay on the calling thread below ``MIN_PARALLEL_ELEMENTS`` elements of
work (the measured cut-over, see benchmarks/bench_parallel.py) or when T = 1, so results never
depend on T: each output element is computed by the same operations whichever thread runs it.
Calls made from inside a pool thread run serially (no nested hand-offs, no deadlock).  Large
passes are cut into a few pieces per thread that whichever thread is free takes next, the calling
thread included, so when a pool thread gets a core late (a busy machine, or BLAS's own threads
still spinning after a product) the caller takes over its pieces and waits at most for one.

``blocks(fn, count)`` is for compound work that includes matrix products (a convolution's
pad + im2col + GEMM + crop of a block of images): it returns [fn(0), ..., fn(count - 1)] with
the blocks handed out to the threads one at a time (whichever thread is free takes the next),
while BLAS runs on ONE thread inside them.  Two threads each running a whole block keep the
block's im2col tile in their own core's cache and need no hand-off per pass; letting BLAS also
split each product would put 2 T threads on T cores.  The switch of BLAS's thread count is a
plain store in OpenBLAS (about 2 us each way through threadpoolctl's handle); it is restored
when the blocks are done (by the last user, when several threads run blocks at once).

A CNN's regions (``blocks``, and ``for_ranges(..., team=True)`` for passes over 4-D activations)
run on numba's OpenMP team instead when the process has one (``on_team``; mathdl/openmp_team.py):
its threads poll in compiled code between regions, so a hand-off costs about 2 us there against the
30-50 us a pool thread needs to get the GIL back on a virtual machine.

Plain products stay on BLAS's own threads: splitting them over mathdl's threads instead measured
slower on a quiet 2-core machine (the MLP step at 2 threads 4.5 -> 7.3 ms, the LSTM's weight
gradients 102 -> 112 ms).  What hurt BLAS's threads was their busy wait of about 0.1 s after
each product, on the cores mathdl's next pass wants; ``import mathdl`` shortens it
(``BLAS_THREAD_TIMEOUT`` below).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

from . import openmp_team
from .spin_pool import SpinPool

__all__ = ["set_num_threads", "get_num_threads", "num_threads", "elementwise", "elementwise_many", "for_ranges",
           "blocks", "blas_serial", "in_worker", "on_team", "team_threads", "MIN_PARALLEL_ELEMENTS"]

# Below this much work (elements times passes over them) a pass runs on the calling thread.
# Measured with benchmarks/bench_parallel.py on a 2-core machine: handing a piece to a pool
# thread and waiting for it costs about 25 us, and one float32 multiply pass costs about 0.13 ns
# per element (a strided copy 0.28 ns), so in isolation halving a pass pays from about 2^18
# element-passes.  Inside whole training steps it did not: on the same idle machine a ResNet-20
# step at 2 threads took 199 ms with that cut-over and 161 ms with 2^22 (the split passes compete
# with OpenBLAS's threads for the two cores and for memory bandwidth), and the MLP step 5.7 vs
# 5.4 ms.  So only passes of 4M element-passes and more are split.
MIN_PARALLEL_ELEMENTS = 1 << 22
# Passes that run between convolutions (pooling, batch norm) split from this much work instead:
# a convolution's products run on mathdl's threads with BLAS on one thread (``blocks``), so no
# BLAS thread is left spinning on the other cores when these passes run, and the isolated
# cut-over above (2^18) applies.  Given as ``min_work`` to for_ranges.
MIN_PARALLEL_ELEMENTS_CNN = 1 << 18

_lock = threading.Lock()
_local = threading.local()
_pool: SpinPool | None = None
_num_threads = 1


def _check_count(n, where):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{where}: the number of threads must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"{where}: the number of threads must be at least 1, got {n}")
    return int(n)


def _from_env():
    raw = os.environ.get("MATHDL_NUM_THREADS")
    if raw is not None and raw.strip() != "":
        try:
            n = int(raw.strip())
        except ValueError:
            raise ValueError(f"MATHDL_NUM_THREADS must be a positive integer, got {raw!r}") from None
        return _check_count(n, "MATHDL_NUM_THREADS"), True
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.strip().isdigit() and int(omp) >= 1:
        return int(omp), False
    try:
        return max(1, len(os.sched_getaffinity(0))), False
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1), False


def _limit_blas(n):
    """Limit every loaded BLAS/OpenMP library to n threads (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return
    threadpool_limits(limits=n)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (``n >= 1``) for BLAS and for mathdl's parallel memory-bound passes."""
    n = _check_count(n, "set_num_threads")
    _limit_blas(n)
    _set_pool(n)


@contextlib.contextmanager
def num_threads(n: int):
    """``with num_threads(n):`` BLAS and mathdl's passes use ``n`` threads inside the block; the
    previous settings of both are restored after it."""
    n = _check_count(n, "num_threads")
    old = _num_threads
    try:
        from threadpoolctl import threadpool_limits

        blas = threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        blas = contextlib.nullcontext()
    with blas:
        _set_pool(n)
        try:
            yield
        finally:
            _set_pool(old)


def _set_pool(n):
    global _num_threads, _pool
    with _lock:
        if n != _num_threads and _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
        _num_threads = n


def get_num_threads() -> int:
    """The number of threads mathdl uses (see :func:`set_num_threads`)."""
    return _num_threads


def _get_pool():
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = SpinPool(max(1, _num_threads - 1), initializer=_mark_worker)
    return _pool


def _mark_worker():
    _local.worker = True


def _split(n, parts, align=1):
    """Boundaries of ``parts`` near-equal contiguous pieces of range(n), cut at multiples of align."""
    step = -(-n // parts)
    step = -(-step // align) * align
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _serial(work, min_work=None):
    cut = MIN_PARALLEL_ELEMENTS if min_work is None else min(min_work, MIN_PARALLEL_ELEMENTS)
    return _num_threads == 1 or work < cut or getattr(_local, "worker", False)


def for_ranges(fn, n: int, work: int | None = None, align: int = 1, min_work: int | None = None,
               team: bool = False) -> None:
    """Call ``fn(lo, hi)`` over contiguous pieces of range(n), a few per thread, taken by whichever
    thread is free (the calling thread too); serially as ``fn(0, n)`` when ``work`` (elements
    touched, default n) is below the cut-over (MIN_PARALLEL_ELEMENTS, or ``min_work`` when
    smaller).  ``fn`` must write disjoint outputs for disjoint ranges.  ``team``: a pass between a
    CNN's convolutions, run on the OpenMP team when the process has one (see _run_dynamic)."""
    work = n if work is None else work
    if n <= 1 or _serial(work, min_work):
        fn(0, n)
        return
    parts = _num_threads * max(1, min(PIECES_PER_THREAD, work // PIECE_WORK))
    pieces = _split(n, min(parts, n), align)
    if len(pieces) == 1:
        fn(0, n)
        return
    _run_dynamic(lambda k: fn(*pieces[k]), len(pieces), team=team)


# Large passes are cut into up to PIECES_PER_THREAD pieces per thread of at least about
# PIECE_WORK element-passes each, handed out one at a time to whichever thread is free (the calling
# thread too): when a pool thread gets a core late (a busy machine, or BLAS's threads still
# spinning after a product), the caller takes over the pieces it has not started and waits at most
# for one piece, instead of for a whole half of the pass.  Smaller pieces cost more than they save:
# each is a dozen NumPy calls that take the GIL in turn with the other thread's (an Adam update cut
# into pieces of 2^20 element-passes was slower at 2 threads than in 2 pieces).
PIECES_PER_THREAD = 4
PIECE_WORK = 1 << 22


def _mark(flag):
    """Set the calling thread's "inside a region" flag; its previous value."""
    was = getattr(_local, "worker", False)
    _local.worker = flag
    return was


def on_team() -> bool:
    """Whether this process's regions between and inside convolutions run on the OpenMP team
    (mathdl/openmp_team.py): T >= 2 within its thread limit, and the team available."""
    return 2 <= _num_threads <= _team_limit() and openmp_team.available()


def team_threads(work: int = 0, min_work: int = 0) -> int:
    """The thread count T for one compiled pass of ``work`` on the OpenMP team (its prange version),
    or 0 for the serial version: the team runs it when the process is on_team, the caller is not
    inside a region (nested regions run serially) and work >= min_work."""
    if work < min_work or getattr(_local, "worker", False) or not on_team():
        return 0
    return _num_threads


_team_max = None


def _team_limit():
    global _team_max
    if _team_max is None:
        _team_max = openmp_team.max_threads() if openmp_team.available() else 0
    return _team_max


def _run_dynamic(fn, count, spin=False, team=False):
    """fn(0), ..., fn(count - 1) on the calling thread and up to T - 1 pool threads, each taking the
    next index when free; returns when all are done (an exception in any is raised here).  ``spin``:
    the pool threads poll for the next task a while before sleeping (see mathdl/spin_pool.py).
    ``team``: a convolution's region (its tiles, or a pass between convolutions), run on the OpenMP
    team when the process has one (on_team)."""
    if team and on_team():
        openmp_team.run_dynamic(fn, count, _num_threads, _mark)
        return
    nxt = iter(range(count))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                k = next(nxt, None)
            if k is None:
                return
            fn(k)

    pool = _get_pool()
    futures = [pool.submit_spinning(worker) if spin else pool.submit(worker)
               for _ in range(min(_num_threads, count) - 1)]
    try:
        worker()
    finally:
        for f in futures:  # a worker never started is cancelled; a running one is waited for
            if not f.cancel():
                f.result()


_blas_setters = None
_blas_modules = -1
_blas_fns = []  # (get, set) of each library's thread count, alongside _blas_setters (see _direct)


def _blas_set_functions():
    """The loaded BLAS libraries' controllers (threadpoolctl), found again whenever Python modules
    were imported since (one may have loaded another BLAS, e.g. SciPy's own OpenBLAS)."""
    global _blas_setters, _blas_modules, _blas_fns
    if _blas_setters is None or len(sys.modules) != _blas_modules:
        _blas_modules = len(sys.modules)
        try:
            from threadpoolctl import ThreadpoolController

            _blas_setters = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        except Exception:  # pragma: no cover - threadpoolctl missing or a library it cannot drive
            _blas_setters = []
        _blas_modules = len(sys.modules)
        _blas_fns = [_direct(c) for c in _blas_setters]
    return _blas_setters


def _direct(controller):
    """(get, set) of one BLAS library's thread count: OpenBLAS's own C functions when threadpoolctl
    exposes them (a plain store, ~0.2 us a call instead of ~3 us through the controller's symbol
    lookup and per-thread bookkeeping), else the controller's methods."""
    get_symbol = getattr(controller, "_get_symbol", None)
    if controller.internal_api == "openblas" and get_symbol is not None and \
            getattr(controller, "threading_layer", "") != "openmp":
        try:
            get, put = get_symbol("openblas_get_num_threads"), get_symbol("openblas_set_num_threads")
        except Exception:  # pragma: no cover - another threadpoolctl layout
            get = put = None
        if get is not None and put is not None:
            return get, put
    return controller.get_num_threads, controller.set_num_threads


def _set_blas(counts):
    """Set each BLAS library's thread count (an int for all, or one per library); the old counts.
    A library already at its count is left alone."""
    _blas_set_functions()
    libs = _blas_fns
    old = [get() for get, _ in libs]
    for (_, put), was, n in zip(libs, old, counts if isinstance(counts, list) else [counts] * len(libs)):
        if n != was:
            put(n)
    return old


_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved = None


def _enter_blas_serial():
    """BLAS on one thread until the matching _leave_blas_serial; nested and concurrent users (blocks
    run from several of the program's own threads) restore the original counts only when the last
    one leaves."""
    global _blas_users, _blas_saved
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = _set_blas(1)
        _blas_users += 1


@contextlib.contextmanager
def blas_serial():
    """``with blas_serial():`` BLAS runs on one thread inside the block (for code that runs its own
    products on several threads); nested and concurrent users are fine, the last one out restores
    BLAS's thread counts."""
    _enter_blas_serial()
    try:
        yield
    finally:
        _leave_blas_serial()


def in_worker() -> bool:
    """Whether the calling thread is running a piece of one of mathdl's parallel regions (a pool
    thread, or the calling thread inside ``blocks``): work started there runs serially."""
    return getattr(_local, "worker", False)


def _leave_blas_serial():
    global _blas_users, _blas_saved
    with _blas_lock:
        _blas_users -= 1
        if _blas_users == 0:
            _set_blas(_blas_saved)
            _blas_saved = None


def blocks(fn, count: int, parallel: bool = True) -> list:
    """[fn(0), ..., fn(count - 1)]: on the calling thread when ``parallel`` is false, T = 1, or
    inside a pool thread; else the blocks go to the threads one at a time (the calling thread
    works too) with BLAS on one thread while they run, and the caller's other passes serial."""
    if count <= 1 or not parallel or _num_threads == 1 or getattr(_local, "worker", False):
        return [fn(k) for k in range(count)]
    results = [None] * count

    def run(k):
        results[k] = fn(k)

    _enter_blas_serial()
    _local.worker = True  # the caller's own block runs its passes serially, as the pool's do
    try:
        _run_dynamic(run, count, spin=True, team=True)
    finally:
        _local.worker = False
        _leave_blas_serial()
    return results


def _flat(a):
    return a.reshape(-1) if a.flags.c_contiguous else None


def elementwise(kernel, *arrays, passes: int = 1) -> None:
    """Run ``kernel(*chunks)`` on matching contiguous chunks of same-size arrays (their flat
    C-order views), split over the threads; ``kernel`` works in place on its chunks and makes
    about ``passes`` passes over them.  Arrays that are not all C-contiguous NumPy arrays of one
    size, or less work than the cut-over, run as one ``kernel(*arrays)`` call on the calling thread."""
    n = arrays[0].size
    if _serial(n * passes) or type(arrays[0]) is not np.ndarray:
        kernel(*arrays)
        return
    flats = [_flat(a) if type(a) is np.ndarray and a.size == n else None for a in arrays]
    if any(f is None for f in flats):
        kernel(*arrays)
        return
    for_ranges(lambda lo, hi: kernel(*(f[lo:hi] for f in flats)), n, n * passes, align=16)


def elementwise_many(jobs, passes: int = 1) -> None:
    """Run several ``elementwise`` jobs, ``jobs`` a list of (kernel, arrays), as ONE split pass over
    their concatenated elements (one hand-off for all, and small arrays split too): each thread
    takes a contiguous range of the concatenation and runs each job's kernel on its part of that
    range.  Jobs whose arrays are not C-contiguous NumPy arrays of one size run as ``elementwise``."""
    flat_jobs, total = [], 0
    for kernel, arrays in jobs:
        n = arrays[0].size
        flats = [_flat(a) if type(a) is np.ndarray and a.size == n else None for a in arrays]
        if type(arrays[0]) is not np.ndarray or any(f is None for f in flats):
            elementwise(kernel, *arrays, passes=passes)
            continue
        flat_jobs.append((total, total + n, kernel, flats))
        total += n
    if _serial(total * passes) or len(flat_jobs) < 2:
        for _, _, kernel, flats in flat_jobs:
            elementwise(kernel, *flats, passes=passes)
        return

    def run(lo, hi):
        for start, end, kernel, flats in flat_jobs:
            a, b = max(lo, start), min(hi, end)
            if a < b:
                kernel(*(f[a - start:b - start] for f in flats))

    for_ranges(run, total, total * passes, align=16)


# OpenBLAS's idle workers busy-wait about 2^28 cycles (~0.1 s) after every threaded product before
# they sleep, on the cores mathdl's next memory-bound pass (an optimizer step, a norm, an
# activation) wants.  mathdl shortens the wait to 2^BLAS_THREAD_TIMEOUT cycles (~0.4 ms): it sets
# OPENBLAS_THREAD_TIMEOUT for libraries loaded later (SciPy's) and makes the already loaded ones
# (NumPy's) read it again and restart their workers.  Measured on 2 cores, 2 threads, after the
# backward of the 784-512-512-10 MLP: Adam step 0.63-1.01 ms -> 0.60-0.63 ms (torch 0.60), whole
# training step 4.21-4.36 -> 4.02-4.17 ms.  A user's own OPENBLAS_THREAD_TIMEOUT is left as it is;
# MATHDL_BLAS_SPIN=1 keeps OpenBLAS's default.
BLAS_THREAD_TIMEOUT = 20


def _shorten_blas_spin():
    """Apply BLAS_THREAD_TIMEOUT (see above); True when a loaded OpenBLAS took it."""
    if os.environ.get("OPENBLAS_THREAD_TIMEOUT", "").strip() or os.environ.get("MATHDL_BLAS_SPIN") == "1":
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(BLAS_THREAD_TIMEOUT)
    done = False
    for c in _blas_set_functions():
        if getattr(c, "internal_api", None) != "openblas":
            continue
        lib = getattr(c, "dynlib", None)
        read_env = getattr(lib, "openblas_read_env", None)
        shutdown = getattr(lib, "blas_thread_shutdown_", None)
        if read_env is None or shutdown is None:  # an OpenBLAS without these entry points
            continue
        read_env()
        shutdown()  # the workers restart on the next threaded product, with the new timeout
        done = True
    return done


def _forget_pool_in_child():
    """After os.fork the child has none of its parent's pool threads: it starts its own pool at its
    first parallel region (else its tasks would wait forever for threads that do not exist)."""
    global _pool, _lock, _blas_lock, _blas_users, _blas_saved
    _pool = None
    _lock, _blas_lock = threading.Lock(), threading.Lock()  # a lock held by another thread at the fork stays held
    _blas_users, _blas_saved = 0, None
    _local.__dict__.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)

_num_threads, _explicit = _from_env()
_shorten_blas_spin()
if _explicit:  # MATHDL_NUM_THREADS also limits BLAS; otherwise BLAS keeps its own setting
    _limit_blas(_num_threads)
