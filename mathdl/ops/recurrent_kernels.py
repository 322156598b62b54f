"""One time step of the LSTM and GRU recurrences, its elementwise part fused into one compiled call.

A step of :class:`mathdl.ops.recurrent.Recurrence` is one matrix product with W_hh (NumPy, BLAS)
and, around it, about fifteen elementwise passes over (batch, gates) arrays of a few thousand
entries each: at hidden size 128 and batch 32 each pass costs a few microseconds of NumPy call
overhead and memory traffic, together more than the product (55 us against 46 us).  These kernels
do the elementwise part of one step in one call (LSTM, that shape: forward 7.6 us, backward 6 us
with the data in cache).  All per-step arrays are batch-major, (B, G H) with the gate blocks side
by side (PyTorch's order), as xw and Z are, so the step's delta is already in xw's layout.  Each
batch row goes through a few short loops over contiguous H-long slices, each loop with few input
and output streams: LLVM vectorizes those (one loop over all four gate blocks of a row, or one
with many streams, stays scalar: same-array offsets it cannot prove apart, too many alias checks).

Formulas (sigma the logistic function, computed as (1 + tanh(x / 2)) / 2):

  LSTM forward   [i f g o] = [sigma sigma tanh sigma](G + x_t + b_hh),   G = h_{t-1} W_hh^T
                 c = f c_{t-1} + i g,   r = o tanh(c),   h = r (no projection)
  LSTM backward  dr = dh (no projection; dh includes dL/dh_t from the output), dc += dL/dc_t,
                 dc' = dc + dr o (1 - tanh^2 c),
                 delta = [dc' g i (1 - i),  dc' c_{t-1} f (1 - f),  dc' i (1 - g^2),  dr tanh(c) o (1 - o)],
                 dc <- dc' f   (the product dh_{t-1} = delta W_hh follows in NumPy)
  GRU forward    [r z] = sigma(x_t[r z] + G[r z] + b_hh[r z]),  hn = G[n] + b_hh[n],
                 n = tanh(x_t[n] + r hn),   h = n + z (h_{t-1} - n)
  GRU backward   dh = dh_mm + carry + dL/dh_t,   dn' = dh (1 - z)(1 - n^2),
                 delta_x = [dn' hn r (1 - r),  dh (h_{t-1} - n) z (1 - z),  dn'],
                 delta_h = delta_x with dn' r in the n block,   carry <- dh z
                 (then dh_mm = delta_h W_hh in NumPy; dh_{t-1} = dh_mm + carry)

Rows lo:m of the batch are active at the step; rows m:hi (finished sequences of a packed batch)
keep their state, get zero gates and delta, and pass their gradient through unchanged.

tanh is a rational function (Eigen's float tanh: |x| clamped to 7.9053, odd degree-13 numerator
over even degree-6 denominator), max abs error 2.4e-7 against float64 tanh; libm's tanh would not
vectorize (a call per entry, ~30x slower).  float32 only: the NumPy code in ``recurrent`` runs
float64 (gradient checks) and CuPy arrays.  ``fastmath`` allows contraction and reassociation but
not the no-NaN / no-infinity assumptions, so a NaN input still gives NaN.

The ``*_loop`` functions run all time steps of a column block of the batch in one call, each step's
product a direct call of NumPy's OpenBLAS cblas_sgemm (``_sgemm``, an LLVM call through the address
``gemm_address`` finds, so the compiled code stays cacheable); the ``*_split`` ones run one thread's share
of the hidden units, the threads meeting at a barrier (atomic counters) after each step.

Compiled on first use (``cache=True``: later processes load the machine code from __pycache__);
importing this module imports numba.  The kernels release the GIL, so the batch blocks of
``recurrent._batch_blocks`` run them on several threads at once.
"""

from __future__ import annotations

import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["tanh", "lstm_forward_step", "lstm_backward_step", "gru_forward_step", "gru_backward_step", "gemm_address",
           "lstm_forward_loop", "lstm_backward_loop", "gru_forward_loop", "gru_backward_loop", "lstm_forward_split",
           "lstm_backward_split", "gru_forward_split", "gru_backward_split", "yield_address", "SYNC_STRIDE"]

_FM = {"contract", "arcp", "afn", "reassoc", "nsz"}  # no nnan / ninf: NaN and inf propagate
_jit = njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy")

