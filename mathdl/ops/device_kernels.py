"""Fused device kernels: one launch where the array code makes many (optimizer updates, batch norm).

On a GPU every array call is a kernel launch of a few microseconds' host time; an Adam update
written with in-place NumPy calls is twelve launches per parameter, a training-mode batch norm
about fifty per layer.  Each kernel here is ONE formula with two bodies:

* CUDA source for ``cupy.ElementwiseKernel`` / ``cupy.ReductionKernel``, compiled on first use
  when the arrays are real CuPy arrays (arithmetic in float for float16/float32, double for float64);
* the same formula in xp calls (``fallback``), used for NumPy arrays and by the emulated CuPy of
  the tests (which counts the whole fallback as one launch, as the compiled kernel would be).

On real CuPy a kernel that fails to compile or launch warns once and uses its fallback from then
on; ``MATHDL_NO_FUSED=1`` makes every kernel use its fallback (for comparisons).

Formulas (x, g arrays; per-channel vectors broadcast as (1, C, 1, ...); n = elements per channel):

  adam_step      m = (m - g) b1 + g;  v = (v - g^2) b2 + g^2;  x -= alpha m / (sqrt(v) + e)
                 (mathdl.optim.adam's update: alpha = lr sqrt(1-b2^t)/(1-b1^t), e = eps sqrt(1-b2^t))
  sgd_momentum   b = b mu + (1 - dampening) d;  x -= lr (d + mu b) (nesterov) or lr b
                 (mathdl.optim.sgd's update after the first step)
  batch norm     mean = sum x / n;  var = sum (x - mean)^2 / n                  (two reductions)
  (training)     y = x scale + (b - mean scale), scale = w / sqrt(var + eps), max(y, 0) with relu
                 (PyTorch's order: infinite w or b give PyTorch's inf/NaN, no fix-up pass)
                 backward, g' = g [y > 0] with relu:  sg = sum g',  sgx = sum g' (x - mean),
                 dx = (g' - sg/n - xhat sgx rstd / n) scale, xhat = (x - mean) rstd,
                 dw = sgx rstd, db = sg                     (two reductions and one elementwise pass)
  running_update r = (1 - momentum) r + momentum factor new    (factor n/(n-1) for the variance)
  layer norm     rows x (R, n): mean, var as batch norm's per row;  y = (x - mean) rstd w + b
                 backward: s1 = sum_j g w, s2 = sum_j g w xhat (per row),
                 dx = g w rstd - s1 rstd/n - xhat s2 rstd/n;  dw = sum_i g xhat, db = sum_i g
  dropout_apply  mask = [u >= p] / (1 - p) (u uniform in [0, 1), drawn before);  y = x mask
  im2col         cols[(c, i, j), (n, a, b)] = x[n, c, a s - pt + i d, b s - pl + j d], 0 outside x
                 (conv_device's padding + strided copy, three launches, in one; x read in place)
  gelu           y = x Phi(x), aux = Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dx = g (Phi + x phi(x));
                 tanh form: aux = t = tanh(c (x + k x^3)), y = x (1 + t) / 2,
                 dx = g [(1 + t) / 2 + x (1 - t^2) c (1 + 3 k x^2) / 2]     (mathdl.ops.activations')

Launches: adam 12 -> 1 per parameter, SGD with momentum 4 -> 1, batch norm (training forward +
backward + running statistics) about 50 -> 8 per layer, layer norm about 27 -> 8, dropout's
forward 5 -> 2 (the draw and one pass), GELU about 9 -> 1 each way, and no device-to-host
synchronisation (normalization.py's batch norm tests ``isfinite(...).any()`` on the host twice
per layer).
"""

from __future__ import annotations

import os
import warnings

from ..backend import xp_of

__all__ = ["adam_step", "sgd_momentum_step", "batch_norm_forward", "batch_norm_backward", "running_update",
           "layer_norm_forward", "layer_norm_backward", "dropout_apply", "gelu_forward", "gelu_backward",
           "im2col", "is_real_cupy"]

