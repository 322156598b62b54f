"""Batch norm over channels-last memory: an (L, C) row block, L = N H W, C channels contiguous in a row.

Convolutions that write NHWC memory return an (N, C, H, W) array whose transpose (0, 2, 3, 1) is
C-contiguous: viewed as x (L, C), each channel is a column.  These loops visit the rows in order
with the inner loop over contiguous entries of a row, keeping per-channel sums in float64 (as
PyTorch's CPU kernel):

  forward   per chunk k of n_k rows:   m_k = sum_i x_ic / n_k,   M_k = sum_i (x_ic - m_k)^2
            combined (the exact two-pass variance, sum_i (x_ic - mu)^2 split by chunks):
              mu = sum_k n_k m_k / L,   var = (sum_k M_k + n_k (m_k - mu)^2) / L,   rstd = 1 / sqrt(var + eps)
            y = (x - mu) (rstd w) + b  (= w xhat + b),   max(y, 0) when fused with relu (NaN kept)
  backward  xhat = (x - mu) rstd from x (as PyTorch, which saves x, mean and rstd: the forward
            writes y only);  g' = g [not y <= 0] with relu (NaN passes, as torch), else g, where the
            compiled loops recompute y from x with the forward's own operations on the same
            coefficients (the same y bit for bit, one array less to read);
            sg = sum_i g'_ic,   sgx = rstd sum_i g'_ic (x_ic - mu)   (per chunk, summed in chunk order),
            scale = w rstd,   gx = g' scale - (x - mu) rstd (sgx scale / L) - sg scale / L

Short rows (C = 16 floats) leave a vectorized inner loop in its scalar remainder, so the loops run
over tiles of m consecutive rows (m C entries, contiguous) against per-channel coefficient rows
(mu, rstd w, b; the backward's scale and its two corrections) repeated to the tile's length.  The
sums keep one float64 accumulator per tile entry (folded per channel at the end of a chunk) and
add a group of whole tiles in the data's dtype per update; M_k is taken about m_k rounded to the
data's dtype, mf, and corrected exactly: sum (x - mf)^2 = M_k + n_k (m_k - mf)^2.  relu and plain
passes are separate loops (no mode test left inside a loop for LLVM to unswitch).

The rows are cut into fixed chunks of ``chunk_rows(C)`` rows (about CHUNK_ENTRIES entries, read
from L1/L2 by the second statistics pass).  The chunking does not depend on the thread count and
partial sums are combined in chunk order, so results are the same bit for bit whichever thread ran
which chunk and at any number of threads.  Callers split the chunk range [0, K) over threads
(mathdl.parallel.for_ranges; every pass takes a chunk range lo:hi), or run a whole serial forward
or backward as one compiled call (forward_all, backward_all: the same loops).

Each pass has a compiled loop (numba: cache=True, nogil=True, no closure cells, no allocation
inside) and a NumPy version of the same formulas (relu's mask read from y), used when numba is
missing or MATHDL_NO_NUMBA=1 (mathdl.ops.compiled), for arrays below MIN_ELEMENTS entries and for
other dtypes; the two differ by float rounding only (the NumPy sums are pairwise).  The compiled
loops use no fast-math flags (IEEE arithmetic in the written order, NaN and infinity included).
"""

from __future__ import annotations

import numpy as np

from .. import openmp_team
from . import compiled

__all__ = ["available", "usable", "tile_rows", "chunk_rows", "num_chunks", "partials", "coefficients", "MIN_ELEMENTS",
           "CHUNK_ENTRIES", "TILE_ENTRIES", "APPLY_TILE_ENTRIES", "forward_stats", "forward_combine", "forward_apply",
           "backward_sums", "backward_combine", "backward_apply", "forward_all", "backward_all",
           "kernels"]

_k = None
_fold = _fwd_stats = _fwd_combine = _fwd_apply = None  # compiled in _compile
_bwd_sums = _bwd_sums_relu = _bwd_combine = _bwd_apply = _bwd_apply_relu = None

