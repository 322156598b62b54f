"""Winograd's minimal filtering F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray, 2016).

A 2x2 block of outputs of a 3x3 correlation reads a 4x4 tile d of the (padded) input:

    Y = A^T [ U . V ] A,    U = G w G^T  (4x4 per (o, c)),   V = B^T d B  (4x4 per (c, tile))

        B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
        A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

and the sum over input channels c of the elementwise products is, for each of the 16 positions
(xi, nu) of the 4x4 tile, one matrix product  M[xi nu] (O, P) = U[xi nu] (O, C) @ V[xi nu] (C, P)
over the P = N ceil(Ho/2) ceil(Wo/2) tiles: 16 products with 16/4 = 4 multiplies per output
and channel pair instead of im2col's 9 (2.25x fewer GEMM flops), and a transformed input of 4
values per pixel and channel instead of 9.

The weight gradient is the adjoint in w of the same bilinear map (Lavin & Gray's F(3x3, 2x2)):

    dW = G^T [ sum_tiles (A g A^T) . (B^T d B) ] G,
    i.e. dU[xi nu] (O, C) = Gt[xi nu] (O, P) @ V[xi nu]^T (P, C),   Gt = A g A^T per 2x2 tile of g,

and the input gradient of a stride-1 convolution is itself a stride-1 "full" convolution of g
with the flipped kernel (mathdl/ops/conv.py), which takes this road too.  These are raw-array
kernels: conv.py's Functions call them, so every backward stays a differentiable op.

Float32 error: the transforms only add, subtract and halve, so the result differs from a direct
convolution by a few units in the last place of the largest partial sums (measured in
tests/ops_speed/test_winograd.py and bounded there).
"""

from __future__ import annotations

import numpy as np

from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, blocks, for_ranges, get_num_threads

__all__ = ["conv3x3", "conv3x3_weight", "kernel_transform"]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def kernel_transform(w):
    """U (16, O, C) = G w G^T for each (o, c) of a (O, C, 3, 3) kernel."""
    G = _G.astype(w.dtype)
    U = np.einsum("ai,ocij,bj->aboc", G, w, G, optimize=True)
    return np.ascontiguousarray(U).reshape(16, w.shape[0], w.shape[1])


def _phases(x, pads, Ho, Wo):
    """The padded input (one more zero row/column where Ho/Wo is odd, so Hp = 2 Hh, Wp = 2 Wh) split
    by the parity of its row and column: P[ph, pw, k] = xpad[n, c, 2 t + ph, 2 s + pw] at the flat
    index k = ((c N + n) Hh + t) Wh + s, each of the four a contiguous run with Wh + 1 zeros after it
    (so that the shifted reads below stay inside)."""
    from .conv import _padded_cnhw

    pt, pb, pl, pr = pads
    xc = _padded_cnhw(x, (pt, pb + Ho % 2, pl, pr + Wo % 2)).transpose(1, 0, 2, 3)
    C, N, Hp, Wp = xc.shape
    Hh, Wh = Hp // 2, Wp // 2
    L = C * N * Hh * Wh
    P = np.empty((2, 2, L + Wh + 1), dtype=x.dtype)
    P[:, :, L:] = 0
    for ph in range(2):
        for pw in range(2):
            _copy(P[ph, pw, :L].reshape(C, N, Hh, Wh), xc[:, :, ph::2, pw::2])
    return P, L, Hh, Wh


def _copy(dst, src):
    from .conv import _copy as copy

    copy(dst, src)


def _input_transform(P, L, Wh):
    """V (16, L) = B^T d B for every tile, the tile at flat index k being
    d[i, j] = P[i % 2, j % 2, k + (i // 2) Wh + j // 2]; every pass is one contiguous run (tiles
    whose t or s is the last of its plane read across the edge: their columns are discarded or
    meet zeros later).  The flat range is split over threads."""
    V = np.empty((16, L), dtype=P.dtype)

    def part(lo, hi):
        n = hi - lo + 1
        T = np.empty((4, 2, n), dtype=P.dtype)
        for pw in range(2):  # rows: B^T d
            r0, r1 = P[0, pw, lo:lo + n], P[1, pw, lo:lo + n]
            r2, r3 = P[0, pw, lo + Wh:lo + Wh + n], P[1, pw, lo + Wh:lo + Wh + n]
            np.subtract(r0, r2, out=T[0, pw])
            np.add(r1, r2, out=T[1, pw])
            np.subtract(r2, r1, out=T[2, pw])
            np.subtract(r1, r3, out=T[3, pw])
        for i in range(4):  # columns: (B^T d) B
            c0, c1, c2, c3 = T[i, 0, :-1], T[i, 1, :-1], T[i, 0, 1:], T[i, 1, 1:]
            np.subtract(c0, c2, out=V[4 * i, lo:hi])
            np.add(c1, c2, out=V[4 * i + 1, lo:hi])
            np.subtract(c2, c1, out=V[4 * i + 2, lo:hi])
            np.subtract(c1, c3, out=V[4 * i + 3, lo:hi])

    for_ranges(part, L, 24 * L, min_work=MIN_PARALLEL_ELEMENTS_CNN)
    return V


