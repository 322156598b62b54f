"""Pooling over kernel-offset slices (the same geometry as convolution's im2col, mathdl/ops/conv.py).

  max pooling   y[n, c, a, b] = max_{i, j} xpad[n, c, a s + i d, b s + j d]   (xpad padded with -inf);
                the index of the winning offset is kept, the backward scatters g to it
                (MaxPoolScatterFn) and the scatter's backward gathers again (MaxPoolGatherFn)
  avg pooling   y = (1 / count) sum_{i, j} xpad[...]: linear, its transpose (AvgPoolTFn) is the
                backward; count is kh kw, or the number of non-padding entries
                (count_include_pad=False), or divisor_override
  adaptive_avg_pool2d   a separable linear map y = A_h x A_w^T (A's rows average the input ranges
                [floor(i H / out), ceil((i + 1) H / out)))

2x2 stride-2 max pooling and the scatter of any window run as one compiled pass each (numba,
mathdl/ops/compiled.py) over C-contiguous planes, else as array passes over the kh kw offsets.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp_of
from ..parallel import MIN_PARALLEL_ELEMENTS_CNN, for_ranges
from . import conv_device
from .conv import _check_4d, _offset_slice, _padded_cnhw, _pair
from .linalg import matmul
from .reduce import mean as _mean
from .shape import reshape

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d"]

_make = Tensor._make


# --------------------------------------------------------------------------- pooling primitives
def _pool_geometry(name, x_shape, kernel, stride, padding, dil, ceil_mode):
    """Output size and (pt, pb, pl, pr) padding (the bottom/right grow for ceil_mode)."""
    kh, kw = kernel
    H, W = x_shape[2], x_shape[3]
    out, pads = [], []
    for size, k, s, p, d in ((H, kh, stride[0], padding[0], dil[0]), (W, kw, stride[1], padding[1], dil[1])):
        if p > (k // 2):
            raise ValueError(f"{name}: padding {p} must be at most half the kernel size {k}")
        span = size + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{name}: kernel {kernel} (dilation {dil}) is larger than the padded input "
                             f"{size + 2 * p} for input shape {tuple(x_shape)}")
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        extra = max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
        out.append(o)
        pads.append((p, p + extra))
    return out[0], out[1], (pads[0][0], pads[0][1], pads[1][0], pads[1][1])


def _pad_like(x, pads, value):
    """Pad H and W keeping x's memory layout family (channel-major stays channel-major)."""
    if not any(pads):
        return x
    xp = xp_of(x)
    pt, pb, pl, pr = pads
    N, C, H, W = x.shape
    if x.strides[1] > x.strides[0]:
        return _padded_cnhw(x, pads, value)
    buf = xp.full((N, C, H + pt + pb, W + pl + pr), value, dtype=x.dtype)
    buf[:, :, pt:pt + H, pl:pl + W] = x
    return buf


def _empty_like_layout(x, shape, dtype=None, zero=True):
    """A zeroed (or, with zero=False, uninitialized) array of ``shape`` (N, C, h, w) in x's layout
    family, of x's dtype unless ``dtype`` is given."""
    xp = xp_of(x)
    make = xp.zeros if zero else xp.empty
    dtype = x.dtype if dtype is None else dtype
    if x.strides[1] > x.strides[0]:
        return make((shape[1], shape[0], shape[2], shape[3]), dtype=dtype).transpose(1, 0, 2, 3)
    return make(shape, dtype=dtype)


class _PoolGeom:
    __slots__ = ("kernel", "stride", "pads", "dil", "out_hw", "x_shape")

    def __init__(self, kernel, stride, pads, dil, out_hw, x_shape):
        self.kernel, self.stride, self.pads, self.dil = kernel, stride, pads, dil
        self.out_hw, self.x_shape = out_hw, tuple(x_shape)

    def offsets(self):
        kh, kw = self.kernel
        Ho, Wo = self.out_hw
        for i in range(kh):
            for j in range(kw):
                yield i * kw + j, _offset_slice(i, j, Ho, Wo, self.stride, self.dil)

    def crop(self, buf):
        pt, _, pl, _ = self.pads
        H, W = self.x_shape[2], self.x_shape[3]
        return buf[:, :, pt:pt + H, pl:pl + W]

    def padded_shape(self, n_c):
        pt, pb, pl, pr = self.pads
        return n_c + (self.x_shape[2] + pt + pb, self.x_shape[3] + pl + pr)