_f = np.float32
_CLAMP = _f(7.90531110763549805)
_A1, _A3, _A5, _A7 = _f(4.89352455891786e-03), _f(6.37261928875436e-04), _f(1.48572235717979e-05), \
    _f(5.12229709037114e-08)
_A9, _A11, _A13 = _f(-8.60467152213735e-11), _f(2.00018790482477e-13), _f(-2.76076847742355e-16)
_B0, _B2, _B4, _B6 = _f(4.89352518554385e-03), _f(2.26843463243900e-03), _f(1.18534705686654e-04), \
    _f(1.19825839466702e-06)
_HALF, _ONE = _f(0.5), _f(1.0)


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy", inline="always")
def _tanh(x):
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x * (_A1 + x2 * (_A3 + x2 * (_A5 + x2 * (_A7 + x2 * (_A9 + x2 * (_A11 + x2 * _A13))))))
    q = _B0 + x2 * (_B2 + x2 * (_B4 + x2 * _B6))
    return p / q


@njit(cache=True, nogil=True, fastmath=_FM, error_model="numpy", inline="always")
def _sigmoid(x):
    return _HALF + _HALF * _tanh(_HALF * x)


@_jit
def tanh(x, out):
    """out = tanh(x) for 1-D contiguous float32 arrays (the kernels' approximation; for tests)."""
    for j in range(x.shape[0]):
        out[j] = _tanh(x[j])


@_jit
def lstm_forward_step(G, x, bias, prev, zt, tc, r, lo, m, hi, proj, j0, j1):
    """G (B, 4H): in, h_{t-1} W_hh^T on rows lo:m; out, the gates [i f g o].  x (>= m, 4H): xw's rows of
    the step.  prev, zt (B, P + H): [h c] before and after the step.  tc (B, H): tanh(c).  r (B, H): the
    output o tanh(c) when ``proj`` (h = r W_hr^T follows in NumPy), else h goes to zt[:, :P].  Only the
    hidden units j0:j1 (their columns of each gate block, of c and h; all units with ``proj``)."""
    H = tc.shape[1]
    P = zt.shape[1] - H
    n = j1 - j0
    for b in range(lo, m):
        gb, xb = G[b], x[b]
        for k in range(4):  # one contiguous stream in, one out: these loops vectorize
            a = k * H + j0
            gk, xk, bk = gb[a:a + n], xb[a:a + n], bias[a:a + n]
            if k == 2:
                for j in range(n):
                    gk[j] = _tanh(gk[j] + xk[j] + bk[j])
            else:
                for j in range(n):
                    gk[j] = _sigmoid(gk[j] + xk[j] + bk[j])
        i, f, g, o = gb[j0:j1], gb[H + j0:H + j1], gb[2 * H + j0:2 * H + j1], gb[3 * H + j0:3 * H + j1]
        c_prev, c, t = prev[b, P + j0:P + j1], zt[b, P + j0:P + j1], tc[b, j0:j1]
        for j in range(n):
            c[j] = f[j] * c_prev[j] + i[j] * g[j]
        h = r[b, j0:j1] if proj else zt[b, j0:j1]
        for j in range(n):
            tj = _tanh(c[j])
            t[j] = tj
            h[j] = o[j] * tj
    for b in range(m, hi):
        if n == H:
            zt[b, :] = prev[b, :]
            G[b, :] = 0
        else:  # (no projection: h and c both have H units)
            zt[b, j0:j1] = prev[b, j0:j1]
            zt[b, P + j0:P + j1] = prev[b, P + j0:P + j1]
            for k in range(4):
                G[b, k * H + j0:k * H + j1] = 0
        tc[b, j0:j1] = 0


