"""Compiled loops (numba) of Winograd's transforms for mathdl/ops/winograd.py, tile by tile.

For an output tile of m x m (m = 2 or 4) of a 3x3 correlation, the (m + 2) x (m + 2) input tile d,
the (m + 2)^2 entries of V = B^T d B (input transform), of Y = A^T M A (output transform, M the
products of winograd.py) and of Gt = A g A^T (the weight gradient's transform of an m x m block of
the output gradient g):

  F(2x2, 3x3):  B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
                A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
  F(4x4, 3x3) (interpolation points 0, 1, -1, 2, -2 and infinity; Lavin & Gray 2016):
                B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
                A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]

V is written as V[(m + 2) a + b, c, p] for the tile p = (n Th + t) Tw + s of channel c (rows 0..,
columns ..), M is read as M[k, o, p], Gt written as Gt[k, o, p]; tiles past the image's edge read
zeros (the padded plane ``buf``, one per call, allocated by the caller: no NumPy allocation is
compiled in, so a test that patches np.empty cannot break a compilation) and write only the
outputs inside the image.  The F(4x4) loops are written out for the 36 entries (a loop over
entries indexing tuples would not stay in registers); ``kc`` holds the constants 2, 4, 5, 8, 0 in
the data's dtype so that float32 data is transformed in float32, as the F(2x2) loops do.
"""

from __future__ import annotations

from . import compiled

__all__ = ["kernels"]

_kernels = None
_bt6 = _at6 = _ag6 = None  # the F(4x4) row transforms (compiled, inlined)


