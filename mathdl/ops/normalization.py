"""Normalization layers as fused primitives: layer norm and batch norm.

Both normalize x over a set of axes A (n entries per group) and apply an affine map:

  mu = mean_A(x),  var = mean_A((x - mu)^2),  rstd = 1 / sqrt(var + eps)
  xhat = (x - mu) * rstd,        y = w * xhat + b

  layer norm:  A = the trailing ``normalized_shape`` axes; w, b have that shape.
  batch norm:  A = every axis but the channel axis 1 (N, C, *); w, b have shape (C,).

Backward (g = dL/dy, sums over A, or over the non-normalized axes for w and b):

  dL/db = sum(g),   dL/dw = sum(g * xhat)
  dL/dx = rstd * (gh - mean_A(gh) - xhat * mean_A(gh * xhat)),   gh = g * w

The forward is a few passes over float32 arrays.  Groups are independent, so large inputs are
split by rows (layer and RMS norm), by channels (channel-major batch norm) or by fixed chunks of
rows whose partial sums are combined in chunk order (channels-last batch norm, NHWC memory:
mathdl/ops/bn_channels_last_kernels.py) over mathdl's threads (mathdl.parallel); each row, channel
or chunk is computed by the same operations whichever thread runs it.  The backward runs as raw
array passes when no graph is being recorded, and as the same formula in mathdl ops (recomputing
xhat and rstd from x) when ``create_graph`` asks for a differentiable backward, so grad-of-grad works.

RMS norm (Zhang & Sennrich, 2019) skips the centring:  rstd = 1 / sqrt(mean_A(x^2) + eps),
xhat = x rstd, y = w xhat, and  dL/dx = rstd (gh - xhat mean_A(gh xhat)),  dL/dw = sum(g xhat).

Batch norm in training mode also updates the running statistics in place (outside the graph):
  running_mean <- (1 - m) running_mean + m mu,   running_var <- (1 - m) running_var + m var n/(n-1)
and in evaluation mode uses them: y = (x - running_mean) * w / sqrt(running_var + eps) + b.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..amp.autocast_mode import _state as _amp, cast_float32
from ..autograd.grad_mode import state as _grad_state
from ..autograd.tensor import Tensor
from ..backend import xp_of
from .. import openmp_team
from .. import parallel as _parallel
from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, for_ranges
from . import bn_channels_last_kernels as cl_kernels
from . import layout_kernels
from . import device_kernels
from . import elementwise as ew
from . import row_kernels
from .reduce import mean as _mean
from .reduce import sum as _sum
from .shape import reshape, sum_to

__all__ = ["layer_norm", "batch_norm", "rms_norm", "LayerNormFn", "BatchNormFn", "RMSNormFn"]

_make = Tensor._make


def _rowsum(a):
    """Sum of each row of a 2-D array (einsum beats ndarray.sum along the last axis)."""
    return np.einsum("ij->i", a) if xp_of(a) is np else a.sum(axis=1)


def _rowdot(a, b):
    """sum_j a_ij b_ij for each row i, without a temporary."""
    return np.einsum("ij,ij->i", a, b) if xp_of(a) is np else (a * b).sum(axis=1)


def _colsum(a):
    """Sum of each column of a 2-D array (einsum: twice as fast as ndarray.sum(axis=0) here)."""
    return np.einsum("ij->j", a) if xp_of(a) is np else a.sum(axis=0)


def _coldot(a, b):
    """sum_i a_ij b_ij for each column j, without a temporary."""
    return np.einsum("ij,ij->j", a, b) if xp_of(a) is np else (a * b).sum(axis=0)


def _rows(fn, n_rows, work, xp):
    """fn(lo, hi) over row blocks: split over threads for NumPy arrays, one call otherwise."""
    if xp is np:
        for_ranges(fn, n_rows, work)
    else:  # pragma: no cover - GPU
        fn(0, n_rows)


def _normalize_composite(x, axes, eps):
    """xhat and rstd of x over ``axes`` in mathdl ops (for a differentiable backward)."""
    mu = _mean(x, axes, keepdim=True)
    xc = ew.sub(x, mu)
    var = _mean(ew.mul(xc, xc), axes, keepdim=True)
    rstd = ew.rsqrt(ew.add(var, eps))
    return ew.mul(xc, rstd), rstd


def _dx_composite(g, xhat, rstd, axes):
    """rstd * (g - mean(g) - xhat * mean(g * xhat)) in mathdl ops."""
    m1 = _mean(g, axes, keepdim=True)
    m2 = _mean(ew.mul(g, xhat), axes, keepdim=True)
    return ew.mul(rstd, ew.sub(ew.sub(g, m1), ew.mul(xhat, m2)))


# --------------------------------------------------------------------------- layer norm
class LayerNormFn(Function):
    """y = xhat * w + b over the last ``k`` axes (w and b optional)."""

    __slots__ = ("k", "eps", "has_w", "has_b", "saved_xhat", "saved_rstd", "saved_mu", "saved_var")

    def __init__(self, k, eps, has_w, has_b):
        self.k, self.eps, self.has_w, self.has_b = k, eps, has_w, has_b

    def forward(self, x, *wb):
        xp = xp_of(x)
        shape = x.shape
        n = int(np.prod(shape[x.ndim - self.k:])) if self.k else 1
        x2 = x.reshape(-1, n)
        if xp is not np:  # the device: three fused launches (device_kernels); backward recomputes xhat
            y, self.saved_mu, self.saved_var = device_kernels.layer_norm_forward(
                x2, wb[0].reshape(-1) if self.has_w else None, wb[-1].reshape(-1) if self.has_b else None, self.eps)
            return y.reshape(shape)
        R = x2.shape[0]
        xhat = xp.empty_like(x2)
        y = xp.empty_like(x2)
        rstd = xp.empty((R, 1), dtype=x2.dtype)
        w = wb[0].reshape(1, n) if self.has_w else None
        b = wb[-1].reshape(1, n) if self.has_b else None
        if n and row_kernels.usable(x2, *(v.reshape(n) for v in (w, b) if v is not None)):
            w1 = None if w is None else w.reshape(n)
            b1 = None if b is None else b.reshape(n)

            def fused(lo, hi):  # one visit per row (mathdl/ops/row_kernels.py)
                row_kernels.layer_norm_forward(x2[lo:hi], w1, b1, self.eps, xhat[lo:hi], y[lo:hi], rstd[lo:hi])

            _rows(fused, R, 3 * x2.size, xp)
            self.saved_xhat = xhat.reshape(shape)
            self.saved_rstd = rstd
            return y.reshape(shape)

        def part(lo, hi):
            xs, xh, r = x2[lo:hi], xhat[lo:hi], rstd[lo:hi]
            mu = _rowsum(xs).reshape(-1, 1)
            mu *= 1.0 / n
            xp.subtract(xs, mu, out=xh)
            var = _rowdot(xh, xh).reshape(-1, 1)
            var *= 1.0 / n
            var += self.eps
            xp.sqrt(var, out=r)
            xp.divide(1, r, out=r)
            xh *= r
            if w is not None:
                xp.multiply(xh, w, out=y[lo:hi])
            else:  # never hand out the saved array
                y[lo:hi] = xh
            if b is not None:
                y[lo:hi] += b

        _rows(part, R, 5 * x2.size, xp)
        self.saved_xhat = xhat.reshape(shape)
        self.saved_rstd = rstd
        return y.reshape(shape)

    def backward(self, g):
        x = self.inputs[0]
        w = self.inputs[1] if self.has_w else None
        b = self.inputs[-1] if self.has_b else None
        axes = tuple(range(x.ndim - self.k, x.ndim))
        if _grad_state.enabled:  # differentiable backward (create_graph)
            xhat, rstd = _normalize_composite(x, axes, self.eps)
            gh = ew.mul(g, w) if w is not None else g
            gx = _dx_composite(gh, xhat, rstd, axes) if x.requires_grad else None
            gw = sum_to(ew.mul(g, xhat), w.shape) if w is not None and w.requires_grad else None
            gb = sum_to(g, b.shape) if b is not None and b.requires_grad else None
        elif xp_of(x.array) is not np:  # the device: at most five fused launches (device_kernels)
            n = int(np.prod(x.shape[x.ndim - self.k:])) if self.k else 1
            gx, gw, gb = device_kernels.layer_norm_backward(
                g.array.reshape(-1, n), x.array.reshape(-1, n), self.saved_mu, self.saved_var,
                None if w is None else w.array.reshape(-1), self.eps, need_x=x.requires_grad,
                need_w=w is not None and w.requires_grad, need_b=b is not None and b.requires_grad)
            gx = None if gx is None else _make(gx.reshape(x.shape))
            gw = None if gw is None else _make(gw.reshape(w.shape))
            gb = None if gb is None else _make(gb.reshape(b.shape))
        else:
            xhat = self.saved_xhat
            n = int(np.prod(x.shape[x.ndim - self.k:])) if self.k else 1
            g2 = g.array.reshape(-1, n)
            if not g2.flags.c_contiguous and g2.size >= row_kernels.MIN_ELEMENTS and row_kernels.available():
                # e.g. the broadcast gradient of a sum: one copy, then the compiled rows below
                g2 = np.ascontiguousarray(g2)
            xh2 = xhat.reshape(-1, n)
            gw = gb = gx = None
            if w is not None and w.requires_grad:
                gw = _make(_coldot(g2, xh2).reshape(w.shape))
            if b is not None and b.requires_grad:
                gb = _make(_colsum(g2).reshape(b.shape))
            if x.requires_grad:
                rstd = self.saved_rstd
                xp = xp_of(g2)
                gx2 = xp.empty_like(g2)
                wv = w.array.reshape(1, n) if w is not None else None
                if n and row_kernels.usable(g2, xh2, *(() if wv is None else (wv.reshape(n),))):
                    w1 = None if wv is None else wv.reshape(n)

                    def part(lo, hi):  # one visit per row (mathdl/ops/row_kernels.py)
                        row_kernels.layer_norm_backward(g2[lo:hi], xh2[lo:hi], rstd[lo:hi], w1, gx2[lo:hi])
                else:

                    def part(lo, hi):  # gx = rstd gh - (rstd mean(gh)) - (rstd mean(gh xhat)) xhat
                        gh, xh, r = gx2[lo:hi], xh2[lo:hi], rstd[lo:hi]
                        if wv is not None:
                            xp.multiply(g2[lo:hi], wv, out=gh)
                        else:
                            gh[...] = g2[lo:hi]
                        m1 = _rowsum(gh).reshape(-1, 1)
                        m1 *= r * (1.0 / n)
                        m2 = _rowdot(gh, xh).reshape(-1, 1)
                        m2 *= r * (1.0 / n)
                        gh *= r
                        gh -= m1
                        gh -= xh * m2

                _rows(part, g2.shape[0], 6 * g2.size, xp)
                gx = _make(gx2.reshape(x.shape))
        out = [gx]
        if self.has_w:
            out.append(gw)
        if self.has_b:
            out.append(gb)
        return tuple(out)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Layer normalization over the trailing ``normalized_shape`` axes (see module docstring)."""
    if _amp.dtype is not None:  # autocast: normalizations compute in float32
        (x,) = cast_float32(x)
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(
            f"layer_norm: input of shape {tuple(x.shape)} does not end with normalized_shape {normalized_shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected {normalized_shape}")
    args = [x] + [t for t in (weight, bias) if t is not None]
    return LayerNormFn(k, float(eps), weight is not None, bias is not None)(*args)