@_jit
def lstm_backward_step(D, dh, dc, gz, A, tc, prev, dr, lo, m, hi, proj, j0, j1):
    """D (B, 4H): out, delta of the step.  dh (B, P): delta_{t+1} W_hh on the rows active then (their
    gradient from the output gz (B, P + H) is added here unless ``proj``; with a projection dr (B, H)
    = dh W_hr is given).  dc (B, H): in, dL/dc_t from step t+1; out, dL/dc_{t-1}.  A (B, 4H): the
    gates; tc (B, H): tanh(c_t); prev (B, P + H): [h c] before the step.  Only the hidden units j0:j1
    (their columns of each block of D, of dh and dc; all units with ``proj``)."""
    H = tc.shape[1]
    P = dh.shape[1]
    n = j1 - j0
    for b in range(lo, m):  # few streams per loop (each pair of streams costs LLVM an alias check)
        if proj:
            d_r = dr[b]
        else:
            d_r, gh = dh[b, j0:j1], gz[b, j0:j1]
            for j in range(n):
                d_r[j] += gh[j]
        ab, Db, t, dcb, gc = A[b], D[b], tc[b, j0:j1], dc[b, j0:j1], gz[b, P + j0:P + j1]
        i, f, g, o = ab[j0:j1], ab[H + j0:H + j1], ab[2 * H + j0:2 * H + j1], ab[3 * H + j0:3 * H + j1]
        Di, Df, Dg, Do = Db[j0:j1], Db[H + j0:H + j1], Db[2 * H + j0:2 * H + j1], Db[3 * H + j0:3 * H + j1]
        c_prev = prev[b, P + j0:P + j1]
        for j in range(n):
            dcb[j] += gc[j] + d_r[j] * o[j] * (_ONE - t[j] * t[j])
        for j in range(n):
            Do[j] = d_r[j] * t[j] * (o[j] - o[j] * o[j])
        for j in range(n):
            Di[j] = dcb[j] * g[j] * (i[j] - i[j] * i[j])
        for j in range(n):
            Df[j] = dcb[j] * c_prev[j] * (f[j] - f[j] * f[j])
        for j in range(n):
            Dg[j] = dcb[j] * i[j] * (_ONE - g[j] * g[j])
        for j in range(n):
            dcb[j] *= f[j]
    for b in range(m, hi):
        dc[b, j0:j1] += gz[b, P + j0:P + j1]
        if not proj:
            dh[b, j0:j1] += gz[b, j0:j1]
        for k in range(4):
            D[b, k * H + j0:k * H + j1] = 0


@_jit
def gru_forward_step(G, x, bias, prev, zt, A, hn, lo, m, hi, j0, j1):
    """G (B, 3H): h_{t-1} W_hh^T on rows lo:m.  x (>= m, 3H): xw's rows of the step.  prev, zt (B, H):
    h before and after.  A (B, 3H): out, the gates [r z n].  hn (B, H): out, W_hn h_{t-1} + b_hn.  Only
    the hidden units j0:j1 (their columns of each gate block and of h)."""
    H = hn.shape[1]
    n = j1 - j0
    for b in range(lo, m):
        gb, xb, ab = G[b], x[b], A[b]
        for k in range(2):
            a = k * H + j0
            gk, xk, bk, ak = gb[a:a + n], xb[a:a + n], bias[a:a + n], ab[a:a + n]
            for j in range(n):
                ak[j] = _sigmoid(xk[j] + gk[j] + bk[j])
        q, gn, bn = hn[b, j0:j1], gb[2 * H + j0:2 * H + j1], bias[2 * H + j0:2 * H + j1]
        for j in range(n):
            q[j] = gn[j] + bn[j]
        r, z, nn, xn = ab[j0:j1], ab[H + j0:H + j1], ab[2 * H + j0:2 * H + j1], xb[2 * H + j0:2 * H + j1]
        for j in range(n):
            nn[j] = _tanh(xn[j] + r[j] * q[j])
        h, hp = zt[b, j0:j1], prev[b, j0:j1]
        for j in range(n):
            h[j] = nn[j] + z[j] * (hp[j] - nn[j])
    for b in range(m, hi):
        zt[b, j0:j1] = prev[b, j0:j1]
        hn[b, j0:j1] = 0
        for k in range(3):
            A[b, k * H + j0:k * H + j1] = 0