def _output_transform(M, out, Hh, Wh, b=None):
    """out (O, N, Ho, Wo) = A^T M A for each tile of M (16, O N Hh Wh) (+ bias b (O,)); the flat
    range and then the output channels are split over threads."""
    O, N, Ho, Wo = out.shape
    Lo = M.shape[1]
    Y = np.empty((2, 2, Lo), dtype=M.dtype)

    def part(lo, hi):
        m = M[:, lo:hi]
        S = np.empty((2, 4, hi - lo), dtype=M.dtype)
        for j in range(4):  # rows: A^T M
            np.add(m[j], m[4 + j], out=S[0, j])
            S[0, j] += m[8 + j]
            np.subtract(m[4 + j], m[8 + j], out=S[1, j])
            S[1, j] -= m[12 + j]
        for a in range(2):  # columns: (A^T M) A
            y0, y1 = Y[a, 0, lo:hi], Y[a, 1, lo:hi]
            np.add(S[a, 0], S[a, 1], out=y0)
            y0 += S[a, 2]
            np.subtract(S[a, 1], S[a, 2], out=y1)
            y1 -= S[a, 3]

    for_ranges(part, Lo, 16 * Lo, min_work=MIN_PARALLEL_ELEMENTS_CNN)
    Yv = Y.reshape(2, 2, O, N, Hh, Wh)

    def place(lo, hi):
        for a in range(2):
            for c in range(2):
                dst = out[lo:hi, :, a::2, c::2]
                dst[...] = Yv[a, c, lo:hi, :, :dst.shape[2], :dst.shape[3]]
                if b is not None:
                    dst += b[lo:hi].reshape(-1, 1, 1, 1)

    for_ranges(place, O, 2 * out.size, min_work=MIN_PARALLEL_ELEMENTS_CNN)


def _products(a, b):
    """The 16 products a[k] @ b[k]: with T > 1 threads, spread over mathdl's threads with BLAS on one
    thread each (mathdl.parallel.blocks, as conv.py's tiles), else one batched call."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a.dtype, b.dtype))
    if get_num_threads() == 1:
        return np.matmul(a, b, out=out)
    blocks(lambda k: np.matmul(a[k], b[k], out=out[k]), a.shape[0])
    return out


def conv3x3(x, w, b, pads):
    """y = conv2d(x, w) + b for a 3x3 kernel, stride 1, dilation 1, one group, padding
    (pt, pb, pl, pr); returned as an NCHW view of a channel-major (O, N, Ho, Wo) array."""
    N, C, H, W = x.shape
    O = w.shape[0]
    pt, pb, pl, pr = pads
    Ho, Wo = H + pt + pb - 2, W + pl + pr - 2
    P, L, Hh, Wh = _phases(x, pads, Ho, Wo)
    V = _input_transform(P, L, Wh).reshape(16, C, -1)
    del P
    M = _products(kernel_transform(w), V).reshape(16, -1)
    del V
    out = np.empty((O, N, Ho, Wo), dtype=M.dtype)
    _output_transform(M, out, Hh, Wh, b)
    return out.transpose(1, 0, 2, 3)


def _grad_transform(g, Hh, Wh):
    """Gt (16, O, N Hh Wh) = A g A^T over the 2x2 tiles of g (N, O, Ho, Wo) at (2t, 2s), zero for
    tiles and entries past the edge (so the wrapped columns of V meet zeros)."""
    N, O, Ho, Wo = g.shape
    Q = np.zeros((2, 2, O, N, Hh, Wh), dtype=g.dtype)
    gt = g.transpose(1, 0, 2, 3)
    for a in range(2):
        for c in range(2):
            src = gt[:, :, a::2, c::2]
            Q[a, c, :, :, :src.shape[2], :src.shape[3]] = src
    Q = Q.reshape(2, 2, -1)
    Lo = Q.shape[2]
    R = np.empty((4, 2, Lo), dtype=g.dtype)  # rows: A g, A = [[1, 0], [1, 1], [1, -1], [0, -1]]
    for c in range(2):
        R[0, c] = Q[0, c]
        np.add(Q[0, c], Q[1, c], out=R[1, c])
        np.subtract(Q[0, c], Q[1, c], out=R[2, c])
        np.negative(Q[1, c], out=R[3, c])
    Gt = np.empty((4, 4, Lo), dtype=g.dtype)  # columns: (A g) A^T
    Gt[:, 0] = R[:, 0]
    np.add(R[:, 0], R[:, 1], out=Gt[:, 1])
    np.subtract(R[:, 0], R[:, 1], out=Gt[:, 2])
    np.negative(R[:, 1], out=Gt[:, 3])
    return Gt.reshape(16, O, -1)


def conv3x3_weight(x, g, pads):
    """dL/dW (O, C, 3, 3) of y = conv2d(x, w) (3x3, stride 1, dilation 1, one group) for the
    output gradient g (N, O, Ho, Wo):  G^T [sum over tiles (A g A^T) . (B^T d B)] G."""
    C = x.shape[1]
    O, Ho, Wo = g.shape[1], g.shape[2], g.shape[3]
    P, L, Hh, Wh = _phases(x, pads, Ho, Wo)
    V = _input_transform(P, L, Wh).reshape(16, C, -1)
    del P
    Gt = _grad_transform(g, Hh, Wh)
    dU = _products(Gt, V.transpose(0, 2, 1))  # (16, O, C)
    G = _G.astype(dU.dtype)
    return np.einsum("ai,aboc,bj->ocij", G, dU.reshape(4, 4, O, C), G, optimize=True).astype(g.dtype, copy=False)