# --------------------------------------------------------------------------- RMS norm
class RMSNormFn(Function):
    """y = x / sqrt(mean(x^2) + eps) * w over the last ``k`` axes (w optional)."""

    __slots__ = ("k", "eps", "has_w", "saved_xhat", "saved_rstd")

    def __init__(self, k, eps, has_w):
        self.k, self.eps, self.has_w = k, eps, has_w

    def forward(self, x, *w):
        xp = xp_of(x)
        n = int(np.prod(x.shape[x.ndim - self.k:])) if self.k else 1
        x2 = x.reshape(-1, n)
        xhat = xp.empty_like(x2)
        rstd = xp.empty((x2.shape[0], 1), dtype=x2.dtype)

        def part(lo, hi):
            xs, r = x2[lo:hi], rstd[lo:hi]
            r[...] = _rowdot(xs, xs).reshape(-1, 1)
            r *= 1.0 / n
            r += self.eps
            xp.sqrt(r, out=r)
            xp.divide(1, r, out=r)
            xp.multiply(xs, r, out=xhat[lo:hi])

        _rows(part, x2.shape[0], 3 * x2.size, xp)
        xhat = xhat.reshape(x.shape)
        self.saved_xhat, self.saved_rstd = xhat, rstd
        return xhat * w[0] if self.has_w else xhat.copy()

    def backward(self, g):
        x = self.inputs[0]
        w = self.inputs[1] if self.has_w else None
        axes = tuple(range(x.ndim - self.k, x.ndim))
        gx = gw = None
        if _grad_state.enabled:  # differentiable backward (create_graph)
            rstd = ew.rsqrt(ew.add(_mean(ew.mul(x, x), axes, keepdim=True), self.eps))
            xhat = ew.mul(x, rstd)
            gh = ew.mul(g, w) if w is not None else g
            if x.requires_grad:
                gx = ew.mul(rstd, ew.sub(gh, ew.mul(xhat, _mean(ew.mul(gh, xhat), axes, keepdim=True))))
            if w is not None and w.requires_grad:
                gw = sum_to(ew.mul(g, xhat), w.shape)
        else:
            n = int(np.prod(x.shape[x.ndim - self.k:])) if self.k else 1
            g2 = g.array.reshape(-1, n)
            xh2 = self.saved_xhat.reshape(-1, n)
            if w is not None and w.requires_grad:
                gw = _make(_coldot(g2, xh2).reshape(w.shape))
            if x.requires_grad:
                xp = xp_of(g2)
                gx2 = xp.empty_like(g2)
                wv = w.array.reshape(1, n) if w is not None else None
                rstd = self.saved_rstd

                def part(lo, hi):  # gx = rstd (gh - xhat mean(gh xhat))
                    gh, xh = gx2[lo:hi], xh2[lo:hi]
                    if wv is not None:
                        xp.multiply(g2[lo:hi], wv, out=gh)
                    else:
                        gh[...] = g2[lo:hi]
                    m = _rowdot(gh, xh).reshape(-1, 1)
                    m *= 1.0 / n
                    gh -= xh * m
                    gh *= rstd[lo:hi]

                _rows(part, g2.shape[0], 4 * g2.size, xp)
                gx = _make(gx2.reshape(x.shape))
        return (gx, gw) if self.has_w else (gx,)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """RMS normalization over the trailing ``normalized_shape`` axes (eps None: the dtype's epsilon)."""
    if _amp.dtype is not None:
        (x,) = cast_float32(x)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"rms_norm: normalized_shape {shape} does not match the trailing dims of the input of shape "
                         f"{tuple(x.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"rms_norm: weight has shape {tuple(weight.shape)}, expected {shape}")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    return RMSNormFn(k, float(eps), weight is not None)(*([x] if weight is None else [x, weight]))