# MATHDL_NO_FUSED=1: real CuPy runs every kernel's fallback too (to compare with the fused kernels).
_DISABLED = os.environ.get("MATHDL_NO_FUSED") == "1"

_PREAMBLE = """
template <typename T> struct _mathdl_acc { typedef float type; };
template <> struct _mathdl_acc<double> { typedef double type; };
template <typename T> __device__ typename _mathdl_acc<T>::type _mathdl_xhat(T x, T mu, T var, double eps) {
    typedef typename _mathdl_acc<T>::type C;
    return ((C)x - (C)mu) * ((C)1 / sqrt((C)var + (C)eps));
}
"""


def is_real_cupy(xp):
    """Whether ``xp`` is the real CuPy (kernels can be compiled), not NumPy or the emulation."""
    return getattr(xp, "__name__", "") == "cupy" and hasattr(xp, "ElementwiseKernel") \
        and not getattr(xp, "is_emulated", False)


class _Fused:
    """One fused kernel: ``kind`` "elementwise" or "reduction", CuPy's kernel arguments, and the
    xp ``fallback(xp, *args, **kw)`` computing the same result."""

    def __init__(self, name, kind, in_params, out_params, body, fallback, reduce=None):
        self.name, self.kind, self.in_params, self.out_params = name, kind, in_params, out_params
        self.body, self.fallback, self.reduce = body, fallback, reduce
        self._compiled = {}
        self.failed = None  # the error that made this kernel fall back for good (real CuPy only)

    def _kernel(self, xp, half):  # pragma: no cover - needs a GPU
        k = self._compiled.get(half)
        if k is None:
            if self.kind == "elementwise":
                k = xp.ElementwiseKernel(self.in_params, self.out_params,
                                         "typedef _mathdl_acc<T>::type C;\n" + self.body,
                                         f"mathdl_{self.name}", preamble=_PREAMBLE)
            else:  # float16 sums accumulate in float32
                reduce_expr, post_map, identity = self.reduce
                k = xp.ReductionKernel(self.in_params, self.out_params, self.body, reduce_expr, post_map, identity,
                                       f"mathdl_{self.name}", reduce_type="float32" if half else None,
                                       preamble=_PREAMBLE)
            self._compiled[half] = k
        return k

    def __call__(self, *args, **kw):
        first = next(a for a in args if hasattr(a, "dtype") and hasattr(a, "shape"))
        xp = xp_of(first)
        if is_real_cupy(xp) and self.failed is None and not _DISABLED:  # pragma: no cover - needs a GPU
            try:  # compilation and argument checks fail before the kernel runs: nothing is half-written
                return self._kernel(xp, first.dtype.itemsize == 2)(*args, **kw)
            except Exception as e:
                self.failed = e
                warnings.warn(f"mathdl: the fused kernel {self.name} failed on CuPy ({type(e).__name__}: {e}); "
                              "using its array-call fallback from now on", RuntimeWarning, stacklevel=2)
        launch = getattr(xp, "fused_launch", None)  # the emulated CuPy: one counted launch
        if launch is not None:
            return launch(self.name, lambda: self.fallback(xp, *args, **kw))
        return self.fallback(xp, *args, **kw)


# --------------------------------------------------------------------------- optimizers
def _adam_fallback(xp, g, b1, b2, alpha, e, x, m, v):
    t = xp.empty_like(x)
    xp.subtract(m, g, out=m)
    m *= b1
    m += g
    xp.multiply(g, g, out=t)
    v -= t
    v *= b2
    v += t
    xp.sqrt(v, out=t)
    t += e
    xp.divide(m, t, out=t)
    t *= alpha
    x -= t