# Max pooling's forward (max and winning offset; 2x2 windows of stride 2, the common pool) and its
# scatter (any window) as one compiled pass each (numba, mathdl/ops/compiled.py) over float32/float64
# NumPy arrays of either layout: the array code makes four passes over strided window views per
# kernel offset (LeNet's two 2x2 pools: 3 ms of a 10 ms training step at one thread; compiled 0.5).
# The same comparisons in the same order as the array code.  (A loop over any window measured 12x
# slower than this unrolled one, and slower than the array code.)
_pool_kernels = None
_max4 = None  # the window's first maximum (compiled, inlined; a module global, not a closure cell,
# so that numba's on-disk cache serves the kernels that call it)


def _pool_compiled(*arrays):
    global _pool_kernels
    if any(type(a) is not np.ndarray or a.dtype not in (np.float32, np.float64) for a in arrays):
        return None
    if _pool_kernels is None:
        from . import compiled

        _pool_kernels = _compile_pool() if compiled.enabled() else False
    return _pool_kernels or None


def _planes(a):
    """A 4-D (N, C, h, w) array as C-contiguous planes: itself, or (C, N, h, w) for a channel-major
    block; None for other layouts (compiled loops over C-contiguous arrays vectorize, over strided
    ones they ran 4x slower)."""
    if a.flags.c_contiguous:
        return a
    t = a.transpose(1, 0, 2, 3)
    return t if t.flags.c_contiguous else None