# --------------------------------------------------------------------------- batch norm
# The compiled channel loops split over threads from this much work (3 passes of the entries): one
# visit per channel is fast enough that a (32, 32, 16, 16) batch norm (0.44 ms at one thread) got
# slower split in two (0.66 ms) on a 2-core machine; (32, 16, 32, 32) and larger still gain.
BN_COMPILED_MIN_WORK = 1 << 20
# The channels-last passes (two hand-offs each way instead of one) split from this much work
# (entries times 2 passes); below it, and at one thread, each way is one compiled call.  On the
# shared 2-core machine (the other core partly busy) a (32, 16, 32, 32) batch norm split in two
# took 298 us forward and 340 us backward against 180 and 249 us in one call, so only inputs
# of 2M entries and more (a batch of 128 there) are split; re-measure on a quiet machine.
BN_CHANNELS_LAST_MIN_WORK = 1 << 22


def _bn_view(x):
    """x as (N, C) or (N, C, L) (a view for contiguous input)."""
    if x.ndim == 2:
        return x
    return x.reshape(x.shape[0], x.shape[1], -1)


def _per_chan(v, a):
    """A (C,) vector shaped to broadcast against the (N, C) or (N, C, L) array ``a``."""
    return v[None, :] if a.ndim == 2 else v[None, :, None]