_adam = _Fused(
    "adam_step", "elementwise", "T g, float64 b1, float64 b2, float64 alpha, float64 e", "T x, T m, T v",
    """
    C gg = (C)g;
    C mm = ((C)m - gg) * (C)b1 + gg;
    C g2 = gg * gg;
    C vv = ((C)v - g2) * (C)b2 + g2;
    m = (T)mm;
    v = (T)vv;
    x = (T)((C)x - mm / (sqrt(vv) + (C)e) * (C)alpha);
    """, _adam_fallback)


def adam_step(x, g, m, v, b1, b2, alpha, e):
    """In place: m, v <- Adam's moments; x <- x - alpha m / (sqrt(v) + e) (one launch)."""
    _adam(g, float(b1), float(b2), float(alpha), float(e), x, m, v)


def _sgd_fallback(xp, d, lr, mu, one_minus_tau, nesterov, x, b):
    t = xp.empty_like(x)
    b *= mu
    if one_minus_tau == 1.0:
        b += d
    else:
        xp.multiply(d, one_minus_tau, out=t)
        b += t
    if nesterov:
        xp.multiply(b, mu, out=t)
        t += d
        t *= lr
    else:
        xp.multiply(b, lr, out=t)
    xp.subtract(x, t, out=x)


_sgd = _Fused(
    "sgd_momentum", "elementwise", "T d, float64 lr, float64 mu, float64 one_minus_tau, int32 nesterov", "T x, T b",
    """
    C dd = (C)d;
    T bt = (T)((C)b * (C)mu + dd * (C)one_minus_tau);
    b = bt;
    C t = nesterov ? ((C)bt * (C)mu + dd) * (C)lr : (C)bt * (C)lr;
    x = (T)((C)x - t);
    """, _sgd_fallback)


def sgd_momentum_step(x, d, buf, lr, momentum, dampening=0.0, nesterov=False):
    """In place, after the first step: buf <- momentum buf + (1 - dampening) d;
    x <- x - lr (d + momentum buf) with nesterov, else x - lr buf (one launch)."""
    _sgd(d, float(lr), float(momentum), 1.0 - float(dampening), int(bool(nesterov)), x, buf)


# --------------------------------------------------------------------------- batch norm
def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _col(v, x):
    """A (C,) vector (or a Python number) shaped to broadcast against x (N, C, ...)."""
    if not hasattr(v, "shape"):
        return v
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _sqdev_fallback(xp, x, mu, axis=None, keepdims=False):
    d = x - mu
    d *= d
    return d.mean(axis=axis, keepdims=keepdims)


_sqdev_mean = _Fused("bn_sqdev_mean", "reduction", "T x, T mu", "T y", "(x - mu) * (x - mu)", _sqdev_fallback,
                     reduce=("a + b", "y = a / _in_ind.size() * _out_ind.size()", "0"))


def _apply_fallback(xp, x, mu, var, w, b, eps, relu, y):
    rstd = 1.0 / xp.sqrt(var + eps)
    scale = rstd * w
    out = x * scale
    out += b - mu * scale
    if relu:
        xp.maximum(out, 0, out=out)
    y[...] = out


_apply = _Fused(
    "bn_apply", "elementwise", "T x, T mu, T var, T w, T b, float64 eps, int32 relu", "T y",
    """
    C scale = (C)1 / sqrt((C)var + (C)eps) * (C)w;
    C v = (C)x * scale + ((C)b - (C)mu * scale);
    y = (T)(relu && v < (C)0 ? (C)0 : v);
    """, _apply_fallback)


def _empty_layout(x):
    """An empty array shaped and laid out like x (channel-major 4-D stays channel-major)."""
    xp = xp_of(x)
    if x.ndim == 4 and x.strides[1] > x.strides[0]:
        return xp.empty((x.shape[1], x.shape[0]) + x.shape[2:], dtype=x.dtype).transpose(1, 0, 2, 3)
    return xp.empty(x.shape, dtype=x.dtype)


