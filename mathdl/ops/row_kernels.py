"""Row-wise passes over the last axis (softmax, its gradient, layer norm), compiled by numba.

NumPy reduces a short last axis one row at a time (``x.max(axis=-1)`` on 64-long float32 rows:
0.9 ns per entry, several times a full elementwise pass), and every broadcast ``x - m[:, None]``
is one more pass.  These loops do a row's reduction and its update in one visit while the row is
in L1.  The formulas are those of the array code they replace, entry for entry:

  softmax      m = max_j x_j (0 when the row is all -inf),  y_j = x_j - m,  then NumPy's SIMD exp,
               then  y_j <- y_j / sum_k y_k          (a NaN or +inf anywhere gives a NaN row, as torch;
               attention's fully masked rows, sum 0, may be kept at 0 instead)
  softmax'     dS_j = scale a_j (g_j - sum_k g_k a_k)
  layer norm   mu = mean_j x_j,  var = mean_j (x_j - mu)^2,  rstd = 1 / sqrt(var + eps),
               xhat_j = (x_j - mu) rstd,  y_j = w_j xhat_j + b_j
  layer norm'  gh_j = g_j w_j,  dx_j = rstd (gh_j - mean(gh) - xhat_j mean(gh xhat))
  batch norm   the same over each channel's row of a channel-major (C, N H W) block, sums in float64
               (as PyTorch's CPU kernel), y = w xhat + b, max(y, 0) when fused with relu;
  batch norm'  g' = g [y > 0] with relu,  dx = w rstd (g' - mean(g') - xhat mean(g' xhat))

Sums are reassociated (vectorized), so results differ from the array code by float rounding only;
NaN and infinity keep IEEE semantics (no ``nnan``/``ninf`` fast-math flags).  ``available()`` is
False without numba or with MATHDL_NO_NUMBA=1; callers then keep their array code, and always for
CuPy arrays.  The kernels release the GIL, so row blocks run on mathdl's threads in parallel.
"""

from __future__ import annotations

import numpy as np

from . import compiled

__all__ = ["available", "usable", "MIN_ELEMENTS", "softmax_rows", "softmax_shift", "normalize_sum", "softmax_grad",
           "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward"]

_k = None
_rowmax = None  # the row maximum (compiled in _compile)
_bn_fwd_row = _bn_bwd_row = None  # batch norm's per-channel loops (compiled in _compile)
_FLAGS = {"reassoc", "contract", "arcp", "nsz"}  # vectorized sums; NaN/inf semantics kept


def available():
    """Whether the compiled kernels can be used (mathdl.ops.compiled.enabled(): numba, not disabled)."""
    global _k
    if _k is None:
        _k = _compile() if compiled.enabled() else False
    return _k is not False


# Below this many entries the array code runs: its cost is then mostly per-call, the same for both,
# and a small program never pays numba's import and first-call load (~0.3 s + ~0.2 s per kernel).
MIN_ELEMENTS = 8192


def usable(*arrays):
    """The kernels apply: at least MIN_ELEMENTS entries, numba present, and every array a C-contiguous
    NumPy float32/float64 array of one dtype."""
    if arrays[0].size < MIN_ELEMENTS or not available():
        return False
    dt = arrays[0].dtype
    return all(type(a) is np.ndarray and a.dtype == dt and a.flags.c_contiguous for a in arrays) and dt in (
        np.float32, np.float64)