def _chan_sum(a):
    """Sum of an (N, C) or (N, C, L) array over every axis but C -> (C,)."""
    if a.ndim == 2:
        return a.sum(axis=0)
    if xp_of(a) is np:
        return np.einsum("ncl->nc", a).sum(axis=0)
    return a.sum(axis=(0, 2))  # pragma: no cover - GPU


def _chan_dot(a, b):
    """sum over every axis but C of a * b -> (C,), without a temporary."""
    if xp_of(a) is np:
        if a.ndim == 2:
            return np.einsum("nc,nc->c", a, b)
        return np.einsum("ncl,ncl->nc", a, b).sum(axis=0)
    return (a * b).sum(axis=(0, 2) if a.ndim == 3 else 0)  # pragma: no cover - GPU


def _channel_rows(a):
    """A 4-D (N, C, H, W) array whose memory is a contiguous (C, N, H, W) block (what conv2d
    returns) as a (C, N H W) matrix view; None for other layouts."""
    if a.ndim != 4:
        return None
    t = a.transpose(1, 0, 2, 3)
    if not t.flags.c_contiguous:
        return None
    return t.reshape(t.shape[0], -1)


def _channels_last_rows(a):
    """A 4-D (N, C, H, W) array whose memory is a contiguous (N, H, W, C) block (channels last) as an
    (N H W, C) matrix view; None for other layouts."""
    if a.ndim != 4:
        return None
    t = a.transpose(0, 2, 3, 1)
    if not t.flags.c_contiguous:
        return None
    return t.reshape(-1, t.shape[3])


# On the OpenMP team (mathdl/openmp_team.py: a hand-off of about 2 us) batch norm's compiled passes
# (channels-last, and channel-major with its rows shared out) run as one compiled call on all threads
# from this much work (entries times passes) instead.
BN_TEAM_MIN_WORK = 1 << 16


def _cl_team(work):
    """Threads for one compiled batch-norm call on the OpenMP team (1: not on the team)."""
    return _parallel.team_threads(work, BN_TEAM_MIN_WORK) or 1


def _rows_team(work):
    """Threads for the channel-major compiled loops' team version (0: their serial version).  Where the
    process has the OpenMP team, that version runs at every thread count, one thread included: its
    per-channel sums are vectorised with reassociation, and the same loop compiled inside another
    caller may group them differently, so one compiled version keeps 1 and 2 threads bit-identical."""
    if work < BN_TEAM_MIN_WORK or _parallel.in_worker():
        return 0
    T = _parallel.get_num_threads()
    return T if (T == 1 and openmp_team.available()) or _parallel.on_team() else 0


def _cl_serial(work):
    """Whether for_ranges would run the channels-last passes (``work`` entries times passes) serially."""
    cut = min(_parallel.MIN_PARALLEL_ELEMENTS, BN_CHANNELS_LAST_MIN_WORK)
    return _parallel.get_num_threads() == 1 or work < cut or _parallel.in_worker()


def _affine_overflow(x3, y, mu, rstd, wb, has_w, has_b, relu):
    """PyTorch's batch norm applies y = x * scale + shift, scale = w rstd, shift = b - mu scale: the
    same as w xhat + b where both are finite.  Channels whose scale or shift is infinite or NaN
    (an infinite weight or bias) are recomputed by that formula in place of y (an (N, C[, L])
    array, like x3), so that they give PyTorch's infinities and NaNs (inf - inf, 0 * inf).  Returns
    whether any channel was recomputed."""
    if not (has_w or has_b):
        return False
    xp = xp_of(x3)
    scale = rstd * wb[0] if has_w else rstd
    shift = wb[-1] - mu * scale if has_b else -mu * scale
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~(xp.isfinite(scale) & xp.isfinite(shift))
        if not bad.any():
            return False
        for c in map(int, xp.nonzero(bad)[0]):
            yc = x3[:, c] * scale[c] + shift[c]
            y[:, c] = xp.maximum(yc, 0) if relu else yc
    return True


