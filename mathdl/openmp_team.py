"""A CNN's parallel regions on numba's OpenMP team: a hand-off of about 2 us instead of 30-50.

A parallel region hands work to another thread and waits for it.  On a 2-core virtual machine the
wait is what a hand-off costs: a Python pool thread (mathdl/spin_pool.py) starts its piece 30-50 us
late, because it needs the GIL and the futex wake that gives it back goes through the hypervisor.
An OpenMP runtime keeps its team's threads polling in compiled code for a while after each region
(GNU OpenMP: GOMP_SPINCOUNT polls, about 2 ms here, see SPINCOUNT), so the next region starts on
both cores within a few microseconds: a prange loop over 2^18 float32 entries ran in 16 us on two
threads against 28 us on one, where the pool's hand-off alone costs more than the whole pass.

Two kinds of region run on the team (mathdl.parallel decides which calls come here):

  compiled loops    ``prange`` functions (numba parallel=True), called after ``use_threads(T)``:
                    whole Winograd convolutions (mathdl/ops/winograd_nhwc_kernels.py), batch norm's
                    passes, the select loops (relu, add + relu) and the layout copies of mathdl/ops.
                    Their pieces are fixed by the data (tiles of images, chunks of rows, channels),
                    never by T, so results do not depend on T.
  Python pieces     ``run_dynamic(fn, count)``: fn(0), ..., fn(count - 1), each team thread taking
                    the next index when free, inside numba's object mode (it takes the GIL; the
                    pieces' BLAS calls and compiled loops release it): the other convolutions'
                    tiles, pooling, channel-major batch norm's Python pieces.

Two pools polling on the same cores would take them from each other (measured: batch norm on the
team while the tiles stayed on the Python pool made ResNet-20's 2-thread step 61 -> 103 ms), so a
CNN's regions all come here: a convolution's tiles and the passes over its 4-D activations between
convolutions.  The Python pool keeps the work next to BLAS's own threads (an MLP's and a
transformer's passes, the optimizers): there the team's polling threads took the cores BLAS's
threads wanted (the MLP step at 2 threads 2.8 -> 9.0 ms with its ReLUs on the team).

The team is used when numba imports, its OpenMP layer loads (numba's workqueue layer measured
90-400 us a region, TBB was not installed), MATHDL_OPENMP is not 0, and the process is not a fork of
one that started the team (GNU OpenMP cannot run in such a child: its regions use the Python pool).
A user's own NUMBA_THREADING_LAYER is respected (another layer: no team).
"""

from __future__ import annotations

import itertools
import os
import threading
import warnings

__all__ = ["available", "max_threads", "use_threads", "run_dynamic", "SPINCOUNT"]

# GNU OpenMP's idle threads poll this many times (about 2 ms here; its own default, 300000, is about
# 8 ms) before they sleep: long enough to span the gaps between a training step's regions, short
# enough to give the cores back to BLAS's threads soon after.  A user's GOMP_SPINCOUNT is kept.
SPINCOUNT = 100000

_state = None  # None: not decided; else (True or False, pid it was decided in)
_lock = threading.Lock()
_team = None
_jobs = {}
_ids = itertools.count()


def _disabled():
    return os.environ.get("MATHDL_OPENMP", "").strip().lower() in ("0", "false", "no")


def available() -> bool:
    """Whether regions may run on the OpenMP team in this process (decided at the first call)."""
    global _state
    if _state is not None and _state[1] == os.getpid():
        return _state[0]
    with _lock:
        if _state is None:
            _state = (_start(), os.getpid())
        elif _state[1] != os.getpid():  # a forked child: GNU OpenMP's threads are not there
            _state = (False, os.getpid())
    return _state[0]


def _start():
    from .ops import compiled

    if _disabled() or not compiled.enabled():
        return False
    import numba

    user_layer = os.environ.get("NUMBA_THREADING_LAYER", "").strip().lower()
    if user_layer not in ("", "default", "omp", "safe", "forksafe"):
        return False
    os.environ.setdefault("GOMP_SPINCOUNT", str(SPINCOUNT))  # read when libgomp loads (below)
    try:
        from numba.np.ufunc import parallel as npar

        if not npar._is_initialized:
            numba.config.THREADING_LAYER = "omp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba's note that object mode holds the GIL: intended
            team = _compile()
            team(1, -1)  # compiles, and launches the threading layer
    except Exception:  # no OpenMP runtime: the Python pool does everything
        return False
    if numba.threading_layer() != "omp":
        return False
    global _team
    _team = team
    return True


def max_threads() -> int:
    """The most threads a team region may use (numba's NUMBA_NUM_THREADS: the cores at import)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


_local = threading.local()


def use_threads(n):
    """Regions started from the calling thread use n team threads (numba's per-thread setting, set
    only when it changes: a prange region then wakes exactly n - 1 other threads)."""
    if getattr(_local, "n", 0) != n:
        import numba

        numba.set_num_threads(n)
        _local.n = n


_pinned = set()


def _pin_thread_state():
    """Keep this OpenMP thread's Python thread state alive between regions: numba's object mode
    takes the GIL with PyGILState_Ensure, which makes a new thread state for a thread without one
    and frees it at the matching Release; one extra Ensure, never released, keeps the first."""
    ident = threading.get_ident()
    if ident not in _pinned:
        import ctypes

        ctypes.pythonapi.PyGILState_Ensure()
        _pinned.add(ident)


def _slot(job):
    fn = _jobs.get(job)
    if fn is not None:
        fn()


def _compile():
    from numba import njit, objmode, prange

    # not cache=True: numba's cache cannot reload a parallel function holding an object-mode block
    # ("missing Environment"); compiled once per process, about 0.3 s
    @njit(parallel=True, nogil=True)
    def team(n, job):
        for _ in prange(n):
            with objmode():
                _slot(job)

    return team


def run_dynamic(fn, count, threads, mark):
    """fn(0), ..., fn(count - 1) on ``threads`` team threads (the calling thread is one of them), each
    taking the next index when free; returns when all are done and re-raises the first exception.
    ``mark(flag)`` sets or clears the calling thread's "inside a region" flag (nested regions run
    serially)."""
    nxt = iter(range(count))
    lock = threading.Lock()
    errors = []

    def worker():
        _pin_thread_state()
        was = mark(True)
        try:
            while not errors:
                with lock:
                    k = next(nxt, None)
                if k is None:
                    return
                fn(k)
        except BaseException as e:  # re-raised on the calling thread below
            errors.append(e)
        finally:
            mark(was)

    job = next(_ids)
    _jobs[job] = worker
    n = min(threads, count)
    use_threads(n)
    try:
        _team(n, job)
    finally:
        del _jobs[job]
    if errors:
        raise errors[0]
