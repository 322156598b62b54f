"""Compiled loops (numba) of F(4x4, 3x3)'s transforms on channels-last (NHWC) data, vectorised
over the channels (mathdl/ops/winograd.py's channels-last road).

The formulas are winograd_kernels.py's (B^T, A^T and A of F(4x4, 3x3), Lavin & Gray 2016):

    V[p, 6 a + b, c]  = (B^T d B)[a, b]   d the 6x6 input tile of block p, channel c
    out[., 4 t + a, 4 s + b, o] = (A^T M[p, :, o] A)[a, b] + bias[o]
    Gt[p, 6 a + b, o] = (A g A^T)[a, b]   g the output gradient's 4x4 block p, channel o

with every array channels-last: a tile's 36 values of all C channels are one contiguous run
V[p] (36 C), and an image row holds its pixels' C channels side by side.  The loops run over the
channels innermost, so each statement is one vector operation over C channels.  The compiler
vectorises such a loop only when the offsets between its 36 loads (and between its 36 stores) are
constants: the width C is therefore a compile-time constant, each kernel being built for one C by
``kernels(C)`` (one compilation per channel count, cached on disk as the other kernels are).  The
loops' row pointers are 1-D views, so the vectoriser's overlap checks stay at a handful per loop.

Float32 error: the same sums as winograd_kernels.py's F(4x4) loops in the same order per value.
"""

from __future__ import annotations

import numpy as np

from . import blas_kernels, compiled, winograd_kernels

__all__ = ["kernels", "tiles"]

_by_width = {}
_tiles_by_width = {}
_bt6 = _at6 = _ag6 = None  # winograd_kernels' compiled row transforms (module globals: see there)
# The transforms' bodies and the pipelines' per-tile work below are compiled once per channel count C:
# each starts with numba's ``literally(C)``, which compiles it for C as a constant (the vectoriser's
# condition above), and passes C on as a constant to what it calls.  They are module globals (numba's
# disk cache keys a closure's cells, and a dispatcher there differs per process).
_input4 = _output4 = _grad4 = _input_tile = _fwd_tile = _bwd_tile = _gemm = _literally = None


def kernels(C):
    """(input, output, grad) compiled for C channels (F(4x4, 3x3), channels-last); False when numba
    is unavailable or disabled."""
    if C not in _by_width:
        _by_width[C] = _compile(int(C)) if _bodies() else False
    return _by_width[C]


def tiles(C, O):
    """(forward, backward, forward on the team, backward on the team): whole tiled convolutions with
    C input and O output channels in one compiled call each (see the pipelines below); False when
    numba or SciPy's BLAS is unavailable."""
    key = (int(C), int(O))
    if key not in _tiles_by_width:
        _tiles_by_width[key] = _compile_tiles(*key) if _bodies() and blas_kernels.available() else False
    return _tiles_by_width[key]


def _bodies():
    """Compile (once) the module-level bodies that the per-width closures inline."""
    global _bt6, _at6, _ag6, _input4, _output4, _grad4, _input_tile, _fwd_tile, _bwd_tile, _gemm, _literally
    if _input4 is None:
        if not (compiled.enabled() and winograd_kernels.kernels()):
            return False
        from numba import literally, njit

        _literally = literally
        _bt6, _at6, _ag6 = winograd_kernels._bt6, winograd_kernels._at6, winograd_kernels._ag6
        opts = dict(nogil=True, cache=True)
        _input4, _output4, _grad4 = (njit(**opts)(f) for f in (_input4_py, _output4_py, _grad4_py))
        if blas_kernels.available():
            _gemm = blas_kernels.gemm
            _input_tile = njit(**opts)(_input_tile_py)
            _fwd_tile, _bwd_tile = njit(**opts)(_fwd_tile_py), njit(**opts)(_bwd_tile_py)
    return True