def batch_norm_forward(x, w, b, eps, relu=False):
    """Training-mode batch norm on raw arrays: (y, mean, var) with the batch's mean and biased
    variance per channel (axis 1); w, b (C,) arrays or None.  Three launches."""
    xp = xp_of(x)
    axes = _channel_axes(x)
    mu = xp.mean(x, axis=axes)
    var = _sqdev_mean(x, _col(mu, x), axis=axes)
    y = _empty_layout(x)
    _apply(x, _col(mu, x), _col(var, x), _col(w, x) if w is not None else 1.0,
           _col(b, x) if b is not None else 0.0, float(eps), int(bool(relu)), y)
    return y, mu, var


def _masked_sum_fallback(xp, g, y, relu, axis=None):
    return (g * (y > 0) if relu else g).sum(axis=axis)


_masked_sum = _Fused("bn_masked_sum", "reduction", "T g, T y, int32 relu", "T s",
                     "relu && !(y > (T)0) ? (T)0 : g", _masked_sum_fallback, reduce=("a + b", "s = a", "0"))


def _masked_dot_fallback(xp, g, y, x, mu, relu, axis=None):
    gm = g * (y > 0) if relu else g
    return (gm * (x - mu)).sum(axis=axis)


_masked_dot = _Fused("bn_masked_dot", "reduction", "T g, T y, T x, T mu, int32 relu", "T s",
                     "(relu && !(y > (T)0) ? (T)0 : g) * (x - mu)", _masked_dot_fallback,
                     reduce=("a + b", "s = a", "0"))


def _dx_fallback(xp, g, y, x, mu, var, w, sg, sgx, eps, inv_n, relu, gx):
    rstd = 1.0 / xp.sqrt(var + eps)
    scale = rstd * w
    gm = g * (y > 0) if relu else g
    xhat = (x - mu) * rstd
    gx[...] = (gm - sg * inv_n - xhat * (sgx * rstd * inv_n)) * scale


_dx = _Fused(
    "bn_dx", "elementwise",
    "T g, T y, T x, T mu, T var, T w, T sg, T sgx, float64 eps, float64 inv_n, int32 relu", "T gx",
    """
    C rstd = (C)1 / sqrt((C)var + (C)eps);
    C gm = relu && !(y > (T)0) ? (C)0 : (C)g;
    C xhat = ((C)x - (C)mu) * rstd;
    gx = (T)((gm - (C)sg * (C)inv_n - xhat * ((C)sgx * rstd * (C)inv_n)) * (rstd * (C)w));
    """, _dx_fallback)


def _scale_fallback(xp, s, var, eps, out):
    out[...] = s * (1.0 / xp.sqrt(var + eps))


_rstd_scale = _Fused("bn_rstd_scale", "elementwise", "T s, T var, float64 eps", "T out",
                     "out = (T)((C)s * ((C)1 / sqrt((C)var + (C)eps)));", _scale_fallback)


def batch_norm_backward(g, x, y, mu, var, w, eps, relu=False, need_x=True, need_w=True):
    """(dx, dw, db) of training-mode batch norm for dL/dy = g; ``y`` the forward's output (its
    sign masks g with relu; ignored otherwise); dx None unless need_x, dw None unless need_w and
    w is given.  Four launches at most."""
    xp = xp_of(g)
    axes = _channel_axes(x)
    C = x.shape[1]
    n = x.size // C
    ym = y if relu else g
    sg = _masked_sum(g, ym, int(bool(relu)), axis=axes)
    sgx = _masked_dot(g, ym, x, _col(mu, x), int(bool(relu)), axis=axes)
    dw = None
    if need_w and w is not None:
        dw = xp.empty_like(sgx)
        _rstd_scale(sgx, var, float(eps), dw)
    dx = None
    if need_x:
        dx = _empty_layout(g)
        _dx(g, ym, x, _col(mu, x), _col(var, x), _col(w, x) if w is not None else 1.0, _col(sg, x), _col(sgx, x),
            float(eps), 1.0 / n, int(bool(relu)), dx)
    return dx, dw, sg


def _running_fallback(xp, new, momentum, factor, r):
    r *= 1.0 - momentum
    r += (new * (momentum * factor)).astype(r.dtype, copy=False)


