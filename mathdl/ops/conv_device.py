"""conv2d on a GPU array module: one im2col and one matrix product per call, few kernel launches.

The CPU road (conv.py) is tuned for caches: tiles of a few images, row-wrapped copies, Winograd.
On a GPU each kernel launch costs a few microseconds of host time whatever its size, so this module
computes each map over the WHOLE batch with the fewest array calls (xp is CuPy, or NumPy for
tests).  Notation as in conv.py: x (N, C, H, W), w (O, C/g, kh, kw), stride s, dilation d,
padding (pt, pb, pl, pr), groups g, Ho = (H + pt + pb - d (kh - 1) - 1) // s + 1, M = N Ho Wo.

  forward         cols[(c, i, j), (n, a, b)] = xpad[n, c, a s + i d, b s + j d], xpad = x zero-padded:
                  ONE launch (device_kernels.im2col reads x in place, 0 outside it; its xp fallback
                  is a padded copy + one copy of an ``as_strided`` view); free for unpadded 1x1
                  y (O, M) = W (O, C kh kw) @ cols              (one GEMM; per group one batched GEMM)
                  y += b                                        (one launch when there is a bias)
  input grad      stride 1 (and p <= d (k - 1)): the "full" convolution of g with the flipped,
                  transposed kernel W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j] and padding
                  d (k - 1) - p: one kernel copy + the forward above (no col2im);
                  otherwise col2im: gcols = W^T @ g (one GEMM), then xpad-grad[offset (i, j)] +=
                  gcols[:, i, j] for the kh kw kernel offsets (kh kw strided adds), cropped.
  weight grad     dW (O, C kh kw) = g (O, M) @ cols^T           (im2col again + one GEMM)

Outputs are returned as NCHW views of channel-major (O, N, Ho, Wo) blocks, as conv.py's: it is
what the product makes, the elementwise ops that follow keep the layout, and the next im2col reads
it through its strides; g in that layout makes ``g (O, M)`` a free reshape.

Launches per 3x3 stride-1 padded conv without bias: forward 2, input gradient 3, weight gradient 2
-- 7, where the CPU road makes several per tile of images.

max_pool2d forward: the windows of the (-inf padded) input are copied once from an ``as_strided``
view into (..., kh kw) rows; y = max of each row and idx = its argmax (the first maximum; in a
window holding NaN the LAST NaN, PyTorch's choice, from the reversed rows): 8 launches and no
device-to-host synchronisation (conv.py's loop over offsets makes 3 per offset and tests
``isnan(out.sum())`` on the host); 10 with padding.  idx encodes the offset k = i kw + j, as
conv.py's.

Differences from conv.py: a stride-1 input gradient always takes the full convolution (no
``isfinite(w).all()`` test, which would be a device-to-host synchronisation per call), so a
kernel holding inf or NaN gives NaN (0 * inf from g's zero padding) near the border where
PyTorch's CPU col2im gives +-inf; finite kernels agree.

cuDNN: with real CuPy, ``MATHDL_CUDNN=1`` in the environment and a CuPy that still ships its cuDNN
wrappers (``cupyx.cudnn`` or ``cupy.cudnn``), the three maps call cuDNN instead (symmetric
padding only).  This road cannot run without a GPU, so it is opt-in; the pure-xp road above is the
default and the one the tests check.
"""

from __future__ import annotations

import os

from ..backend import xp_of
from . import device_kernels