def _compile(C):
    from numba import njit

    @njit(nogil=True, cache=True)
    def input4(x, pt, pl, Th, Tw, V, kc, xp):
        _input4(x, pt, pl, Th, Tw, V, kc, xp, C)

    @njit(nogil=True, cache=True)
    def output4(M, Th, Tw, out, bias, kc, blk):
        _output4(M, Th, Tw, out, bias, kc, blk, C)

    @njit(nogil=True, cache=True)
    def grad4(gp, Th, Tw, Gt, kc):
        _grad4(gp, Th, Tw, Gt, kc, C)

    return input4, output4, grad4


# --------------------------------------------------------------------------- whole tiled convolutions
# One compiled call runs every tile of images of a convolution with C input and O output channels: per
# tile, the input transform, the 36 products (blas_kernels.gemm on row slices: no
# Python, no GIL) and the output transform, with the tile's scratch allocated inside.  The serial
# pipelines loop over the tiles; the team's (mathdl/openmp_team.py) share them out with prange, so a
# region starts on every thread within microseconds instead of waiting for the GIL.  Each tile's
# numbers come from the same operations in either pipeline: results do not depend on the thread count.
def _input_tile_py(x, pt, pl, Th, Tw, kc, n0, n1, C):
    # V (P, 36 C) of images n0:n1 of x (N, H, W C), P = their blocks; a zero-bordered plane as scratch
    _literally(C)
    V = np.empty(((n1 - n0) * Th * Tw, 36 * C), x.dtype)
    xp = np.zeros((4 * Th + 2, (4 * Tw + 2) * C), x.dtype)
    _input4(x[n0:n1], pt, pl, Th, Tw, V, kc, xp, C)
    return V


def _fwd_tile_py(x, U, tb, bias, pt, pl, Th, Tw, out, kc, n0, n1, C, O):
    # images n0:n1 of x (N, H, W C) -> out (N, Ho, Wo O); U[k] (O, C) the kernel transform (U (36, O, C),
    # tb = ord("t")), or U[k] (C, O) its transpose (U (36, C, O), tb = ord("n"))
    _literally(C)
    _literally(O)
    V = _input_tile(x, pt, pl, Th, Tw, kc, n0, n1, C)
    P = V.shape[0]
    M = np.empty((P, 36 * O), x.dtype)
    Vf, Mf = V.reshape(-1), M.reshape(-1)
    ldb = C if tb == 84 else O
    for k in range(36):  # M[:, k] (P, O) = V[:, k] (P, C) @ U[k]^T
        _gemm(78, tb, P, O, C, Vf[k * C:], 36 * C, U[k].reshape(-1), ldb, Mf[k * O:], 36 * O)
    blk = np.empty(16 * O, x.dtype)
    _output4(M, Th, Tw, out[n0:n1], bias, kc, blk, O)


def _bwd_tile_py(g, gp, Uf, tb, zero, fpt, fpl, Sh, Sw, dx, x, pt, pl, Th, Tw, part, kc, n0, n1, C, O):
    # dx's images n0:n1 (C channels) = the full convolution of g (N, Ho, Wo O) with the flipped kernel's
    # transform Uf (as U above, from O to C channels); part (36, O, C) = sum over the tile's blocks of
    # Gt[:, k]^T V[:, k], V of x (N, H, W C), Gt of gp (g padded to whole 4x4 blocks)
    _literally(C)
    _literally(O)
    _fwd_tile(g, Uf, tb, zero, fpt, fpl, Sh, Sw, dx, kc, n0, n1, O, C)
    V = _input_tile(x, pt, pl, Th, Tw, kc, n0, n1, C)
    P = V.shape[0]
    Gt = np.empty((P, 36 * O), x.dtype)
    _grad4(gp[n0:n1], Th, Tw, Gt, kc, O)
    Vf, Gf = V.reshape(-1), Gt.reshape(-1)
    for k in range(36):  # part[k] (O, C) = Gt[:, k]^T (O, P) @ V[:, k] (P, C)
        _gemm(84, 78, O, C, P, Gf[k * O:], 36 * O, Vf[k * C:], 36 * C, part[k].reshape(-1), C)