def _compile():
    from numba import njit

    global _rowmax  # a module global, not a closure cell: numba's cache keys a closure's cells (a
    # dispatcher there differs per process, so every process compiled ``shift`` again)

    opts = dict(cache=True, nogil=True, fastmath=_FLAGS, error_model="numpy")

    # The maximum alone may assume no NaN (it then vectorizes): a NaN entry still makes its row NaN
    # through y = x - m and the sum, whatever m is.
    @njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
    def _rowmax(x, i):
        m = x[i, 0]
        for j in range(1, x.shape[1]):
            m = max(m, x[i, j])
        return m

    @njit(**opts)
    def shift(x, y):  # y = x - rowmax(x)
        R, n = x.shape
        for i in range(R):
            m = _rowmax(x, i)
            if m == -np.inf:
                m = 0.0
            for j in range(n):
                y[i, j] = x[i, j] - m

    @njit(**opts)
    def normalize(y, empty_zero):  # y /= rowsum(y)
        R, n = y.shape
        for i in range(R):
            s = y.dtype.type(0.0)
            for j in range(n):
                s += y[i, j]
            if empty_zero and s == 0.0:
                s = 1.0
            inv = 1.0 / s
            for j in range(n):
                y[i, j] *= inv

    @njit(**opts)
    def sgrad(a, g, scale, out):  # out = scale a (g - rowsum(g a))
        R, n = a.shape
        for i in range(R):
            r = a.dtype.type(0.0)
            for j in range(n):
                r += g[i, j] * a[i, j]
            for j in range(n):
                out[i, j] = scale * (a[i, j] * (g[i, j] - r))

    @njit(**opts)
    def ln_fwd(x, w, b, eps, xhat, y, rstd):
        R, n = x.shape
        inv_n = 1.0 / n
        for i in range(R):
            s = x.dtype.type(0.0)
            for j in range(n):
                s += x[i, j]
            mu = s * inv_n
            v = x.dtype.type(0.0)
            for j in range(n):
                d = x[i, j] - mu
                v += d * d
            r = 1.0 / np.sqrt(v * inv_n + eps)
            rstd[i, 0] = r
            for j in range(n):
                h = (x[i, j] - mu) * r
                xhat[i, j] = h
                y[i, j] = h * w[j] + b[j]

    @njit(**opts)
    def ln_bwd(g, xhat, rstd, w, gx):
        R, n = g.shape
        inv_n = 1.0 / n
        for i in range(R):
            s1 = g.dtype.type(0.0)
            s2 = g.dtype.type(0.0)
            for j in range(n):
                gh = g[i, j] * w[j]
                s1 += gh
                s2 += gh * xhat[i, j]
            r = rstd[i, 0]
            m1 = s1 * inv_n
            m2 = s2 * inv_n
            for j in range(n):
                gx[i, j] = r * (g[i, j] * w[j] - m1 - xhat[i, j] * m2)

    # batch norm: one channel's row per call of the row functions (module globals: numba's cache keys a
    # closure's cells); the serial loops and the OpenMP team's (mathdl/openmp_team.py: prange shares
    # out the rows) call the same row code, so they give the same bits
    global _bn_fwd_row, _bn_bwd_row

    @njit(**opts)
    def _bn_fwd_row(x, wi, bi, eps, relu, xhat, y, st):  # st = (mu, var, rstd) of the row x
        n = x.shape[0]
        s = 0.0  # float64 sums, as PyTorch's CPU batch norm accumulates
        for j in range(n):
            s += x[j]
        mu = s / n
        v = 0.0
        for j in range(n):
            d = x[j] - mu
            v += d * d
        v /= n
        r = 1.0 / np.sqrt(v + eps)
        st[0], st[1], st[2] = mu, v, r
        muf, rf = x.dtype.type(mu), x.dtype.type(r)
        z = x.dtype.type(0.0)
        for j in range(n):
            h = (x[j] - muf) * rf
            xhat[j] = h
            t = h * wi + bi
            if relu:
                t = t if not (t <= z) else z
            y[j] = t

    @njit(**opts)
    def _bn_bwd_row(g, xhat, y, relu, sc, need_gx, gx, sm):  # sm = (sum g', sum g' xhat), g' = g [y > 0]
        n = g.shape[0]
        s = 0.0
        sx = 0.0
        z = g.dtype.type(0.0)
        for j in range(n):
            gj = g[j]
            if relu:
                gj = gj if y[j] > z else z
            s += gj
            sx += gj * xhat[j]
        sm[0], sm[1] = s, sx
        if need_gx:
            a = g.dtype.type(sx * sc / n)
            c = g.dtype.type(s * sc / n)
            scf = g.dtype.type(sc)
            for j in range(n):
                gj = g[j]
                if relu:
                    gj = gj if y[j] > z else z
                gx[j] = gj * scf - xhat[j] * a - c

    @njit(**opts)
    def bn_fwd(x, w, b, eps, relu, xhat, y, stats):  # rows = channels; stats[i] = (mu, var, rstd)
        for i in range(x.shape[0]):
            _bn_fwd_row(x[i], w[i], b[i], eps, relu, xhat[i], y[i], stats[i])

    @njit(**opts)
    def bn_bwd(g, xhat, y, relu, scale, need_gx, gx, sums):  # sums[i] = (sum g', sum g' xhat)
        for i in range(g.shape[0]):
            _bn_bwd_row(g[i], xhat[i], y[i], relu, scale[i], need_gx, gx[i] if need_gx else gx[0], sums[i])

    from numba import prange

    @njit(parallel=True, **opts)
    def bn_fwd_team(x, w, b, eps, relu, xhat, y, stats):
        for i in prange(x.shape[0]):
            _bn_fwd_row(x[i], w[i], b[i], eps, relu, xhat[i], y[i], stats[i])

    @njit(parallel=True, **opts)
    def bn_bwd_team(g, xhat, y, relu, scale, need_gx, gx, sums):
        for i in prange(g.shape[0]):
            _bn_bwd_row(g[i], xhat[i], y[i], relu, scale[i], need_gx, gx[i] if need_gx else gx[0], sums[i])

    return {"shift": shift, "normalize": normalize, "sgrad": sgrad, "ln_fwd": ln_fwd, "ln_bwd": ln_bwd,
            "bn_fwd": bn_fwd, "bn_bwd": bn_bwd, "bn_fwd_team": bn_fwd_team, "bn_bwd_team": bn_bwd_team}


