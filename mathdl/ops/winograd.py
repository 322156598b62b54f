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
kernels: conv.py's Functions call them, so every backward stays a differentiable op.  The kernel
transform and its adjoint are one product each with G kron G (16 x 9).

Two roads compute the same formulas.  With numba (mathdl/ops/compiled.py) the transforms are
compiled loops (V, Gt and the output each written in one pass, tile by tile) and the batch is cut
into tiles of whole images (about TILE_BYTES of V and M), each transformed, multiplied and
transformed back while in cache, on mathdl's threads like conv.py's tiles; each tile holds exactly
ceil(Ho/2) ceil(Wo/2) 2x2 blocks per image.  Without numba, whole-batch array passes over the four
parity planes of the padded input (wrapped tiles included).

Float32 error: the transforms only add, subtract and halve, so the result differs from a direct
convolution by a few units in the last place of the largest partial sums (measured in
tests/ops_speed/test_winograd.py and bounded there).
"""

from __future__ import annotations

import numpy as np

from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, blocks, for_ranges, get_num_threads

__all__ = ["conv3x3", "conv3x3_weight", "conv3x3_backward", "kernel_transform", "adjoint_transform"]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


_GG = {np.dtype(t): np.kron(_G, _G).astype(t) for t in (np.float32, np.float64)}  # (16, 9): G kron G


def _gg(dtype):
    dtype = np.dtype(dtype)
    return _GG[dtype] if dtype in _GG else np.kron(_G, _G).astype(dtype)


def kernel_transform(w):
    """U (16, O, C) = G w G^T for each (o, c) of a (O, C, 3, 3) kernel, as one product:
    U[4 a + b] = sum_{i, j} G[a, i] G[b, j] w[3 i + j], i.e. (G kron G) (16, 9) @ w (9, O C)."""
    O, C = w.shape[:2]
    return (_gg(w.dtype) @ w.reshape(O * C, 9).T).reshape(16, O, C)


# G J = P G for the column flip J and the swap P of rows 0 and 3 of G, so the kernel transform of
# the flipped, transposed kernel W'[c, o] = W[o, c, ::-1, ::-1] is a permutation of W's:
# U'[4 a + b] = U[4 p(a) + p(b)]^T with p = (3, 1, 2, 0).
_FLIP = np.array([4 * p + q for p in (3, 1, 2, 0) for q in (3, 1, 2, 0)])


def adjoint_transform(U):
    """The kernel transform (16, C, O) of the flipped, transposed kernel (the input gradient's
    kernel, see conv.py) from U (16, O, C) of the kernel itself, without a product."""
    return U[_FLIP].transpose(0, 2, 1)


def _weight_from_winograd(dU):
    """dW (O, C, 3, 3) = G^T dU G for each (o, c) of dU (16, O, C): the adjoint of kernel_transform,
    dW[3 i + j] = sum_{a, b} G[a, i] G[b, j] dU[4 a + b], one product."""
    _, O, C = dU.shape
    return (dU.reshape(16, O * C).T @ _gg(dU.dtype)).reshape(O, C, 3, 3)


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
# The same formulas as above, with the transforms compiled (numba, mathdl/ops/compiled.py): one
# pass each that reads the input (or g) once and writes V (or Gt) tile by tile, and, per tile of
# whole images (about conv.TILE_BYTES of V and M), the 16 products while V is still in cache.  The
# tiles hold exactly ceil(Ho/2) ceil(Wo/2) 2x2 output blocks per image (no wrapped tiles) and
# run on mathdl's threads as conv.py's tiles do (the weight gradient's parts added in tile order).
_kernels = None


def compiled_available():
    """Whether the compiled transforms can be used (numba importable, not disabled)."""
    global _kernels
    if _kernels is None:
        from . import compiled

        _kernels = _compile() if compiled.enabled() else False
    return _kernels is not False


def _compile():
    from numba import njit

    @njit(nogil=True, cache=True)
    def input_transform(x, pt, pl, Th, Tw, V, buf):  # V[4 a + b, c, (n Th + t) Tw + s] = (B^T d B)[a, b]
        # buf: (2 Th + 2, 2 Tw + 2) zeros, one padded plane (allocated by the caller: no NumPy
        # allocation is compiled in, so a test that patches np.empty cannot break the compilation)
        n, C, H, W = x.shape
        Hb, Wb = min(H, buf.shape[0] - pt), min(W, buf.shape[1] - pl)
        for c in range(C):
            for i in range(n):
                plane = x[i, c]
                for r in range(Hb):  # row by row through 1-D views (compiles to a faster copy: the
                    # whole transform of 16 channels 32x32 in 2 images 55 -> 46 us)
                    dst, src = buf[r + pt, pl:pl + Wb], plane[r, :Wb]
                    for q in range(Wb):
                        dst[q] = src[q]
                base = i * Th * Tw
                for t in range(Th):
                    r0 = 2 * t
                    for s in range(Tw):
                        c0 = 2 * s
                        p = base + t * Tw + s
                        t00 = buf[r0, c0] - buf[r0 + 2, c0]
                        t01 = buf[r0, c0 + 1] - buf[r0 + 2, c0 + 1]
                        t02 = buf[r0, c0 + 2] - buf[r0 + 2, c0 + 2]
                        t03 = buf[r0, c0 + 3] - buf[r0 + 2, c0 + 3]
                        t10 = buf[r0 + 1, c0] + buf[r0 + 2, c0]
                        t11 = buf[r0 + 1, c0 + 1] + buf[r0 + 2, c0 + 1]
                        t12 = buf[r0 + 1, c0 + 2] + buf[r0 + 2, c0 + 2]
                        t13 = buf[r0 + 1, c0 + 3] + buf[r0 + 2, c0 + 3]
                        t20 = buf[r0 + 2, c0] - buf[r0 + 1, c0]
                        t21 = buf[r0 + 2, c0 + 1] - buf[r0 + 1, c0 + 1]
                        t22 = buf[r0 + 2, c0 + 2] - buf[r0 + 1, c0 + 2]
                        t23 = buf[r0 + 2, c0 + 3] - buf[r0 + 1, c0 + 3]
                        t30 = buf[r0 + 1, c0] - buf[r0 + 3, c0]
                        t31 = buf[r0 + 1, c0 + 1] - buf[r0 + 3, c0 + 1]
                        t32 = buf[r0 + 1, c0 + 2] - buf[r0 + 3, c0 + 2]
                        t33 = buf[r0 + 1, c0 + 3] - buf[r0 + 3, c0 + 3]
                        V[0, c, p] = t00 - t02
                        V[1, c, p] = t01 + t02
                        V[2, c, p] = t02 - t01
                        V[3, c, p] = t01 - t03
                        V[4, c, p] = t10 - t12
                        V[5, c, p] = t11 + t12
                        V[6, c, p] = t12 - t11
                        V[7, c, p] = t11 - t13
                        V[8, c, p] = t20 - t22
                        V[9, c, p] = t21 + t22
                        V[10, c, p] = t22 - t21
                        V[11, c, p] = t21 - t23
                        V[12, c, p] = t30 - t32
                        V[13, c, p] = t31 + t32
                        V[14, c, p] = t32 - t31
                        V[15, c, p] = t31 - t33

    @njit(nogil=True, cache=True)
    def output_transform(M, Th, Tw, out, bias):  # out[o, n, 2t + a, 2s + b] = (A^T M A)[a, b]
        O, n, Ho, Wo = out.shape
        for o in range(O):
            bo = bias[o]
            for i in range(n):
                for t in range(Th):
                    r = 2 * t
                    for s in range(Tw):
                        p = (i * Th + t) * Tw + s
                        s00 = M[0, o, p] + M[4, o, p] + M[8, o, p]
                        s01 = M[1, o, p] + M[5, o, p] + M[9, o, p]
                        s02 = M[2, o, p] + M[6, o, p] + M[10, o, p]
                        s03 = M[3, o, p] + M[7, o, p] + M[11, o, p]
                        s10 = M[4, o, p] - M[8, o, p] - M[12, o, p]
                        s11 = M[5, o, p] - M[9, o, p] - M[13, o, p]
                        s12 = M[6, o, p] - M[10, o, p] - M[14, o, p]
                        s13 = M[7, o, p] - M[11, o, p] - M[15, o, p]
                        q = 2 * s
                        out[o, i, r, q] = s00 + s01 + s02 + bo
                        if q + 1 < Wo:
                            out[o, i, r, q + 1] = s01 - s02 - s03 + bo
                        if r + 1 < Ho:
                            out[o, i, r + 1, q] = s10 + s11 + s12 + bo
                            if q + 1 < Wo:
                                out[o, i, r + 1, q + 1] = s11 - s12 - s13 + bo

    @njit(nogil=True, cache=True)
    def grad_transform(g, Th, Tw, Gt):  # Gt[4 a + b, o, p] = (A g A^T)[a, b], g's 2x2 block (zeros past the edge)
        n, O, Ho, Wo = g.shape
        for o in range(O):
            for i in range(n):
                for t in range(Th):
                    r = 2 * t
                    for s in range(Tw):
                        q = 2 * s
                        p = (i * Th + t) * Tw + s
                        g00 = g[i, o, r, q]
                        g01 = g[i, o, r, q + 1] if q + 1 < Wo else 0.0
                        g10 = g[i, o, r + 1, q] if r + 1 < Ho else 0.0
                        g11 = g[i, o, r + 1, q + 1] if (r + 1 < Ho and q + 1 < Wo) else 0.0
                        # rows R = A g: (g0, g0 + g1, g0 - g1, -g1); columns (R A^T) likewise
                        a0, a1 = g00, g01
                        b0, b1 = g00 + g10, g01 + g11
                        c0, c1 = g00 - g10, g01 - g11
                        d0, d1 = -g10, -g11
                        Gt[0, o, p], Gt[1, o, p], Gt[2, o, p], Gt[3, o, p] = a0, a0 + a1, a0 - a1, -a1
                        Gt[4, o, p], Gt[5, o, p], Gt[6, o, p], Gt[7, o, p] = b0, b0 + b1, b0 - b1, -b1
                        Gt[8, o, p], Gt[9, o, p], Gt[10, o, p], Gt[11, o, p] = c0, c0 + c1, c0 - c1, -c1
                        Gt[12, o, p], Gt[13, o, p], Gt[14, o, p], Gt[15, o, p] = d0, d0 + d1, d0 - d1, -d1

    return input_transform, output_transform, grad_transform


def _k_major(a, b, dtype):
    """An uninitialized (16, a, b) array whose 16 (a, b) matrices start 32 values (128 bytes) apart
    modulo 4 KiB: the transforms read or write the 16 values of a tile in 16 streams, which at a
    power-of-two distance would fall into the same cache sets (measured 10x slower)."""
    return np.empty((16, a * b + 32), dtype=dtype)[:, :a * b].reshape(16, a, b)


# Images per tile: about this many bytes of V and M (or Gt) (and never more than conv.TILE_BYTES).
TILE_BYTES = 1 << 21


def _tiles(N, per_image, macs):
    from . import conv

    budget = min(TILE_BYTES, conv.TILE_BYTES)
    return conv._tile_bounds(N, max(1, min(N, budget // max(per_image, 1))), macs)


def conv3x3(x, w, b, pads, U=None):
    """y = conv2d(x, w) + b for a 3x3 kernel, stride 1, dilation 1, one group, padding
    (pt, pb, pl, pr); returned as an NCHW view of a channel-major (O, N, Ho, Wo) array.  Compiled
    transforms in tiles of images when available, else whole-batch array passes.  ``U``: w's
    kernel transform when the caller has it (see adjoint_transform), else it is computed."""
    if not compiled_available():
        return _conv3x3_arrays(x, w, b, pads, U)
    input_tf, output_tf, _ = _kernels
    N, C, H, W = x.shape
    O = w.shape[0]
    pt, pb, pl, pr = pads
    Ho, Wo = H + pt + pb - 2, W + pl + pr - 2
    Th, Tw = (Ho + 1) // 2, (Wo + 1) // 2
    dtype = np.result_type(x.dtype, w.dtype)
    if U is None:
        U = kernel_transform(w.astype(dtype, copy=False))
    out = np.empty((O, N, Ho, Wo), dtype=dtype)
    bias = np.zeros(O, dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
    bounds, par = _tiles(N, 16 * (C + O) * Th * Tw * out.itemsize, N * Ho * Wo * O * C * 9)

    def tile(k):
        n0, n1 = bounds[k]
        P = (n1 - n0) * Th * Tw
        V = _k_major(C, P, dtype)
        input_tf(x[n0:n1], pt, pl, Th, Tw, V, np.zeros((2 * Th + 2, 2 * Tw + 2), dtype=dtype))
        M = _k_major(O, P, dtype)
        np.matmul(U, V, out=M)
        output_tf(M, Th, Tw, out[:, n0:n1], bias)

    blocks(tile, len(bounds), par)
    return out.transpose(1, 0, 2, 3)


def conv3x3_weight(x, g, pads):
    """dL/dW (O, C, 3, 3) of y = conv2d(x, w) (3x3, stride 1, dilation 1, one group) for the
    output gradient g (N, O, Ho, Wo):  G^T [sum over tiles (A g A^T) . (B^T d B)] G."""
    if not compiled_available():
        return _conv3x3_weight_arrays(x, g, pads)
    input_tf, _, grad_tf = _kernels
    N, C = x.shape[:2]
    O, Ho, Wo = g.shape[1], g.shape[2], g.shape[3]
    Th, Tw = (Ho + 1) // 2, (Wo + 1) // 2
    dtype = np.result_type(x.dtype, g.dtype)
    bounds, par = _tiles(N, 16 * (C + O) * Th * Tw * np.dtype(dtype).itemsize, N * Ho * Wo * O * C * 9)

    def tile(k):
        n0, n1 = bounds[k]
        P = (n1 - n0) * Th * Tw
        V = _k_major(C, P, dtype)
        input_tf(x[n0:n1], pads[0], pads[2], Th, Tw, V, np.zeros((2 * Th + 2, 2 * Tw + 2), dtype=dtype))
        Gt = _k_major(O, P, dtype)
        grad_tf(g[n0:n1], Th, Tw, Gt)
        return np.matmul(Gt, V.transpose(0, 2, 1))  # (16, O, C)

    parts = blocks(tile, len(bounds), par)
    dU = parts[0]
    for part in parts[1:]:  # in tile order, whichever thread computed them
        dU += part
    return _weight_from_winograd(dU).astype(dtype, copy=False)


def conv3x3_backward(g, wf, full, Uf, x, pads):
    """Both gradients of y = conv2d(x, w) (3x3, stride 1, dilation 1, one group) in one pass over
    tiles of images: dL/dx = conv3x3(g, wf, full padding) with Uf = adjoint_transform(U) (wf the
    flipped, transposed kernel) and dL/dW = conv3x3_weight(x, g, pads), each tile doing its images'
    part of both (one hand-off to the threads instead of two; g's tile read by both while in
    cache).  The same numbers as the two calls up to the order of the weight gradient's tile sums;
    the compiled road only (else the two calls)."""
    if not compiled_available():
        return _conv3x3_arrays(g, wf, None, full, Uf), _conv3x3_weight_arrays(x, g, pads)
    input_tf, output_tf, grad_tf = _kernels
    N, O, Ho, Wo = g.shape
    C = x.shape[1]
    H, W = x.shape[2], x.shape[3]
    Th, Tw = (Ho + 1) // 2, (Wo + 1) // 2  # tiles of y (weight gradient)
    Sh, Sw = (H + 1) // 2, (W + 1) // 2  # tiles of x (input gradient: the full convolution's output)
    dtype = np.result_type(g.dtype, x.dtype, Uf.dtype)
    dx = np.empty((C, N, H, W), dtype=dtype)
    zero = np.zeros(C, dtype)
    per_image = 16 * ((O + C) * Sh * Sw + (O + C) * Th * Tw) * np.dtype(dtype).itemsize
    bounds, par = _tiles(N, per_image, 2 * N * Ho * Wo * O * C * 9)

    def tile(k):
        n0, n1 = bounds[k]
        gs = g[n0:n1]
        P = (n1 - n0) * Sh * Sw
        Vg = _k_major(O, P, dtype)
        input_tf(gs, full[0], full[2], Sh, Sw, Vg, np.zeros((2 * Sh + 2, 2 * Sw + 2), dtype=dtype))
        M = _k_major(C, P, dtype)
        np.matmul(Uf, Vg, out=M)
        output_tf(M, Sh, Sw, dx[:, n0:n1], zero)
        P = (n1 - n0) * Th * Tw
        Vx = _k_major(C, P, dtype)
        input_tf(x[n0:n1], pads[0], pads[2], Th, Tw, Vx, np.zeros((2 * Th + 2, 2 * Tw + 2), dtype=dtype))
        Gt = _k_major(O, P, dtype)
        grad_tf(gs, Th, Tw, Gt)
        return np.matmul(Gt, Vx.transpose(0, 2, 1))  # (16, O, C)

    parts = blocks(tile, len(bounds), par)
    dU = parts[0]
    for part in parts[1:]:  # in tile order, whichever thread computed them
        dU += part
    return dx.transpose(1, 0, 2, 3), _weight_from_winograd(dU).astype(dtype, copy=False)