def _compile_tiles(C, O):
    from numba import njit, prange

    opts = dict(nogil=True, cache=True)

    @njit(**opts)
    def forward(x, U, tb, bias, pt, pl, Th, Tw, out, kc, bounds):
        for t in range(bounds.shape[0]):
            _fwd_tile(x, U, tb, bias, pt, pl, Th, Tw, out, kc, bounds[t, 0], bounds[t, 1], C, O)

    @njit(**opts)
    def backward(g, gp, Uf, tb, zero, fpt, fpl, Sh, Sw, dx, x, pt, pl, Th, Tw, parts, kc, bounds):
        for t in range(bounds.shape[0]):
            _bwd_tile(g, gp, Uf, tb, zero, fpt, fpl, Sh, Sw, dx, x, pt, pl, Th, Tw, parts[t], kc, bounds[t, 0],
                      bounds[t, 1], C, O)

    @njit(parallel=True, **opts)
    def forward_team(x, U, tb, bias, pt, pl, Th, Tw, out, kc, bounds):
        for t in prange(bounds.shape[0]):
            _fwd_tile(x, U, tb, bias, pt, pl, Th, Tw, out, kc, bounds[t, 0], bounds[t, 1], C, O)

    @njit(parallel=True, **opts)
    def backward_team(g, gp, Uf, tb, zero, fpt, fpl, Sh, Sw, dx, x, pt, pl, Th, Tw, parts, kc, bounds):
        for t in prange(bounds.shape[0]):
            _bwd_tile(g, gp, Uf, tb, zero, fpt, fpl, Sh, Sw, dx, x, pt, pl, Th, Tw, parts[t], kc, bounds[t, 0],
                      bounds[t, 1], C, O)

    return forward, backward, forward_team, backward_team


# --------------------------------------------------------------------------- the transforms' bodies
def _input4_py(x, pt, pl, Th, Tw, V, kc, xp, C):  # V[(i Th + t) Tw + s, (6 a + b) C + c] = (B^T d B)[a, b]
    _literally(C)
    # x (n, H, W C): the images, channels last; xp (4 Th + 2, (4 Tw + 2) C) zeros: each image is
    # copied inside at (pt, pl) (the border stays zero) and its blocks read from there
    k2, k4, k5 = kc[0], kc[1], kc[2]
    n, H, WC = x.shape
    for i in range(n):
        for rr in range(H):
            dst, src = xp[pt + rr, pl * C:], x[i, rr]
            for e in range(WC):
                dst[e] = src[e]
        for t in range(Th):
            r = 4 * t
            for s in range(Tw):
                o = 4 * s * C
                x0, x1, x2 = xp[r, o:], xp[r + 1, o:], xp[r + 2, o:]
                x3, x4, x5 = xp[r + 3, o:], xp[r + 4, o:], xp[r + 5, o:]
                v = V[(i * Th + t) * Tw + s]
                for c in range(C):
                    # columns: u_j = B^T d[:, j]; then rows: V[6 a + :] = B^T (u_0[a], ..., u_5[a])
                    u00, u01, u02, u03, u04, u05 = _bt6(x0[c], x1[c], x2[c], x3[c], x4[c], x5[c], k2, k4, k5)
                    j = C + c
                    u10, u11, u12, u13, u14, u15 = _bt6(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], k2, k4, k5)
                    j = 2 * C + c
                    u20, u21, u22, u23, u24, u25 = _bt6(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], k2, k4, k5)
                    j = 3 * C + c
                    u30, u31, u32, u33, u34, u35 = _bt6(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], k2, k4, k5)
                    j = 4 * C + c
                    u40, u41, u42, u43, u44, u45 = _bt6(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], k2, k4, k5)
                    j = 5 * C + c
                    u50, u51, u52, u53, u54, u55 = _bt6(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], k2, k4, k5)
                    (v[c], v[C + c], v[2 * C + c], v[3 * C + c], v[4 * C + c],
                     v[5 * C + c]) = _bt6(u00, u10, u20, u30, u40, u50, k2, k4, k5)
                    (v[6 * C + c], v[7 * C + c], v[8 * C + c], v[9 * C + c], v[10 * C + c],
                     v[11 * C + c]) = _bt6(u01, u11, u21, u31, u41, u51, k2, k4, k5)
                    (v[12 * C + c], v[13 * C + c], v[14 * C + c], v[15 * C + c], v[16 * C + c],
                     v[17 * C + c]) = _bt6(u02, u12, u22, u32, u42, u52, k2, k4, k5)
                    (v[18 * C + c], v[19 * C + c], v[20 * C + c], v[21 * C + c], v[22 * C + c],
                     v[23 * C + c]) = _bt6(u03, u13, u23, u33, u43, u53, k2, k4, k5)
                    (v[24 * C + c], v[25 * C + c], v[26 * C + c], v[27 * C + c], v[28 * C + c],
                     v[29 * C + c]) = _bt6(u04, u14, u24, u34, u44, u54, k2, k4, k5)
                    (v[30 * C + c], v[31 * C + c], v[32 * C + c], v[33 * C + c], v[34 * C + c],
                     v[35 * C + c]) = _bt6(u05, u15, u25, u35, u45, u55, k2, k4, k5)