def kernels():
    """{m: (input, output, grad)} the compiled transforms for F(m x m, 3x3), m = 2, 4; False when
    numba is unavailable or disabled (mathdl/ops/compiled.py)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile() if compiled.enabled() else False
    return _kernels


def _compile():
    from numba import njit

    global _bt6, _at6, _ag6  # module globals, not closure cells: numba's cache keys a closure's cells
    # (a dispatcher there differs per process, so every process compiled these kernels again)

    @njit(nogil=True, cache=True)
    def input2(x, pt, pl, Th, Tw, V, buf, kc):  # V[4 a + b, c, (n Th + t) Tw + s] = (B^T d B)[a, b]
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
    def output2(M, Th, Tw, out, bias, kc):  # out[o, n, 2t + a, 2s + b] = (A^T M A)[a, b]
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
    def grad2(g, Th, Tw, Gt, kc):  # Gt[4 a + b, o, p] = (A g A^T)[a, b], g's 2x2 block (zeros past the edge)
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


    # ---------------------------------------------------------------- F(4x4, 3x3)
    @njit(inline="always")
    def _bt6(d0, d1, d2, d3, d4, d5, k2, k4, k5):  # B^T d
        a = d4 - d2
        b = d3 - d1
        return (k4 * d0 - k5 * d2 + d4, (d3 + d4) - k4 * (d1 + d2), (d4 - d3) + k4 * (d1 - d2),
                a + k2 * b, a - k2 * b, k4 * d1 - k5 * d3 + d5)

    @njit(inline="always")
    def _at6(m0, m1, m2, m3, m4, m5, k2, k4, k8):  # A^T m
        p = m1 + m2
        q = m1 - m2
        r = m3 + m4
        s = m3 - m4
        return m0 + p + r, q + k2 * s, p + k4 * r, q + k8 * s + m5

    @njit(inline="always")
    def _ag6(g0, g1, g2, g3, k2, k4, k8):  # A g
        e = g0 + g2
        o = g1 + g3
        e4 = g0 + k4 * g2
        o2 = k2 * g1 + k8 * g3
        return g0, e + o, e - o, e4 + o2, e4 - o2, g3

    @njit(nogil=True, cache=True)
    def input4(x, pt, pl, Th, Tw, V, buf, kc):  # V[6 a + b, c, (n Th + t) Tw + s] = (B^T d B)[a, b]
        k2, k4, k5 = kc[0], kc[1], kc[2]
        n, C, H, W = x.shape
        Hb, Wb = min(H, buf.shape[0] - pt), min(W, buf.shape[1] - pl)
        for c in range(C):
            for i in range(n):
                plane = x[i, c]
                for r in range(Hb):
                    dst, src = buf[r + pt, pl:pl + Wb], plane[r, :Wb]
                    for q in range(Wb):
                        dst[q] = src[q]
                base = i * Th * Tw
                for t in range(Th):
                    r0 = 4 * t
                    b0, b1, b2, b3, b4, b5 = buf[r0], buf[r0 + 1], buf[r0 + 2], buf[r0 + 3], buf[r0 + 4], buf[r0 + 5]
                    for s in range(Tw):
                        c0 = 4 * s
                        p = base + t * Tw + s
                        # columns: u_j = B^T d[:, j]; then rows: V[6 a + :] = B^T (u_0[a], ..., u_5[a])
                        u00, u01, u02, u03, u04, u05 = _bt6(b0[c0 + 0], b1[c0 + 0], b2[c0 + 0],
                                                           b3[c0 + 0], b4[c0 + 0], b5[c0 + 0], k2, k4, k5)
                        u10, u11, u12, u13, u14, u15 = _bt6(b0[c0 + 1], b1[c0 + 1], b2[c0 + 1],
                                                           b3[c0 + 1], b4[c0 + 1], b5[c0 + 1], k2, k4, k5)
                        u20, u21, u22, u23, u24, u25 = _bt6(b0[c0 + 2], b1[c0 + 2], b2[c0 + 2],
                                                           b3[c0 + 2], b4[c0 + 2], b5[c0 + 2], k2, k4, k5)
                        u30, u31, u32, u33, u34, u35 = _bt6(b0[c0 + 3], b1[c0 + 3], b2[c0 + 3],
                                                           b3[c0 + 3], b4[c0 + 3], b5[c0 + 3], k2, k4, k5)
                        u40, u41, u42, u43, u44, u45 = _bt6(b0[c0 + 4], b1[c0 + 4], b2[c0 + 4],
                                                           b3[c0 + 4], b4[c0 + 4], b5[c0 + 4], k2, k4, k5)
                        u50, u51, u52, u53, u54, u55 = _bt6(b0[c0 + 5], b1[c0 + 5], b2[c0 + 5],
                                                           b3[c0 + 5], b4[c0 + 5], b5[c0 + 5], k2, k4, k5)
                        v0, v1, v2, v3, v4, v5 = _bt6(u00, u10, u20, u30, u40, u50, k2, k4, k5)
                        V[0, c, p], V[1, c, p], V[2, c, p] = v0, v1, v2
                        V[3, c, p], V[4, c, p], V[5, c, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _bt6(u01, u11, u21, u31, u41, u51, k2, k4, k5)
                        V[6, c, p], V[7, c, p], V[8, c, p] = v0, v1, v2
                        V[9, c, p], V[10, c, p], V[11, c, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _bt6(u02, u12, u22, u32, u42, u52, k2, k4, k5)
                        V[12, c, p], V[13, c, p], V[14, c, p] = v0, v1, v2
                        V[15, c, p], V[16, c, p], V[17, c, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _bt6(u03, u13, u23, u33, u43, u53, k2, k4, k5)
                        V[18, c, p], V[19, c, p], V[20, c, p] = v0, v1, v2
                        V[21, c, p], V[22, c, p], V[23, c, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _bt6(u04, u14, u24, u34, u44, u54, k2, k4, k5)
                        V[24, c, p], V[25, c, p], V[26, c, p] = v0, v1, v2
                        V[27, c, p], V[28, c, p], V[29, c, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _bt6(u05, u15, u25, u35, u45, u55, k2, k4, k5)
                        V[30, c, p], V[31, c, p], V[32, c, p] = v0, v1, v2
                        V[33, c, p], V[34, c, p], V[35, c, p] = v3, v4, v5

    @njit(nogil=True, cache=True)
    def output4(M, Th, Tw, out, bias, kc):  # out[o, n, 4t + a, 4s + b] = (A^T M A)[a, b] + bias[o]
        k2, k4, k8 = kc[0], kc[1], kc[3]
        O, n, Ho, Wo = out.shape
        for o in range(O):
            bo, m = bias[o], M[:, o]
            for i in range(n):
                for t in range(Th):
                    r = 4 * t
                    for s in range(Tw):
                        p = (i * Th + t) * Tw + s
                        q = 4 * s
                        # columns: w_b = A^T M[:, b]; then rows: Y[a, :] = A^T (w_0[a], ..., w_5[a])
                        w00, w01, w02, w03 = _at6(m[0, p], m[6, p], m[12, p], m[18, p], m[24, p], m[30, p], k2, k4, k8)
                        w10, w11, w12, w13 = _at6(m[1, p], m[7, p], m[13, p], m[19, p], m[25, p], m[31, p], k2, k4, k8)
                        w20, w21, w22, w23 = _at6(m[2, p], m[8, p], m[14, p], m[20, p], m[26, p], m[32, p], k2, k4, k8)
                        w30, w31, w32, w33 = _at6(m[3, p], m[9, p], m[15, p], m[21, p], m[27, p], m[33, p], k2, k4, k8)
                        w40, w41, w42, w43 = _at6(m[4, p], m[10, p], m[16, p], m[22, p], m[28, p], m[34, p], k2, k4, k8)
                        w50, w51, w52, w53 = _at6(m[5, p], m[11, p], m[17, p], m[23, p], m[29, p], m[35, p], k2, k4, k8)
                        y00, y01, y02, y03 = _at6(w00, w10, w20, w30, w40, w50, k2, k4, k8)
                        y10, y11, y12, y13 = _at6(w01, w11, w21, w31, w41, w51, k2, k4, k8)
                        y20, y21, y22, y23 = _at6(w02, w12, w22, w32, w42, w52, k2, k4, k8)
                        y30, y31, y32, y33 = _at6(w03, w13, w23, w33, w43, w53, k2, k4, k8)
                        if r + 3 < Ho and q + 3 < Wo:
                            row = out[o, i, r + 0]
                            row[q], row[q + 1], row[q + 2], row[q + 3] = y00 + bo, y01 + bo, y02 + bo, y03 + bo
                            row = out[o, i, r + 1]
                            row[q], row[q + 1], row[q + 2], row[q + 3] = y10 + bo, y11 + bo, y12 + bo, y13 + bo
                            row = out[o, i, r + 2]
                            row[q], row[q + 1], row[q + 2], row[q + 3] = y20 + bo, y21 + bo, y22 + bo, y23 + bo
                            row = out[o, i, r + 3]
                            row[q], row[q + 1], row[q + 2], row[q + 3] = y30 + bo, y31 + bo, y32 + bo, y33 + bo
                        else:  # a tile across the edge: the outputs inside only
                            if r + 0 < Ho:
                                row = out[o, i, r + 0]
                                row[q] = y00 + bo
                                if q + 1 < Wo:
                                    row[q + 1] = y01 + bo
                                if q + 2 < Wo:
                                    row[q + 2] = y02 + bo
                                if q + 3 < Wo:
                                    row[q + 3] = y03 + bo
                            if r + 1 < Ho:
                                row = out[o, i, r + 1]
                                row[q] = y10 + bo
                                if q + 1 < Wo:
                                    row[q + 1] = y11 + bo
                                if q + 2 < Wo:
                                    row[q + 2] = y12 + bo
                                if q + 3 < Wo:
                                    row[q + 3] = y13 + bo
                            if r + 2 < Ho:
                                row = out[o, i, r + 2]
                                row[q] = y20 + bo
                                if q + 1 < Wo:
                                    row[q + 1] = y21 + bo
                                if q + 2 < Wo:
                                    row[q + 2] = y22 + bo
                                if q + 3 < Wo:
                                    row[q + 3] = y23 + bo
                            if r + 3 < Ho:
                                row = out[o, i, r + 3]
                                row[q] = y30 + bo
                                if q + 1 < Wo:
                                    row[q + 1] = y31 + bo
                                if q + 2 < Wo:
                                    row[q + 2] = y32 + bo
                                if q + 3 < Wo:
                                    row[q + 3] = y33 + bo

    @njit(nogil=True, cache=True)
    def grad4(g, Th, Tw, Gt, kc):  # Gt[6 a + b, o, p] = (A g A^T)[a, b], g's 4x4 block (zeros past the edge)
        k2, k4, k8, zero = kc[0], kc[1], kc[3], kc[4]
        n, O, Ho, Wo = g.shape
        for o in range(O):
            for i in range(n):
                for t in range(Th):
                    r = 4 * t
                    for s in range(Tw):
                        q = 4 * s
                        p = (i * Th + t) * Tw + s
                        if r + 3 < Ho and q + 3 < Wo:
                            ga = g[i, o, r + 0]
                            e00, e01, e02, e03 = ga[q + 0], ga[q + 1], ga[q + 2], ga[q + 3]
                            ga = g[i, o, r + 1]
                            e10, e11, e12, e13 = ga[q + 0], ga[q + 1], ga[q + 2], ga[q + 3]
                            ga = g[i, o, r + 2]
                            e20, e21, e22, e23 = ga[q + 0], ga[q + 1], ga[q + 2], ga[q + 3]
                            ga = g[i, o, r + 3]
                            e30, e31, e32, e33 = ga[q + 0], ga[q + 1], ga[q + 2], ga[q + 3]
                        else:
                            e00 = g[i, o, r + 0, q + 0] if r + 0 < Ho and q + 0 < Wo else zero
                            e01 = g[i, o, r + 0, q + 1] if r + 0 < Ho and q + 1 < Wo else zero
                            e02 = g[i, o, r + 0, q + 2] if r + 0 < Ho and q + 2 < Wo else zero
                            e03 = g[i, o, r + 0, q + 3] if r + 0 < Ho and q + 3 < Wo else zero
                            e10 = g[i, o, r + 1, q + 0] if r + 1 < Ho and q + 0 < Wo else zero
                            e11 = g[i, o, r + 1, q + 1] if r + 1 < Ho and q + 1 < Wo else zero
                            e12 = g[i, o, r + 1, q + 2] if r + 1 < Ho and q + 2 < Wo else zero
                            e13 = g[i, o, r + 1, q + 3] if r + 1 < Ho and q + 3 < Wo else zero
                            e20 = g[i, o, r + 2, q + 0] if r + 2 < Ho and q + 0 < Wo else zero
                            e21 = g[i, o, r + 2, q + 1] if r + 2 < Ho and q + 1 < Wo else zero
                            e22 = g[i, o, r + 2, q + 2] if r + 2 < Ho and q + 2 < Wo else zero
                            e23 = g[i, o, r + 2, q + 3] if r + 2 < Ho and q + 3 < Wo else zero
                            e30 = g[i, o, r + 3, q + 0] if r + 3 < Ho and q + 0 < Wo else zero
                            e31 = g[i, o, r + 3, q + 1] if r + 3 < Ho and q + 1 < Wo else zero
                            e32 = g[i, o, r + 3, q + 2] if r + 3 < Ho and q + 2 < Wo else zero
                            e33 = g[i, o, r + 3, q + 3] if r + 3 < Ho and q + 3 < Wo else zero
                        # columns: u_b = A g[:, b]; then rows: Gt[6 a + :] = A (u_0[a], ..., u_3[a])
                        u00, u01, u02, u03, u04, u05 = _ag6(e00, e10, e20, e30, k2, k4, k8)
                        u10, u11, u12, u13, u14, u15 = _ag6(e01, e11, e21, e31, k2, k4, k8)
                        u20, u21, u22, u23, u24, u25 = _ag6(e02, e12, e22, e32, k2, k4, k8)
                        u30, u31, u32, u33, u34, u35 = _ag6(e03, e13, e23, e33, k2, k4, k8)
                        v0, v1, v2, v3, v4, v5 = _ag6(u00, u10, u20, u30, k2, k4, k8)
                        Gt[0, o, p], Gt[1, o, p], Gt[2, o, p] = v0, v1, v2
                        Gt[3, o, p], Gt[4, o, p], Gt[5, o, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _ag6(u01, u11, u21, u31, k2, k4, k8)
                        Gt[6, o, p], Gt[7, o, p], Gt[8, o, p] = v0, v1, v2
                        Gt[9, o, p], Gt[10, o, p], Gt[11, o, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _ag6(u02, u12, u22, u32, k2, k4, k8)
                        Gt[12, o, p], Gt[13, o, p], Gt[14, o, p] = v0, v1, v2
                        Gt[15, o, p], Gt[16, o, p], Gt[17, o, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _ag6(u03, u13, u23, u33, k2, k4, k8)
                        Gt[18, o, p], Gt[19, o, p], Gt[20, o, p] = v0, v1, v2
                        Gt[21, o, p], Gt[22, o, p], Gt[23, o, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _ag6(u04, u14, u24, u34, k2, k4, k8)
                        Gt[24, o, p], Gt[25, o, p], Gt[26, o, p] = v0, v1, v2
                        Gt[27, o, p], Gt[28, o, p], Gt[29, o, p] = v3, v4, v5
                        v0, v1, v2, v3, v4, v5 = _ag6(u05, u15, u25, u35, k2, k4, k8)
                        Gt[30, o, p], Gt[31, o, p], Gt[32, o, p] = v0, v1, v2
                        Gt[33, o, p], Gt[34, o, p], Gt[35, o, p] = v3, v4, v5

    return {2: (input2, output2, grad2), 4: (input4, output4, grad4)}