_running = _Fused("running_update", "elementwise", "T v_new, float64 momentum, float64 factor", "T r",
                  "r = (T)((C)r * (C)(1 - momentum) + (C)(momentum * factor) * (C)v_new);", _running_fallback)


def running_update(running, new, momentum, factor=1.0):
    """In place: running <- (1 - momentum) running + momentum factor new (one launch)."""
    if new.dtype != running.dtype:
        new = new.astype(running.dtype)
    _running(new, float(momentum), float(factor), running)


# --------------------------------------------------------------------------- layer norm
def _ln_apply_fallback(xp, x, mu, var, w, b, eps, y):
    r = 1.0 / xp.sqrt(var + eps)
    xh = (x - mu) * r
    y[...] = xh * w + b


_ln_apply = _Fused(
    "ln_apply", "elementwise", "T x, T mu, T var, T w, T b, float64 eps", "T y",
    """
    C r = (C)1 / sqrt((C)var + (C)eps);
    y = (T)(((C)x - (C)mu) * r * (C)w + (C)b);
    """, _ln_apply_fallback)


def layer_norm_forward(x2, w, b, eps):
    """Layer norm of the rows of x2 (R, n) on raw arrays: (y, mean, var), mean and var (R, 1);
    w, b (n,) arrays or None.  Three launches."""
    xp = xp_of(x2)
    mu = xp.mean(x2, axis=1, keepdims=True)
    var = _sqdev_mean(x2, mu, axis=1, keepdims=True)
    y = xp.empty_like(x2)
    _ln_apply(x2, mu, var, 1.0 if w is None else w.reshape(1, -1), 0.0 if b is None else b.reshape(1, -1),
              float(eps), y)
    return y, mu, var


def _gxh_sum_fallback(xp, g, w, x, mu, var, eps, axis=None, keepdims=False):
    xh = (x - mu) * (1.0 / xp.sqrt(var + eps))
    return (g * w * xh).sum(axis=axis, keepdims=keepdims)


_gxh_sum = _Fused("ln_gxh_sum", "reduction", "T g, T w, T x, T mu, T var, float64 eps", "T s",
                  "(_mathdl_acc<T>::type)g * (_mathdl_acc<T>::type)w * _mathdl_xhat(x, mu, var, eps)",
                  _gxh_sum_fallback, reduce=("a + b", "s = a", "0"))


def _g_xhat_sum_fallback(xp, g, x, mu, var, eps, axis=None, keepdims=False):
    return _gxh_sum_fallback(xp, g, 1.0, x, mu, var, eps, axis, keepdims)


_g_xhat_sum = _Fused("ln_g_xhat_sum", "reduction", "T g, T x, T mu, T var, float64 eps", "T s",
                     "(_mathdl_acc<T>::type)g * _mathdl_xhat(x, mu, var, eps)", _g_xhat_sum_fallback,
                     reduce=("a + b", "s = a", "0"))


def _ln_dx_fallback(xp, g, w, x, mu, var, s1, s2, eps, inv_n, gx):
    r = 1.0 / xp.sqrt(var + eps)
    xh = (x - mu) * r
    gx[...] = g * w * r - s1 * (r * inv_n) - xh * (s2 * (r * inv_n))


_ln_dx = _Fused(
    "ln_dx", "elementwise", "T g, T w, T x, T mu, T var, T s1, T s2, float64 eps, float64 inv_n", "T gx",
    """
    C r = (C)1 / sqrt((C)var + (C)eps);
    C xh = ((C)x - (C)mu) * r;
    gx = (T)((C)g * (C)w * r - (C)s1 * (r * (C)inv_n) - xh * ((C)s2 * (r * (C)inv_n)));
    """, _ln_dx_fallback)