@_jit
def gru_backward_step(Dx, Dh, dh, carry, gz, A, hn, prev, lo, m, hi, j0, j1):
    """Dx, Dh (B, 3H): out, delta_x and delta_h.  dh (B, H): in, delta_h,{t+1} W_hh on the rows active
    then (zero elsewhere); out, zero on the inactive rows.  carry (B, H): in, dL/dh_t's part dh z from
    step t+1; out, this step's.  gz (B, H): dL/dh_t from the output.  A, hn, prev as saved.  Only the
    hidden units j0:j1 (their columns of each block of Dx and Dh, of dh and carry)."""
    H = hn.shape[1]
    n = j1 - j0
    for b in range(lo, m):
        d, cb, gzb, q, hp = dh[b, j0:j1], carry[b, j0:j1], gz[b, j0:j1], hn[b, j0:j1], prev[b, j0:j1]
        ab, xb, yb = A[b], Dx[b], Dh[b]
        r, z, nn = ab[j0:j1], ab[H + j0:H + j1], ab[2 * H + j0:2 * H + j1]
        dr, dz, dn = xb[j0:j1], xb[H + j0:H + j1], xb[2 * H + j0:2 * H + j1]
        hr, hz, dnh = yb[j0:j1], yb[H + j0:H + j1], yb[2 * H + j0:2 * H + j1]
        for j in range(n):
            d[j] += cb[j] + gzb[j]
        for j in range(n):
            dn[j] = d[j] * (_ONE - z[j]) * (_ONE - nn[j] * nn[j])
        for j in range(n):
            dz[j] = d[j] * (hp[j] - nn[j]) * (z[j] - z[j] * z[j])
        for j in range(n):
            dr[j] = dn[j] * q[j] * (r[j] - r[j] * r[j])
        for j in range(n):
            dnh[j] = dn[j] * r[j]
        for j in range(n):
            cb[j] = d[j] * z[j]
        for j in range(n):
            hr[j] = dr[j]
            hz[j] = dz[j]
    for b in range(m, hi):
        for j in range(j0, j1):
            carry[b, j] += dh[b, j] + gz[b, j]
            dh[b, j] = 0
        for k in range(3):
            Dx[b, k * H + j0:k * H + j1] = 0
            Dh[b, k * H + j0:k * H + j1] = 0

# --------------------------------------------------------------------------- whole time loops
# The per-step road above is a Python loop: per step one NumPy product, one kernel call and a few
# slices, ~8 us of interpreter work forward and ~15 us backward beside a 50 us product (batch 32,
# hidden 128), with the GIL held, so two threads running column blocks of the batch wait on each
# other.  The loops below run all the steps of a column block in ONE compiled call that releases
# the GIL: each step's product is a direct call of the BLAS cblas_sgemm that NumPy itself uses
# (its address found by ``gemm_address``; row strides passed as leading dimensions, so row blocks
# of Z and of the packed inputs are used in place), then the step kernel above.

def _gemm_codegen(beta):
    def codegen(context, builder, signature, args):
        i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
        p8 = ir.IntType(8).as_pointer()
        vals = [context.cast(builder, v, t, types.int64) for v, t in zip(args, signature.args)]
        fn_, tb, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_ = vals
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, f32, p8, i64, p8, i64, f32, p8, i64])
        ptr = builder.inttoptr(fn_, fnty.as_pointer())
        trans = builder.trunc(builder.add(tb, ir.Constant(i64, 111)), i32)  # CblasNoTrans 111, CblasTrans 112
        builder.call(ptr, [ir.Constant(i32, 101), ir.Constant(i32, 111), trans, m_, n_, k_, ir.Constant(f32, 1.0),
                           builder.inttoptr(a_, p8), lda_, builder.inttoptr(b_, p8), ldb_, ir.Constant(f32, beta),
                           builder.inttoptr(c_, p8), ldc_])
        return context.get_dummy_value()

    return codegen


def _gemm_signature(ints):
    return types.void(*ints) if all(isinstance(t, types.Integer) for t in ints) else None


