"""Winograd's minimal filtering F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1 convolutions (Lavin &
Gray, 2016).

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
kernels: conv.py's Functions call them, so every backward stays a differentiable op.  The kernel
transform and its adjoint are one product each with G kron G (16 x 9).

F(4x4, 3x3) is the same with 4x4 output blocks read from 6x6 input tiles (B^T 6x6, G 6x3, A^T 4x6,
interpolation points 0, 1, -1, 2, -2 and infinity: the matrices in mathdl/ops/winograd_kernels.py
and _G[4] below): 36 products, 36/16 = 2.25 multiplies per output and channel pair (4x fewer than
im2col's 9) and 2.25 transformed values per pixel and channel.

Two roads compute these formulas.  With numba (mathdl/ops/compiled.py) the transforms are
compiled loops (V, Gt and the output each written in one pass, tile by tile) and the batch is cut
into tiles of whole images (about TILE_BYTES of V and M), each transformed, multiplied and
transformed back while in cache, on mathdl's threads like conv.py's tiles; each tile holds exactly
ceil(Ho/m) ceil(Wo/m) m x m blocks per image; m = 4 wherever that needs clearly fewer products
than m = 2 (output_tile).  F(4x4) runs there on channels-last memory (mathdl/ops/winograd_nhwc.py:
the same formulas, its transforms vectorised over the channels; CHANNELS_LAST).  Without numba,
F(2x2) in whole-batch array passes over the four parity planes of the padded input (wrapped
tiles included).

Float32 error: F(2x2)'s transforms only add, subtract and halve, so its result differs from a
direct convolution by a few units in the last place of the largest partial sums; F(4x4)'s multiply
by up to 8 (A^T) and 5 (B^T) and divide by 24 (G), and its error is 5-13x im2col's (about 1e-6 to
7e-6 of the largest output on random data; measured in tests/ops_speed/test_winograd.py and
bounded there at 20x).  Both are far below the rounding of the float32 training step around them.
"""

from __future__ import annotations

import os

import numpy as np

from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, blocks, for_ranges, get_num_threads
from . import winograd_nhwc, winograd_weight_kernels

__all__ = ["conv3x3", "conv3x3_weight", "conv3x3_backward", "kernel_transform", "adjoint_transform"]

_G = {2: np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]]),
      4: np.array([[1 / 4, 0.0, 0.0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                   [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0.0, 0.0, 1.0]])}
_TILE_OF = {16: 2, 36: 4}  # K = (m + 2)^2 products -> m
_GG = {(m, np.dtype(t)): np.kron(g, g).astype(t) for m, g in _G.items() for t in (np.float32, np.float64)}


def _gg(m, dtype):
    """G kron G ((m + 2)^2, 9) in ``dtype``."""
    key = (m, np.dtype(dtype))
    return _GG[key] if key in _GG else np.kron(_G[m], _G[m]).astype(dtype)


def kernel_transform(w, m=2):
    """U (K, O, C) = G w G^T for each (o, c) of a (O, C, 3, 3) kernel (K = (m + 2)^2, F(m x m, 3x3)),
    as one product: U[(m + 2) a + b] = sum_{i, j} G[a, i] G[b, j] w[3 i + j], i.e.
    (G kron G) (K, 9) @ w (9, O C)."""
    O, C = w.shape[:2]
    k = winograd_weight_kernels.kernels() if w.dtype in (np.float32, np.float64) and type(w) is np.ndarray else False
    if k:  # separable and vectorised over the O C kernels (mathdl/ops/winograd_weight_kernels.py)
        R = m + 2
        W9 = np.ascontiguousarray(w.reshape(O * C, 9).T)
        U = np.empty((R * R, O, C), w.dtype)
        k[0](W9, _G[m].astype(w.dtype), np.empty((3 * R, O * C), w.dtype), U.reshape(R * R, -1))
        return U
    GG = _gg(m, w.dtype)
    return (GG @ w.reshape(O * C, 9).T).reshape(GG.shape[0], O, C)


