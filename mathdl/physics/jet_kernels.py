"""Fused loops of :class:`mathdl.physics.jet.ActivationJet` for NumPy arrays, compiled by numba.

The same formulas as the array code in :mod:`mathdl.physics.jet`, one pass over the (n, w) entries
instead of ~10 (forward) and ~25 (backward) whole-array passes, which is what the step is bound by
(the arrays of a 10,000-point batch do not fit in cache).  f itself is NumPy's (SIMD) tanh; the loops
do the rest.  For entry (r, j), with s = f'(z), c = f''(z)
written through a = f(z) (tanh: s = 1 - a^2, c = -2 a s; sigmoid: s = a (1 - a), c = s (1 - 2 a)):

    forward    a = f(S_0 + b),   A_k = s S_k,   A_{P+q} += c S_{i_q} S_{j_q}
    backward   G'_k = s G_k,   G'_{i_q} += G_{P+q} c S_{j_q},   G'_{j_q} += G_{P+q} c S_{i_q},
               dL/da = G_0 + s'(a) sum_k G_k S_k + c'(a) sum_q G_{P+q} S_{i_q} S_{j_q},
               G'_0 = s dL/da,   db = sum_r G'_0

(slots k = 1..K after the value slot 0; P first-derivative slots, then one slot per pair q).
``available()`` is False without numba (or with MATHDL_NO_NUMBA=1); the array code is used then,
and always for CuPy arrays.
"""

from __future__ import annotations

import numpy as np

from ..ops import compiled

__all__ = ["available", "forward", "backward"]

_kernels = None


def available():
    """Whether the compiled kernels can be used (numba importable, not disabled)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile() if compiled.enabled() else False
    return _kernels is not False


def _compile():
    from numba import njit

    @njit(cache=True, fastmath=False)
    def fwd(S, pairs, n_first, sigmoid, out):  # out[0] = a = f(z) is filled in (by NumPy's SIMD tanh)
        K1, n, w = S.shape
        Q = pairs.shape[0]
        s = np.empty(w, S.dtype)  # one row of f'(z) and f''(z); the inner loops run along it (SIMD)
        c = np.empty(w, S.dtype)
        for r in range(n):
            for j in range(w):
                a = out[0, r, j]
                if sigmoid:
                    s[j] = a * (1.0 - a)
                    c[j] = s[j] * (1.0 - 2.0 * a)
                else:
                    s[j] = 1.0 - a * a
                    c[j] = -2.0 * a * s[j]
            for k in range(1, K1):
                for j in range(w):
                    out[k, r, j] = s[j] * S[k, r, j]
            for q in range(Q):
                i1, i2, o = 1 + pairs[q, 0], 1 + pairs[q, 1], 1 + n_first + q
                for j in range(w):
                    out[o, r, j] += c[j] * S[i1, r, j] * S[i2, r, j]

    @njit(cache=True, fastmath=False)
    def bwd(g, S, out, pairs, n_first, sigmoid, gS, gb):
        K1, n, w = S.shape
        Q = pairs.shape[0]
        s, c = np.empty(w, S.dtype), np.empty(w, S.dtype)
        ds, dc = np.empty(w, S.dtype), np.empty(w, S.dtype)
        acc, pt = np.empty(w, S.dtype), np.empty(w, S.dtype)
        for j in range(w):
            gb[j] = 0.0
        for r in range(n):
            for j in range(w):
                a = out[0, r, j]
                if sigmoid:
                    s[j] = a * (1.0 - a)
                    c[j] = s[j] * (1.0 - 2.0 * a)
                    ds[j] = 1.0 - 2.0 * a
                    dc[j] = ds[j] * ds[j] - 2.0 * s[j]
                else:
                    s[j] = 1.0 - a * a
                    c[j] = -2.0 * a * s[j]
                    ds[j] = -2.0 * a
                    dc[j] = 6.0 * a * a - 2.0
                acc[j] = 0.0
                pt[j] = 0.0
            for k in range(1, K1):
                for j in range(w):
                    gk = g[k, r, j]
                    gS[k, r, j] = s[j] * gk
                    acc[j] += gk * S[k, r, j]
            for q in range(Q):
                i1, i2, o = 1 + pairs[q, 0], 1 + pairs[q, 1], 1 + n_first + q
                for j in range(w):
                    gq = g[o, r, j]
                    gS[i1, r, j] += gq * c[j] * S[i2, r, j]
                    gS[i2, r, j] += gq * c[j] * S[i1, r, j]
                    pt[j] += gq * S[i1, r, j] * S[i2, r, j]
            for j in range(w):
                gz = s[j] * (g[0, r, j] + ds[j] * acc[j] + dc[j] * pt[j])
                gS[0, r, j] = gz
                gb[j] += gz

    return fwd, bwd


def _pairs(pairs):
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def forward(S, b, pairs, n_first, kind):
    """The stacked activation jet of ``S`` (1 + K, n, w) with bias ``b`` (w,) or None."""
    fwd = _kernels[0]
    S = np.ascontiguousarray(S)
    out = np.empty_like(S)
    a = out[0]
    if b is None:
        a[...] = S[0]
    else:
        np.add(S[0], b, out=a)
    if kind == "sigmoid":  # 0.5 (1 + tanh(z / 2)), exact on both tails
        a *= 0.5
        np.tanh(a, out=a)
        a += 1
        a *= 0.5
    else:
        np.tanh(a, out=a)
    fwd(S, _pairs(pairs), int(n_first), kind == "sigmoid", out)
    return out


def backward(g, S, out, pairs, n_first, kind):
    """(dL/dS, dL/db) from dL/dout ``g``."""
    bwd = _kernels[1]
    g = np.ascontiguousarray(g, dtype=S.dtype)
    gS = np.empty_like(S)
    gb = np.empty(S.shape[2], S.dtype)
    bwd(g, np.ascontiguousarray(S), np.ascontiguousarray(out), _pairs(pairs), int(n_first), kind == "sigmoid", gS, gb)
    return gS, gb