__all__ = ["conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "max_pool2d_forward", "cudnn_module"]

# --------------------------------------------------------------------------- cuDNN (optional)
_CUDNN = None


def cudnn_module(xp):
    """CuPy's cuDNN wrapper module when enabled (``MATHDL_CUDNN=1``) and importable, else None."""
    global _CUDNN
    if os.environ.get("MATHDL_CUDNN") != "1" or getattr(xp, "is_emulated", False) or xp.__name__ != "cupy":
        return None
    if _CUDNN is None:
        _CUDNN = False
        for name in ("cupyx.cudnn", "cupy.cudnn"):
            try:
                import importlib

                mod = importlib.import_module(name)
                if hasattr(mod, "convolution_forward"):
                    _CUDNN = mod
                    break
            except Exception:  # pragma: no cover - depends on the CuPy build
                continue
    return _CUDNN or None


def _cudnn_ok(xp, x, pads):
    return (x.dtype.kind == "f" and x.dtype.itemsize in (2, 4, 8) and pads[0] == pads[1] and pads[2] == pads[3]
            and cudnn_module(xp) is not None)


_CUDNN_KW = {"auto_tune": True, "tensor_core": "auto"}


# --------------------------------------------------------------------------- helpers
def _pad(x, pads, value=0.0):
    """x (N, C, H, W) padded with ``value`` into a channel-major (C, N, Hp, Wp) block, returned as
    an NCHW view (x itself when there is no padding): two launches, the fill and the interior copy."""
    if not any(pads):
        return x
    xp = xp_of(x)
    pt, pb, pl, pr = pads
    N, C, H, W = x.shape
    shape = (C, N, H + pt + pb, W + pl + pr)
    buf = xp.zeros(shape, dtype=x.dtype) if value == 0 else xp.full(shape, value, dtype=x.dtype)
    buf[:, :, pt:pt + H, pl:pl + W] = x.transpose(1, 0, 2, 3)
    return buf.transpose(1, 0, 2, 3)


def _im2col(xpad, kh, kw, stride, dil, Ho, Wo):
    """cols (C kh kw, N Ho Wo) of a padded NCHW view (any strides): one copy of an as_strided view,
    none when the view is contiguous already (1x1 stride-1 kernels on channel-major data)."""
    xp = xp_of(xpad)
    N, C = xpad.shape[:2]
    sn, sc, sh, sw = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, shape=(C, kh, kw, N, Ho, Wo),
        strides=(sc, sh * dil[0], sw * dil[1], sn, sh * stride[0], sw * stride[1]))
    return xp.ascontiguousarray(view).reshape(C * kh * kw, N * Ho * Wo)


def _channel_major(g):
    """g (N, O, Ho, Wo) as an (O, N Ho Wo) matrix: free when g is channel-major, else one copy."""
    N, O, Ho, Wo = g.shape
    return g.transpose(1, 0, 2, 3).reshape(O, N * Ho * Wo)