# F(2x2): G J = P G for the column flip J and the swap P of rows 0 and 3 of G, so the kernel
# transform of the flipped, transposed kernel W'[c, o] = W[o, c, ::-1, ::-1] is a permutation of
# W's: U'[4 a + b] = U[4 p(a) + p(b)]^T with p = (3, 1, 2, 0).  F(4x4)'s G has no such symmetry
# (its row (1/24, 1/12, 1/6) reversed is no row of G): there U' is W''s own transform.
_FLIP = np.array([4 * p + q for p in (3, 1, 2, 0) for q in (3, 1, 2, 0)])


def adjoint_transform(U, wf):
    """The kernel transform (K, C, O) of the flipped, transposed kernel wf (C, O, 3, 3) (the input
    gradient's kernel, see conv.py), of the same F(m x m) as U (K, O, C), w's: for F(2x2) a
    permutation of U (no product), for F(4x4) kernel_transform(wf, 4)."""
    K = U.shape[0]
    if K == 16:
        return U[_FLIP].transpose(0, 2, 1)
    w = wf.transpose(1, 0, 2, 3)
    if w.strides[2] < 0 and w.strides[3] < 0:  # wf is w's flipped transpose: the transform of w with its
        # taps reversed, (K, O, C) in memory, transposed back (the channels-last pipelines read it so)
        return kernel_transform(np.ascontiguousarray(w, dtype=U.dtype), _TILE_OF[K]).transpose(0, 2, 1)
    return kernel_transform(wf.astype(U.dtype, copy=False), _TILE_OF[K])