def _dx_overflow(gx, g, y, xhat, sg, sgx, scale, n):
    """Channels whose scale = w rstd is infinite or NaN get PyTorch's order of operations,
    gx = (g - mean(g) - xhat mean(g xhat)) * scale (the bracket first), in place of
    g scale - ... (inf - inf); arrays (N, C[, L]), g unmasked and y the output when fused with relu."""
    xp = xp_of(gx)
    bad = ~xp.isfinite(scale)
    if not bad.any():
        return
    with np.errstate(invalid="ignore", over="ignore"):
        for c in map(int, xp.nonzero(bad)[0]):
            gc = g[:, c] * ~(y[:, c] <= 0) if y is not None else g[:, c]  # relu' as torch: NaN passes
            gx[:, c] = (gc - sg[c] / n - xhat[:, c] * (sgx[c] / n)) * scale[c]


class BatchNormFn(Function):
    """Training-mode batch norm: statistics of this batch over every axis but axis 1; with
    ``relu`` the fused y = max(w xhat + b, 0) (one pass less each way, no extra temporary).

    Channel-major 4-D input (conv2d's output layout) is normalized as a (C, N H W) matrix and the
    result keeps that layout; channels-last 4-D input (NHWC memory) as an (N H W, C) matrix, the
    result in NHWC memory too (mathdl/ops/bn_channels_last_kernels.py); other input as (N, C, L)."""

    __slots__ = ("eps", "has_w", "has_b", "relu", "saved_xhat", "saved_rstd", "saved_y", "mean", "var", "saved_mu",
                 "saved_var", "channels_last", "saved_coef", "relu_mask")

    def __init__(self, eps, has_w, has_b, relu=False):
        self.eps, self.has_w, self.has_b, self.relu = eps, has_w, has_b, relu
        self.channels_last = False  # the forward took the channels-last (L, C) road

    def forward(self, x, *wb):
        xp = xp_of(x)
        if xp is not np:  # the device: three fused launches, PyTorch's order y = x scale + shift (device_kernels)
            y, self.mean, self.var = device_kernels.batch_norm_forward(
                x, wb[0] if self.has_w else None, wb[-1] if self.has_b else None, self.eps, self.relu)
            self.saved_mu, self.saved_var = self.mean, self.var
            self.saved_y = y if self.relu else None
            return y
        rows = _channel_rows(x) if xp is np else None
        if rows is not None:  # (C, L): per-row statistics, per-row affine map, split over channels
            return self._forward_rows(x, rows, wb)
        if not x.flags.c_contiguous and x.dtype in (np.float32, np.float64):
            rows = _channels_last_rows(x)
            if rows is not None:  # (L, C): per-column statistics, rows split over threads
                return self._forward_channels_last(x, rows, wb)
        x3 = _bn_view(x)
        C = x3.shape[1]
        n = x3.size // C
        mu = _chan_sum(x3) / n
        xhat = x3 - _per_chan(mu, x3)
        var = _chan_dot(xhat, xhat) / n
        col = lambda v: _per_chan(v, xhat)  # noqa: E731
        self.mean, self.var = mu, var
        rstd = 1.0 / xp.sqrt(var + self.eps)
        xhat *= col(rstd)
        self.saved_xhat = xhat
        self.saved_rstd = rstd
        if self.has_w:
            y = xhat * col(wb[0])
        else:
            y = xhat.copy()
        if self.has_b:
            y += col(wb[-1])
        _affine_overflow(x3, y, mu, rstd, wb, self.has_w, self.has_b, self.relu)
        if self.relu:
            xp.maximum(y, 0, out=y)
        y = y.reshape(x.shape)
        if self.relu:
            self.saved_y = y  # the output (alive anyway as the next layer's input): its mask
        return y

    def _forward_rows(self, x, rows, wb):
        """Channel-major forward: rows (C, L) -> y in the same layout, channels split over threads."""
        C, n = rows.shape
        mu = np.empty(C, dtype=rows.dtype)
        var = np.empty_like(mu)
        rstd = np.empty_like(mu)
        xhat = np.empty_like(rows)
        y = np.empty_like(rows)
        w = wb[0] if self.has_w else None
        b = wb[-1] if self.has_b else None
        if n and row_kernels.usable(rows, *(v for v in (w, b) if v is not None)):  # one compiled visit per channel
            stats = np.empty((C, 3))

            def fused(lo, hi):
                row_kernels.batch_norm_forward(rows[lo:hi], None if w is None else w[lo:hi],
                                               None if b is None else b[lo:hi], self.eps, self.relu, xhat[lo:hi],
                                               y[lo:hi], stats[lo:hi])

            team = _rows_team(3 * rows.size)
            if team:  # the channels shared out on the OpenMP team
                row_kernels.batch_norm_forward(rows, w, b, self.eps, self.relu, xhat, y, stats, team)
            else:
                for_ranges(fused, C, 3 * rows.size, min_work=BN_COMPILED_MIN_WORK, team=True)
            mu[...], var[...], rstd[...] = stats[:, 0], stats[:, 1], stats[:, 2]
        else:
            for_ranges(lambda lo, hi: self._rows_part(rows, xhat, y, mu, var, rstd, w, b, n, lo, hi), C,
                       6 * rows.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
        _affine_overflow(rows[None], y[None], mu, rstd, wb, self.has_w, self.has_b, self.relu)
        self.mean, self.var = mu, var
        self.saved_xhat, self.saved_rstd = xhat, rstd.astype(rows.dtype, copy=False)
        y = y.reshape((C, x.shape[0]) + x.shape[2:]).transpose(1, 0, 2, 3)
        if self.relu:
            self.saved_y = y
        return y

    def _forward_channels_last(self, x, rows, wb):
        """Channels-last forward: rows (L, C) -> y in the same layout (NHWC memory), fixed chunks of
        rows split over threads, their partial sums combined in chunk order.  Saves mean and rstd
        only: the backward recomputes xhat from x (mathdl/ops/bn_channels_last_kernels.py)."""
        L, C = rows.shape
        dt = rows.dtype
        w = wb[0] if self.has_w else np.ones(C, dt)
        b = wb[-1] if self.has_b else np.zeros(C, dt)
        fast = cl_kernels.usable(rows, w, b)
        R, psum, pm2 = cl_kernels.partials(L, C)
        # coefficient rows: mu, rstd w, b for the forward; the backward's three after them
        stats, coef = np.empty((3, C)), cl_kernels.coefficients(6, C, dt)
        y = np.empty_like(rows)
        K, work = psum.shape[0], 2 * rows.size
        team = _cl_team(work) if fast else 1
        if fast and (team > 1 or _cl_serial(work)):  # one compiled call
            finite = cl_kernels.forward_all(rows, R, self.eps, w, b, self.relu, psum, pm2, stats, coef, y, team)
        else:
            for_ranges(lambda lo, hi: cl_kernels.forward_stats(rows, R, lo, hi, psum, pm2, fast), K, work,
                       min_work=BN_CHANNELS_LAST_MIN_WORK, team=True)
            finite = cl_kernels.forward_combine(psum, pm2, R, L, self.eps, w, b, stats, coef, fast)
            for_ranges(lambda lo, hi: cl_kernels.forward_apply(rows, coef, self.relu, R, lo, hi, y, fast), K, work,
                       min_work=BN_CHANNELS_LAST_MIN_WORK, team=True)
        mu, var, rstd = stats.astype(dt)
        changed = not finite and _affine_overflow(rows, y, mu, rstd, wb, self.has_w, self.has_b, self.relu)
        self.mean, self.var = mu, var
        self.saved_mu, self.saved_rstd, self.saved_xhat, self.saved_coef = mu, rstd, None, coef
        # the backward's compiled loops recompute relu's mask from x with the forward's own operations
        # (one array less to read): only where these loops made all of y
        self.relu_mask = fast and not changed
        self.channels_last = True
        N, _, H, W = x.shape
        y = y.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        if self.relu:
            self.saved_y = y
        return y

    def _rows_part(self, rows, xhat, y, mu, var, rstd, w, b, n, lo, hi):
        """The array code of the channel-major forward for channels lo:hi."""
        xs, xh = rows[lo:hi], xhat[lo:hi]
        m = np.einsum("cl->c", xs) / n
        np.subtract(xs, m[:, None], out=xh)
        v = np.einsum("cl,cl->c", xh, xh) / n
        r = 1.0 / np.sqrt(v + self.eps)
        mu[lo:hi], var[lo:hi], rstd[lo:hi] = m, v, r
        xh *= r[:, None]
        ys = y[lo:hi]
        if w is not None:
            np.multiply(xh, w[lo:hi, None], out=ys)
        else:
            ys[...] = xh
        if b is not None:
            ys += b[lo:hi, None]
        if self.relu:
            np.maximum(ys, 0, out=ys)

    def _backward_rows(self, x, g, w, b):
        return _bn_backward_rows(self, x, g, w, b)

    def backward(self, g):
        x = self.inputs[0]
        w = self.inputs[1] if self.has_w else None
        b = self.inputs[-1] if self.has_b else None
        if _grad_state.enabled:  # differentiable backward (create_graph)
            axes = (0,) + tuple(range(2, x.ndim))
            cshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
            if self.relu:  # relu' is a constant mask (its own derivative is 0 almost everywhere)
                g = ew.mul(g, _make((self.saved_y > 0).astype(g.dtype)))
            xhat, rstd = _normalize_composite(x, axes, self.eps)
            gh = ew.mul(g, reshape(w, cshape)) if w is not None else g
            gx = _dx_composite(gh, xhat, rstd, axes) if x.requires_grad else None
            gw = reshape(_sum(ew.mul(g, xhat), axes), w.shape) if w is not None and w.requires_grad else None
            gb = reshape(_sum(g, axes), b.shape) if b is not None and b.requires_grad else None
        elif xp_of(x.array) is not np:  # the device: two fused reductions and one pass (device_kernels)
            gx, gw, gb = device_kernels.batch_norm_backward(
                g.array, x.array, self.saved_y if self.relu else None, self.saved_mu, self.saved_var,
                None if w is None else w.array, self.eps, self.relu, need_x=x.requires_grad,
                need_w=w is not None and w.requires_grad)
            gx = None if gx is None else _make(gx)
            gw = None if gw is None else _make(gw)
            gb = _make(gb) if b is not None and b.requires_grad else None
        elif self.channels_last:  # channels-last (L, C) path
            gx, gw, gb = _bn_backward_channels_last(self, x, g, w, b)
        elif self.saved_xhat.ndim == 2 and x.ndim == 4:  # channel-major (C, L) path
            gx, gw, gb = self._backward_rows(x, g, w, b)
        else:  # (N, C) or (N, C, L) input
            xhat = self.saved_xhat
            g2 = _bn_view(g.array)
            col = lambda v: _per_chan(v, xhat)  # noqa: E731
            if self.relu:  # g <- g [y > 0], a fresh array this backward owns
                g2 = g2 * (_bn_view(self.saved_y) > 0)
                owned = True
            else:
                owned = False
            n = g2.size // xhat.shape[1]
            sg = _chan_sum(g2)
            sgx = _chan_dot(g2, xhat)
            gw = _make(sgx.astype(g2.dtype, copy=False)) if w is not None and w.requires_grad else None
            gb = _make(sg.astype(g2.dtype, copy=False)) if b is not None and b.requires_grad else None
            gx = None
            if x.requires_grad:
                scale = self.saved_rstd * w.array if w is not None else self.saved_rstd
                # gx = scale (g - mean(g) - xhat mean(g xhat)),  scale = w rstd
                if owned:
                    gx2 = g2
                    gx2 *= col(scale)
                else:
                    gx2 = g2 * col(scale)
                t = xhat * col(sgx * (scale / n))
                gx2 -= t
                gx2 -= col(sg * (scale / n))
                y3 = _bn_view(self.saved_y) if self.relu else None
                _dx_overflow(gx2, _bn_view(g.array), y3, xhat, sg, sgx, scale, n)
                gx = _make(gx2.reshape(x.shape))
        out = [gx]
        if self.has_w:
            out.append(gw)
        if self.has_b:
            out.append(gb)
        return tuple(out)


def _bn_backward_rows(fn, x, g, w, b):
    """Raw backward of channel-major batch norm, channels split over threads:
    gx = scale (g - mean(g) - xhat mean(g xhat)), scale = w rstd; g masked by y > 0 with relu."""
    xhat = fn.saved_xhat
    C, n = xhat.shape
    gd = g.array
    g2 = _channel_rows(gd)
    if g2 is None and _channels_last_rows(gd) is not None:  # a channels-last gradient: compiled copy back
        g2 = layout_kernels.nhwc_into_cnhw(gd, np.empty((C,) + gd.shape[:1] + gd.shape[2:], gd.dtype)).reshape(C, n)
    if g2 is None:
        g2 = np.ascontiguousarray(gd.transpose(1, 0, 2, 3)).reshape(C, n)
    y2 = _channel_rows(fn.saved_y) if fn.relu else None
    dt = g2.dtype
    sg, sgx = np.empty(C, dtype=dt), np.empty(C, dtype=dt)
    need_gx = x.requires_grad
    gx2 = np.empty_like(g2) if need_gx else None
    rstd = fn.saved_rstd
    wv = w.array if w is not None else None
    scale = rstd * wv if wv is not None else rstd  # w rstd per channel
    if n and row_kernels.usable(g2, xhat, *(() if y2 is None else (y2,))) and (wv is None or wv.dtype == dt):
        sums = np.empty((C, 2))

        def part(lo, hi):  # one compiled visit per channel (mathdl/ops/row_kernels.py)
            row_kernels.batch_norm_backward(g2[lo:hi], xhat[lo:hi], None if y2 is None else y2[lo:hi], fn.relu,
                                            scale[lo:hi], gx2[lo:hi] if need_gx else None, sums[lo:hi])

        team = _rows_team(3 * g2.size)
        if team:  # the channels shared out on the OpenMP team
            row_kernels.batch_norm_backward(g2, xhat, y2, fn.relu, scale, gx2 if need_gx else None, sums, team)
        else:
            for_ranges(part, C, 3 * g2.size, min_work=BN_COMPILED_MIN_WORK, team=True)
        sg[...], sgx[...] = sums[:, 0], sums[:, 1]
    else:
        for_ranges(lambda lo, hi: _bn_backward_part(g2, xhat, y2, gx2, sg, sgx, scale, n, need_gx, lo, hi), C,
                   5 * g2.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
    if need_gx:
        _dx_overflow(gx2[None], g2[None], None if y2 is None else y2[None], xhat[None], sg, sgx, scale, n)
    gw = _make(sgx) if w is not None and w.requires_grad else None
    gb = _make(sg) if b is not None and b.requires_grad else None
    gx = None
    if need_gx:
        gx = _make(gx2.reshape((C, x.shape[0]) + x.shape[2:]).transpose(1, 0, 2, 3))
    return gx, gw, gb


def _bn_backward_channels_last(fn, x, g, w, b):
    """Raw backward of channels-last batch norm, fixed chunks of rows split over threads:
    gx = scale (g' - mean(g') - xhat mean(g' xhat)), scale = w rstd, g' = g [not y <= 0] with relu,
    xhat = (x - mu) rstd recomputed from x; gx in NHWC memory like x (bn_channels_last_kernels.py)."""
    xd = x.array
    x2 = _channels_last_rows(xd)
    if x2 is None:  # pragma: no cover - x is the forward's NHWC input (its version is checked)
        x2 = np.ascontiguousarray(xd.transpose(0, 2, 3, 1)).reshape(-1, xd.shape[1])
    L, C = x2.shape
    gd = g.array
    g2 = _channels_last_rows(gd)
    if g2 is None:  # e.g. a broadcast or NCHW gradient: one copy into (L, C)
        g2 = np.ascontiguousarray(gd.transpose(0, 2, 3, 1)).reshape(L, C)
    y2 = _channels_last_rows(fn.saved_y) if fn.relu else None
    dt = g2.dtype
    mu, rstd = fn.saved_mu, fn.saved_rstd
    scale = rstd * w.array if w is not None else rstd  # w rstd per channel
    fast = cl_kernels.usable(g2, x2, *(() if y2 is None else (y2,)))
    R, psg, psgx = cl_kernels.partials(L, C)
    fast = fast and (fn.relu_mask or not fn.relu)  # else the NumPy passes, relu's mask read from y
    coef = fn.saved_coef  # rows 3..5 are this backward's (backward_combine)
    sums = np.empty((2, C))
    K, work = psg.shape[0], 2 * g2.size
    gx2 = np.empty((L, C), dt) if x.requires_grad else None
    team = _cl_team(work) if fast else 1
    if fast and (team > 1 or _cl_serial(work)):  # one compiled call
        finite = cl_kernels.backward_all(g2, x2, fn.relu, coef, R, scale, rstd, psg, psgx, sums, gx2, team)
    else:
        for_ranges(lambda lo, hi: cl_kernels.backward_sums(g2, x2, y2, fn.relu, coef, R, lo, hi, psg, psgx, fast),
                   K, work, min_work=BN_CHANNELS_LAST_MIN_WORK, team=True)
        finite = cl_kernels.backward_combine(psg, psgx, scale, rstd, L, sums, coef, fast)
        if gx2 is not None:
            for_ranges(lambda lo, hi: cl_kernels.backward_apply(g2, x2, y2, fn.relu, coef, R, lo, hi, gx2, fast), K,
                       work, min_work=BN_CHANNELS_LAST_MIN_WORK, team=True)
    sg, sgx = sums.astype(dt)
    gx = None
    if gx2 is not None:
        if not finite:  # PyTorch's order of operations for the channels of an infinite or NaN scale
            _dx_overflow(gx2, g2, y2, (x2 - mu) * rstd, sg, sgx, scale, L)
        N, _, H, W = x.shape
        gx = _make(gx2.reshape(N, H, W, C).transpose(0, 3, 1, 2))
    gw = _make(sgx) if w is not None and w.requires_grad else None
    gb = _make(sg) if b is not None and b.requires_grad else None
    return gx, gw, gb


def _bn_backward_part(g2, xhat, y2, gx2, sg, sgx, scale, n, need_gx, lo, hi):
    """The array code of the channel-major backward for channels lo:hi."""
    gs, xh = g2[lo:hi], xhat[lo:hi]
    if y2 is not None:
        gm = gx2[lo:hi] if need_gx else np.empty_like(gs)
        np.multiply(gs, y2[lo:hi] > 0, out=gm)
        gs = gm
    s = np.einsum("cl->c", gs)
    sx = np.einsum("cl,cl->c", gs, xh)
    sg[lo:hi], sgx[lo:hi] = s, sx
    if need_gx:
        sc = scale[lo:hi]
        out = gx2[lo:hi]
        np.multiply(gs, sc[:, None], out=out)
        out -= xh * (sx * (sc / n))[:, None]
        out -= (s * (sc / n))[:, None]


def _update_running(running, new, momentum, factor=1.0):
    """running <- (1 - momentum) running + momentum factor new, in place (no graph)."""
    arr = running.array
    if xp_of(arr) is not np:  # the device: one fused launch
        device_kernels.running_update(arr, new, momentum, factor)
    else:
        arr *= 1.0 - momentum
        arr += (momentum * (new * factor if factor != 1.0 else new)).astype(arr.dtype, copy=False)
    running._version += 1


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, *, relu: bool = False):
    """Batch normalization of (N, C), (N, C, L) or (N, C, H, W) input over all axes but C.

    ``training=True`` (or no running statistics) normalizes with the batch's statistics and,
    when running buffers are given, updates them with ``momentum``; ``training=False`` uses
    the running statistics.  ``relu=True`` returns max(batch_norm(x), 0) as one fused op.
    """
    if _amp.dtype is not None:  # autocast: normalizations compute in float32
        (x,) = cast_float32(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {tuple(x.shape)}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)}, expected ({c},) for input of "
                             f"shape {tuple(x.shape)}")
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        n = x.numel() // c if c else 0
        if training and n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                             f"shape {tuple(x.shape)}")
        args = [x] + [t for t in (weight, bias) if t is not None]
        fn = BatchNormFn(float(eps), weight is not None, bias is not None, bool(relu))
        y = fn(*args)
        if training and running_mean is not None and momentum is not None:
            _update_running(running_mean, fn.mean, momentum)
        if training and running_var is not None and momentum is not None:
            _update_running(running_var, fn.var, momentum, n / max(n - 1, 1))
        fn.mean = fn.var = None
        return y
    # evaluation: an affine map with per-channel scale and shift
    cshape = (1, c) + (1,) * (x.ndim - 2)
    rm, rv = running_mean, running_var
    scale = ew.rsqrt(ew.add(rv, float(eps)))
    if weight is not None:
        scale = ew.mul(scale, weight)
    shift = ew.neg(ew.mul(rm, scale))
    if bias is not None:
        shift = ew.add(shift, bias)
    y = ew.add(ew.mul(x, reshape(scale, cshape)), reshape(shift, cshape))
    return ew.relu(y) if relu else y