def layer_norm_backward(g2, x2, mu, var, w, eps, need_x=True, need_w=True, need_b=True):
    """(dx, dw, db) of layer_norm_forward for dL/dy = g2 (R, n); dw/db None unless asked (and w
    given).  Five launches at most."""
    xp = xp_of(g2)
    n = x2.shape[1]
    w2 = 1.0 if w is None else w.reshape(1, -1)
    dw = _g_xhat_sum(g2, x2, mu, var, float(eps), axis=0) if need_w and w is not None else None
    db = g2.sum(axis=0) if need_b else None
    dx = None
    if need_x:
        s1 = g2.sum(axis=1, keepdims=True) if w is None else xp.matmul(g2, w.reshape(-1, 1))
        s2 = (_g_xhat_sum(g2, x2, mu, var, float(eps), axis=1, keepdims=True) if w is None
              else _gxh_sum(g2, w2, x2, mu, var, float(eps), axis=1, keepdims=True))
        dx = xp.empty_like(g2)
        _ln_dx(g2, w2, x2, mu, var, s1, s2, float(eps), 1.0 / n, dx)
    return dx, dw, db


# --------------------------------------------------------------------------- dropout
def _dropout_fallback(xp, x, u, p, scale, y, mask):
    keep = (u >= p).astype(mask.dtype)
    keep *= scale
    mask[...] = keep
    xp.multiply(x, mask, out=y)


_dropout = _Fused("dropout_apply", "elementwise", "T x, float32 u, float64 p, float64 scale", "T y, T mask",
                  """
                  mask = u >= (float)p ? (T)scale : (T)0;
                  y = x * mask;
                  """, _dropout_fallback)


def dropout_apply(x, u, p):
    """(y, mask) with mask = [u >= p] / (1 - p) in x's dtype and y = x mask, for the uniform draws
    u (float32, x's shape): mathdl's DropoutFn after its draw, in one launch."""
    xp = xp_of(x)
    y = xp.empty_like(x)
    mask = xp.empty_like(x)
    _dropout(x, u, float(p), 1.0 / (1.0 - float(p)), y, mask)
    return y, mask


# --------------------------------------------------------------------------- GELU
def _gelu_fwd_fallback(xp, x, tanh_approx, y, aux):
    from . import activations

    (activations._gelu_tanh_fwd if tanh_approx else activations._gelu_erf_fwd)(x, y, aux)


_gelu_fwd = _Fused(
    "gelu_forward", "elementwise", "T x, int32 tanh_approx", "T y, T aux",
    """
    C xc = (C)x;
    C a;
    if (tanh_approx) {
        a = tanh((C)0.7978845608028654 * (xc + (C)0.044715 * xc * xc * xc));
        y = (T)(xc * (a + (C)1) * (C)0.5);
    } else {
        a = ((C)1 + erf(xc * (C)0.7071067811865475)) * (C)0.5;
        y = (T)(xc * a);
    }
    aux = (T)a;
    """, _gelu_fwd_fallback)


def gelu_forward(x, approximate="none"):
    """(y, aux) of GELU (aux: Phi(x), or t for approximate='tanh', what the backward needs); one launch."""
    xp = xp_of(x)
    y, aux = xp.empty_like(x), xp.empty_like(x)
    _gelu_fwd(x, int(approximate == "tanh"), y, aux)
    return y, aux


def _gelu_bwd_fallback(xp, x, aux, g, tanh_approx, d):
    from . import activations

    (activations._gelu_tanh_bwd if tanh_approx else activations._gelu_erf_bwd)(x, aux, g, d)


_gelu_bwd = _Fused(
    "gelu_backward", "elementwise", "T x, T aux, T g, int32 tanh_approx", "T d",
    """
    C xc = (C)x;
    C t = (C)aux;
    C v;
    if (tanh_approx) {
        v = (C)0.5 * ((C)1 + t) + xc * ((C)1 - t * t) * (C)0.3989422804014327 * ((C)1 + (C)0.134145 * xc * xc);
    } else {
        v = t + xc * exp((C)-0.5 * xc * xc) * (C)0.3989422804014327;
    }
    d = (T)((C)g * v);
    """, _gelu_bwd_fallback)


