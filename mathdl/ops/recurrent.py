"""Recurrent cells run over a sequence (backpropagation through time) as one fused primitive.

A recurrent layer maps inputs x_t to states h_t by h_t = cell(x_t, h_{t-1}).  Every cell here
reads x_t only through the affine map  a_t = W_ih x_t + b_ih,  so the layer computes those for all
time steps as ONE matrix product before the loop (``xw``, shape (T, B, G H) for G gate blocks),
and :class:`Recurrence` runs only the part that depends on the previous state (per step: one
(B, H_in) x (H_in, G H) product and a few elementwise passes).  Gate blocks follow PyTorch's
layouts (W_hh is (G H, H_in); sigma is the logistic function):

  RNN_TANH / RNN_RELU (G = 1):  h_t = act(a_t + W_hh h_{t-1} + b_hh)
  LSTM (G = 4, blocks i f g o): [i f g o] = [sigma sigma tanh sigma](a_t + W_hh h_{t-1} + b_hh)
                                c_t = f c_{t-1} + i g,   r_t = o tanh(c_t)
                                h_t = W_hr r_t  with a projection (proj_size P), else h_t = r_t
  GRU  (G = 3, blocks r z n):   [r z] = sigma(a_t[r z] + W_h[r z] h_{t-1} + b_h[r z])
                                n = tanh(a_t[n] + r (W_hn h_{t-1} + b_hn))
                                h_t = (1 - z) n + z h_{t-1}

The backward pass is backpropagation through time.  With dh_t the total gradient reaching h_t
(from the output and from step t+1) and delta_t the gradient of the pre-activations:

  RNN:   delta = dh (1 - h^2)   (tanh)   or   dh [h > 0]   (relu)
  LSTM:  dr = W_hr^T dh (or dh),  dc = dc_next + dr o (1 - tanh^2 c),
         delta = [dc g i(1-i),  dc c_{t-1} f(1-f),  dc i (1-g^2),  dr tanh(c) o(1-o)],
         dc_{t-1} = dc f
  GRU:   dn' = dh (1 - z)(1 - n^2),  delta_x = [dn' hn r(1-r),  dh (h_{t-1} - n) z(1-z),  dn'],
         delta_h = delta_x with its n block replaced by dn' r   (hn = W_hn h_{t-1} + b_hn)
  dh_{t-1} = delta_h W_hh (+ dh z for the GRU),   delta_h = delta_x except for the GRU.

Only the products with W_hh are per step; the weight gradients are one product each over all
steps:  dW_hh = sum_t delta_h,t^T h_{t-1},  db_hh = sum_t delta_h,t,  dW_hr = sum_t dh_t^T r_t,
and d xw = delta_x goes back through the input map (one product for dW_ih and one for dx).

Variable lengths (packed sequences): ``batch_sizes[t]`` rows are active at step t (rows sorted by
decreasing length, as in a PackedSequence) and ``xw`` is then packed too: (sum_t batch_sizes[t],
G H), the rows of step t after those of steps < t.  An inactive row keeps its state unchanged, so
the state at the last step (first step for ``reverse``) is each sequence's final state.

Two roads run these formulas.  float32 NumPy LSTMs and GRUs take the compiled road: per step one
product h_{t-1} W_hh^T (BLAS) and ONE compiled kernel for all the elementwise work of the step
(mathdl/ops/recurrent_kernels.py), its per-step arrays batch-major (B, G H) like xw and Z, so the
kernels' loops run along contiguous rows and delta comes out in xw's layout.  The time loop itself
is compiled too (``LOOPS``: one call runs every step of a column block, its products calling NumPy's
BLAS directly, with the GIL released), else a Python loop calls the product and the kernel per step.
With several threads, the compiled loops of an LSTM without projection (and of a GRU when SPLIT_MODES
says so) are split over its hidden units (``SPLIT``): each thread computes its units' gate columns and
states for the whole batch, and the threads meet after each step.  Everything else
(float64, CuPy, RNN_TANH / RNN_RELU, or ``FUSED = False``) takes the NumPy road, whose per-step
arrays are feature-major, (features, batch): there W_hh h^T is a faster product than h W_hh^T for
a small batch, and every gate block is a contiguous row block (a (B, G H) layout makes each block
a strided column slice, several times slower for small H with NumPy's passes).

The rows of a batch never interact, so with T > 1 threads (mathdl.parallel) the batch columns
are cut into one block per thread and each thread runs the whole time loop, forward or backward,
for its columns (BLAS on one thread inside; see _batch_blocks): no hand-off per step, and each
column goes through the same operations as on one thread.

The output of :class:`Recurrence` is one array Z (T, B, S) of the states after each step: h
(RNN, GRU; S = H) or h and c side by side (LSTM; S = P + H, h first).  Its forward and the
backward above run on raw arrays; under ``create_graph`` the backward instead differentiates
:func:`recurrence_reference` (the same recurrence composed of mathdl ops), so the gradient is
itself recorded and second derivatives work.
"""

from __future__ import annotations

import os
import queue
import threading

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import xp_of
from .. import parallel as _parallel
from ..parallel import blocks, get_num_threads
from . import compiled
from . import elementwise as ew
from .linalg import matmul
from .shape import cat, clone, stack, transpose

__all__ = ["MODES", "GATES", "Recurrence", "recurrence", "recurrence_reference", "take_rows", "put_rows"]

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

_make = Tensor._make


# float32 NumPy LSTM and GRU recurrences run each step's elementwise part as one compiled kernel
# (recurrent_kernels, numba) around the step's product: False (or MATHDL_FUSED_RNN=0, or numba off:
# mathdl.ops.compiled) keeps the array code below, which float64 and CuPy arrays always use.
FUSED = os.environ.get("MATHDL_FUSED_RNN", "1") not in ("0", "false", "no")
_kernels = None
# On the fused road, each column block of the batch runs all its time steps in ONE compiled call
# (recurrent_kernels' *_loop: the step products call NumPy's BLAS from the compiled code, no Python
# per step, the GIL released): False (or MATHDL_RNN_LOOPS=0) keeps the Python loop over steps.
LOOPS = os.environ.get("MATHDL_RNN_LOOPS", "1") not in ("0", "false", "no")