# Entries per chunk of rows (float32: 32 KiB); a chunk holds at least one tile of rows.
CHUNK_ENTRIES = 8192
# Entries per tile of the sums (at least: the vectorized inner loop's length).
TILE_ENTRIES = 128
# Entries per tile of the elementwise passes (their coefficient rows, (k, M C)): longer tiles
# amortize the per-tile overlap tests of the slices; the sums' tiles stay short, their float64
# accumulators (one per tile entry and chunk) being read and written once per group of tiles.
APPLY_TILE_ENTRIES = 1024
# Below this many entries the NumPy code runs (a small program never loads numba), as row_kernels.
MIN_ELEMENTS = 8192


def available():
    """Whether the compiled loops can be used (numba importable, not disabled by MATHDL_NO_NUMBA)."""
    global _k
    if _k is None:
        _k = _compile() if compiled.enabled() else False
    return _k is not False


def usable(*arrays):
    """The compiled loops apply: at least MIN_ELEMENTS entries, numba present, and every array a
    C-contiguous NumPy float32/float64 array of one dtype."""
    if arrays[0].size < MIN_ELEMENTS or not available():
        return False
    dt = arrays[0].dtype
    return dt in (np.float32, np.float64) and all(
        type(a) is np.ndarray and a.dtype == dt and a.flags.c_contiguous for a in arrays)