def _compile_pool():
    from numba import njit

    global _max4

    @njit(inline="always")
    def _max4(v0, v1, v2, v3):  # (max, first index of it) of a 2x2 window in k order; a NaN wins, the last one
        best, arg = v0, 0
        if v1 > best or v1 != v1:
            best, arg = v1, 1
        if v2 > best or v2 != v2:
            best, arg = v2, 2
        if v3 > best or v3 != v3:
            best, arg = v3, 3
        return best, arg

    @njit(nogil=True, cache=True)
    def forward2x2(x, out, idx):
        """2x2 windows, stride 2, no padding: out[n, c, a, b] = max of x[n, c, 2a + i, 2b + j] over
        k = 2 i + j in that order; idx the first winning k (a NaN wins, the last one)."""
        n, C = x.shape[0], x.shape[1]
        Ho, Wo = out.shape[2], out.shape[3]
        for i0 in range(n):
            for c in range(C):
                for a in range(Ho):
                    r = 2 * a
                    for b in range(Wo):
                        q = 2 * b
                        out[i0, c, a, b], idx[i0, c, a, b] = _max4(x[i0, c, r, q], x[i0, c, r, q + 1],
                                                                   x[i0, c, r + 1, q], x[i0, c, r + 1, q + 1])

    @njit(nogil=True, cache=True)
    def scatter(g, idx, kw, sh, sw, dh, dw, pt, pl, out):
        """out (zeroed) [n, c, a sh - pt + i dh, b sw - pl + j dw] += g[n, c, a, b] for the winning
        offset k = i kw + j of each output (positions in the padding dropped)."""
        n, C, Ho, Wo = g.shape
        H, W = out.shape[2], out.shape[3]
        for i0 in range(n):
            for c in range(C):
                for a in range(Ho):
                    for b in range(Wo):
                        k = idx[i0, c, a, b]
                        r = a * sh - pt + (k // kw) * dh
                        q = b * sw - pl + (k % kw) * dw
                        if 0 <= r < H and 0 <= q < W:
                            out[i0, c, r, q] += g[i0, c, a, b]

    @njit(nogil=True, cache=True)
    def forward2x2_nhwc(x, out, idx):
        """forward2x2 on channels-last arrays x (n, H, W, C), out and idx (n, Ho, Wo, C): the same
        comparisons in the same order, the channels innermost."""
        n, Ho, Wo, C = out.shape
        for i0 in range(n):
            for a in range(Ho):
                r0, r1, o, ix = x[i0, 2 * a], x[i0, 2 * a + 1], out[i0, a], idx[i0, a]
                for b in range(Wo):
                    q = 2 * b
                    for c in range(C):
                        o[b, c], ix[b, c] = _max4(r0[q, c], r0[q + 1, c], r1[q, c], r1[q + 1, c])

    @njit(nogil=True, cache=True)
    def scatter_nhwc(g, idx, kw, sh, sw, dh, dw, pt, pl, out):
        """scatter on channels-last arrays g and idx (n, Ho, Wo, C), out (n, H, W, C) zeroed."""
        n, Ho, Wo, C = g.shape
        H, W = out.shape[1], out.shape[2]
        for i0 in range(n):
            for a in range(Ho):
                for b in range(Wo):
                    for c in range(C):
                        k = idx[i0, a, b, c]
                        r = a * sh - pt + (k // kw) * dh
                        q = b * sw - pl + (k % kw) * dw
                        if 0 <= r < H and 0 <= q < W:
                            out[i0, r, q, c] += g[i0, a, b, c]

    return forward2x2, scatter, forward2x2_nhwc, scatter_nhwc


def _channels_last(a):
    """Whether a 4-D (N, C, h, w) NumPy array's memory is one (N, h, w, C) block (and not also
    plain or channel-major, as with one channel): what F(4x4) Winograd convolutions return."""
    return (a.ndim == 4 and a.shape[1] > 1 and not a.flags.c_contiguous
            and a.transpose(0, 2, 3, 1).flags.c_contiguous)


class MaxPool2dFn(Function):
    """y = max over each window; ``saved_idx`` holds the winning kernel offset per output: the
    first maximum on ties, the last NaN in a window holding NaN (PyTorch's choices)."""

    __slots__ = ("geom", "saved_idx")

    def __init__(self, geom):
        self.geom = geom

    def forward(self, x):
        xp = xp_of(x)
        g = self.geom
        if xp is not np:  # device: one window copy, max and argmax, no host sync (conv_device)
            out, self.saved_idx = conv_device.max_pool2d_forward(x, g.kernel, g.stride, g.pads, g.dil, g.out_hw)
            return out
        N, C = x.shape[:2]
        n_off = g.kernel[0] * g.kernel[1]
        kern = _pool_compiled(x) if g.kernel == g.stride == (2, 2) and g.dil == (1, 1) and not any(g.pads) else None
        if kern is not None and _channels_last(x):  # channels innermost; out and idx channels-last too
            shape = (N,) + tuple(g.out_hw) + (C,)
            out, idx = np.empty(shape, x.dtype), np.empty(shape, np.uint8)
            xs = x.transpose(0, 2, 3, 1)
            for_ranges(lambda lo, hi: kern[2](xs[lo:hi], out[lo:hi], idx[lo:hi]), N, 2 * n_off * out.size,
                       min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
            self.saved_idx = idx.transpose(0, 3, 1, 2)
            return out.transpose(0, 3, 1, 2)
        if kern is not None and _planes(x) is None:
            x = np.ascontiguousarray(x)
        out = _empty_like_layout(x, (N, C) + tuple(g.out_hw), zero=False)
        idx = _empty_like_layout(x, out.shape, np.uint8 if n_off < 256 else np.int32, zero=False)
        if kern is not None:  # the common 2x2 stride-2 pool (other windows: the array code below)
            xs, os_, ixs = _planes(x), _planes(out), _planes(idx)  # the same (planes, planes) axes
            for_ranges(lambda lo, hi: kern[0](xs[lo:hi], os_[lo:hi], ixs[lo:hi]), xs.shape[0],
                       2 * n_off * out.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
            self.saved_idx = idx
            return out
        xpad = _pad_like(x, g.pads, -np.inf)
        offsets = list(g.offsets())

        def part(lo, hi):  # images lo:hi; every output is computed by the same operations for any split
            o, ix, xs = out[lo:hi], idx[lo:hi], xpad[lo:hi]
            m = xp.empty(o.shape, dtype=ix.dtype)
            for k, sl in offsets:
                v = xs[sl]
                if k == 0:
                    o[...] = v
                    ix[...] = 0
                    continue
                # offsets come in increasing k, so "idx = k where v wins" is idx = max(idx, k [v > out])
                xp.multiply(v > o, k, out=m, casting="unsafe")
                xp.maximum(ix, m, out=ix)
                xp.maximum(o, v, out=o)

        if xp is np:
            for_ranges(part, N, 4 * n_off * out.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
        else:
            part(0, N)
        if out.size and xp.isnan(out.sum()):  # cheap test first; NaN windows: PyTorch's winner is the last NaN
            nan_out = xp.isnan(out)
            for k, sl in g.offsets():
                idx[nan_out & xp.isnan(xpad[sl])] = k
        self.saved_idx = idx
        return out

    def backward(self, g):
        return (MaxPoolScatterFn(self.geom, self.saved_idx)(g),)


class MaxPoolScatterFn(Function):
    """x-like = g routed to each window's argmax (the adjoint of MaxPoolGatherFn)."""

    __slots__ = ("geom", "idx")

    def __init__(self, geom, idx):
        self.geom, self.idx = geom, idx

    def forward(self, g):
        geo = self.geom
        xp = xp_of(g)
        N, C = g.shape[:2]
        kern = _pool_compiled(g)
        if kern is not None and _channels_last(self.idx):  # the forward's channels-last road
            gs = g.transpose(0, 2, 3, 1)
            if not gs.flags.c_contiguous:
                gs = np.ascontiguousarray(gs)
            ix = self.idx.transpose(0, 2, 3, 1)
            out = np.empty((N,) + tuple(geo.x_shape[2:]) + (C,), dtype=g.dtype)
            args = (geo.kernel[1],) + geo.stride + geo.dil + (geo.pads[0], geo.pads[2])

            def part_cl(lo, hi):  # images lo:hi: zeroed, then each output's gradient added at its winner
                out[lo:hi] = 0
                kern[3](gs[lo:hi], ix[lo:hi], *args, out[lo:hi])

            for_ranges(part_cl, N, 3 * out.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
            return out.transpose(0, 3, 1, 2)
        if kern is not None:
            ix = _planes(self.idx)
            cm = self.idx.strides[1] > self.idx.strides[0]  # channel-major: planes (C, N)
            gs = _planes(g)
            if gs is None or (g.strides[1] > g.strides[0]) != cm:  # g in the indices' layout
                gs = np.ascontiguousarray(g.transpose(1, 0, 2, 3) if cm else g)
            out = _empty_like_layout(self.idx, (N, C) + tuple(geo.x_shape[2:]), dtype=g.dtype, zero=False)
            os_ = _planes(out)
            args = (geo.kernel[1],) + geo.stride + geo.dil + (geo.pads[0], geo.pads[2])

            def part(lo, hi):  # planes lo:hi: zeroed, then each output's gradient added at its winner
                os_[lo:hi] = 0
                kern[1](gs[lo:hi], ix[lo:hi], *args, os_[lo:hi])

            for_ranges(part, gs.shape[0], 3 * out.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
            return out
        shape = geo.padded_shape((N, C))
        buf = _empty_like_layout(g, shape, zero=False)
        disjoint = all(s >= d * (k - 1) + 1 for s, k, d in zip(geo.stride, geo.kernel, geo.dil))
        # windows that tile the padded input exactly (2x2 stride 2 on even sizes) write every position once
        exact = disjoint and all(s == d * (k - 1) + 1 and o * s == size for s, k, d, o, size in zip(
            geo.stride, geo.kernel, geo.dil, geo.out_hw, shape[2:]))
        offsets = list(geo.offsets())

        def part(lo, hi):  # images lo:hi
            gs, ix, bs = g[lo:hi], self.idx[lo:hi], buf[lo:hi]
            if not exact:
                bs[...] = 0
            for k, sl in offsets:
                if disjoint:  # windows do not overlap: each position gets at most one write
                    xp.multiply(gs, ix == k, out=bs[sl])
                else:
                    bs[sl] += gs * (ix == k)

        if xp is np:
            for_ranges(part, N, 3 * len(offsets) * g.size, min_work=MIN_PARALLEL_ELEMENTS_CNN, team=True)
        else:
            part(0, N)
        return geo.crop(buf)

    def backward(self, h):
        return (MaxPoolGatherFn(self.geom, self.idx)(h),)


class MaxPoolGatherFn(Function):
    """y-like = h read at each window's argmax (selects again)."""

    __slots__ = ("geom", "idx")

    def __init__(self, geom, idx):
        self.geom, self.idx = geom, idx

    def forward(self, h):
        hpad = _pad_like(h, self.geom.pads, 0.0)
        out = None
        for k, sl in self.geom.offsets():
            part = hpad[sl] * (self.idx == k)
            if out is None:
                out = part
            else:
                out += part
        return out

    def backward(self, g):
        return (MaxPoolScatterFn(self.geom, self.idx)(g),)


class AvgPool2dFn(Function):
    """y = (sum of each window's entries) * scale, scale = 1 / divisor (scalar or (Ho, Wo))."""

    __slots__ = ("geom", "scale")

    def __init__(self, geom, scale):
        self.geom, self.scale = geom, scale

    def forward(self, x):
        xpad = _pad_like(x, self.geom.pads, 0.0)
        out = None
        for _, sl in self.geom.offsets():
            if out is None:
                out = xpad[sl].copy(order="K")
            else:
                out += xpad[sl]
        out *= self.scale
        return out

    def backward(self, g):
        return (AvgPoolTFn(self.geom, self.scale)(g),)


class AvgPoolTFn(Function):
    """x-like = adjoint of average pooling: each output's g * scale added over its window."""

    __slots__ = ("geom", "scale")

    def __init__(self, geom, scale):
        self.geom, self.scale = geom, scale

    def forward(self, g):
        N, C = g.shape[:2]
        buf = _empty_like_layout(g, self.geom.padded_shape((N, C)))
        gs = g * self.scale
        for _, sl in self.geom.offsets():
            buf[sl] += gs
        return self.geom.crop(buf)

    def backward(self, h):
        return (AvgPool2dFn(self.geom, self.scale)(h),)


def _pool_args(name, x, kernel_size, stride, padding, dilation=1):
    _check_4d(name, x)
    kernel = _pair(kernel_size, name, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else _pair(stride, name, "stride")
    padding = _pair(padding, name, "padding")
    dil = _pair(dilation, name, "dilation")
    if min(kernel) < 1 or min(stride) < 1 or min(dil) < 1:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got "
                         f"{kernel}, {stride}, {dil}")
    return kernel, stride, padding, dil


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, name="max_pool2d"):
    """y[n, c, a, b] = max over the window at (a s - p, b s - p) (padding counts as -inf).
    With return_indices, also the flat index h W + w of each maximum in the input (PyTorch's)."""
    kernel, stride, padding, dil = _pool_args(name, input, kernel_size, stride, padding, dilation)
    Ho, Wo, pads = _pool_geometry(name, input.shape, kernel, stride, padding, dil, ceil_mode)
    geom = _PoolGeom(kernel, stride, pads, dil, (Ho, Wo), input.shape)
    fn = MaxPool2dFn(geom)
    y = fn(input)
    if not return_indices:
        return y
    xp = xp_of(input.array)
    idx = fn.saved_idx.astype(np.int64)
    ki, kj = idx // kernel[1], idx % kernel[1]
    rows = xp.arange(Ho).reshape(-1, 1) * stride[0] - pads[0] + ki * dil[0]
    cols = xp.arange(Wo).reshape(1, -1) * stride[1] - pads[2] + kj * dil[1]
    return y, _make(rows * input.shape[3] + cols)


def _avg_counts(size, k, s, p, o, include_pad):
    starts = np.arange(o) * s - p
    ends = np.minimum(starts + k, size + p)
    if include_pad:
        return (ends - starts).astype(np.float64)
    return (np.minimum(ends, size) - np.maximum(starts, 0)).astype(np.float64)


def _avg_pool2d_int(input, geom, padding, count_include_pad, divisor_override):
    """Integer inputs (no gradient), as PyTorch: the window sum divided by the divisor in integer
    arithmetic, truncated toward zero."""
    xp = xp_of(input.array)
    (kh, kw), (Ho, Wo) = geom.kernel, geom.out_hw
    xpad = _pad_like(input.array, geom.pads, 0)
    total = None
    for _, sl in geom.offsets():
        v = xpad[sl]
        total = v.astype(np.int64) if total is None else total + v
    if divisor_override:
        d = np.int64(int(divisor_override))
    elif count_include_pad and geom.pads[1] == geom.pads[0] and geom.pads[3] == geom.pads[2]:
        d = np.int64(kh * kw)
    else:
        H, W = input.shape[2], input.shape[3]
        ch = _avg_counts(H, kh, geom.stride[0], padding[0], Ho, count_include_pad)
        cw = _avg_counts(W, kw, geom.stride[1], padding[1], Wo, count_include_pad)
        d = xp.asarray(np.outer(ch, cw).astype(np.int64))
    q = xp.abs(total) // d
    return _make(xp.where(total < 0, -q, q).astype(input.dtype, copy=False))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, name="avg_pool2d"):
    """y = (sum of the window) / divisor, the divisor being the window size (PyTorch's rules for
    count_include_pad and ceil_mode) or divisor_override."""
    kernel, stride, padding, dil = _pool_args(name, input, kernel_size, stride, padding)
    Ho, Wo, pads = _pool_geometry(name, input.shape, kernel, stride, padding, dil, ceil_mode)
    geom = _PoolGeom(kernel, stride, pads, dil, (Ho, Wo), input.shape)
    if input.dtype.kind in "iu":
        return _avg_pool2d_int(input, geom, padding, count_include_pad, divisor_override)
    if divisor_override:
        scale = 1.0 / float(divisor_override)
    elif count_include_pad and pads[1] == pads[0] and pads[3] == pads[2]:
        scale = 1.0 / (kernel[0] * kernel[1])
    else:
        H, W = input.shape[2], input.shape[3]
        ch = _avg_counts(H, kernel[0], stride[0], padding[0], Ho, count_include_pad)
        cw = _avg_counts(W, kernel[1], stride[1], padding[1], Wo, count_include_pad)
        xp = xp_of(input.array)
        scale = xp.asarray(1.0 / np.outer(ch, cw), dtype=input.dtype)
    if not isinstance(scale, float):
        pass
    elif input.dtype.kind == "f":
        scale = input.dtype.type(scale)
    return AvgPool2dFn(geom, scale)(input)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """max_pool2d over (N, C, L) seen as (N, C, 1, L)."""
    if input.ndim != 3:
        raise ValueError(f"max_pool1d: expected a 3-D input (N, C, L), got shape {tuple(input.shape)}")
    one = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
    s = None if stride is None else (1, one(stride))
    y = max_pool2d(reshape(input, (input.shape[0], input.shape[1], 1, -1)), (1, one(kernel_size)), s,
                   (0, one(padding)), (1, one(dilation)), ceil_mode, name="max_pool1d")
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool2d over (N, C, L) seen as (N, C, 1, L)."""
    if input.ndim != 3:
        raise ValueError(f"avg_pool1d: expected a 3-D input (N, C, L), got shape {tuple(input.shape)}")
    one = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
    s = None if stride is None else (1, one(stride))
    y = avg_pool2d(reshape(input, (input.shape[0], input.shape[1], 1, -1)), (1, one(kernel_size)), s,
                   (0, one(padding)), ceil_mode, count_include_pad, name="avg_pool1d")
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def _adaptive_matrix(size, out):
    """(out, size) averaging matrix: row i averages [floor(i size/out), ceil((i+1) size/out))."""
    A = np.zeros((out, size))
    for i in range(out):
        a = (i * size) // out
        b = -(-((i + 1) * size) // out)
        A[i, a:b] = 1.0 / (b - a)
    return A


def adaptive_avg_pool2d(input, output_size, *, name="adaptive_avg_pool2d"):
    """Average over PyTorch's adaptive bins [floor(i H/oh), ceil((i+1) H/oh)); a global mean for
    output 1x1, avg_pool2d when the sizes divide, else y = A_h x A_w^T with averaging matrices."""
    _check_4d(name, input)
    if isinstance(output_size, (tuple, list)):
        oh, ow = output_size
    else:
        oh = ow = output_size
    H, W = input.shape[2], input.shape[3]
    oh = H if oh is None else int(oh)
    ow = W if ow is None else int(ow)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    if (oh, ow) == (1, 1):
        return _mean(input, (2, 3), keepdim=True)
    if H % oh == 0 and W % ow == 0:
        return avg_pool2d(input, (H // oh, W // ow), name=name)
    xp = xp_of(input.array)
    Ah = _make(xp.asarray(_adaptive_matrix(H, oh), dtype=input.dtype))
    AwT = _make(xp.asarray(_adaptive_matrix(W, ow).T, dtype=input.dtype))
    return matmul(matmul(Ah, input), AwT)