def _output4_py(M, Th, Tw, out, bias, kc, blk, C):  # out[i, 4 t + a, (4 s + b) C + c] = (A^T M A)[a, b] + bias
    _literally(C)
    # M (n Th Tw, 36 C); out (n, Ho, Wo C); blk (16 C): a block's outputs are written there (one
    # store stream: four row streams would need more overlap checks than the vectoriser makes)
    # and its rows inside the image copied out
    k2, k4, k8 = kc[0], kc[1], kc[3]
    n, Ho = out.shape[0], out.shape[1]
    Wo = out.shape[2] // C
    for i in range(n):
        for t in range(Th):
            r = 4 * t
            for s in range(Tw):
                q = 4 * s
                m = M[(i * Th + t) * Tw + s]
                for c in range(C):
                    bo = bias[c]
                    # columns: w_b = A^T M[:, b]; then rows: Y[a, :] = A^T (w_0[a], ..., w_5[a])
                    w00, w01, w02, w03 = _at6(m[c], m[6 * C + c], m[12 * C + c], m[18 * C + c], m[24 * C + c],
                                              m[30 * C + c], k2, k4, k8)
                    w10, w11, w12, w13 = _at6(m[C + c], m[7 * C + c], m[13 * C + c], m[19 * C + c],
                                              m[25 * C + c], m[31 * C + c], k2, k4, k8)
                    w20, w21, w22, w23 = _at6(m[2 * C + c], m[8 * C + c], m[14 * C + c], m[20 * C + c],
                                              m[26 * C + c], m[32 * C + c], k2, k4, k8)
                    w30, w31, w32, w33 = _at6(m[3 * C + c], m[9 * C + c], m[15 * C + c], m[21 * C + c],
                                              m[27 * C + c], m[33 * C + c], k2, k4, k8)
                    w40, w41, w42, w43 = _at6(m[4 * C + c], m[10 * C + c], m[16 * C + c], m[22 * C + c],
                                              m[28 * C + c], m[34 * C + c], k2, k4, k8)
                    w50, w51, w52, w53 = _at6(m[5 * C + c], m[11 * C + c], m[17 * C + c], m[23 * C + c],
                                              m[29 * C + c], m[35 * C + c], k2, k4, k8)
                    a0, a1, a2, a3 = _at6(w00, w10, w20, w30, w40, w50, k2, k4, k8)
                    blk[c], blk[C + c], blk[2 * C + c], blk[3 * C + c] = a0 + bo, a1 + bo, a2 + bo, a3 + bo
                    a0, a1, a2, a3 = _at6(w01, w11, w21, w31, w41, w51, k2, k4, k8)
                    blk[4 * C + c], blk[5 * C + c], blk[6 * C + c], blk[7 * C + c] = (a0 + bo, a1 + bo, a2 + bo,
                                                                                      a3 + bo)
                    a0, a1, a2, a3 = _at6(w02, w12, w22, w32, w42, w52, k2, k4, k8)
                    blk[8 * C + c], blk[9 * C + c], blk[10 * C + c], blk[11 * C + c] = (a0 + bo, a1 + bo, a2 + bo,
                                                                                        a3 + bo)
                    a0, a1, a2, a3 = _at6(w03, w13, w23, w33, w43, w53, k2, k4, k8)
                    blk[12 * C + c], blk[13 * C + c], blk[14 * C + c], blk[15 * C + c] = (a0 + bo, a1 + bo, a2 + bo,
                                                                                          a3 + bo)
                for a in range(min(4, Ho - r)):  # the block's pixels inside the image
                    row, src = out[i, r + a, q * C:], blk[4 * a * C:]
                    for e in range(min(4, Wo - q) * C):
                        row[e] = src[e]


