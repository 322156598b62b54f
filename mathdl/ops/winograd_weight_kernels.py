"""Compiled loops (numba) of Winograd's kernel transform and its adjoint, in separable form.

For F(m x m, 3x3) with G ((m + 2), 3) (mathdl/ops/winograd.py), every kernel w (3, 3) of an
(O, C, 3, 3) weight and every (m + 2)^2 block dU of the weight gradient's products:

  transform   U = G w G^T:        T[a, j] = sum_i G[a, i] w[i, j],    U[a, b] = sum_j T[a, j] G[b, j]
  adjoint     dW = G^T dU G:      S[i, b] = sum_a G[a, i] dU[a, b],   dW[i, j] = sum_b S[i, b] G[b, j]

18 + 36 multiply-adds of three terms for F(4x4)'s transform (instead of 36 of nine through G kron G),
each a pass over all O C kernels at once: the rows of W9 (9, O C) hold the kernels' nine taps, the
rows of U ((m + 2)^2, O C) their transforms, so every statement is one vector operation over O C
values.  Measured for (64, 64, 3, 3) float32 on one core: the kernel transform 114 -> ~30 us with the
(9, O C) copy, and in the training step it also avoids a fresh (36, 9) x (9, 4096) product whose
packing cost more than its arithmetic.  The scratch rows T, S are the caller's (no allocation is
compiled in).  Used when numba is enabled (mathdl.ops.compiled); winograd.py's products otherwise.
"""

from __future__ import annotations

from . import compiled

__all__ = ["kernels"]

_k = None


def kernels():
    """(transform, adjoint) compiled loops, or False without numba."""
    global _k
    if _k is None:
        _k = _compile() if compiled.enabled() else False
    return _k


def _compile():
    from numba import njit

    opts = dict(nogil=True, cache=True, error_model="numpy")

    @njit(**opts)
    def transform(W9, G, T, U):  # W9 (9, L) taps 3 i + j; T (3 R, L) scratch; U (R R, L)
        R = G.shape[0]
        L = W9.shape[1]
        for a in range(R):
            g0, g1, g2 = G[a, 0], G[a, 1], G[a, 2]
            for j in range(3):
                row, w0, w1, w2 = T[3 * a + j], W9[j], W9[3 + j], W9[6 + j]
                for q in range(L):
                    row[q] = g0 * w0[q] + g1 * w1[q] + g2 * w2[q]
        for a in range(R):
            t0, t1, t2 = T[3 * a], T[3 * a + 1], T[3 * a + 2]
            for b in range(R):
                h0, h1, h2 = G[b, 0], G[b, 1], G[b, 2]
                out = U[a * R + b]
                for q in range(L):
                    out[q] = t0[q] * h0 + t1[q] * h1 + t2[q] * h2

    @njit(**opts)
    def adjoint(dU, G, S, dW9):  # dU (R R, L); S (3 R, L) scratch; dW9 (9, L) taps 3 i + j
        R = G.shape[0]
        L = dU.shape[1]
        for i in range(3):
            for b in range(R):
                row = S[i * R + b]
                for q in range(L):
                    row[q] = G[0, i] * dU[b, q]
                for a in range(1, R):
                    ga, src = G[a, i], dU[a * R + b]
                    for q in range(L):
                        row[q] += ga * src[q]
        for i in range(3):
            for j in range(3):
                out = dW9[3 * i + j]
                src = S[i * R]
                g = G[0, j]
                for q in range(L):
                    out[q] = src[q] * g
                for b in range(1, R):
                    src, g = S[i * R + b], G[b, j]
                    for q in range(L):
                        out[q] += src[q] * g

    return transform, adjoint