def tile_rows(C, entries=TILE_ENTRIES):
    """Rows per tile for C channels: the least m with m C >= ``entries``."""
    return max(1, -(-entries // max(int(C), 1)))


def chunk_rows(C):
    """Rows per chunk for C channels: a multiple of tile_rows(C), about CHUNK_ENTRIES entries."""
    m = tile_rows(C)
    return m * max(1, CHUNK_ENTRIES // (m * max(int(C), 1)))


def num_chunks(L, rows):
    """Chunks of ``rows`` rows covering L rows."""
    return -(-int(L) // rows)


def partials(L, C):
    """(rows per chunk, two float64 (K, m C) arrays for a pass's per-chunk partial sums)."""
    rows = chunk_rows(C)
    K = num_chunks(L, rows)
    T = tile_rows(C) * C
    return rows, np.empty((K, T)), np.empty((K, T))


def coefficients(k, C, dtype):
    """An empty (k, M C) array of per-channel coefficients repeated M = tile_rows(C, APPLY_TILE_ENTRIES) times."""
    return np.empty((k, tile_rows(C, APPLY_TILE_ENTRIES) * C), dtype)


def _compile():
    from numba import njit

    # module globals, not closure cells: numba's cache keys a closure's cells (a dispatcher there
    # differs per process), and the fused loops below call these
    global _fold, _fwd_stats, _fwd_combine, _fwd_apply, _bwd_sums, _bwd_sums_relu, _bwd_combine, _bwd_apply
    global _bwd_apply_relu

    # No fast-math flags: the loops vectorize across a tile's entries without reassociating any sum,
    # so every result is fixed by the written order of operations, whether a loop runs alone (a
    # thread's chunks) or inlined in forward_all / backward_all, and relu's recomputed y is the
    # forward's bit for bit.
    opts = dict(cache=True, nogil=True, error_model="numpy")

    @njit(**opts)
    def _fold(s1, s2, C, m):  # s[c] <- sum_j s[j C + c]: a chunk's per-tile-entry sums per channel
        for c in range(C):
            v1 = s1[c]
            v2 = s2[c]
            for j in range(1, m):
                v1 += s1[j * C + c]
                v2 += s2[j * C + c]
            s1[c], s2[c] = v1, v2

    # x, y, g, gx below are the flat (L C,) views of (L, C) blocks; partials are (K, m C) float64, the
    # coefficient rows (k, M C).  The tile loops index slices with a loop counter from 0 (provably
    # non-negative: no wraparound test per entry, which kept the loops scalar).
    @njit(**opts)
    def _fwd_stats(x, C, m, rows, lo, hi, psum, pm2):  # psum[k, :C] = m_k, pm2[k, :C] = M_k of chunk k
        L = x.size // C
        T = m * C
        G = 8 * T  # eight whole tiles summed in x's dtype per update of the float64 sums
        for k in range(lo, hi):
            ps = psum[k]
            p2 = pm2[k]
            e0 = k * rows * C
            e1 = min(L, (k + 1) * rows) * C
            eg = e0 + (e1 - e0) // G * G
            for t in range(T):
                ps[t] = 0.0
                p2[t] = 0.0
            for b0 in range(e0, eg, G):
                x0, x1, x2, x3 = x[b0:b0 + T], x[b0 + T:b0 + 2 * T], x[b0 + 2 * T:b0 + 3 * T], x[b0 + 3 * T:b0 + 4 * T]
                x4, x5, x6, x7 = (x[b0 + 4 * T:b0 + 5 * T], x[b0 + 5 * T:b0 + 6 * T], x[b0 + 6 * T:b0 + 7 * T],
                                  x[b0 + 7 * T:b0 + 8 * T])
                for t in range(T):
                    ps[t] += np.float64(((x0[t] + x1[t]) + (x2[t] + x3[t])) + ((x4[t] + x5[t]) + (x6[t] + x7[t])))
            for b0 in range(eg, e1, T):  # then one (possibly short) tile at a time
                x0 = x[b0:min(e1, b0 + T)]
                for t in range(x0.size):
                    ps[t] += x0[t]
            for c in range(C):  # the chunk's mean, repeated over the tile
                v = 0.0
                for j in range(m):
                    v += ps[j * C + c]
                mean = v * C / (e1 - e0)
                for j in range(m):
                    ps[j * C + c] = mean
            # deviations from mf = the mean rounded to x's dtype: sum (x - mf)^2 = M_k + n_k (m_k - mf)^2
            for b0 in range(e0, eg, G):
                x0, x1, x2, x3 = x[b0:b0 + T], x[b0 + T:b0 + 2 * T], x[b0 + 2 * T:b0 + 3 * T], x[b0 + 3 * T:b0 + 4 * T]
                x4, x5, x6, x7 = (x[b0 + 4 * T:b0 + 5 * T], x[b0 + 5 * T:b0 + 6 * T], x[b0 + 6 * T:b0 + 7 * T],
                                  x[b0 + 7 * T:b0 + 8 * T])
                for t in range(T):
                    mt = x.dtype.type(ps[t])
                    d0, d1, d2, d3 = x0[t] - mt, x1[t] - mt, x2[t] - mt, x3[t] - mt
                    d4, d5, d6, d7 = x4[t] - mt, x5[t] - mt, x6[t] - mt, x7[t] - mt
                    p2[t] += np.float64(((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)) +
                                        ((d4 * d4 + d5 * d5) + (d6 * d6 + d7 * d7)))
            for b0 in range(eg, e1, T):
                x0 = x[b0:min(e1, b0 + T)]
                for t in range(x0.size):
                    d = x0[t] - x.dtype.type(ps[t])
                    p2[t] += d * d
            n = (e1 - e0) // C
            for c in range(C):
                v = p2[c]
                for j in range(1, m):
                    v += p2[j * C + c]
                dm = ps[c] - x.dtype.type(ps[c])
                p2[c] = v - n * (dm * dm)

    @njit(**opts)
    def _fwd_combine(psum, pm2, C, m, rows, L, eps, w, b, stats, coef):
        # stats (3, C) = mu, var, rstd; coef (3, m C) = mu, rstd w, b repeated m times, in x's dtype
        K = psum.shape[0]
        ok = True  # every scale rstd w and shift b - mu rstd w finite (else PyTorch's order, by the caller)
        for c in range(C):
            s = 0.0
            for k in range(K):
                s += psum[k, c] * (min(L, (k + 1) * rows) - k * rows)
            mu = s / L
            m2 = 0.0
            for k in range(K):
                nk = min(L, (k + 1) * rows) - k * rows
                d = psum[k, c] - mu
                m2 += pm2[k, c] + nk * (d * d)
            var = m2 / L
            r = 1.0 / np.sqrt(var + eps)
            stats[0, c], stats[1, c], stats[2, c] = mu, var, r
            coef[0, c], coef[1, c], coef[2, c] = mu, r * w[c], b[c]
            if not (np.isfinite(coef[1, c]) and np.isfinite(coef[2, c] - coef[0, c] * coef[1, c])):
                ok = False
            for j in range(m):
                t = j * C + c
                coef[0, t], coef[1, t], coef[2, t] = mu, r * w[c], b[c]
        return ok

    # relu's clamp is a select against lo_y = 0 (relu) or -inf (none): no test of a mode in the loops.

    @njit(**opts)
    def _fwd_apply(x, C, coef, lo_y, rows, lo, hi, y):  # coef rows 0..2 = mu, rstd w, b
        L = x.size // C
        T = coef.shape[1]
        mu, rw, b = coef[0], coef[1], coef[2]
        for k in range(hi - 1, lo - 1, -1):  # last chunk first: the statistics pass read it last
            e1 = min(L, (k + 1) * rows) * C
            for b0 in range(k * rows * C, e1, T):  # tiles (the last may be short)
                b1 = min(e1, b0 + T)
                xs, yo = x[b0:b1], y[b0:b1]
                for t in range(b1 - b0):
                    v = (xs[t] - mu[t]) * rw[t] + b[t]
                    yo[t] = v if not (v <= lo_y) else lo_y

    # The backward's loops come in pairs: plain, and with relu's mask g' = g where not y <= 0 for y
    # recomputed as (x - mu) (rstd w) + b, the forward's own operations on the same coefficients (so
    # the same y, without reading it).  coef rows: mu, rstd w, b (the forward's), then scale,
    # rstd sgx scale / L, sg scale / L (backward_combine); the sums use the first m C entries.
    @njit(**opts)
    def _bwd_sums(g, x, C, m, coef, rows, lo, hi, psg, psgx):  # psg[k, :C] = sum g, psgx[k, :C] = sum g (x - mu)
        L = g.size // C
        T = m * C
        G = 4 * T  # four whole tiles summed in g's dtype per update of the float64 sums
        mu = coef[0]
        for k in range(lo, hi):
            s1 = psg[k]
            s2 = psgx[k]
            for t in range(T):
                s1[t] = 0.0
                s2[t] = 0.0
            e0 = k * rows * C
            e1 = min(L, (k + 1) * rows) * C
            eg = e0 + (e1 - e0) // G * G
            for b0 in range(e0, eg, G):
                g0, g1, g2, g3 = g[b0:b0 + T], g[b0 + T:b0 + 2 * T], g[b0 + 2 * T:b0 + 3 * T], g[b0 + 3 * T:b0 + 4 * T]
                x0, x1, x2, x3 = x[b0:b0 + T], x[b0 + T:b0 + 2 * T], x[b0 + 2 * T:b0 + 3 * T], x[b0 + 3 * T:b0 + 4 * T]
                for t in range(T):
                    mt = mu[t]
                    a0, a1, a2, a3 = g0[t], g1[t], g2[t], g3[t]
                    s1[t] += np.float64((a0 + a1) + (a2 + a3))
                    s2[t] += np.float64((a0 * (x0[t] - mt) + a1 * (x1[t] - mt)) +
                                        (a2 * (x2[t] - mt) + a3 * (x3[t] - mt)))
            for b0 in range(eg, e1, T):
                b1 = min(e1, b0 + T)
                gs, xs = g[b0:b1], x[b0:b1]
                for t in range(b1 - b0):
                    s1[t] += gs[t]
                    s2[t] += gs[t] * (xs[t] - mu[t])
            _fold(s1, s2, C, m)

    @njit(**opts)
    def _bwd_sums_relu(g, x, C, m, coef, rows, lo, hi, psg, psgx):  # the same sums of g' = g [not y <= 0]
        L = g.size // C
        T = m * C
        G = 4 * T
        z = g.dtype.type(0.0)
        mu, rw, bb = coef[0], coef[1], coef[2]
        for k in range(lo, hi):
            s1 = psg[k]
            s2 = psgx[k]
            for t in range(T):
                s1[t] = 0.0
                s2[t] = 0.0
            e0 = k * rows * C
            e1 = min(L, (k + 1) * rows) * C
            eg = e0 + (e1 - e0) // G * G
            for b0 in range(e0, eg, G):
                g0, g1, g2, g3 = g[b0:b0 + T], g[b0 + T:b0 + 2 * T], g[b0 + 2 * T:b0 + 3 * T], g[b0 + 3 * T:b0 + 4 * T]
                x0, x1, x2, x3 = x[b0:b0 + T], x[b0 + T:b0 + 2 * T], x[b0 + 2 * T:b0 + 3 * T], x[b0 + 3 * T:b0 + 4 * T]
                for t in range(T):
                    mt, rt, bt = mu[t], rw[t], bb[t]
                    d0, d1, d2, d3 = x0[t] - mt, x1[t] - mt, x2[t] - mt, x3[t] - mt
                    a0 = g0[t] if not (d0 * rt + bt <= z) else z
                    a1 = g1[t] if not (d1 * rt + bt <= z) else z
                    a2 = g2[t] if not (d2 * rt + bt <= z) else z
                    a3 = g3[t] if not (d3 * rt + bt <= z) else z
                    s1[t] += np.float64((a0 + a1) + (a2 + a3))
                    s2[t] += np.float64((a0 * d0 + a1 * d1) + (a2 * d2 + a3 * d3))
            for b0 in range(eg, e1, T):
                b1 = min(e1, b0 + T)
                gs, xs = g[b0:b1], x[b0:b1]
                for t in range(b1 - b0):
                    d = xs[t] - mu[t]
                    gj = gs[t] if not (d * rw[t] + bb[t] <= z) else z
                    s1[t] += gj
                    s2[t] += gj * d
            _fold(s1, s2, C, m)

    @njit(**opts)
    def _bwd_combine(psg, psgx, scale, rstd, L, sums, coef):
        # sums (2, C) = sg, sgx (= rstd sum g' (x - mu)); coef rows 3..5 = scale, rstd sgx scale / L,
        # sg scale / L repeated, in g's dtype
        K = psg.shape[0]
        C = sums.shape[1]
        M = coef.shape[1] // C
        ok = True  # every scale finite
        for c in range(C):
            s = 0.0
            sx = 0.0
            for k in range(K):
                s += psg[k, c]
                sx += psgx[k, c]
            sx *= rstd[c]
            sums[0, c], sums[1, c] = s, sx
            sc = scale[c]
            if not np.isfinite(sc):
                ok = False
            for j in range(M):
                t = j * C + c
                coef[3, t], coef[4, t], coef[5, t] = sc, rstd[c] * (sx * sc / L), s * sc / L
        return ok

    @njit(**opts)
    def _bwd_apply(g, x, C, coef, rows, lo, hi, gx):  # gx = g scale - (x - mu) rstd a - c
        L = g.size // C
        T = coef.shape[1]
        mu, sc, ra, c0 = coef[0], coef[3], coef[4], coef[5]
        for k in range(hi - 1, lo - 1, -1):  # last chunk first: the sums' pass read it last
            e1 = min(L, (k + 1) * rows) * C
            for b0 in range(k * rows * C, e1, T):
                b1 = min(e1, b0 + T)
                gs, xs, out = g[b0:b1], x[b0:b1], gx[b0:b1]
                for t in range(b1 - b0):
                    out[t] = gs[t] * sc[t] - (xs[t] - mu[t]) * ra[t] - c0[t]

    @njit(**opts)
    def _bwd_apply_relu(g, x, C, coef, rows, lo, hi, gx):  # the same with g' = g [not y <= 0]
        L = g.size // C
        T = coef.shape[1]
        z = g.dtype.type(0.0)
        mu, rw, bb, sc, ra, c0 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
        for k in range(hi - 1, lo - 1, -1):
            e1 = min(L, (k + 1) * rows) * C
            for b0 in range(k * rows * C, e1, T):
                b1 = min(e1, b0 + T)
                gs, xs, out = g[b0:b1], x[b0:b1], gx[b0:b1]
                for t in range(b1 - b0):
                    d = xs[t] - mu[t]
                    gj = gs[t] if not (d * rw[t] + bb[t] <= z) else z
                    out[t] = gj * sc[t] - d * ra[t] - c0[t]

    # One call for a whole serial pass (no thread split): the same loops over every chunk.
    @njit(**opts)
    def fwd_all(x, C, m, rows, L, eps, w, b, lo_y, psum, pm2, stats, coef, y):
        K = psum.shape[0]
        _fwd_stats(x, C, m, rows, 0, K, psum, pm2)
        ok = _fwd_combine(psum, pm2, C, coef.shape[1] // C, rows, L, eps, w, b, stats, coef)
        _fwd_apply(x, C, coef, lo_y, rows, 0, K, y)
        return ok

    @njit(**opts)
    def bwd_all(g, x, C, m, coef, rows, relu, scale, rstd, L, psg, psgx, sums, need_gx, gx):
        K = psg.shape[0]
        if relu:
            _bwd_sums_relu(g, x, C, m, coef, rows, 0, K, psg, psgx)
        else:
            _bwd_sums(g, x, C, m, coef, rows, 0, K, psg, psgx)
        ok = _bwd_combine(psg, psgx, scale, rstd, L, sums, coef)
        if need_gx:
            if relu:
                _bwd_apply_relu(g, x, C, coef, rows, 0, K, gx)
            else:
                _bwd_apply(g, x, C, coef, rows, 0, K, gx)
        return ok

    # The same on T threads of the OpenMP team (mathdl/openmp_team.py): each chunk's loops as above,
    # chunks shared out by prange, the combine between on the calling thread.
    from numba import prange

    popts = dict(opts, parallel=True)

    @njit(**popts)
    def fwd_team(x, C, m, rows, L, eps, w, b, lo_y, psum, pm2, stats, coef, y):
        K = psum.shape[0]
        for k in prange(K):
            _fwd_stats(x, C, m, rows, k, k + 1, psum, pm2)
        ok = _fwd_combine(psum, pm2, C, coef.shape[1] // C, rows, L, eps, w, b, stats, coef)
        for k in prange(K):
            _fwd_apply(x, C, coef, lo_y, rows, k, k + 1, y)
        return ok

    @njit(**popts)
    def bwd_team(g, x, C, m, coef, rows, relu, scale, rstd, L, psg, psgx, sums, need_gx, gx):
        K = psg.shape[0]
        if relu:
            for k in prange(K):
                _bwd_sums_relu(g, x, C, m, coef, rows, k, k + 1, psg, psgx)
        else:
            for k in prange(K):
                _bwd_sums(g, x, C, m, coef, rows, k, k + 1, psg, psgx)
        ok = _bwd_combine(psg, psgx, scale, rstd, L, sums, coef)
        if need_gx:
            if relu:
                for k in prange(K):
                    _bwd_apply_relu(g, x, C, coef, rows, k, k + 1, gx)
            else:
                for k in prange(K):
                    _bwd_apply(g, x, C, coef, rows, k, k + 1, gx)
        return ok

    return {"fwd_stats": _fwd_stats, "fwd_combine": _fwd_combine, "fwd_apply": _fwd_apply, "bwd_sums": _bwd_sums,
            "bwd_sums_relu": _bwd_sums_relu, "bwd_combine": _bwd_combine, "bwd_apply": _bwd_apply,
            "bwd_apply_relu": _bwd_apply_relu, "fwd_all": fwd_all, "bwd_all": bwd_all, "fwd_team": fwd_team,
            "bwd_team": bwd_team}


def kernels():
    """The compiled dispatchers by name (None without numba): for the kernel-cache test."""
    return _k if available() else None


# --------------------------------------------------------------------------- NumPy versions
def _blocks(a, rows, lo, hi):
    """(k0, block) pairs covering chunks lo:hi of the rows of ``a``: the full chunks as one
    (count, rows, C) view, then the last, shorter chunk as a (1, n, C) view."""
    L, C = a.shape
    r0, r1 = lo * rows, min(L, hi * rows)
    full = (r1 - r0) // rows
    out = []
    if full:
        out.append((lo, a[r0:r0 + full * rows].reshape(full, rows, C)))
    if r0 + full * rows < r1:
        out.append((lo + full, a[r0 + full * rows:r1][None]))
    return out


def _stats_np(x, rows, lo, hi, psum, pm2):
    C = x.shape[1]
    for k0, blk in _blocks(x, rows, lo, hi):
        k1 = k0 + blk.shape[0]
        mean = blk.sum(axis=1, dtype=np.float64) / blk.shape[1]
        psum[k0:k1, :C] = mean
        d = blk - mean[:, None, :]
        pm2[k0:k1, :C] = np.einsum("krc,krc->kc", d, d)


@np.errstate(invalid="ignore", over="ignore")
def _combine_np(psum, pm2, rows, L, eps, w, b, stats, coef):
    K, C = psum.shape[0], stats.shape[1]
    nk = (np.minimum(L, (np.arange(K) + 1) * rows) - np.arange(K) * rows).astype(np.float64)[:, None]
    mean = psum[:, :C]
    mu = (mean * nk).sum(axis=0) / L
    d = mean - mu
    var = (pm2[:, :C].sum(axis=0) + (nk * (d * d)).sum(axis=0)) / L
    stats[0], stats[1], stats[2] = mu, var, 1.0 / np.sqrt(var + eps)
    for i, v in enumerate((stats[0], stats[2] * w, b)):
        coef[i] = np.tile(v, coef.shape[1] // C)
    return bool(np.isfinite(coef[1]).all() and np.isfinite(coef[2] - coef[0] * coef[1]).all())


def _centred_np(x, mu, r0, r1):
    return x[r0:r1] - mu[:x.shape[1]]


@np.errstate(invalid="ignore", over="ignore")  # infinite weights: inf - inf as in the compiled loops, silently
def _apply_np(x, coef, relu, rows, lo, hi, y):
    C = x.shape[1]
    r0, r1 = lo * rows, min(x.shape[0], hi * rows)
    ys = y[r0:r1]
    np.multiply(_centred_np(x, coef[0], r0, r1), coef[1, :C], out=ys)
    ys += coef[2, :C]
    if relu:
        np.maximum(ys, 0, out=ys)


def _masked(g, y, relu, r0, r1):
    """g' = g [not y <= 0] with relu (NaN passes, as torch's threshold_backward), else g."""
    return g[r0:r1] * ~(y[r0:r1] <= 0) if relu else g[r0:r1]


def _bwd_sums_np(g, x, y, relu, coef, rows, lo, hi, psg, psgx):
    C = g.shape[1]
    r0, r1 = lo * rows, min(g.shape[0], hi * rows)
    gm = _masked(g, y, relu, r0, r1)
    xh = _centred_np(x, coef[0], r0, r1)
    for (k0, gb), (_, hb) in zip(_blocks(gm, rows, 0, hi - lo), _blocks(xh, rows, 0, hi - lo)):
        k = lo + k0
        psg[k:k + gb.shape[0], :C] = gb.sum(axis=1, dtype=np.float64)
        psgx[k:k + gb.shape[0], :C] = np.einsum("krc,krc->kc", gb, hb, dtype=np.float64)


@np.errstate(invalid="ignore", over="ignore")
def _bwd_combine_np(psg, psgx, scale, rstd, L, sums, coef):
    C = sums.shape[1]
    sums[0], sums[1] = psg[:, :C].sum(axis=0), psgx[:, :C].sum(axis=0) * rstd
    for i, v in enumerate((scale, rstd * (sums[1] * scale / L), sums[0] * scale / L)):
        coef[3 + i] = np.tile(v, coef.shape[1] // C)
    return bool(np.isfinite(scale).all())


@np.errstate(invalid="ignore", over="ignore")
def _bwd_apply_np(g, x, y, relu, coef, rows, lo, hi, gx):
    C = g.shape[1]
    r0, r1 = lo * rows, min(g.shape[0], hi * rows)
    out = gx[r0:r1]
    np.multiply(_masked(g, y, relu, r0, r1), coef[3, :C], out=out)
    out -= _centred_np(x, coef[0], r0, r1) * coef[4, :C]
    out -= coef[5, :C]


# --------------------------------------------------------------------------- entry points
# x, y, g, gx: C-contiguous (L, C) blocks; rows per chunk, psum, pm2, psg, psgx from partials(L, C);
# coef from coefficients(k, C, dtype); fast: the compiled loops (see usable), else the NumPy versions.
def forward_stats(x, rows, lo, hi, psum, pm2, fast):
    """Chunks lo:hi of x: psum[k, :C] = the chunk's mean m_k, pm2[k, :C] = M_k."""
    if fast:
        C = x.shape[1]
        _k["fwd_stats"](x.reshape(-1), C, psum.shape[1] // C, rows, lo, hi, psum, pm2)
    else:
        _stats_np(x, rows, lo, hi, psum, pm2)


def forward_combine(psum, pm2, rows, L, eps, w, b, stats, coef, fast):
    """stats (3, C) float64 = (mu, biased var, rstd) from the chunks' partials; coef rows 0..2 =
    (mu, rstd w, b) repeated, for forward_apply (w, b: (C,) arrays in x's dtype).  Returns whether
    every scale rstd w and shift b - mu rstd w is finite."""
    if fast:
        C = stats.shape[1]
        return _k["fwd_combine"](psum, pm2, C, coef.shape[1] // C, rows, L, float(eps), w, b, stats, coef)
    return _combine_np(psum, pm2, rows, L, float(eps), w, b, stats, coef)


def forward_apply(x, coef, relu, rows, lo, hi, y, fast):
    """Rows of chunks lo:hi: y = (x - mu) (rstd w) + b (max(y, 0) with ``relu``, NaN kept)."""
    if fast:
        _k["fwd_apply"](x.reshape(-1), x.shape[1], coef, x.dtype.type(0 if relu else -np.inf), rows, lo, hi,
                        y.reshape(-1))
    else:
        _apply_np(x, coef, relu, rows, lo, hi, y)


def backward_sums(g, x, y, relu, coef, rows, lo, hi, psg, psgx, fast):
    """Chunks lo:hi: psg[k, :C] = sum g', psgx[k, :C] = sum g' (x - mu); g' = g [not y <= 0] with
    ``relu`` (compiled: y recomputed from x and coef; NumPy: the given y), else g."""
    if fast:
        C = g.shape[1]
        _k["bwd_sums_relu" if relu else "bwd_sums"](g.reshape(-1), x.reshape(-1), C, psg.shape[1] // C, coef, rows, lo,
                                                   hi, psg, psgx)
    else:
        _bwd_sums_np(g, x, y, relu, coef, rows, lo, hi, psg, psgx)


def backward_combine(psg, psgx, scale, rstd, L, sums, coef, fast):
    """sums (2, C) float64 = (sg, sgx = rstd sum g' (x - mu)); fills rows 3..5 of coef (the forward's,
    coefficients(6, ...)) with scale, rstd sgx scale / L, sg scale / L (scale = w rstd; rstd (C,)).
    Returns whether every scale is finite."""
    return (_k["bwd_combine"] if fast else _bwd_combine_np)(psg, psgx, scale.astype(np.float64), rstd, L, sums, coef)


def backward_apply(g, x, y, relu, coef, rows, lo, hi, gx, fast):
    """Rows of chunks lo:hi: gx = g' scale - (x - mu) rstd (sgx scale / L) - sg scale / L (g' as backward_sums)."""
    if fast:
        _k["bwd_apply_relu" if relu else "bwd_apply"](g.reshape(-1), x.reshape(-1), g.shape[1], coef, rows, lo, hi,
                                                     gx.reshape(-1))
    else:
        _bwd_apply_np(g, x, y, relu, coef, rows, lo, hi, gx)


def forward_all(x, rows, eps, w, b, relu, psum, pm2, stats, coef, y, threads=1):
    """forward_stats, forward_combine and forward_apply over every chunk in one compiled call: serial,
    or on ``threads`` > 1 threads of the OpenMP team (the same chunks, the same results); returns
    forward_combine's finiteness."""
    C = x.shape[1]
    args = (x.reshape(-1), C, psum.shape[1] // C, rows, x.shape[0], float(eps), w, b,
            x.dtype.type(0 if relu else -np.inf), psum, pm2, stats, coef, y.reshape(-1))
    if threads > 1:
        openmp_team.use_threads(threads)
        return _k["fwd_team"](*args)
    return _k["fwd_all"](*args)


def backward_all(g, x, relu, coef, rows, scale, rstd, psg, psgx, sums, gx, threads=1):
    """backward_sums, backward_combine and (with ``gx``) backward_apply over every chunk in one compiled
    call (relu's mask recomputed from x): serial, or on ``threads`` > 1 threads of the OpenMP team;
    returns backward_combine's finiteness."""
    C = g.shape[1]
    need = gx is not None
    args = (g.reshape(-1), x.reshape(-1), C, psg.shape[1] // C, coef, rows, bool(relu), scale.astype(np.float64),
            rstd, g.shape[0], psg, psgx, sums, need, gx.reshape(-1) if need else g.reshape(-1)[:0])
    if threads > 1:
        openmp_team.use_threads(threads)
        return _k["bwd_team"](*args)
    return _k["bwd_all"](*args)