def _product(wm, cols, groups):
    """W @ cols: (O, K) @ (K, M), or per group (g, O/g, K/g) @ (g, K/g, M); one launch, (O, M)."""
    if groups == 1:
        return wm @ cols
    G = groups
    return (wm @ cols.reshape(G, cols.shape[0] // G, cols.shape[1])).reshape(-1, cols.shape[1])


def _out_size(x, kh, kw, stride, pads, dil):
    return ((x.shape[2] + pads[0] + pads[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1,
            (x.shape[3] + pads[2] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1)


def _cols(x, kh, kw, stride, pads, dil, Ho, Wo):
    """im2col of x with its padding: free for an unpadded view that is contiguous already (1x1
    stride-1 kernels on channel-major data), else ONE launch (device_kernels.im2col: the padding
    and the strided copy fused; its fallback is _pad + _im2col)."""
    if not any(pads):
        xp = xp_of(x)
        N, C = x.shape[:2]
        sn, sc, sh, sw = x.strides
        view = xp.lib.stride_tricks.as_strided(
            x, shape=(C, kh, kw, N, Ho, Wo),
            strides=(sc, sh * dil[0], sw * dil[1], sn, sh * stride[0], sw * stride[1]))
        if view.flags.c_contiguous:
            return view.reshape(C * kh * kw, N * Ho * Wo)
    return device_kernels.im2col(x, kh, kw, stride, pads, dil, Ho, Wo)


def _forward_matrix(x, wm, O, kh, kw, b, stride, pads, dil, groups):
    Ho, Wo = _out_size(x, kh, kw, stride, pads, dil)
    y = _product(wm, _cols(x, kh, kw, stride, pads, dil, Ho, Wo), groups)
    if b is not None:
        y += b.reshape(O, 1)
    return y.reshape(O, x.shape[0], Ho, Wo).transpose(1, 0, 2, 3)


def _weight_matrix(w, groups):
    """W as the product's left factor: (O, C/g kh kw), or (g, O/g, C/g kh kw) per group (free)."""
    O = w.shape[0]
    return w.reshape(O, -1) if groups == 1 else w.reshape(groups, O // groups, -1)


# --------------------------------------------------------------------------- the three maps
def conv2d_forward(x, w, b, stride, pads, dil, groups, keep=None):
    """y = conv2d(x, w) + b on raw arrays (conv.py's Conv2dFn.forward).  ``keep`` is conv.py's list
    for a padded input to reuse in the weight gradient: nothing is kept here (im2col pads on the fly)."""
    xp = xp_of(x)
    O, _, kh, kw = w.shape
    if _cudnn_ok(xp, x, pads):
        return _cudnn_forward(xp, x, w, b, stride, pads, dil, groups)
    return _forward_matrix(x, _weight_matrix(w, groups), O, kh, kw, b, stride, pads, dil, groups)


def conv2d_input_grad(g, w, hw, stride, pads, dil, groups):
    """dL/dx (N, C, H, W) of y = conv2d(x, w) for dL/dy = g (conv.py's ConvTransposeFn.forward);
    ``hw`` = (H, W), the input's size (it may exceed what the output covers: output_padding)."""
    xp = xp_of(g)
    O, Cg, kh, kw = w.shape
    H, W = hw
    pt, pb, pl, pr = pads
    dh, dw = dil
    full = (dh * (kh - 1) - pt, dh * (kh - 1) - pb, dw * (kw - 1) - pl, dw * (kw - 1) - pr)
    if _cudnn_ok(xp, g, pads):
        return _cudnn_input_grad(xp, g, w, hw, stride, pads, dil, groups)
    if stride == (1, 1) and min(full) >= 0:
        G = groups
        # W'[(c), (o, i, j)] = W[o, c, kh-1-i, kw-1-j] within each group: one copy of a small array
        wf = xp.ascontiguousarray(w.reshape(G, O // G, Cg, kh, kw)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4))
        wm = wf.reshape(G * Cg, -1) if G == 1 else wf.reshape(G, Cg, -1)
        return _forward_matrix(g, wm, G * Cg, kh, kw, None, (1, 1), full, dil, G)
    return _col2im(g, w, hw, stride, pads, dil, groups)


def _col2im(g, w, hw, stride, pads, dil, groups):
    """dL/dx by scattering gcols = W^T g: the kh kw kernel offsets each add one strided slice."""
    xp = xp_of(g)
    N, O, Ho, Wo = g.shape
    _, Cg, kh, kw = w.shape
    G = groups
    C = Cg * G
    gm = _channel_major(g)
    if G == 1:
        gcols = w.reshape(O, -1).T @ gm
    else:
        gcols = w.reshape(G, O // G, -1).transpose(0, 2, 1) @ gm.reshape(G, O // G, -1)
    gcols = gcols.reshape(C, kh, kw, N, Ho, Wo)
    H, W = hw
    pt, pb, pl, pr = pads
    sh, sw = stride
    dh, dw = dil
    buf = xp.zeros((C, N, H + pt + pb, W + pl + pr), dtype=gcols.dtype)
    for i in range(kh):
        for j in range(kw):
            part = buf[:, :, i * dh:i * dh + sh * (Ho - 1) + 1:sh, j * dw:j * dw + sw * (Wo - 1) + 1:sw]
            xp.add(part, gcols[:, i, j], out=part)  # one launch (``part += ...`` would add a setitem copy)
    return buf[:, :, pt:pt + H, pl:pl + W].transpose(1, 0, 2, 3)


def conv2d_weight_grad(x, g, wshape, stride, pads, dil, groups, xpad=None):
    """dL/dw (O, C/g, kh, kw) of y = conv2d(x, w) for dL/dy = g (conv.py's ConvWeightFn.forward);
    ``xpad``: a padded input kept by an earlier forward (conv.py's CPU road), else im2col pads x."""
    xp = xp_of(x)
    O, Cg, kh, kw = wshape
    if _cudnn_ok(xp, x, pads):
        return _cudnn_weight_grad(xp, x, g, wshape, stride, pads, dil, groups)
    Ho, Wo = g.shape[2], g.shape[3]
    if xpad is not None:
        cols = _im2col(xpad, kh, kw, stride, dil, Ho, Wo)
    else:
        cols = _cols(x, kh, kw, stride, pads, dil, Ho, Wo)
    gm = _channel_major(g)
    if groups == 1:
        gw = gm @ cols.T
    else:
        G = groups
        gw = gm.reshape(G, O // G, -1) @ cols.reshape(G, Cg * kh * kw, -1).transpose(0, 2, 1)
    return gw.reshape(wshape)


# --------------------------------------------------------------------------- cuDNN calls
def _cudnn_forward(xp, x, w, b, stride, pads, dil, groups):  # pragma: no cover - needs a GPU
    cudnn = cudnn_module(xp)
    N, _, H, W = x.shape
    O, _, kh, kw = w.shape
    Ho = (H + pads[0] + pads[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + pads[2] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = xp.empty((N, O, Ho, Wo), dtype=x.dtype)
    cudnn.convolution_forward(xp.ascontiguousarray(x), xp.ascontiguousarray(w), b, y, (pads[0], pads[2]),
                              tuple(stride), tuple(dil), groups, **_CUDNN_KW)
    return y


def _cudnn_input_grad(xp, g, w, hw, stride, pads, dil, groups):  # pragma: no cover - needs a GPU
    cudnn = cudnn_module(xp)
    N = g.shape[0]
    gx = xp.empty((N, w.shape[1] * groups) + tuple(hw), dtype=g.dtype)
    cudnn.convolution_backward_data(xp.ascontiguousarray(w), xp.ascontiguousarray(g), None, gx, (pads[0], pads[2]),
                                    tuple(stride), tuple(dil), groups, deterministic=False, **_CUDNN_KW)
    return gx


def _cudnn_weight_grad(xp, x, g, wshape, stride, pads, dil, groups):  # pragma: no cover - needs a GPU
    cudnn = cudnn_module(xp)
    gw = xp.empty(tuple(wshape), dtype=x.dtype)
    cudnn.convolution_backward_filter(xp.ascontiguousarray(x), xp.ascontiguousarray(g), gw, (pads[0], pads[2]),
                                      tuple(stride), tuple(dil), groups, deterministic=False, **_CUDNN_KW)
    return gw


# --------------------------------------------------------------------------- max pooling
def max_pool2d_forward(x, kernel, stride, pads, dil, out_hw):
    """(y, idx) of max pooling on raw arrays (conv.py's MaxPool2dFn.forward): y (N, C, Ho, Wo) in
    x's layout family, idx the winning kernel offset i kw + j per output (int64)."""
    xp = xp_of(x)
    kh, kw = kernel
    Ho, Wo = out_hw
    K = kh * kw
    xpad = _pad(x, pads, float("-inf") if x.dtype.kind == "f" else xp.iinfo(x.dtype).min)
    channel_major = xpad.strides[1] > xpad.strides[0]
    a = xpad.transpose(1, 0, 2, 3) if channel_major else xpad  # windows in memory order
    s0, s1, sh, sw = a.strides
    view = xp.lib.stride_tricks.as_strided(
        a, shape=a.shape[:2] + (Ho, Wo, kh, kw),
        strides=(s0, s1, sh * stride[0], sw * stride[1], sh * dil[0], sw * dil[1]))
    win = xp.ascontiguousarray(view).reshape(a.shape[:2] + (Ho, Wo, K))
    y = win.max(axis=-1)
    idx = win.argmax(axis=-1)
    if win.dtype.kind == "f":  # a window holding NaN: PyTorch routes to its last NaN
        nan = xp.isnan(win)
        last = (K - 1) - nan[..., ::-1].argmax(axis=-1)
        idx = xp.where(nan.any(axis=-1), last, idx)
    if channel_major:
        return y.transpose(1, 0, 2, 3), idx.transpose(1, 0, 2, 3)
    return y, idx