def softmax_shift(x, y):
    """y = x - rowmax(x) (0 for an all -inf row) for 2-D C-contiguous x, y."""
    _k["shift"](x, y)


def softmax_rows(x, y, empty_rows_zero=False):
    """y = softmax of each row of x (y may be x): shift by the row max, NumPy's SIMD exp, normalize."""
    softmax_shift(x, y)
    np.exp(y, out=y)
    normalize_sum(y, empty_rows_zero)


def normalize_sum(y, empty_rows_zero=False):
    """y /= rowsum(y), in place; with ``empty_rows_zero`` a row summing to 0 (fully masked attention)
    stays 0 instead of 0/0."""
    _k["normalize"](y, empty_rows_zero)


def softmax_grad(a, g, scale, out):
    """out = scale * a * (g - rowsum(g a))."""
    _k["sgrad"](a, g, a.dtype.type(scale), out)


def layer_norm_forward(x, w, b, eps, xhat, y, rstd):
    """xhat, y = w xhat + b and rstd (R, 1) of the rows of x; ``w``/``b`` may be None (1 and 0)."""
    n = x.shape[1]
    _k["ln_fwd"](x, np.ones(n, x.dtype) if w is None else w, np.zeros(n, x.dtype) if b is None else b,
                 x.dtype.type(eps), xhat, y, rstd)


def layer_norm_backward(g, xhat, rstd, w, gx):
    """gx = rstd (gh - mean(gh) - xhat mean(gh xhat)), gh = g w (w may be None: 1)."""
    _k["ln_bwd"](g, xhat, rstd, np.ones(g.shape[1], g.dtype) if w is None else w, gx)


def _team(threads):
    if threads:
        from .. import openmp_team

        openmp_team.use_threads(threads)
        return "_team"
    return ""


def batch_norm_forward(x, w, b, eps, relu, xhat, y, stats, threads=0):
    """Rows = channels of a (C, L) block: xhat, y = w xhat + b (max(., 0) with ``relu``) and
    stats (C, 3) float64 = (mean, biased variance, rstd); ``w``/``b`` may be None (1 and 0).
    ``threads`` >= 1: the team version (rows shared out by prange over that many threads of the OpenMP
    team: the same results at every count), else the serial loop."""
    C = x.shape[0]
    _k["bn_fwd" + _team(threads)](x, np.ones(C, x.dtype) if w is None else w,
                                  np.zeros(C, x.dtype) if b is None else b, float(eps), bool(relu), xhat, y, stats)


def batch_norm_backward(g, xhat, y, relu, scale, gx, sums, threads=0):
    """Rows = channels: sums (C, 2) float64 = (sum g', sum g' xhat) with g' = g [y > 0] under ``relu``
    (else g), and, when ``gx`` is given, gx = scale (g' - mean(g') - xhat mean(g' xhat)); ``threads``
    as batch_norm_forward."""
    need = gx is not None
    _k["bn_bwd" + _team(threads)](g, xhat, g if y is None else y, bool(relu), scale.astype(np.float64), need,
                                  gx if need else g[:1, :0], sums)