def gelu_backward(x, aux, g, approximate="none"):
    """dL/dx of GELU for dL/dy = g (same shape as x), from the forward's aux; one launch."""
    d = xp_of(x).empty_like(x)
    _gelu_bwd(x, aux, g, int(approximate == "tanh"), d)
    return d


# --------------------------------------------------------------------------- im2col
_IM2COL_PARAMS = ("raw T x, int64 n_ch, int64 k_h, int64 k_w, int64 n_img, int64 h_out, int64 w_out, int64 h_in, "
                  "int64 w_in, int64 st_h, int64 st_w, int64 dl_h, int64 dl_w, int64 pad_t, int64 pad_l, "
                  "int64 es_n, int64 es_c, int64 es_h, int64 es_w")
IM2COL_BODY = """
long long r = i;
const long long ob = r % w_out; r /= w_out;
const long long oa = r % h_out; r /= h_out;
const long long on = r % n_img; r /= n_img;
const long long kj = r % k_w; r /= k_w;
const long long ki = r % k_h; r /= k_h;
const long long hh = oa * st_h - pad_t + ki * dl_h;
const long long ww = ob * st_w - pad_l + kj * dl_w;
col = (hh >= 0 && hh < h_in && ww >= 0 && ww < w_in) ? x[on * es_n + r * es_c + hh * es_h + ww * es_w] : (T)0;
"""


def _im2col_fallback(xp, x, *params):
    from . import conv_device

    col = params[-1]
    (n_ch, k_h, k_w, n_img, h_out, w_out, h_in, w_in, st_h, st_w, dl_h, dl_w, pad_t, pad_l) = params[:14]
    xs, pads = params[18], params[19]
    col[...] = conv_device._im2col(conv_device._pad(xs, pads), k_h, k_w, (st_h, st_w), (dl_h, dl_w), h_out, w_out)


_im2col = _Fused("im2col", "elementwise", _IM2COL_PARAMS, "T col", IM2COL_BODY,
                 lambda *args: None)  # im2col() runs the fallback itself (it needs x's shape and padding)


def im2col_args(x, kh, kw, stride, pads, dil, Ho, Wo):
    """(x, the kernel's arguments): x itself when its memory is one NCHW or channel-major block
    (else a contiguous copy), then its flat view and the integer parameters of IM2COL_BODY (sizes,
    stride, dilation, top/left padding and x's element strides)."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    if not (x.flags.c_contiguous or x.transpose(1, 0, 2, 3).flags.c_contiguous) or any(s < 0 for s in x.strides):
        x = xp.ascontiguousarray(x)
    flat = x.reshape(-1) if x.flags.c_contiguous else x.transpose(1, 0, 2, 3).reshape(-1)  # views of one block
    es = [s // x.itemsize for s in x.strides]
    return x, (flat, C, kh, kw, N, Ho, Wo, H, W, stride[0], stride[1], dil[0], dil[1], pads[0], pads[2], *es)


def im2col(x, kh, kw, stride, pads, dil, Ho, Wo):
    """cols (C kh kw, N Ho Wo) of x (N, C, H, W) zero-padded by pads = (pt, pb, pl, pr): one launch,
    x read in place through its strides (NCHW or channel-major memory; other layouts are copied)."""
    xp = xp_of(x)
    x, args = im2col_args(x, kh, kw, stride, pads, dil, Ho, Wo)
    flat = args[0]
    N, C = x.shape[:2]
    col = xp.empty((C * kh * kw, N * Ho * Wo), dtype=x.dtype)
    if is_real_cupy(xp) and _im2col.failed is None and not _DISABLED:  # pragma: no cover - needs a GPU
        _im2col(*args, col)
        if _im2col.failed is None:
            return col
    launch = getattr(xp, "fused_launch", None)

    def run():
        _im2col_fallback(xp, flat, *args[1:], x, pads, col)
        return col

    return launch("im2col", run) if launch is not None else run()