def _weight_from_winograd(dU):
    """dW (O, C, 3, 3) = G^T dU G for each (o, c) of dU (K, O, C): the adjoint of kernel_transform,
    dW[3 i + j] = sum_{a, b} G[a, i] G[b, j] dU[(m + 2) a + b], one product."""
    K, O, C = dU.shape
    k = winograd_weight_kernels.kernels() if dU.dtype in (np.float32, np.float64) and type(dU) is np.ndarray else False
    if k:
        m = _TILE_OF[K]
        dW9 = np.empty((9, O * C), dU.dtype)
        k[1](np.ascontiguousarray(dU).reshape(K, -1), _G[m].astype(dU.dtype), np.empty((3 * (m + 2), O * C), dU.dtype),
             dW9)
        return np.ascontiguousarray(dW9.T).reshape(O, C, 3, 3)
    return (dU.reshape(K, O * C).T @ _gg(_TILE_OF[K], dU.dtype)).reshape(O, C, 3, 3)


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

    for_ranges(part, L, 24 * L, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
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

    for_ranges(part, Lo, 16 * Lo, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
    Yv = Y.reshape(2, 2, O, N, Hh, Wh)

    def place(lo, hi):
        for a in range(2):
            for c in range(2):
                dst = out[lo:hi, :, a::2, c::2]
                dst[...] = Yv[a, c, lo:hi, :, :dst.shape[2], :dst.shape[3]]
                if b is not None:
                    dst += b[lo:hi].reshape(-1, 1, 1, 1)

    for_ranges(place, O, 2 * out.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)


def _products(a, b):
    """The 16 products a[k] @ b[k]: with T > 1 threads, spread over mathdl's threads with BLAS on one
    thread each (mathdl.parallel.blocks, as conv.py's tiles), else one batched call."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a.dtype, b.dtype))
    if get_num_threads() == 1:
        return np.matmul(a, b, out=out)
    blocks(lambda k: np.matmul(a[k], b[k], out=out[k]), a.shape[0])
    return out


def _conv3x3_arrays(x, w, b, pads, U=None):
    """y = conv2d(x, w) + b for a 3x3 kernel, stride 1, dilation 1, one group, padding
    (pt, pb, pl, pr); returned as an NCHW view of a channel-major (O, N, Ho, Wo) array."""
    N, C, H, W = x.shape
    O = w.shape[0]
    pt, pb, pl, pr = pads
    Ho, Wo = H + pt + pb - 2, W + pl + pr - 2
    P, L, Hh, Wh = _phases(x, pads, Ho, Wo)
    V = _input_transform(P, L, Wh).reshape(16, C, -1)
    del P
    M = _products(kernel_transform(w) if U is None else U, V).reshape(16, -1)
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


def _conv3x3_weight_arrays(x, g, pads):
    """dL/dW (O, C, 3, 3) of y = conv2d(x, w) (3x3, stride 1, dilation 1, one group) for the
    output gradient g (N, O, Ho, Wo):  G^T [sum over tiles (A g A^T) . (B^T d B)] G."""
    C = x.shape[1]
    Ho, Wo = g.shape[2], g.shape[3]
    P, L, Hh, Wh = _phases(x, pads, Ho, Wo)
    V = _input_transform(P, L, Wh).reshape(16, C, -1)
    del P
    Gt = _grad_transform(g, Hh, Wh)
    dU = _products(Gt, V.transpose(0, 2, 1))  # (16, O, C)
    return _weight_from_winograd(dU).astype(g.dtype, copy=False)


# --------------------------------------------------------------------------- compiled road
# The same formulas, with the transforms compiled (numba, mathdl/ops/winograd_kernels.py): one
# pass each that reads the input (or g) once and writes V (or Gt) tile by tile, and, per tile of
# whole images (about TILE_BYTES of V and M), the K products while V is still in cache.  The tiles
# hold exactly ceil(Ho/m) ceil(Wo/m) m x m output blocks per image (no wrapped tiles) and run on
# mathdl's threads as conv.py's tiles do (the weight gradient's parts added in tile order).  This
# road takes F(4x4, 3x3) wherever its 36 products per 4x4 block cover the output with at most
# F4_PRODUCT_RATIO of F(2x2, 3x3)'s products (16 per 2x2 block; see output_tile).
_kernels = None


def compiled_available():
    """Whether the compiled transforms can be used (numba importable, not disabled)."""
    global _kernels
    if _kernels is None:
        from . import winograd_kernels

        _kernels = winograd_kernels.kernels()
    return _kernels is not False


def output_tile(Ho, Wo, C=16, O=16):
    """m of the F(m x m, 3x3) used for an Ho x Wo output of C -> O channels: 4 on the compiled road
    when 36 ceil(Ho/4) ceil(Wo/4) <= F4_PRODUCT_RATIO 16 ceil(Ho/2) ceil(Wo/2) and a tile of images
    (TILE_BYTES of float32 V and M) holds at least F4_MIN_BLOCKS 4x4 blocks, else 2."""
    if not compiled_available():
        return 2
    t4 = (-(-Ho // 4)) * (-(-Wo // 4))
    if 36 * t4 > F4_PRODUCT_RATIO * 16 * (-(-Ho // 2)) * (-(-Wo // 2)):
        return 2
    images = max(1, TILE_BYTES // (36 * (C + O) * t4 * 4))
    return 4 if images * t4 >= F4_MIN_BLOCKS else 2


# F(4x4) needs 36/64 = 0.5625 of F(2x2)'s products where 4 divides the output size, more where its
# blocks cross the edge further; its transforms cost more per product saved.  Measured (1 thread,
# forward + both gradients, F(2x2) -> F(4x4)): 7.1 -> 6.5 ms at 16 channels 32x32 (N 32), 3.9 -> 3.1
# at 64 channels 8x8, 51 -> 39 at 128 channels 16x16 (N 32), 135 -> 112 at 256 channels 28x28 (N 8),
# 3.6 -> 3.3 at 128 channels 7x7 (N 8), 3.69 -> 3.74 on LeNet's 16 -> 32 channels 11x11 (N 64); but
# 4.5 -> 5.1 at 16 channels 14x14 and 39 -> 44 at 256 channels 14x14 (N 8), where 4x4 blocks compute
# 16x16 (ratio 0.73).  So F(4x4) up to this ratio of products, and only where a tile's products
# have at least F4_MIN_BLOCKS columns: with many channels on small maps a tile holds few images
# and its 36 thin products re-read the large U (512 channels 7x7, N 8: 82 -> 165 ms; 256 channels
# 16x16, N 8, 16 blocks per tile: 49.6 -> 48.5).
F4_MIN_BLOCKS = 32
F4_PRODUCT_RATIO = 0.6


# F(4x4) runs on channels-last memory (mathdl/ops/winograd_nhwc.py: its transforms are vector
# operations over the channels); False keeps the channel-major loops of winograd_kernels.py.
# Environment: MATHDL_WINOGRAD_NHWC=0.
CHANNELS_LAST = os.environ.get("MATHDL_WINOGRAD_NHWC", "1") != "0"


def _channels_last(m, C, O):
    """Whether F(m x m) from C to O channels takes the channels-last road."""
    return CHANNELS_LAST and m == 4 and winograd_nhwc.available(C, O)


def _constants(dtype):
    """The transforms' constants 2, 4, 5, 8 and 0 in the data's dtype (winograd_kernels.py)."""
    return np.array([2.0, 4.0, 5.0, 8.0, 0.0], dtype=dtype)


def _k_major(K, a, b, dtype):
    """An uninitialized (K, a, b) array whose K (a, b) matrices start 32 values (128 bytes) apart
    modulo 4 KiB: the transforms read or write the K values of a tile in K streams, which at a
    power-of-two distance would fall into the same cache sets (measured 10x slower)."""
    return np.empty((K, a * b + 32), dtype=dtype)[:, :a * b].reshape(K, a, b)


# Images per tile: about this many bytes of V and M (or Gt) (and never more than conv.TILE_BYTES).
# 4 MiB since the transforms are channels-last: their 36 products per tile, each (P, C) @ (C, O)
# with C and O 16-64, cost less per row with more rows (see conv.TILE_BYTES for the figures).
TILE_BYTES = 1 << 22


def _tiles(N, per_image, macs):
    from . import conv

    budget = min(TILE_BYTES, conv.TILE_BYTES)
    return conv._tile_bounds(N, max(1, min(N, budget // max(per_image, 1))), macs)


def _plane(m, Th, Tw, dtype):
    """The zero-padded plane the input transform copies each (image, channel) into."""
    return np.zeros((m * Th + 2, m * Tw + 2), dtype=dtype)


def conv3x3(x, w, b, pads, U=None, keep=False):
    """y = conv2d(x, w) + b for a 3x3 kernel, stride 1, dilation 1, one group, padding
    (pt, pb, pl, pr); returned as an NCHW view of a channel-major (O, N, Ho, Wo) array.  Compiled
    transforms in tiles of images when available, else whole-batch array passes (F(2x2, 3x3)).
    ``U``: w's kernel transform when the caller has it (kernel_transform, or adjoint_transform), of
    F(m x m) with m = output_tile(Ho, Wo, C, O) or 2; else it is computed.  ``keep`` (compiled road):
    return (y, saved) with saved the whole batch's transformed input V, for conv3x3_backward's
    weight gradient (which then does not transform x again); saved is None on the array road."""
    N, C, H, W = x.shape
    O = w.shape[0]
    pt, pb, pl, pr = pads
    Ho, Wo = H + pt + pb - 2, W + pl + pr - 2
    if not compiled_available():
        y = _conv3x3_arrays(x, w, b, pads, U if U is not None and U.shape[0] == 16 else None)
        return (y, None) if keep else y
    dtype = np.result_type(x.dtype, w.dtype)
    if U is None:
        U = kernel_transform(w.astype(dtype, copy=False), output_tile(Ho, Wo, C, O))
    K = U.shape[0]
    m = _TILE_OF[K]
    input_tf, output_tf, _ = _kernels[m]
    Th, Tw = -(-Ho // m), -(-Wo // m)
    out = np.empty((O, N, Ho, Wo), dtype=dtype)
    bias = np.zeros(O, dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
    kc = _constants(dtype)
    bounds, par = _tiles(N, K * (C + O) * Th * Tw * out.itemsize, N * Ho * Wo * O * C * 9)
    if _channels_last(m, C, O):
        y = winograd_nhwc.conv3x3(x, U, bias, pads, Ho, Wo, dtype, bounds, par, kc)
        return (y, None) if keep else y
    Vall = _k_major(K, C, N * Th * Tw, dtype) if keep else None

    def tile(k):
        n0, n1 = bounds[k]
        P = (n1 - n0) * Th * Tw
        V = _k_major(K, C, P, dtype) if Vall is None else Vall[:, :, n0 * Th * Tw:n1 * Th * Tw]
        input_tf(x[n0:n1], pt, pl, Th, Tw, V, _plane(m, Th, Tw, dtype), kc)
        M = _k_major(K, O, P, dtype)
        np.matmul(U, V, out=M)
        output_tf(M, Th, Tw, out[:, n0:n1], bias, kc)

    blocks(tile, len(bounds), par)
    y = out.transpose(1, 0, 2, 3)
    return (y, (Vall, m, x.shape, tuple(pads), dtype)) if keep else y


def _weight_tiles(x, g, pads, n0, n1, m, dtype, kc, Vx=None):
    """This tile's part (K, O, C) of dU = sum over blocks of (A g A^T) . (B^T d B)^T, F(m x m);
    ``Vx``: x's transform of these images when the forward kept it (see conv3x3's ``keep``)."""
    input_tf, _, grad_tf = _kernels[m]
    C, (O, Ho, Wo) = x.shape[1], g.shape[1:]
    K, Th, Tw = (m + 2) ** 2, -(-Ho // m), -(-Wo // m)
    P = (n1 - n0) * Th * Tw
    V = Vx
    if V is None:
        V = _k_major(K, C, P, dtype)
        input_tf(x[n0:n1], pads[0], pads[2], Th, Tw, V, _plane(m, Th, Tw, dtype), kc)
    Gt = _k_major(K, O, P, dtype)
    grad_tf(g[n0:n1], Th, Tw, Gt, kc)
    return np.matmul(Gt, V.transpose(0, 2, 1))  # (K, O, C)


def _sum_parts(parts):
    dU = parts[0]
    for part in parts[1:]:  # in tile order, whichever thread computed them
        dU += part
    return dU


def conv3x3_weight(x, g, pads):
    """dL/dW (O, C, 3, 3) of y = conv2d(x, w) (3x3, stride 1, dilation 1, one group) for the
    output gradient g (N, O, Ho, Wo):  G^T [sum over tiles (A g A^T) . (B^T d B)] G."""
    if x.shape[0] == 0:  # an empty batch: no products, a zero gradient
        return np.zeros((g.shape[1], x.shape[1], 3, 3), np.result_type(x.dtype, g.dtype))
    if not compiled_available():
        return _conv3x3_weight_arrays(x, g, pads)
    N, C = x.shape[:2]
    O, Ho, Wo = g.shape[1], g.shape[2], g.shape[3]
    m = output_tile(Ho, Wo, C, O)
    K, Th, Tw = (m + 2) ** 2, -(-Ho // m), -(-Wo // m)
    dtype = np.result_type(x.dtype, g.dtype)
    kc = _constants(dtype)
    bounds, par = _tiles(N, K * (C + O) * Th * Tw * np.dtype(dtype).itemsize, N * Ho * Wo * O * C * 9)
    if _channels_last(m, C, O):
        parts = winograd_nhwc.conv3x3_weight(x, g, pads, dtype, bounds, par, kc)
    else:
        parts = blocks(lambda k: _weight_tiles(x, g, pads, *bounds[k], m, dtype, kc), len(bounds), par)
    return _weight_from_winograd(_sum_parts(parts)).astype(dtype, copy=False)


def conv3x3_backward(g, wf, full, Uf, x, pads, saved=None):
    """Both gradients of y = conv2d(x, w) (3x3, stride 1, dilation 1, one group) in one pass over
    tiles of images: dL/dx = conv3x3(g, wf, full padding) with Uf = adjoint_transform(U, wf) (wf the
    flipped, transposed kernel) and dL/dW = conv3x3_weight(x, g, pads), each tile doing its images'
    part of both (one hand-off to the threads instead of two; g's tile read by both while in
    cache).  ``saved``: what conv3x3(x, ..., keep=True) returned, whose V is then used instead of
    transforming x again.  The same numbers as the two calls up to the order of the weight
    gradient's tile sums; the compiled road only (else the two calls)."""
    if x.shape[0] == 0:  # an empty batch: an empty input gradient, a zero weight gradient
        dt = np.result_type(g.dtype, x.dtype, Uf.dtype)
        return np.empty(x.shape, dt), np.zeros((g.shape[1], x.shape[1], 3, 3), dt)
    if not compiled_available():
        Uf = Uf if Uf.shape[0] == 16 else None
        return _conv3x3_arrays(g, wf, None, full, Uf), _conv3x3_weight_arrays(x, g, pads)
    N, O, Ho, Wo = g.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    dtype = np.result_type(g.dtype, x.dtype, Uf.dtype)
    kc = _constants(dtype)
    Kx = Uf.shape[0]
    mx = _TILE_OF[Kx]  # the input gradient's F(mx x mx), as the forward's kernel transform
    input_tf, output_tf, _ = _kernels[mx]
    Sh, Sw = -(-H // mx), -(-W // mx)  # blocks of x (the full convolution's output)
    mw = output_tile(Ho, Wo, C, O)  # the weight gradient's F(mw x mw)
    Kw, Th, Tw = (mw + 2) ** 2, -(-Ho // mw), -(-Wo // mw)
    Vall = None
    if saved is not None and saved[1:] == (mw, x.shape, tuple(pads), np.dtype(dtype)):
        Vall = saved[0]
    dx = np.empty((C, N, H, W), dtype=dtype)
    zero = np.zeros(C, dtype)
    per_image = (Kx * (O + C) * Sh * Sw + Kw * (O + C) * Th * Tw) * np.dtype(dtype).itemsize
    bounds, par = _tiles(N, per_image, 2 * N * Ho * Wo * O * C * 9)
    if mx == mw and _channels_last(mx, C, O):
        dx, parts = winograd_nhwc.conv3x3_backward(g, Uf, full, x, pads, dtype, bounds, par, kc)
        return dx, _weight_from_winograd(_sum_parts(parts)).astype(dtype, copy=False)

    def tile(k):
        n0, n1 = bounds[k]
        P = (n1 - n0) * Sh * Sw
        Vg = _k_major(Kx, O, P, dtype)
        input_tf(g[n0:n1], full[0], full[2], Sh, Sw, Vg, _plane(mx, Sh, Sw, dtype), kc)
        M = _k_major(Kx, C, P, dtype)
        np.matmul(Uf, Vg, out=M)
        output_tf(M, Sh, Sw, dx[:, n0:n1], zero, kc)
        Vx = None if Vall is None else Vall[:, :, n0 * Th * Tw:n1 * Th * Tw]
        return _weight_tiles(x, g, pads, n0, n1, mw, dtype, kc, Vx)

    parts = blocks(tile, len(bounds), par)
    return dx.transpose(1, 0, 2, 3), _weight_from_winograd(_sum_parts(parts)).astype(dtype, copy=False)