@intrinsic
def _sgemm(typingctx, fn, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
    """C (m, n; row stride ldc) = A (m, k; lda) @ op(B), op(B) = B (k, n; ldb) or, with ``trans_b``,
    B^T for B (n, k; ldb): row-major float32 cblas_sgemm at address ``fn`` (64-bit integers); a, b, c
    are data addresses, strides in elements."""
    sig = _gemm_signature((fn, trans_b, m, n, k, a, lda, b, ldb, c, ldc))
    return None if sig is None else (sig, _gemm_codegen(0.0))


@intrinsic
def _sgemm_add(typingctx, fn, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
    """C += A @ op(B) (as _sgemm, beta 1)."""
    sig = _gemm_signature((fn, trans_b, m, n, k, a, lda, b, ldb, c, ldc))
    return None if sig is None else (sig, _gemm_codegen(1.0))


_gemm_address = None


def gemm_address():
    """The address of the float32 CBLAS product (64-bit integers) in NumPy's OpenBLAS, or 0 when it
    is not found (another BLAS, or one without the ``64_`` symbol suffix): then the loops are not used."""
    global _gemm_address
    if _gemm_address is None:
        _gemm_address = 0
        try:
            import ctypes

            from threadpoolctl import threadpool_info

            root = os.path.dirname(os.path.dirname(np.__file__))
            for info in threadpool_info():
                path = info.get("filepath") or ""
                if info.get("user_api") != "blas" or info.get("internal_api") != "openblas" or \
                        not os.path.basename(os.path.dirname(path)).startswith("numpy") or \
                        os.path.dirname(os.path.dirname(path)) != root:
                    continue
                lib = ctypes.CDLL(path)
                for name in ("scipy_cblas_sgemm64_", "cblas_sgemm64_"):
                    fn = getattr(lib, name, None)
                    if fn is not None:
                        _gemm_address = ctypes.cast(fn, ctypes.c_void_p).value or 0
                        break
                if _gemm_address:
                    break
        except Exception:  # pragma: no cover - an unusual BLAS layout: the per-step road stays
            _gemm_address = 0
    return _gemm_address


_yield_address = None


def yield_address():
    """The address of the C library's sched_yield (0 if not found: the barrier then only spins)."""
    global _yield_address
    if _yield_address is None:
        import ctypes

        try:
            _yield_address = ctypes.cast(ctypes.CDLL(None).sched_yield, ctypes.c_void_p).value or 0
        except (OSError, AttributeError):  # pragma: no cover - not a POSIX C library
            _yield_address = 0
    return _yield_address


@_jit
def lstm_forward_loop(gemm, x, offs, sizes, steps, whT, bias, h0c, Z, gates, aux, r_all, w_hrT, lo, hi, proj):
    """All steps of Recurrence's fused LSTM forward for batch rows lo:hi, in the order ``steps``.
    x (rows, 4H): the input projections, step t's rows at offs[t]:offs[t] + sizes[t].  whT (P, 4H);
    h0c (B, P + H) and Z (T, B, P + H): [h c] before the first step and after each; gates (T, B, 4H),
    aux (T, B, H) tanh(c); with ``proj`` r_all (T, B, H) gets o tanh(c) and h = r w_hrT (w_hrT (H, P))."""
    P, GH = whT.shape
    S = Z.shape[2]
    prev = h0c
    for s in range(steps.shape[0]):
        t = steps[s]
        m = min(hi, max(lo, sizes[t]))
        G, zt = gates[t], Z[t]
        r = r_all[t] if proj else r_all[0]
        if m > lo:
            _sgemm(gemm, 0, m - lo, GH, P, prev.ctypes.data + lo * prev.strides[0], S, whT.ctypes.data, GH,
                   G.ctypes.data + lo * G.strides[0], GH)
        lstm_forward_step(G, x[offs[t]:offs[t] + sizes[t]], bias, prev, zt, aux[t], r, lo, m, hi, proj, 0, aux.shape[2])
        if proj and m > lo:  # h = r W_hr^T, written straight into Z's h columns
            _sgemm(gemm, 0, m - lo, P, r.shape[1], r.ctypes.data + lo * r.strides[0], r.shape[1], w_hrT.ctypes.data,
                   P, zt.ctypes.data + lo * zt.strides[0], S)
        prev = zt


@_jit
def lstm_backward_loop(gemm, delta, dh, dc, gZ, gates, aux, Z, h0c, w, sizes, steps, dh_all, w_hr, dr, lo, hi, proj):
    """All steps of Recurrence's fused LSTM backward for batch rows lo:hi, ``steps`` in backward order
    (the reverse of the forward's).  delta (T, B, 4H): out.  dh (B, P), dc (B, H): the running state
    gradients.  w (4H, P) = W_hh.  With ``proj``: dh_all (T, B, P) gets each step's dh, dr (B, H) = dh W_hr
    (w_hr (P, H))."""
    GH, P = w.shape
    T = steps.shape[0]
    for s in range(T):
        t = steps[s]
        m = min(hi, max(lo, sizes[t]))
        prev = h0c if s == T - 1 else Z[steps[s + 1]]
        if proj:
            gt, da = gZ[t], dh_all[t]
            for b in range(lo, hi):
                for j in range(P):
                    dh[b, j] += gt[b, j]
                    da[b, j] = dh[b, j]
            if m > lo:
                _sgemm(gemm, 0, m - lo, w_hr.shape[1], P, dh.ctypes.data + lo * dh.strides[0], P, w_hr.ctypes.data,
                       w_hr.shape[1], dr.ctypes.data + lo * dr.strides[0], dr.shape[1])
        D = delta[t]
        lstm_backward_step(D, dh, dc, gZ[t], gates[t], aux[t], prev, dr, lo, m, hi, proj, 0, aux.shape[2])
        if m > lo:  # dh_{t-1} = delta W_hh on the active rows
            _sgemm(gemm, 0, m - lo, P, GH, D.ctypes.data + lo * D.strides[0], GH, w.ctypes.data, P,
                   dh.ctypes.data + lo * dh.strides[0], P)


@_jit
def gru_forward_loop(gemm, x, offs, sizes, steps, whT, bias, h0, Z, gates, aux, gh, lo, hi):
    """All steps of Recurrence's fused GRU forward for batch rows lo:hi (as lstm_forward_loop); gh (B, 3H)
    is scratch for h_{t-1} W_hh^T."""
    H, GH = whT.shape
    prev = h0
    for s in range(steps.shape[0]):
        t = steps[s]
        m = min(hi, max(lo, sizes[t]))
        zt = Z[t]
        if m > lo:
            _sgemm(gemm, 0, m - lo, GH, H, prev.ctypes.data + lo * prev.strides[0], H, whT.ctypes.data, GH,
                   gh.ctypes.data + lo * gh.strides[0], GH)
        gru_forward_step(gh, x[offs[t]:offs[t] + sizes[t]], bias, prev, zt, gates[t], aux[t], lo, m, hi, 0, H)
        prev = zt


@_jit
def gru_backward_loop(gemm, dx, delta, dh, carry, gZ, gates, aux, Z, h0, w, sizes, steps, lo, hi):
    """All steps of Recurrence's fused GRU backward for batch rows lo:hi, ``steps`` in backward order."""
    GH, H = w.shape
    T = steps.shape[0]
    for s in range(T):
        t = steps[s]
        m = min(hi, max(lo, sizes[t]))
        prev = h0 if s == T - 1 else Z[steps[s + 1]]
        D = delta[t]
        gru_backward_step(dx[t], D, dh, carry, gZ[t], gates[t], aux[t], prev, lo, m, hi, 0, H)
        if m > lo:
            _sgemm(gemm, 0, m - lo, H, GH, D.ctypes.data + lo * D.strides[0], GH, w.ctypes.data, H,
                   dh.ctypes.data + lo * dh.strides[0], H)


# --------------------------------------------------------------------------- loops split over hidden units
# With T threads, a recurrence can also be cut along its hidden units: thread p owns units j0:j1 of h and
# c, computes their columns of each gate block (G[:, k H + j0:k H + j1] = h_{t-1} W_hh^T's columns, four
# (B, P) x (P, j1 - j0) products) and runs the step kernel on them; all threads meet at a barrier after
# each step, since the next step's products read every unit of h_t.  Backward, the kernel writes the
# threads' columns of delta_t, the barrier, then dh[:, j0:j1] = delta_t W_hh[:, j0:j1].  Every thread
# works on the whole batch, so each product stays a well-shaped one and each thread reads only its
# part of W_hh (one core's cache), unlike column blocks of the batch.

@intrinsic
def _load_acquire(typingctx, arr, idx):
    """arr[idx] of a 1-D int64 array, read with acquire ordering (never hoisted out of a wait loop)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer)):
        return None
    sig = types.int64(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def _store_release(typingctx, arr, idx, val):
    """arr[idx] = val for a 1-D int64 array, with release ordering (earlier writes visible first)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and isinstance(idx, types.Integer)
            and isinstance(val, types.Integer)):
        return None
    sig = types.void(arr, idx, val)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        builder.store_atomic(v, ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _call_void(typingctx, fn):
    """Call the C function void f(void) at address ``fn`` (sched_yield)."""
    if not isinstance(fn, types.Integer):
        return None
    sig = types.void(fn)

    def codegen(context, builder, signature, args):
        f = context.cast(builder, args[0], signature.args[0], types.int64)
        fnty = ir.FunctionType(ir.IntType(32), [])
        builder.call(builder.inttoptr(f, fnty.as_pointer()), [])
        return context.get_dummy_value()

    return sig, codegen


SYNC_STRIDE = 16  # int64 slots between two threads' counters in ``sync`` (one cache line each)
SPINS = 2000  # checks of the other threads' counters between two yields of the core


@_jit
def _barrier(sync, part, nparts, gen, yield_fn):
    """Wait until every part's counter has reached ``gen`` (after setting this part's); False when a part
    has flagged a failure (sync[nparts * SYNC_STRIDE] != 0)."""
    _store_release(sync, part * SYNC_STRIDE, gen)
    for q in range(nparts):
        spins = 0
        while _load_acquire(sync, q * SYNC_STRIDE) < gen:
            if _load_acquire(sync, nparts * SYNC_STRIDE) != 0:
                return False
            spins += 1
            if spins >= SPINS:
                if yield_fn != 0:
                    _call_void(yield_fn)
                spins = 0
    return True


@_jit
def _add_columns(db, D, m, blocks, H, j0, j1):
    """db[k H + j0:k H + j1] += the sum of rows 0:m of D's same columns, for each of the ``blocks`` blocks."""
    n = j1 - j0
    for k in range(blocks):
        acc = db[k * H + j0:k * H + j1]
        for b in range(m):
            row = D[b, k * H + j0:k * H + j1]
            for j in range(n):
                acc[j] += row[j]


@_jit
def lstm_forward_split(gemm, yield_fn, sync, part, nparts, x, offs, sizes, steps, whT, bias, h0c, Z, gates, aux,
                       j0, j1):
    """Part ``part`` of ``nparts`` of lstm_forward_loop (no projection, the whole batch): the hidden units
    j0:j1, a barrier after each step (``sync`` zeroed, nparts * SYNC_STRIDE + 1 slots)."""
    P, GH = whT.shape
    H = aux.shape[2]
    S = Z.shape[2]
    B = Z.shape[1]
    n = j1 - j0
    r = aux[0]  # not read without a projection
    prev = h0c
    for s in range(steps.shape[0]):
        t = steps[s]
        m = min(B, sizes[t])
        G, zt = gates[t], Z[t]
        if m > 0:
            for k in range(4):
                col = k * H + j0
                _sgemm(gemm, 0, m, n, P, prev.ctypes.data, S, whT.ctypes.data + col * 4, GH,
                       G.ctypes.data + col * 4, GH)
        lstm_forward_step(G, x[offs[t]:offs[t] + sizes[t]], bias, prev, zt, aux[t], r, 0, m, B, False, j0, j1)
        if not _barrier(sync, part, nparts, s + 1, yield_fn):
            return
        prev = zt


@_jit
def _sum_parts(dh, src, m, nparts, j0, j1):
    """dh[b, j0:j1] = sum_q src[q, b, j0:j1] for the rows b < m (the parts added in order q = 0, 1, ...)."""
    n = j1 - j0
    for b in range(m):
        d = dh[b, j0:j1]
        p0 = src[0, b, j0:j1]
        for j in range(n):
            d[j] = p0[j]
        for q in range(1, nparts):
            pq = src[q, b, j0:j1]
            for j in range(n):
                d[j] += pq[j]


@_jit
def _gate_rows_product(gemm, D, w, out, m, gates, H, j0, j1):
    """out (m rows, P) = sum_k D[:m, k H + j0:k H + j1] w[k H + j0:k H + j1, :] over the ``gates`` blocks:
    this part's share of delta_t W_hh (float32, row-major, through the CBLAS product at ``gemm``)."""
    GH, P = w.shape
    n = j1 - j0
    for k in range(gates):
        r = k * H + j0
        if k == 0:
            _sgemm(gemm, 0, m, P, n, D.ctypes.data + r * 4, GH, w.ctypes.data + r * P * 4, P, out.ctypes.data, P)
        else:
            _sgemm_add(gemm, 0, m, P, n, D.ctypes.data + r * 4, GH, w.ctypes.data + r * P * 4, P,
                       out.ctypes.data, P)


@_jit
def lstm_backward_split(gemm, yield_fn, sync, part, nparts, delta, dh, parts, dc, gZ, gates, aux, Z, h0c, w, sizes,
                        steps, db, j0, j1):
    """Part ``part`` of ``nparts`` of lstm_backward_loop (no projection, the whole batch): the hidden units
    j0:j1.  Per step: dh[:, j0:j1] = the sum of the parts' products from the step before, the kernel (this
    part's columns of delta_t), then this part's share of the product over its gate columns,
    parts[s % 2, part] = sum_k delta_t[:, k H + j0:k H + j1] W_hh[k H + j0:k H + j1, :] (all P columns: it
    reads only what this thread wrote), and a barrier.  parts (2, nparts, B, P): two sets, since a part
    may write step s + 1's while another still sums step s's.  db (4H,), zeroed, gets the sum of delta over
    all steps and rows in this part's columns (the bias gradient), unless it has fewer than 4H entries."""
    GH, P = w.shape
    H = aux.shape[2]
    T = steps.shape[0]
    B = Z.shape[1]
    dr = aux[0]  # not read without a projection
    m_prev = 0
    for s in range(T):
        t = steps[s]
        m = min(B, sizes[t])
        if s > 0:  # dh_t = delta_{t+1} W_hh on the rows active at step t + 1: the parts' sum
            _sum_parts(dh, parts[(s - 1) % 2], m_prev, nparts, j0, j1)
        prev = h0c if s == T - 1 else Z[steps[s + 1]]
        D = delta[t]
        lstm_backward_step(D, dh, dc, gZ[t], gates[t], aux[t], prev, dr, 0, m, B, False, j0, j1)
        if db.shape[0] == GH:
            _add_columns(db, D, m, 4, H, j0, j1)
        if m > 0:
            _gate_rows_product(gemm, D, w, parts[s % 2, part], m, 4, H, j0, j1)
        if not _barrier(sync, part, nparts, s + 1, yield_fn):
            return
        m_prev = m
    _sum_parts(dh, parts[(T - 1) % 2], m_prev, nparts, j0, j1)  # dL/dh_0 on the rows active at the first step



@_jit
def gru_forward_split(gemm, yield_fn, sync, part, nparts, x, offs, sizes, steps, whT, bias, h0, Z, gates, aux, gh,
                      j0, j1):
    """Part ``part`` of ``nparts`` of gru_forward_loop (the whole batch): the hidden units j0:j1, their columns
    of each gate block of gh (B, 3H) = h_{t-1} W_hh^T, a barrier after each step."""
    H, GH = whT.shape
    B = Z.shape[1]
    n = j1 - j0
    prev = h0
    for s in range(steps.shape[0]):
        t = steps[s]
        m = min(B, sizes[t])
        zt = Z[t]
        if m > 0:
            for k in range(3):
                col = k * H + j0
                _sgemm(gemm, 0, m, n, H, prev.ctypes.data, H, whT.ctypes.data + col * 4, GH,
                       gh.ctypes.data + col * 4, GH)
        gru_forward_step(gh, x[offs[t]:offs[t] + sizes[t]], bias, prev, zt, gates[t], aux[t], 0, m, B, j0, j1)
        if not _barrier(sync, part, nparts, s + 1, yield_fn):
            return
        prev = zt


@_jit
def gru_backward_split(gemm, yield_fn, sync, part, nparts, dx, delta, dh, parts, carry, gZ, gates, aux, Z, h0, w,
                       sizes, steps, db, j0, j1):
    """Part ``part`` of ``nparts`` of gru_backward_loop (the whole batch): the hidden units j0:j1, the products
    shared as in lstm_backward_split (over this part's gate rows of W_hh, summed by each unit's owner); db (3H,)
    the sum of delta_h as there."""
    GH, H = w.shape
    T = steps.shape[0]
    B = Z.shape[1]
    m_prev = 0
    for s in range(T):
        t = steps[s]
        m = min(B, sizes[t])
        if s > 0:
            _sum_parts(dh, parts[(s - 1) % 2], m_prev, nparts, j0, j1)
        prev = h0 if s == T - 1 else Z[steps[s + 1]]
        D = delta[t]
        gru_backward_step(dx[t], D, dh, carry, gZ[t], gates[t], aux[t], prev, 0, m, B, j0, j1)
        if db.shape[0] == GH:
            _add_columns(db, D, m, 3, H, j0, j1)
        if m > 0:
            _gate_rows_product(gemm, D, w, parts[s % 2, part], m, 3, H, j0, j1)
        if not _barrier(sync, part, nparts, s + 1, yield_fn):
            return
        m_prev = m
    _sum_parts(dh, parts[(T - 1) % 2], m_prev, nparts, j0, j1)