def _grad4_py(gp, Th, Tw, Gt, kc, C):  # Gt[(i Th + t) Tw + s, (6 a + b) C + c] = (A g A^T)[a, b]
    _literally(C)
    # gp (n, Hg, Wg C): the output gradient zero-padded to whole 4x4 blocks (Hg >= 4 Th, Wg >= 4 Tw)
    k2, k4, k8 = kc[0], kc[1], kc[3]
    n = gp.shape[0]
    for i in range(n):
        for t in range(Th):
            r = 4 * t
            for s in range(Tw):
                o = 4 * s * C
                g0, g1, g2, g3 = gp[i, r, o:], gp[i, r + 1, o:], gp[i, r + 2, o:], gp[i, r + 3, o:]
                v = Gt[(i * Th + t) * Tw + s]
                for c in range(C):
                    # columns: u_b = A g[:, b]; then rows: Gt[6 a + :] = A (u_0[a], ..., u_3[a])
                    u00, u01, u02, u03, u04, u05 = _ag6(g0[c], g1[c], g2[c], g3[c], k2, k4, k8)
                    j = C + c
                    u10, u11, u12, u13, u14, u15 = _ag6(g0[j], g1[j], g2[j], g3[j], k2, k4, k8)
                    j = 2 * C + c
                    u20, u21, u22, u23, u24, u25 = _ag6(g0[j], g1[j], g2[j], g3[j], k2, k4, k8)
                    j = 3 * C + c
                    u30, u31, u32, u33, u34, u35 = _ag6(g0[j], g1[j], g2[j], g3[j], k2, k4, k8)
                    (v[c], v[C + c], v[2 * C + c], v[3 * C + c], v[4 * C + c],
                     v[5 * C + c]) = _ag6(u00, u10, u20, u30, k2, k4, k8)
                    (v[6 * C + c], v[7 * C + c], v[8 * C + c], v[9 * C + c], v[10 * C + c],
                     v[11 * C + c]) = _ag6(u01, u11, u21, u31, k2, k4, k8)
                    (v[12 * C + c], v[13 * C + c], v[14 * C + c], v[15 * C + c], v[16 * C + c],
                     v[17 * C + c]) = _ag6(u02, u12, u22, u32, k2, k4, k8)
                    (v[18 * C + c], v[19 * C + c], v[20 * C + c], v[21 * C + c], v[22 * C + c],
                     v[23 * C + c]) = _ag6(u03, u13, u23, u33, k2, k4, k8)
                    (v[24 * C + c], v[25 * C + c], v[26 * C + c], v[27 * C + c], v[28 * C + c],
                     v[29 * C + c]) = _ag6(u04, u14, u24, u34, k2, k4, k8)
                    (v[30 * C + c], v[31 * C + c], v[32 * C + c], v[33 * C + c], v[34 * C + c],
                     v[35 * C + c]) = _ag6(u05, u15, u25, u35, k2, k4, k8)