def _fused_kernels(mode, arrays):
    """The step kernels module when the fused road applies to these raw input arrays, else None."""
    global _kernels
    if not FUSED or mode not in ("LSTM", "GRU"):
        return None
    if not all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays):
        return None
    if _kernels is None:
        _kernels = False
        if compiled.enabled():
            from . import recurrent_kernels

            _kernels = recurrent_kernels
    return _kernels or None


def _loop_gemm(K):
    """The BLAS product's address for the step loops of recurrent_kernels (0: run the steps from Python)."""
    return K.gemm_address() if LOOPS else 0


def _sigmoid_(a, xp):
    """a <- sigma(a) in place, as (1 + tanh(a / 2)) / 2 (one transcendental pass, no overflow)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


# A recurrence of at least this many multiply-adds (all steps) with a batch of at least
# 2 MIN_BLOCK_COLUMNS runs its batch columns in blocks on mathdl's threads: the rows of a batch
# never interact, so each thread runs the whole time loop for its columns (no hand-off per step)
# with BLAS on one thread (mathdl.parallel.blocks).  Measured with benchmarks/bench_lstm.py.
# Off by default: on a quiet 2-core machine the blocks measured slower than one time loop with BLAS on
# both cores (2-layer LSTM, batch 32, 2 threads: hidden 128, T 40: 47 vs 26 ms; hidden 256, T 64: 177 vs
# 102 ms), since each step's products are too small to feed two single-threaded BLAS calls well.
# With the compiled kernels (nogil, one call per step) the blocks tie with BLAS on both cores (one
# LSTM layer, hidden 128, T 40, batch 32 in halves of 16, the two roads interleaved in one process,
# best of 40: forward 1.77 vs 1.79 ms, backward 2.80 vs 2.75 ms): a (16, 128) x (128, 512) product
# takes 28 us against 52 us for (32, ...), so halving the batch gains little; still off.
PARALLEL_MIN_MACS = 1 << 62
# The same for the compiled step loops (LOOPS), which hold no GIL for a whole block: also off.  Alone, two
# blocks of 16 ran one LSTM layer's loop (hidden 128, T 40) in 1.57 ms against 1.68 ms for the whole batch
# with BLAS on both cores, but inside the training step (benchmarks/bench_programs.py lstm, 2 threads,
# alternated step by step) the step took 15.1 against 14.6 ms.  Splitting the hidden units instead
# (SPLIT below) measured better.
LOOP_PARALLEL_MIN_MACS = 1 << 62
MIN_BLOCK_COLUMNS = 8


def _block_count(xp, B, macs, min_macs=None):
    """How many column blocks _batch_blocks cuts the batch into (1: the whole batch on the calling thread)."""
    count = min(get_num_threads(), B // MIN_BLOCK_COLUMNS)
    cut = PARALLEL_MIN_MACS if min_macs is None else min_macs
    return 1 if xp is not np or count < 2 or macs < cut else count


def _batch_blocks(run, xp, B, macs, min_macs=None):
    """run(lo, hi) over column blocks of the batch: one block per thread when worth it, else run(0, B);
    ``min_macs`` (default PARALLEL_MIN_MACS) is the least work that is cut into blocks."""
    count = _block_count(xp, B, macs, min_macs)
    if count < 2:
        run(0, B)
        return
    bounds = [(k * B // count, (k + 1) * B // count) for k in range(count)]
    blocks(lambda k: run(*bounds[k]), count)


# A float32 LSTM without projection (a GRU: see SPLIT_MODES) of at least SPLIT_MIN_MACS multiply-adds
# (all steps) runs, with T >= 2
# threads, its compiled loops split over hidden units (recurrent_kernels' *_split: thread p owns units
# j0:j1 of the whole batch, a barrier after each step, BLAS on one thread in each).  Each thread's share of
# a step's product is small and reads only its part of W_hh (batch 32, hidden 128, two threads: forward
# four (32, 128) x (128, 64) products, 19 us for both threads at once, backward four (32, 64) x (64, 128),
# 19 us, against 48 us for the whole product on one core, ~43 us with BLAS's two threads).  Measured on a
# shared 2-core machine, one LSTM layer, T 40: forward loop 1.33 ms split against 1.78 ms on one thread
# and ~1.7 ms with BLAS's two threads; backward 1.45 against 1.8 and ~1.75 (inside the training step both
# run ~0.2 ms slower: colder caches, and OpenBLAS's own worker still spinning for ~1.8 ms after each
# threaded product, on the core the helper needs).  The benchmark's training step (bench_programs.py
# --cases lstm, 2 threads, fresh processes alternated with MATHDL_RNN_LOOPS=0 MATHDL_RNN_SPLIT=0):
# 14.1-14.3 against 15.3 ms.  MATHDL_RNN_SPLIT=0 turns it off.
SPLIT = os.environ.get("MATHDL_RNN_SPLIT", "1") not in ("0", "false", "no")
# The modes split by default: the GRU's split loops work alike, but one GRU layer (hidden 128, T 40, batch 32,
# forward + backward at 2 threads, alternated) took 3.70 ms split against 3.44 ms unsplit on the shared
# machine (its per-step product is 3/4 of the LSTM's, the barrier the same).
SPLIT_MODES = ("LSTM",)
# Each split call costs ~50 us to hand the helpers their parts and gains ~15 us a step (forward, batch 32,
# hidden 128), so short sequences stay unsplit: 2^24 multiply-adds is 8 such steps (not measured finer).
SPLIT_MIN_MACS = 1 << 24
# Units per thread at least (smaller shares make each thread's products too thin to pay for the barrier;
# not measured beyond 2 cores); the cuts fall on multiples of 16 units (64-byte lines).
SPLIT_MIN_UNITS = 32


def _cores():
    """The cores this process may run on (a split loop's parts wait for each other: never more parts)."""
    global _core_count
    if _core_count is None:
        try:
            _core_count = max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            _core_count = max(1, os.cpu_count() or 1)
    return _core_count


_core_count = None


def _split_cuts(H, macs):
    """[0, j_1, ..., H]: the hidden units of each thread for a split loop, or None to run unsplit."""
    n = min(get_num_threads(), _cores(), H // SPLIT_MIN_UNITS)
    if not SPLIT or n < 2 or macs < SPLIT_MIN_MACS or _parallel.in_worker():
        return None
    cuts = [0] + [(p * H // n + 8) // 16 * 16 for p in range(1, n)] + [H]
    return cuts if all(b - a > 0 for a, b in zip(cuts, cuts[1:])) else None


class _Team:
    """n - 1 helper threads that run parts 1..n-1 of a split loop while the caller runs part 0 (dedicated
    threads: every part must run at once, since the parts wait for each other after each step)."""

    def __init__(self, n):
        self.n, self.pid = n, os.getpid()  # a forked child has none of these threads: it makes its own team
        self.inboxes = [queue.SimpleQueue() for _ in range(n - 1)]
        self.results = queue.SimpleQueue()
        for box in self.inboxes:
            threading.Thread(target=self._serve, args=(box,), daemon=True, name="mathdl-recurrence").start()

    def _serve(self, box):
        while True:
            job = box.get()
            if job is None:
                return
            fn, part = job
            try:
                fn(part)
                self.results.put(None)
            except BaseException as e:  # handed to the caller
                self.results.put(e)

    def run(self, fn):
        for part, box in enumerate(self.inboxes, 1):
            box.put((fn, part))
        errors = []
        try:
            fn(0)
        except BaseException as e:
            errors.append(e)
        errors += [e for e in (self.results.get() for _ in self.inboxes) if e is not None]
        if errors:
            raise errors[0]

    def close(self):
        for box in self.inboxes:
            box.put(None)


_team = None
_team_lock = threading.Lock()


def _run_split(part_kernel, cuts):
    """part_kernel(sync, p, n, j0, j1) for every part p of the unit cuts, all at once (the caller and the
    team); False, with nothing run, when another thread's split loop holds the team."""
    global _team
    if not _team_lock.acquire(blocking=False):
        return False
    try:
        n = len(cuts) - 1
        if _team is None or _team.n != n or _team.pid != os.getpid():
            if _team is not None and _team.pid == os.getpid():
                _team.close()
            _team = _Team(n)
        sync = np.zeros(n * _kernels.SYNC_STRIDE + 1, np.int64)  # each part's step counter; last: failure flag

        def part(p):
            try:
                part_kernel(sync, p, n, cuts[p], cuts[p + 1])
            except BaseException:
                sync[-1] = 1  # releases the other parts from their barrier
                raise

        with _parallel.blas_serial():
            _team.run(part)
        return True
    finally:
        _team_lock.release()


class Recurrence(Function):
    """Z = the states of one direction of one recurrent layer (see the module docstring).

    Inputs, in order: xw (T, B, G H), or (sum of batch_sizes, G H) packed, h0 (B, P or H),
    [c0 (B, H) for the LSTM], w_hh (G H, P or H), [b_hh (G H,) if ``has_bias``],
    [w_hr (P, H) if ``has_proj``].
    """

    __slots__ = ("mode", "reverse", "batch_sizes", "has_bias", "has_proj", "fused", "saved_a", "saved_b",
                 "saved_c", "saved_d")
    save_output = True

    def __init__(self, mode, reverse=False, batch_sizes=None, has_bias=True, has_proj=False):
        self.mode, self.reverse, self.batch_sizes = mode, bool(reverse), batch_sizes
        self.has_bias, self.has_proj = bool(has_bias), bool(has_proj)
        self.fused = None

    # -- argument unpacking ------------------------------------------------------------
    def _unpack(self, args):
        """(xw, h0, c0, w_hh, b_hh, w_hr) from the positional inputs (None where absent)."""
        args = list(args)
        xw, h0 = args[0], args[1]
        k = 2
        c0 = None
        if self.mode == "LSTM":
            c0, k = args[2], 3
        w_hh = args[k]
        k += 1
        b_hh = w_hr = None
        if self.has_bias:
            b_hh, k = args[k], k + 1
        if self.has_proj:
            w_hr = args[k]
        return xw, h0, c0, w_hh, b_hh, w_hr

    def _dims(self, xw, h0, rows=True):
        """(T, B, batch size per step, the input rows of each step as views of xw, or None unless ``rows``)."""
        B = h0.shape[0]
        if self.batch_sizes is None:
            T = xw.shape[0]
            return T, B, (B,) * T, [xw[t] for t in range(T)] if rows else None
        sizes = self.batch_sizes
        if not rows:
            return len(sizes), B, sizes, None
        xs, off = [], 0
        for n in sizes:
            xs.append(xw[off:off + n])
            off += n
        return len(sizes), B, sizes, xs

    def _dx_layout(self, delta):
        """delta (G H, T, B), zero where inactive -> the layout of xw: a (T, B, G H) view, or packed rows."""
        GH, T, B = delta.shape
        flat = delta.reshape(GH, T * B).T
        if self.batch_sizes is None:
            return flat.reshape(T, B, GH)
        return flat[packed_index(self.batch_sizes, B)]

    # -- forward -----------------------------------------------------------------------
    # Inside the loops every per-step array is feature-major, (features, batch): the product
    # W_hh h^T runs faster than h W_hh^T for a small batch, each gate block is a contiguous row
    # block, and the state feeds the next product without a copy.  Z is written row-major.
    def forward(self, *args):
        xw, h0, c0, w_hh, b_hh, w_hr = self._unpack(args)
        self.fused = _fused_kernels(self.mode, args)
        if self.fused is not None:
            return self._forward_fused(self.fused, xw, h0, c0, w_hh, b_hh, w_hr)
        xp = xp_of(xw)
        T, B, sizes, xs = self._dims(xw, h0)
        bcol = b_hh[:, None] if b_hh is not None else None
        if self.mode == "LSTM":
            return self._forward_lstm(xp, xs, h0, c0, w_hh, bcol, w_hr, T, B, sizes)
        if self.mode == "GRU":
            return self._forward_gru(xp, xs, h0, w_hh, bcol, T, B, sizes)
        H = h0.shape[1]
        Z = xp.empty((T, B, H), dtype=h0.dtype)
        hs = xp.empty((T, H, B), dtype=h0.dtype)  # h_t^T

        def run(lo, hi):  # batch columns lo:hi; the active ones at step t are lo:m
            hT = h0.T[:, lo:hi]
            for t in _steps(T, self.reverse):
                m = min(hi, max(lo, sizes[t]))
                k = m - lo
                a = hs[t, :, lo:m]
                xp.matmul(w_hh, hT[:, :k], out=a)
                a += xs[t][lo:m].T
                if bcol is not None:
                    a += bcol
                if self.mode == "RNN_TANH":
                    xp.tanh(a, out=a)
                else:
                    xp.maximum(a, 0, out=a)
                if m < hi:
                    hs[t, :, m:hi] = hT[:, k:]
                hT = hs[t, :, lo:hi]
                Z[t, lo:hi] = hT.T

        _batch_blocks(run, xp, B, T * B * H * H)
        self.saved_a = hs
        return Z

    def _forward_lstm(self, xp, xs, h0, c0, w_hh, bcol, w_hr, T, B, sizes):
        P, H = h0.shape[1], c0.shape[1]
        dt = h0.dtype
        Z = xp.empty((T, B, P + H), dtype=dt)
        gates = xp.empty((T, 4 * H, B), dtype=dt)  # activated i f g o
        cs = xp.empty((T, H, B), dtype=dt)  # c_t^T
        tanh_c = xp.empty((T, H, B), dtype=dt)
        r_all = xp.zeros((H, T, B), dtype=dt) if w_hr is not None else None
        scale = xp.full((4 * H, 1), 0.5, dtype=dt)
        scale[2 * H:3 * H] = 1.0  # sigma(x) = (1 + tanh(x / 2)) / 2 on i f o, tanh on g: one tanh pass

        def run(lo, hi):  # batch columns lo:hi; the active ones at step t are lo:m
            hT, cT = h0.T[:, lo:hi], c0.T[:, lo:hi]
            for t in _steps(T, self.reverse):
                m = min(hi, max(lo, sizes[t]))
                k = m - lo
                G = gates[t, :, lo:m]
                xp.matmul(w_hh, hT[:, :k], out=G)
                G += xs[t][lo:m].T
                if bcol is not None:
                    G += bcol
                G *= scale
                xp.tanh(G, out=G)
                for blk in (G[:2 * H], G[3 * H:]):
                    blk *= 0.5
                    blk += 0.5
                i, f, g, o = G[:H], G[H:2 * H], G[2 * H:3 * H], G[3 * H:]
                c = cs[t, :, lo:m]
                xp.multiply(f, cT[:, :k], out=c)
                c += i * g
                tc = tanh_c[t, :, lo:m]
                xp.tanh(c, out=tc)
                if w_hr is None:
                    h = o * tc
                else:
                    r = r_all[:, t, lo:m]
                    xp.multiply(o, tc, out=r)
                    h = w_hr @ r
                if m < hi:
                    gates[t, :, m:hi] = 0
                    tanh_c[t, :, m:hi] = 0
                    cs[t, :, m:hi] = cT[:, k:]
                    h = xp.concatenate([h, hT[:, k:]], axis=1)
                hT, cT = h, cs[t, :, lo:hi]
                Z[t, lo:hi, :P] = hT.T
                Z[t, lo:hi, P:] = cT.T

        _batch_blocks(run, xp, B, T * B * 4 * H * P)
        self.saved_a, self.saved_b, self.saved_c, self.saved_d = gates, tanh_c, cs, r_all
        return Z

    def _forward_gru(self, xp, xs, h0, w_hh, bcol, T, B, sizes):
        H = h0.shape[1]
        dt = h0.dtype
        Z = xp.empty((T, B, H), dtype=dt)
        gates = xp.empty((T, 3 * H, B), dtype=dt)  # activated r z n
        hn_all = xp.empty((T, H, B), dtype=dt)  # W_hn h + b_hn
        hs = xp.empty((T, H, B), dtype=dt)  # h_t^T
        gh = xp.empty((3 * H, B), dtype=dt)

        def run(lo, hi):  # batch columns lo:hi; the active ones at step t are lo:m
            hT = h0.T[:, lo:hi]
            for t in _steps(T, self.reverse):
                m = min(hi, max(lo, sizes[t]))
                k = m - lo
                A, Gh = gates[t, :, lo:m], gh[:, lo:m]
                xp.matmul(w_hh, hT[:, :k], out=Gh)
                if bcol is not None:
                    Gh += bcol
                A[...] = xs[t][lo:m].T
                rz = A[:2 * H]
                rz += Gh[:2 * H]
                _sigmoid_(rz, xp)
                hn = hn_all[t, :, lo:m]
                hn[...] = Gh[2 * H:]
                nn_ = A[2 * H:]
                nn_ += A[:H] * hn
                xp.tanh(nn_, out=nn_)
                h = hs[t, :, lo:m]  # h' = n + z (h - n)
                xp.subtract(hT[:, :k], nn_, out=h)
                h *= A[H:2 * H]
                h += nn_
                if m < hi:
                    gates[t, :, m:hi] = 0
                    hn_all[t, :, m:hi] = 0
                    hs[t, :, m:hi] = hT[:, k:]
                hT = hs[t, :, lo:hi]
                Z[t, lo:hi] = hT.T

        _batch_blocks(run, xp, B, T * B * 3 * H * H)
        self.saved_a, self.saved_b, self.saved_c = gates, hn_all, hs
        return Z

    # -- the fused road (float32 NumPy LSTM / GRU) -----------------------------------------
    # Batch-major per-step arrays, (B, G H) as xw and Z: the kernels' inner loops run along
    # contiguous rows, Z is written in place and delta comes out in xw's layout.  Per step:
    # G = h_{t-1} W_hh^T (BLAS) then one kernel; backward: one kernel then dh = delta W_hh.
    def _forward_fused(self, K, xw, h0, c0, w_hh, b_hh, w_hr):
        xw = np.ascontiguousarray(xw)
        gemm = _loop_gemm(K)
        T, B, sizes, xs = self._dims(xw, h0, rows=not gemm)  # (the compiled loops find the rows themselves)
        P, GH = h0.shape[1], w_hh.shape[0]
        lstm = self.mode == "LSTM"
        H = c0.shape[1] if lstm else P
        f32 = np.float32
        S = P + H if lstm else H
        Z = np.empty((T, B, S), f32)
        gates = np.empty((T, B, GH), f32)
        whT = np.ascontiguousarray(w_hh.T)  # (P, G H): h W_hh^T with a contiguous right factor
        bias = np.ascontiguousarray(b_hh) if b_hh is not None else np.zeros(GH, f32)
        h0c = np.ascontiguousarray(np.concatenate([h0, c0], 1) if lstm else h0)  # [h c] entering the first step
        proj = w_hr is not None
        if lstm:
            aux = np.empty((T, B, H), f32)  # tanh(c)
            r_all = np.zeros((T, B, H), f32) if proj else None
            w_hrT = np.ascontiguousarray(w_hr.T) if proj else None
            hbuf = np.empty((B, P), f32) if proj else None
            dummy = np.empty((1, 1), f32)
        else:
            aux = np.empty((T, B, H), f32)  # W_hn h + b_hn
            gh = np.empty((B, GH), f32)

        if gemm:  # all steps of a block in one compiled call (see recurrent_kernels' loops)
            x2 = xw.reshape(-1, GH)
            offs = packed_offsets(sizes) if self.batch_sizes is not None else np.arange(T, dtype=np.int64) * B
            sz, order = np.asarray(sizes, np.int64), np.array(_steps(T, self.reverse), np.int64)
            cuts = _split_cuts(H, T * B * GH * P) if not proj and self.mode in SPLIT_MODES else None
            if cuts is not None:
                yld = K.yield_address()

                def part(sync, p, n, j0, j1):
                    if lstm:
                        K.lstm_forward_split(gemm, yld, sync, p, n, x2, offs, sz, order, whT, bias, h0c, Z, gates,
                                             aux, j0, j1)
                    else:
                        K.gru_forward_split(gemm, yld, sync, p, n, x2, offs, sz, order, whT, bias, h0c, Z, gates,
                                            aux, gh, j0, j1)

                if _run_split(part, cuts):
                    self.saved_a, self.saved_b, self.saved_c = gates, aux, None
                    return Z
            if lstm:
                r3 = r_all if proj else np.empty((1, 1, 1), f32)
                wr = w_hrT if proj else np.empty((1, 1), f32)

                def run(lo, hi):
                    K.lstm_forward_loop(gemm, x2, offs, sz, order, whT, bias, h0c, Z, gates, aux, r3, wr, lo, hi,
                                        proj)
            else:
                def run(lo, hi):
                    K.gru_forward_loop(gemm, x2, offs, sz, order, whT, bias, h0c, Z, gates, aux, gh, lo, hi)

            _batch_blocks(run, np, B, T * B * GH * P, LOOP_PARALLEL_MIN_MACS)
            self.saved_a, self.saved_b = gates, aux
            self.saved_c = r_all if lstm else None
            return Z

        def run(lo, hi):  # batch rows lo:hi; the active ones at step t are lo:m
            prev = h0c
            for t in _steps(T, self.reverse):
                m = min(hi, max(lo, sizes[t]))
                zt = Z[t]
                G = gates[t] if lstm else gh
                if m > lo:
                    np.matmul(prev[lo:m, :P], whT, out=G[lo:m])
                if lstm:
                    r = r_all[t] if proj else dummy
                    K.lstm_forward_step(G, xs[t], bias, prev, zt, aux[t], r, lo, m, hi, proj, 0, H)
                    if proj and m > lo:
                        np.matmul(r[lo:m], w_hrT, out=hbuf[lo:m])
                        zt[lo:m, :P] = hbuf[lo:m]
                else:
                    K.gru_forward_step(G, xs[t], bias, prev, zt, gates[t], aux[t], lo, m, hi, 0, H)
                prev = zt

        _batch_blocks(run, np, B, T * B * GH * P)
        self.saved_a, self.saved_b = gates, aux
        self.saved_c = r_all if lstm else None
        return Z

    def _backward_fused(self, K, gZ):
        args = [t.array for t in self.inputs]
        xw, h0, c0, w_hh, b_hh, w_hr = self._unpack(args)
        T, B, sizes, _ = self._dims(xw, h0, rows=False)
        lstm = self.mode == "LSTM"
        P, GH = h0.shape[1], w_hh.shape[0]
        H = c0.shape[1] if lstm else P
        f32 = np.float32
        gZ = np.ascontiguousarray(gZ, dtype=f32)
        Z, gates, aux = self.out, self.saved_a, self.saved_b
        w = np.ascontiguousarray(w_hh)  # (G H, P)
        h0c = np.ascontiguousarray(np.concatenate([h0, c0], 1) if lstm else h0)
        first = T - 1 if self.reverse else 0
        back = 1 if self.reverse else -1  # the step whose state enters step t is t + back
        delta = np.empty((T, B, GH), f32)  # delta_h (and delta_x but for the GRU)
        dh = np.zeros((B, P), f32)
        proj = w_hr is not None
        if lstm:
            dc = np.zeros((B, H), f32)
            dh_all = np.empty((T, B, P), f32) if proj else None
            drbuf = np.empty((B, H), f32) if proj else np.empty((1, 1), f32)
            w_hr_c = np.ascontiguousarray(w_hr) if proj else None
        else:
            dx = np.empty((T, B, GH), f32)
            carry = np.zeros((B, H), f32)

        need = [t.requires_grad for t in self.inputs]
        k = 3 if lstm else 2
        want_w = need[k] or (self.has_bias and need[k + 1]) or (proj and need[-1])
        # h_{t-1} of step t is Z[t + back, :, :P] (h0 at the first step)

        want_b = self.has_bias and need[k + 1]
        db_all = None  # the bias gradient, when the split loops summed it

        def weights(a, b):  # the weight gradients' sums over steps a:b (not the first step)
            d = delta[a:b].reshape(-1, GH)
            parts = {}
            if need[k]:
                # the states as a strided (rows, P) view of Z: BLAS reads it in place (row stride S)
                parts["w"] = d.T @ Z[a + back:b + back].reshape(-1, Z.shape[2])[:, :P]
            if want_b and db_all is None:
                parts["b"] = d.sum(axis=0)
            if proj and need[-1]:
                parts["r"] = dh_all[a:b].reshape(-1, P).T @ self.saved_c[a:b].reshape(-1, H)
            return parts

        gemm = _loop_gemm(K)
        cuts = None
        if gemm:  # all steps of a block in one compiled call (see recurrent_kernels' loops)
            sz, order = np.asarray(sizes, np.int64), np.array(_steps(T, not self.reverse), np.int64)
            cuts = _split_cuts(H, T * B * GH * P) if not proj and self.mode in SPLIT_MODES else None
            if cuts is not None:
                yld = K.yield_address()
                sums = np.empty((2, len(cuts) - 1, B, P), f32)
                bsum = np.zeros(GH if want_b else 1, f32)  # each thread sums delta's columns it wrote

                def part(sync, p, n, j0, j1):
                    if lstm:
                        K.lstm_backward_split(gemm, yld, sync, p, n, delta, dh, sums, dc, gZ, gates, aux, Z, h0c, w,
                                              sz, order, bsum, j0, j1)
                    else:
                        K.gru_backward_split(gemm, yld, sync, p, n, dx, delta, dh, sums, carry, gZ, gates, aux, Z,
                                             h0c, w, sz, order, bsum, j0, j1)

                if _run_split(part, cuts):
                    db_all = bsum if want_b else None
                else:
                    cuts = None
            if lstm:
                da = dh_all if proj else np.empty((1, 1, 1), f32)
                wr = w_hr_c if proj else np.empty((1, 1), f32)

                def run(lo, hi):
                    K.lstm_backward_loop(gemm, delta, dh, dc, gZ, gates, aux, Z, h0c, w, sz, order, da, wr, drbuf,
                                         lo, hi, proj)
            else:
                def run(lo, hi):
                    K.gru_backward_loop(gemm, dx, delta, dh, carry, gZ, gates, aux, Z, h0c, w, sz, order, lo, hi)

            macs = LOOP_PARALLEL_MIN_MACS
        else:
            macs = PARALLEL_MIN_MACS

            def run(lo, hi):  # batch rows lo:hi; the active ones at step t are lo:m
                for t in _steps(T, not self.reverse):
                    m = min(hi, max(lo, sizes[t]))
                    prev = h0c if t == first else Z[t + back]
                    if lstm:
                        if proj:
                            dh[lo:hi] += gZ[t, lo:hi, :P]
                            dh_all[t, lo:hi] = dh[lo:hi]
                            np.matmul(dh[lo:m], w_hr_c, out=drbuf[lo:m])
                        K.lstm_backward_step(delta[t], dh, dc, gZ[t], gates[t], aux[t], prev, drbuf, lo, m, hi, proj,
                                             0, H)
                    else:
                        K.gru_backward_step(dx[t], delta[t], dh, carry, gZ[t], gates[t], aux[t], prev, lo, m, hi,
                                            0, H)
                    if m > lo:
                        np.matmul(delta[t][lo:m], w, out=dh[lo:m])

        if not (gemm and cuts is not None):  # (else the split loops above ran the steps)
            _batch_blocks(run, np, B, T * B * GH * P, macs)
        acc = {}
        if want_w and T > 1:  # one product over all steps but the first (whose state is h0)
            acc = weights(0, T - 1) if self.reverse else weights(1, T)
        if not lstm:
            dh += carry
        out = [None] * len(self.inputs)
        if need[0]:
            d = delta if lstm else dx
            out[0] = _make(d if self.batch_sizes is None else d.reshape(T * B, GH)[packed_index(sizes, B)])
        if need[1]:
            out[1] = _make(dh)
        if lstm and need[2]:
            out[2] = _make(dc)
        if need[k]:  # dW_hh = sum_t delta_t^T h_{t-1}
            dW = delta[first].T @ h0
            if "w" in acc:
                dW += acc["w"]
            out[k] = _make(dW)
        if want_b:
            db = db_all
            if db is None:
                db = delta[first].sum(axis=0)
                if "b" in acc:
                    db += acc["b"]
            out[k + 1] = _make(db)
        if proj and need[-1]:
            dW_hr = dh_all[first].T @ self.saved_c[first]
            if "r" in acc:
                dW_hr += acc["r"]
            out[-1] = _make(dW_hr)
        return tuple(out)

    # -- backward ----------------------------------------------------------------------
    def backward(self, g):
        if _grad_state.enabled:
            return self._backward_composite(g)
        return self._backward_raw(g.array)

    def _backward_composite(self, g):
        """Differentiate the composite recurrence (recorded: gives second derivatives)."""
        from ..autograd.functional import grad as _grad

        proxies = [clone(t) if t.requires_grad else t for t in self.inputs]
        xw, h0, c0, w_hh, b_hh, w_hr = self._unpack(proxies)
        z = recurrence_reference(self.mode, xw, h0, w_hh, b_hh, c0, w_hr, self.reverse, self.batch_sizes)
        want = [i for i, t in enumerate(self.inputs) if t.requires_grad]
        grads = _grad([z], [proxies[i] for i in want], [g], create_graph=True, allow_unused=True)
        out = [None] * len(self.inputs)
        for i, gi in zip(want, grads):
            out[i] = gi if gi is not None else _make(xp_of(g.array).zeros(self.inputs[i].shape, g.dtype))
        return tuple(out)

    def _prev_states(self, xp, Z, h0, lo, hi):
        """The state entering each step: Z[..., lo:hi] shifted by one step, h0 (or c0) first."""
        prev = xp.empty(Z.shape[:2] + (hi - lo,), dtype=Z.dtype)
        if self.reverse:
            prev[:-1] = Z[1:, :, lo:hi]
            prev[-1] = h0
        else:
            prev[1:] = Z[:-1, :, lo:hi]
            prev[0] = h0
        return prev

    def _backward_raw(self, gZ):
        if self.fused is not None:
            return self._backward_fused(self.fused, gZ)
        args = [t.array for t in self.inputs]
        xw, h0, c0, w_hh, b_hh, w_hr = self._unpack(args)
        xp = xp_of(gZ)
        Z = self.out
        T, B, sizes, _ = self._dims(xw, h0, rows=False)
        dc0 = dW_hr = None
        if self.mode == "LSTM":
            dx, dh0, dc0, dW_hr = self._backward_lstm(xp, gZ, c0, w_hh, w_hr, T, B, sizes)
            dgh = dx
        elif self.mode == "GRU":
            dx, dgh, dh0 = self._backward_gru(xp, gZ, h0, w_hh, T, B, sizes)
        else:
            dx, dh0 = self._backward_rnn(xp, gZ, w_hh, T, B, sizes)
            dgh = dx
        P = h0.shape[1]
        need = [t.requires_grad for t in self.inputs]
        k = 3 if self.mode == "LSTM" else 2
        dgh2 = dgh.reshape(dgh.shape[0], -1)  # (G H, T B): sums over steps are single products
        dW_hh = db_hh = None
        if need[k]:
            dW_hh = np.matmul(dgh2, self._prev_states(xp, Z, h0, 0, P).reshape(-1, P))
        if self.has_bias and need[k + 1]:
            db_hh = dgh2.sum(axis=1)
        out = [_make(self._dx_layout(dx)) if need[0] else None, _make(dh0.T) if need[1] else None]
        if self.mode == "LSTM":
            out.append(_make(dc0.T) if need[2] else None)
        out.append(_make(dW_hh) if dW_hh is not None else None)
        if self.has_bias:
            out.append(_make(db_hh) if db_hh is not None else None)
        if self.has_proj:
            out.append(_make(dW_hr) if need[-1] else None)
        return tuple(out)

    def _backward_rnn(self, xp, gZ, w_hh, T, B, sizes):
        hs = self.saved_a
        H = hs.shape[1]
        delta = xp.empty((H, T, B), dtype=hs.dtype)
        dh = xp.zeros((H, B), dtype=hs.dtype)  # dL/dh^T

        def run(lo, hi):  # batch columns lo:hi; the active ones at step t are lo:m
            for t in _steps(T, not self.reverse):
                m = min(hi, max(lo, sizes[t]))
                dh[:, lo:hi] += gZ[t, lo:hi].T
                d = delta[:, t, lo:m]
                h = hs[t, :, lo:m]
                if self.mode == "RNN_TANH":
                    xp.multiply(h, h, out=d)
                    xp.subtract(1, d, out=d)
                    d *= dh[:, lo:m]
                else:
                    xp.multiply(dh[:, lo:m], h > 0, out=d)
                if m < hi:
                    delta[:, t, m:hi] = 0
                xp.matmul(w_hh.T, d, out=dh[:, lo:m])

        _batch_blocks(run, xp, B, T * B * H * H)
        return delta, dh

    def _backward_lstm(self, xp, gZ, c0, w_hh, w_hr, T, B, sizes):
        gates, tanh_c, cs, r_all = self.saved_a, self.saved_b, self.saved_c, self.saved_d
        H = c0.shape[1]
        P = gZ.shape[2] - H
        dt = gates.dtype
        delta = xp.empty((4 * H, T, B), dtype=dt)
        dh_all = xp.empty((P, T, B), dtype=dt) if w_hr is not None else None
        dh = xp.zeros((P, B), dtype=dt)  # dL/dh^T, dL/dc^T
        dc = xp.zeros((H, B), dtype=dt)
        first = T - 1 if self.reverse else 0

        def run(lo, hi):  # batch columns lo:hi; the active ones at step t are lo:m
            for t in _steps(T, not self.reverse):
                m = min(hi, max(lo, sizes[t]))
                dh[:, lo:hi] += gZ[t, lo:hi, :P].T
                dc[:, lo:hi] += gZ[t, lo:hi, P:].T
                A = gates[t, :, lo:m]
                i, f, g, o = A[:H], A[H:2 * H], A[2 * H:3 * H], A[3 * H:]
                tc = tanh_c[t, :, lo:m]
                if w_hr is not None:
                    dh_all[:, t, lo:hi] = dh[:, lo:hi]
                    dr = w_hr.T @ dh[:, lo:m]
                else:
                    dr = dh[:, lo:m]
                D = delta[:, t, lo:m]
                xp.multiply(dr, tc, out=D[3 * H:])  # dL/do
                dcn = dc[:, lo:m]
                tmp = tc * tc
                xp.subtract(1, tmp, out=tmp)
                tmp *= o
                tmp *= dr
                dcn += tmp
                c_prev = c0.T[:, lo:m] if t == first else cs[t + 1 if self.reverse else t - 1, :, lo:m]
                xp.multiply(dcn, g, out=D[:H])
                xp.multiply(dcn, c_prev, out=D[H:2 * H])
                xp.multiply(dcn, i, out=D[2 * H:3 * H])
                # derivative factors: sigma' = s (1 - s) on i f o, tanh' = 1 - g^2 on g
                fac = A * A
                xp.subtract(A, fac, out=fac)
                xp.subtract(1, g * g, out=fac[2 * H:3 * H])
                D *= fac
                dcn *= f
                if m < hi:
                    delta[:, t, m:hi] = 0
                xp.matmul(w_hh.T, D, out=dh[:, lo:m])

        _batch_blocks(run, xp, B, T * B * 4 * H * P)
        dW_hr = None
        if w_hr is not None:
            dW_hr = np.matmul(dh_all.reshape(P, -1), r_all.reshape(H, -1).T)
        return delta, dh, dc, dW_hr

    def _backward_gru(self, xp, gZ, h0, w_hh, T, B, sizes):
        gates, hn_all, hs = self.saved_a, self.saved_b, self.saved_c
        H = h0.shape[1]
        dt = gates.dtype
        dx = xp.empty((3 * H, T, B), dtype=dt)
        dgh = xp.empty((3 * H, T, B), dtype=dt)
        dh = xp.zeros((H, B), dtype=dt)  # dL/dh^T
        first = T - 1 if self.reverse else 0

        def run(lo, hi):  # batch columns lo:hi; the active ones at step t are lo:m
            for t in _steps(T, not self.reverse):
                m = min(hi, max(lo, sizes[t]))
                dh[:, lo:hi] += gZ[t, lo:hi].T
                A = gates[t, :, lo:m]
                r, z, nn_ = A[:H], A[H:2 * H], A[2 * H:]
                h_prev = h0.T[:, lo:m] if t == first else hs[t + 1 if self.reverse else t - 1, :, lo:m]
                dhn = dh[:, lo:m]
                Dx, Dh = dx[:, t, lo:m], dgh[:, t, lo:m]
                dnp = Dx[2 * H:]  # dL/d(pre-activation of n) = dh (1 - z)(1 - n^2)
                xp.multiply(nn_, nn_, out=dnp)
                xp.subtract(1, dnp, out=dnp)
                dnp *= dhn
                dnp -= dnp * z
                dzp = Dx[H:2 * H]  # dh (h_prev - n) z (1 - z)
                xp.subtract(h_prev, nn_, out=dzp)
                dzp *= dhn
                dzp *= z - z * z
                drp = Dx[:H]  # dn' hn r (1 - r)
                xp.multiply(dnp, hn_all[t, :, lo:m], out=drp)
                drp *= r - r * r
                Dh[:2 * H] = Dx[:2 * H]
                xp.multiply(dnp, r, out=Dh[2 * H:])
                dhn *= z
                if m < hi:
                    dx[:, t, m:hi] = 0
                    dgh[:, t, m:hi] = 0
                dhn += w_hh.T @ Dh

        _batch_blocks(run, xp, B, T * B * 3 * H * H)
        return dx, dgh, dh


def packed_offsets(batch_sizes):
    """Row offset of each step in packed data: offsets[t] = batch_sizes[0] + ... + batch_sizes[t-1]."""
    return np.concatenate([[0], np.cumsum(batch_sizes)[:-1]]).astype(np.int64)


def packed_index(batch_sizes, B):
    """For packed data (time-major, batch_sizes[t] rows at step t), the row of each packed entry in
    the padded (T * B) layout: t * B + b for b < batch_sizes[t]."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    T = len(sizes)
    b = np.arange(B)
    mask = b[None, :] < sizes[:, None]
    return (np.arange(T)[:, None] * B + b[None, :])[mask]


def recurrence(mode, xw, h0, w_hh, b_hh=None, c0=None, w_hr=None, reverse=False, batch_sizes=None):
    """The states Z (T, B, S) of one direction of one recurrent layer from the input projections
    ``xw`` = x W_ih^T + b_ih (T, B, G H); see the module docstring for the formulas and layouts."""
    if mode not in MODES:
        raise ValueError(f"recurrence: unknown mode {mode!r}; expected one of {MODES}")
    if (mode == "LSTM") != (c0 is not None):
        raise ValueError(f"recurrence: the cell state c0 is {'required' if mode == 'LSTM' else 'only'} for LSTM")
    if batch_sizes is not None:
        batch_sizes = tuple(int(b) for b in batch_sizes)
        if sum(batch_sizes) != xw.shape[0] or xw.ndim != 2:
            raise ValueError(f"recurrence: packed input projections of shape {tuple(xw.shape)} do not hold "
                             f"sum(batch_sizes) = {sum(batch_sizes)} rows")
    args = [xw, h0] + ([c0] if c0 is not None else []) + [w_hh]
    args += [t for t in (b_hh, w_hr) if t is not None]
    return Recurrence(mode, reverse, batch_sizes, b_hh is not None, w_hr is not None)(*args)


# --------------------------------------------------------------------------- reference (composite)
def _cell_reference(mode, a, h, c, whT, b_hh, w_hrT):
    """One step in mathdl ops: (h_new, c_new) from a = W_ih x + b_ih and the previous state."""
    gh = matmul(h, whT)
    if b_hh is not None:
        gh = ew.add(gh, b_hh)
    if mode in ("RNN_TANH", "RNN_RELU"):
        pre = ew.add(a, gh)
        return (ew.tanh(pre) if mode == "RNN_TANH" else ew.relu(pre)), None
    H = whT.shape[1] // GATES[mode]
    if mode == "LSTM":
        G = ew.add(a, gh)
        i, f = ew.sigmoid(G[:, :H]), ew.sigmoid(G[:, H:2 * H])
        g, o = ew.tanh(G[:, 2 * H:3 * H]), ew.sigmoid(G[:, 3 * H:])
        c_new = ew.add(ew.mul(f, c), ew.mul(i, g))
        r = ew.mul(o, ew.tanh(c_new))
        return (matmul(r, w_hrT) if w_hrT is not None else r), c_new
    rz = ew.sigmoid(ew.add(a[:, :2 * H], gh[:, :2 * H]))
    r, z = rz[:, :H], rz[:, H:]
    n = ew.tanh(ew.add(a[:, 2 * H:], ew.mul(r, gh[:, 2 * H:])))
    return ew.add(n, ew.mul(z, ew.sub(h, n))), None


def recurrence_reference(mode, xw, h0, w_hh, b_hh=None, c0=None, w_hr=None, reverse=False, batch_sizes=None):
    """:func:`recurrence` composed step by step of differentiable mathdl ops (slow; used for the
    differentiable backward and as the reference in tests)."""
    B = h0.shape[0]
    if batch_sizes is None:
        T, sizes = xw.shape[0], (B,) * xw.shape[0]
        xs = [xw[t] for t in range(T)]
    else:
        T, sizes = len(batch_sizes), batch_sizes
        offsets = packed_offsets(sizes)
        xs = [xw[int(offsets[t]):int(offsets[t]) + sizes[t]] for t in range(T)]
    whT = transpose(w_hh, 0, 1)
    w_hrT = transpose(w_hr, 0, 1) if w_hr is not None else None
    h, c = h0, c0
    outs = [None] * T
    for t in _steps(T, reverse):
        n = sizes[t]
        if n == B:
            h, c = _cell_reference(mode, xs[t], h, c, whT, b_hh, w_hrT)
        else:
            hn, cn = _cell_reference(mode, xs[t], h[:n], c[:n] if c is not None else None, whT, b_hh, w_hrT)
            h = cat([hn, h[n:]], 0)
            c = cat([cn, c[n:]], 0) if c is not None else None
        outs[t] = cat([h, c], 1) if c is not None else h
    return stack(outs, 0)


# --------------------------------------------------------------------------- packing (row gather / scatter)
class TakeRows(Function):
    """y = x[idx] along the first axis for distinct row indices ``idx`` (no accumulation needed);
    its adjoint is :class:`PutRows` with fill 0, and PutRows' adjoint is TakeRows again."""

    __slots__ = ("idx", "n_in")
    saves_inputs = False

    def __init__(self, idx, n_in):
        self.idx, self.n_in = idx, n_in

    def forward(self, x):
        return x[self.idx]

    def backward(self, g):
        return (PutRows(self.idx, self.n_in, 0.0)(g),)


class PutRows(Function):
    """y = an array of ``n_out`` rows filled with ``fill``, with y[idx] = x (distinct ``idx``)."""

    __slots__ = ("idx", "n_out", "fill")
    saves_inputs = False

    def __init__(self, idx, n_out, fill=0.0):
        self.idx, self.n_out, self.fill = idx, n_out, fill

    def forward(self, x):
        out = xp_of(x).full((self.n_out,) + x.shape[1:], self.fill, dtype=x.dtype)
        out[self.idx] = x
        return out

    def backward(self, g):
        return (TakeRows(self.idx, g.shape[0])(g),)


def take_rows(x, idx):
    """x[idx] for an array of distinct row indices (the packing gather)."""
    return TakeRows(idx, x.shape[0])(x)


def put_rows(x, idx, n_out, fill=0.0):
    """Rows of x written at the distinct indices idx of ``n_out`` rows filled with ``fill``."""
    return PutRows(idx, int(n_out), float(fill))(x)
