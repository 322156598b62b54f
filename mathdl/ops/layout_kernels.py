"""Copies into channels-last (NHWC) memory as compiled loops (numba): the layout change between a
channel-major layer (a stem, a strided convolution) and the channels-last Winograd layers after it.

  to_nhwc(a)   out[n, h, w, c] = a[n, c, h, w]   out C-contiguous (N, H, W, C); a any NCHW view whose
                                                  rows a[n, c, h, :] are contiguous (NCHW or
                                                  channel-major (C, N, H, W) memory)
  nhwc_into_cnhw(a, out)   out[c, n, h, w] = a[n, c, h, w]   a an NCHW view of channels-last memory,
                                                  out any (C, N, H, W) view with contiguous rows
                                                  out[c, n, h, :] (a channel-major block, or the
                                                  inside of a padded one): the way back

NumPy copies a transposed view element by element in the destination's order: each of a row's C
channels comes from another plane, one cache line per value read (float32, 2-core machine: 480 us for
(32, 16, 32, 32) from channel-major memory).  The loop here reads each source row once, whole, and
writes its W values C apart into the destination row (n, h), which stays in L1: 164 us on one
thread, 88 us on the OpenMP team's two (mathdl/openmp_team.py: rows (n, h) shared out by prange).
The way back reads the image row (n, h) of all channels, L1-sized, and writes its C rows whole.
A pure copy: the same bits whoever runs it.  Used for float32/float64 NumPy arrays of at least
MIN_ELEMENTS entries when numba is enabled (mathdl.ops.compiled); NumPy's copy otherwise.
"""

from __future__ import annotations

import numpy as np

from . import compiled

__all__ = ["to_nhwc", "nhwc_into_cnhw", "MIN_ELEMENTS"]

MIN_ELEMENTS = 1 << 14  # below, NumPy's copy is as fast and small programs never load numba
# from this many entries the copy runs on the OpenMP team (when the process has one, T >= 2)
TEAM_MIN_ELEMENTS = 1 << 16
_k = None


def _compile():
    from numba import njit, prange

    opts = dict(nogil=True, cache=True)

    @njit(**opts)
    def rows(a, out, r0, r1):  # rows r = n H + h of out (N, H, W, C) from a[n, :, h, :]
        C, H, W = a.shape[1], a.shape[2], a.shape[3]
        for r in range(r0, r1):
            n = r // H
            h = r - n * H
            d = out[n, h]
            for c in range(C):
                s = a[n, c, h]
                for w in range(W):
                    d[w, c] = s[w]

    @njit(parallel=True, **opts)
    def rows_team(a, out):
        N, H = a.shape[0], a.shape[2]
        for r in prange(N * H):
            rows(a, out, r, r + 1)

    @njit(**opts)
    def back(s, out, r0, r1):  # rows r = n H + h: out[c, n, h, :] = s[n, h, :, c], s (N, H, W, C)
        H, W, C = s.shape[1], s.shape[2], s.shape[3]
        for r in range(r0, r1):
            n = r // H
            h = r - n * H
            src = s[n, h]
            for c in range(C):
                d = out[c, n, h]
                for w in range(W):
                    d[w] = src[w, c]

    @njit(parallel=True, **opts)
    def back_team(s, out):
        N, H = s.shape[0], s.shape[1]
        for r in prange(N * H):
            back(s, out, r, r + 1)

    return rows, rows_team, back, back_team


def _usable(a):
    global _k
    if type(a) is not np.ndarray or a.ndim != 4 or a.size < MIN_ELEMENTS or a.dtype not in (np.float32, np.float64):
        return False
    if a.strides[3] != a.itemsize or min(a.strides) < 0:
        return False
    if _k is None:
        _k = _compile() if compiled.enabled() else False
    return _k is not False


def _on_team(size):
    from .. import openmp_team, parallel

    team = parallel.team_threads(size, TEAM_MIN_ELEMENTS)
    if team:
        openmp_team.use_threads(team)
    return bool(team)


def nhwc_into_cnhw(a, out):
    """out[c, n, h, w] = a[n, c, h, w]: ``a`` (N, C, H, W) whose memory is channels-last, ``out`` a
    (C, N, H, W) view whose rows out[c, n, h, :] are contiguous (the same dtype)."""
    s = a.transpose(0, 2, 3, 1)
    if not (s.flags.c_contiguous and _usable(out) and out.dtype == a.dtype and out.strides[3] == out.itemsize):
        out[...] = a.transpose(1, 0, 2, 3)
        return out
    N, H = s.shape[0], s.shape[1]
    if _on_team(a.size):
        _k[3](s, out)
    else:
        _k[2](s, out, 0, N * H)
    return out


def to_nhwc(a):
    """A C-contiguous (N, H, W, C) copy of the (N, C, H, W) array ``a``."""
    N, C, H, W = a.shape
    if not _usable(a):
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
    out = np.empty((N, H, W, C), a.dtype)
    if _on_team(a.size):
        _k[1](a, out)
    else:
        _k[0](a, out, 0, N * H)
    return out
