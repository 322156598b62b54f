"""Convolution as linear algebra: im2col over strided views + one matrix product (pooling: pooling.py).

Notation: input x (N, C, H, W), weight w (O, C/g, kh, kw), stride s, dilation d, padding
(pt, pb, pl, pr), groups g.  Output size Ho = (H + pt + pb - d (kh - 1) - 1) // s + 1.

  conv2d:     y[n, o, a, b] = sum_{c, i, j} w[o, c, i, j] xpad[n, c, a s + i d, b s + j d]
              im2col gathers cols[(c, i, j), (n, a, b)] = xpad[n, c, a s + i d, b s + j d]
              through a strided view (one contiguous copy of it), then
              y = W (O, C kh kw) @ cols (C kh kw, N Ho Wo)        (per group: a batched product)

The three linear maps below close under differentiation, so grad-of-grad works:

  Conv2d(x, w)          -> y       dL/dx = ConvTranspose(g, w),  dL/dw = ConvWeight(x, g)
  ConvTranspose(g, w)   -> x-like  dL/dg = Conv2d(h, w),         dL/dw = ConvWeight(h, g)
  ConvWeight(x, g)      -> w-like  dL/dx = ConvTranspose(g, H),  dL/dg = Conv2d(x, H)

ConvTranspose is  cols = W^T @ g  followed by col2im, which adds each kernel offset's slice
(a loop over kh * kw offsets only; never ``add.at``, no loop over batch or pixels).  With
stride 1 it is computed as the equivalent "full" convolution of g with the flipped, transposed
kernel W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j] and padding d (k - 1) - p: one im2col and one
product, no col2im passes.  ConvWeight is  g (O, N Ho Wo) @ cols^T.

The products are blocked: cols is built for a few whole images at a time (about TILE_BYTES per
block) and multiplied while it is still in cache, so the full im2col matrix is never stored and
the weight gradient recomputes its block instead of keeping one per layer (memory like
PyTorch's, see benchmarks/bench_cnn.py).

Stride 1 (every 3x3 layer of a ResNet, and the stride-1 input gradients) takes a faster road:
  * row-wrapped im2col (_cols_rowwrap): columns run over whole stored rows b < Wq instead of
    b < Wo, so each (c, i, j, n) row of cols is one contiguous run of the padded plane (a few
    thousand long copies instead of one short copy per output row); the Wq - Wo extra columns
    are cropped from the product (or meet zeros in a weight gradient).  The padded block stores
    rows of Wq = W + max(pl, pr) values: a row's trailing zeros are also the next row's left
    padding (_padded_slack), so a 3x3 layer wastes 1 column per output row, not 2 (8x8 maps:
    12.5% extra product columns instead of 25%; 1 thread, forward+backward 7.9 -> 7.0 ms on
    ResNet-20's 64-channel 8x8 layers, 8.7 -> 7.7 on its 32-channel 16x16 ones);
  * for few output channels (O <= 16) the product runs in 256-column blocks of one batched call,
    which OpenBLAS serves with its unpacked small-matrix kernel (1.5x on 16-channel layers);
  * the weight gradient of a conv whose input also needs a gradient comes out of the input
    gradient's im2col tiles of g (dL/dW = cols(g) @ x^T, see _conv_forward_rowwrap), so x is
    never unfolded in backward; otherwise the padded x of the forward is reused.
3x3 stride-1 convolutions with at least WINOGRAD_MIN_CHANNELS (16) input and output channels and
WINOGRAD_MIN_PIXELS_ANY (16) output pixels use Winograd for the forward, the input gradient (the
stride-1 full convolution above) and the weight gradient (mathdl/ops/winograd.py: F(4x4, 3x3), 4x
fewer multiplies, or F(2x2, 3x3), 2.25x, whichever needs fewer products; its transforms compiled
with numba, in tiles of images on the threads, F(4x4)'s on channels-last memory where they are
vector operations over the channels (mathdl/ops/winograd_nhwc.py); F(2x2) from 64 channels and
14x14 maps without numba).
The input gradient of a 3x3 stride-2 convolution with padding 1 on even sizes (ResNets'
down-sampling layers) is computed by output phases (_conv_transpose_s2_phases): each of the four
parity classes of input pixels is one product of the kernel taps that reach it with at most four
shifted copies of g (contiguous runs of g stored in rows of Wo + 1), instead of col2im's W^T g and
nine strided additions (1 thread, N = 32: 16 -> 32 channels 2.5 -> 1.5 ms, 32 -> 64 2.1 -> 1.4).
A weight gradient with few im2col rows (C kh kw <= 32: RGB or grey stems) multiplies in chunks of
1024 pixels as one batched product and adds the chunks (2x faster than one long-K product).
1x1 stride-1 unpadded convolutions skip im2col: y = W (O, C) @ x (C, N H W) is one product
(_conv1x1), and so are their weight gradient g (O, N H W) @ x^T and (through the stride-1 road
of ConvTranspose) their input gradient W^T g.
With T > 1 threads (mathdl.parallel) the tiles of a large enough convolution (PARALLEL_MIN_MACS)
run on the threads, each tile whole on one thread: its images padded, unfolded, multiplied,
cropped (and its part of a weight gradient, the parts added in tile order afterwards), with
BLAS on one thread inside (mathdl.parallel.blocks).  Each core keeps its own tile in its cache,
there is one hand-off per convolution instead of one per pass, and no BLAS thread is left
spinning for the memory-bound passes between convolutions (pooling and batch norm split over
images or channels from a lower cut-over).  At one thread (ResNet-20, batch 32, 16 of its 19
convolutions on the Winograd road), the matrix products were about 25% of the training step and
the Winograd transforms 50% (52 of 105 ms) before F(4x4) moved to channels-last memory; there
the transforms take 14 ms and the products 29 ms.
The Functions and their (differentiable) backward formulas are the same on every road.

Arrays may come out of these ops in a channel-major memory layout (a transposed view of a
contiguous (C, N, H, W) block): it is what the matrix product produces, and the next im2col
reads it directly.  F(4x4) Winograd's outputs and input gradients are channels-last (a view of
a contiguous (N, H, W, C) block), which its next layer reads directly.  The logical shape is
always NCHW.

interpolate is a separable linear map y = A_h x A_w^T, computed with matmul.  Pooling, built on the
same kernel-offset slices, is in mathdl/ops/pooling.py.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled as _grad_enabled
from ..amp.autocast_mode import _state as _amp, cast_float32, cast_lower
from ..autograd.tensor import Tensor
from ..backend import rng, xp_of
from ..parallel import blocks, for_ranges, get_num_threads
from .. import parallel as _parallel
from . import conv_device, conv_kernels, layout_kernels, winograd, winograd_nhwc
from . import elementwise as ew
from .linalg import matmul
from .reduce import mean as _mean
from .reduce import sum as _sum
from .reduce import var as _var
from .shape import permute as _permute
from .shape import Reshape, reshape

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "group_norm", "dropout2d", "interpolate"]

_make = Tensor._make


# =========================================================================== helpers
def _pair(v, name, what):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name}: {what} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _out_size(size, k, s, plo, phi, d):
    return (size + plo + phi - d * (k - 1) - 1) // s + 1


def _offset_slice(i, j, Ho, Wo, stride, dil):
    """The (rows, cols) slice of the padded input that kernel offset (i, j) reads."""
    sh, sw = stride
    dh, dw = dil
    return (slice(None), slice(None), slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (Wo - 1) + 1, sw))


def _copy(dst, src):
    """dst[...] = src, split over the leading axis on mathdl's threads when large (NumPy copies
    release the GIL; a strided copy costs about two contiguous passes, hence work = 2 size)."""
    if xp_of(dst) is not np or dst.shape[0] < 2:
        dst[...] = src
        return

    def part(lo, hi):
        dst[lo:hi] = src[lo:hi]

    for_ranges(part, dst.shape[0], 2 * dst.size)


def _padded_cnhw(x, pads, value=0.0):
    """x (N, C, H, W) padded, in a contiguous (C, N, Hp, Wp) block; returned as an NCHW view."""
    xp = xp_of(x)
    pt, pb, pl, pr = pads
    N, C, H, W = x.shape
    buf = xp.empty((C, N, H + pt + pb, W + pl + pr), dtype=x.dtype)
    buf[:, :, :pt] = value  # only the border is filled; the interior is copied once
    buf[:, :, pt + H:] = value
    buf[:, :, pt:pt + H, :pl] = value
    buf[:, :, pt:pt + H, pl + W:] = value
    if xp is np and x.transpose(0, 2, 3, 1).flags.c_contiguous:  # channels-last x: compiled, rows whole
        layout_kernels.nhwc_into_cnhw(x, buf[:, :, pt:pt + H, pl:pl + W])
    else:
        _copy(buf[:, :, pt:pt + H, pl:pl + W], x.transpose(1, 0, 2, 3))
    return buf.transpose(1, 0, 2, 3)


# The im2col matrix is built and multiplied in tiles of about this many bytes (whole images per
# tile), so that each tile is still in cache when the product reads it: the same blocking a BLAS
# does inside a GEMM, one level up.  It also means the full im2col matrix never exists.  4 MiB
# (with Winograd's TILE_BYTES): ResNet-20's step at 1 thread 85.8 -> 82.5 ms, at 2 threads 63.6 ->
# 62.0 (medians of 4-5 alternated processes; the products of 16-channel layers are cheaper per
# call with more rows), LeNet's unchanged or slightly faster.
TILE_BYTES = 4 << 20


def _geometry(x, kh, kw, stride, pads, dil):
    """(padded NCHW view, Ho, Wo, images per tile)."""
    if any(pads):
        x = _padded_cnhw(x, pads)
    Hp, Wp = x.shape[2], x.shape[3]
    Ho = (Hp - dil[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (Wp - dil[1] * (kw - 1) - 1) // stride[1] + 1
    per_image = x.shape[1] * kh * kw * Ho * Wo * x.itemsize
    return x, Ho, Wo, max(1, min(x.shape[0], TILE_BYTES // max(per_image, 1)))


# A convolution of at least this many multiply-adds runs its tiles on all of mathdl's threads, each
# tile whole on one thread (pad, im2col, product, crop) with BLAS on one thread inside
# (mathdl.parallel.blocks).  Below it the tiles run in turn on the calling thread, their products
# on BLAS's threads.  The hand-off costs about 50 us (two BLAS thread-count switches and a pool
# wake-up), a conv's forward and backward of 4M multiply-adds about 0.2 ms on one core; compare
# the roads with ``benchmarks/bench_conv.py --tiles --threads 2`` (on a quiet machine).
PARALLEL_MIN_MACS = 1 << 22


# Below PARALLEL_MIN_MACS a convolution (forward, input or weight gradient) runs whole on the
# calling thread with BLAS on one thread (two thread-count switches): its products are too small
# for BLAS's threads to pay inside a step.  MNIST-1D's CNN at 2 threads, 2 cores: with another
# process busy on the second core the step took 7-37 ms with BLAS's threads (they spin and wait
# for the busy core) and 1.80-1.89 ms this way; on an idle machine 1.86 vs 1.89 ms (the switches
# through threadpoolctl cost ~6 us a pair; 1.83 with direct setters).  Results are those of 1
# thread.  Above it, with at least T images, the products run in tiles of images on mathdl's
# threads with BLAS on one thread (``blocks``), and the small products around them (Winograd's
# kernel transforms, the weight gradient's G^T dU G) take BLAS on one thread as well: a product
# on BLAS's threads leaves them spinning ~0.3 ms on the cores the next tiles want (ResNet-20 step
# at 2 threads: the pool thread started its first tile 9.2 -> 5.7 ms later in total per step).
# SMALL_SERIAL_BLAS = False keeps BLAS's threads.
SMALL_SERIAL_BLAS = True


def _serial_blas(macs, xp, images=0):
    """Enter BLAS-on-one-thread for a convolution at T > 1 that is small or runs in tiles of its
    ``images`` images (see above); True when entered (the caller then calls
    _parallel._leave_blas_serial)."""
    T = get_num_threads()
    if SMALL_SERIAL_BLAS and xp is np and T > 1 and (macs < PARALLEL_MIN_MACS or images >= T):
        _parallel._enter_blas_serial()
        return True
    return False


def _tile_bounds(N, nb, macs, xp=np):
    """([(n0, n1), ...] near-equal image ranges of at most about nb images, parallel?): with T > 1
    threads, NumPy arrays and a large enough product, at least T tiles and a multiple of T
    (balanced threads).  Device arrays keep one thread (the device runs each tile in parallel)."""
    T = get_num_threads()
    count = -(-N // nb)
    par = T > 1 and N > 1 and macs >= PARALLEL_MIN_MACS and xp is np
    if par:
        count = min(N, -(-count // T) * T)
    return [(k * N // count, (k + 1) * N // count) for k in range(count)], par


def _cols(xpad, kh, kw, stride, dil, Ho, Wo):
    """im2col of a padded NCHW view: cols[(c, i, j), (n, a, b)] = xpad[n, c, a s + i d, b s + j d],
    one contiguous (C kh kw, n Ho Wo) copy of a strided view."""
    xp = xp_of(xpad)
    N, C = xpad.shape[:2]
    sn, sc, sh, sw = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, shape=(C, kh, kw, N, Ho, Wo),
        strides=(sc, sh * dil[0], sw * dil[1], sn, sh * stride[0], sw * stride[1]))
    cols = xp.empty((C, kh, kw, N, Ho, Wo), dtype=xpad.dtype)
    _copy(cols, view)
    return cols.reshape(C * kh * kw, N * Ho * Wo)


def _channel_major(g):
    """g (N, O, Ho, Wo) as an (O, N Ho Wo) matrix (free when g is channel-major already)."""
    N, O, Ho, Wo = g.shape
    return g.transpose(1, 0, 2, 3).reshape(O, N * Ho * Wo)


def _row_width(W, pads):
    """Width Wq of a stored row of the row-wrapped padded block: x's W values and max(pl, pr) zeros,
    which serve as this row's right padding and the next row's left padding (see _padded_slack)."""
    return W + max(pads[2], pads[3])


def _rowwrap_ok(stride, wq, wo, pads=(1,)):
    """Use the row-wrapped im2col (see _cols_rowwrap) for stride 1 when the wrapped columns (wq per
    output row) cost at most half again as many matrix-product columns as the true output (wo),
    and the input is padded anyway (without padding the extra copy into a padded block costs more
    than it saves: LeNet)."""
    return stride == (1, 1) and wo <= wq and 2 * wq <= 3 * wo and any(pads)


def _padded_slack(x, pads, slack, fill=True):
    """x (N, C, H, W) zero-padded, stored with shared side padding: a contiguous (C, N, Hp, Wq)
    block, Wq = W + max(pl, pr), whose row r holds x[.., r - pt, :] followed by Wq - W zeros
    (top and bottom rows all zeros), preceded by pl zeros and followed by ``slack`` zeros.
    The padded value xpad[n, c, r, q] (q < Wp = W + pl + pr) then sits at the linear offset
    r Wq + q - pl of its plane: the left padding of row r is the tail of row r - 1.  Returned
    as that strided NCHW view of shape (N, C, Hp, Wp) (row stride Wq; neighbouring rows
    overlap, so write it only through _fill_images).  Row-wrapped products thus waste
    max(pl, pr) columns per output row instead of pl + pr.  With ``fill=False`` only the lead
    and the slack are written: the caller fills blocks of images with _fill_images."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    pt, pb, pl, pr = pads
    Hp, Wp, Wq = H + pt + pb, W + pl + pr, _row_width(W, pads)
    size = C * N * Hp * Wq
    flat = xp.empty(pl + size + slack, dtype=x.dtype)
    flat[:pl] = 0
    flat[pl + size:] = 0
    isz = flat.itemsize
    buf = xp.lib.stride_tricks.as_strided(flat, shape=(N, C, Hp, Wp),
                                          strides=(Hp * Wq * isz, N * Hp * Wq * isz, Wq * isz, isz))
    if fill:
        _fill_images(buf, x, pads, 0, N)
    return buf


def _stored_rows(xpad, W, pads):
    """The (N, C, Hp, Wq) stored rows of a view made by _padded_slack (x values, then zeros)."""
    xp = xp_of(xpad)
    N, C, Hp, _ = xpad.shape
    return xp.lib.stride_tricks.as_strided(xpad[:, :, :, pads[2]:], shape=(N, C, Hp, _row_width(W, pads)),
                                           strides=xpad.strides)


def _fill_images(xpad, x, pads, n0, n1, spill=0):
    """Write images n0:n1 of the padded view made by _padded_slack: the zero rows and row tails
    and x inside, and the pl zeros just before each of their planes (the tail of the previous
    plane, which another thread may fill later: both write zeros there).

    ``spill`` > 0: also zero the values up to ``spill`` - pl past the end of each of this block's
    last planes (the start of the next block's first image, or the next channel's first image):
    row-wrapped reads of this block run that far past its planes, and another thread may not
    have zeroed them yet (both write zeros there, so the result does not depend on which thread
    writes first).  Needs pt >= 1 when another thread fills that next image."""
    pt, pb, pl, pr = pads
    N, H, W = x.shape[0], x.shape[2], x.shape[3]
    st = _stored_rows(xpad, W, pads)[n0:n1].transpose(1, 0, 2, 3)  # (C, n, Hp, Wq)
    if pt:
        st[:, :, :pt] = 0
    if pb:
        st[:, :, pt + H:] = 0
    if st.shape[3] > W:
        st[:, :, pt:pt + H, W:] = 0
    if pl:
        xpad[n0, :, 0, :pl] = 0
    if spill:
        if n1 < N:
            xpad[n1, :, 0, :spill] = 0
        else:
            xpad[0, 1:, 0, :spill] = 0
    _copy(st[:, :, pt:pt + H, :W], x[n0:n1].transpose(1, 0, 2, 3))


def _cols_rowwrap(xpad, kh, kw, dil, Ho):
    """Stride-1 im2col over whole stored rows: cols[(c, i, j), (n, a, b)] = xpad[n, c, a + i d, b + j d]
    for b in [0, Wq) (not only b < Wo), Wq = xpad's row stride (see _padded_slack).  Each
    (c, i, j, n) row is then ONE contiguous run of Ho Wq values of the padded plane, so the copy
    is a few thousand long memcpys instead of one short copy per output row.  Columns b >= Wo
    wrap into the next row (or plane): they hold numbers that are not outputs and are cropped
    (forward) or meet zeros (weight gradient).  xpad: a view made by _padded_slack (its slack
    keeps the wrapped reads past the last plane in memory)."""
    xp = xp_of(xpad)
    N, C = xpad.shape[:2]
    sn, sc, sh, sw = xpad.strides
    Wq = sh // sw
    view = xp.lib.stride_tricks.as_strided(
        xpad, shape=(C, kh, kw, N, Ho * Wq), strides=(sc, sh * dil[0], sw * dil[1], sn, sw))
    cols = xp.empty((C, kh, kw, N, Ho * Wq), dtype=xpad.dtype)
    _copy(cols, view)
    return cols.reshape(C * kh * kw, N * Ho * Wq)


# Products W (O, K) @ cols (K, m) with few output channels run fastest in column blocks of this
# size (OpenBLAS's unpacked small-matrix kernel; measured 1.5x on ResNet-20's 16-channel layers).
SUBTILE = 256
SUBTILE_MAX_O = 16


def _gemm_into(wm, cols, o):
    """o (O, m) = wm (O, K) @ cols (K, m); in SUBTILE-column blocks (one batched call) for small O."""
    xp = xp_of(cols)
    O, m = o.shape
    T = m // SUBTILE if O <= SUBTILE_MAX_O else 0
    if T:
        K = cols.shape[0]
        e = T * SUBTILE
        xp.matmul(wm, cols[:, :e].reshape(K, T, SUBTILE).transpose(1, 0, 2),
                  out=o[:, :e].reshape(O, T, SUBTILE).transpose(1, 0, 2))
        if e < m:
            xp.matmul(wm, cols[:, e:], out=o[:, e:])
    else:  # o^T = cols^T W^T: the orientation OpenBLAS runs fastest for larger O
        xp.matmul(cols.T, wm.T, out=o.T)


def _conv_forward(x, w, b, stride, pads, dil, groups, keep=None):
    """conv2d on raw arrays: y[:, tile] = W @ cols(tile) (+ b) per tile; y is returned as an NCHW
    view of a channel-major (O, N, Ho, Wo) block.  On the row-wrapped and im2col roads the padded
    input is appended to the list ``keep`` when one is given (the weight gradient reuses it)."""
    xp = xp_of(x)
    N, _, H, W = x.shape
    O, Cg, kh, kw = w.shape
    if kh == kw == 1 and stride == (1, 1) and not any(pads) and groups == 1:
        return _conv1x1(x, w, b)
    if _winograd_ok(x, w.shape, stride, pads, dil, groups) and np.isfinite(w).all():
        return winograd.conv3x3(x, w, b, pads)
    Wo = (W + pads[2] + pads[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    if _rowwrap_ok(stride, _row_width(W, pads), Wo, pads):
        return _conv_forward_rowwrap(x, w, b, pads, dil, groups, keep)
    xpad, Ho, Wo, nb = _geometry(x, kh, kw, stride, pads, dil)
    if keep is not None and any(pads):  # the weight gradient unfolds the same padded input
        keep.append(xpad)
    out = xp.empty((O, N, Ho, Wo), dtype=xp.result_type(x.dtype, w.dtype))
    wm = w.reshape(O, -1) if groups == 1 else w.reshape(groups, O // groups, -1)
    bounds, par = _tile_bounds(N, nb, N * Ho * Wo * O * Cg * kh * kw, xp)

    def tile(k):
        n0, n1 = bounds[k]
        cols = _cols(xpad[n0:n1], kh, kw, stride, dil, Ho, Wo)
        o = out[:, n0:n1].reshape(O, -1)
        if groups == 1:
            _gemm_into(wm, cols, o)
        else:
            xp.matmul(wm, cols.reshape(groups, Cg * kh * kw, -1), out=o.reshape(groups, O // groups, -1))
        if b is not None:
            o += b.reshape(O, 1)

    blocks(tile, len(bounds), par)
    return out.transpose(1, 0, 2, 3)


# Winograd (mathdl/ops/winograd.py) for 3x3 stride-1 convolutions with at least this
# many input and output channels, and, below 2 WINOGRAD_MIN_CHANNELS, at least WINOGRAD_MIN_PIXELS
# output pixels per image (else WINOGRAD_MIN_PIXELS_ANY).  With its compiled transforms (numba),
# measured with benchmarks/bench_conv.py (1 thread, forward + both gradients, N = 32 unless
# stated): 1.45x faster than the row-wrapped im2col road on 32 channels 16x16, 1.6x on 64
# channels 8x8, 1.1x on 16 channels 32x32 and 8x8, 1.3x on LeNet's unpadded 16 -> 32 13x13 (N 64),
# 1.8x on 128 channels 4x4 and 256 channels 14x14 (N 8), 1.1-1.3x on 512 channels 7x7 (N 8) and
# 2x2; slower below 16 channels (8: 0.9x, 1: 0.4x) and on 3x3 maps (64 channels: 0.9x).
WINOGRAD_MIN_CHANNELS = 16
WINOGRAD_MIN_PIXELS = 16
WINOGRAD_MIN_PIXELS_ANY = 16
# Without numba the transforms are whole-batch array passes, and the road pays from 64 channels
# (1.3-1.6x from 128 channels, about even at 64 channels on 16x16 maps) on maps of at least ~14x14
# output pixels (512 ch at 7x7 140 ms vs im2col 109; 256 ch at 14x14 63 vs 72).
WINOGRAD_ARRAY_MIN_CHANNELS = 64
WINOGRAD_ARRAY_MIN_PIXELS = 256
WINOGRAD_ARRAY_MIN_PIXELS_ANY = 196


# With KEEP_WINOGRAD_INPUT (or MATHDL_KEEP_WINOGRAD_INPUT=1) the forward of a Winograd convolution
# whose weight needs a gradient keeps the whole batch's transformed input V (F(4x4): 2.25 values
# per input value) until the backward, whose weight gradient then does not transform x again.  Off
# by default: ResNet-20's step at 1 thread 115 -> 112 ms, at 2 threads no change (77 vs 77 ms,
# 4 alternating rounds), for a peak memory of 177 MB instead of 108 (PyTorch: 189).
KEEP_WINOGRAD_INPUT = os.environ.get("MATHDL_KEEP_WINOGRAD_INPUT", "0") == "1"


def _winograd_ok(x, wshape, stride, pads, dil, groups):
    O, Cg, kh, kw = wshape
    if (kh, kw) != (3, 3) or stride != (1, 1) or dil != (1, 1) or groups != 1 or xp_of(x) is not np:
        return False
    if x.dtype not in (np.float32, np.float64):
        return False
    c = min(O, Cg)
    pixels = (x.shape[2] + pads[0] + pads[1] - 2) * (x.shape[3] + pads[2] + pads[3] - 2)
    if winograd.compiled_available():
        mc, mp, mpa = WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_PIXELS, WINOGRAD_MIN_PIXELS_ANY
    else:
        mc, mp, mpa = WINOGRAD_ARRAY_MIN_CHANNELS, WINOGRAD_ARRAY_MIN_PIXELS, WINOGRAD_ARRAY_MIN_PIXELS_ANY
    return c >= mc and pixels >= mpa and (c >= 2 * mc or pixels >= mp)


def _conv1x1(x, w, b):
    """A 1x1 stride-1 unpadded conv is a plain product over channels, no im2col:
    channel-major x (C, N H W) gives y = W (O, C) @ x (y channel-major), in column blocks;
    NCHW x gives y[n] = W @ x[n] (C, H W) (y NCHW), in blocks of images.  The blocks run on
    mathdl's threads as the other convolutions' tiles do (each output column is the same
    product whichever block holds it)."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    O = w.shape[0]
    wm = w.reshape(O, C)
    dtype = xp.result_type(x.dtype, w.dtype)
    t = x.transpose(1, 0, 2, 3)
    if t.flags.c_contiguous:
        xm = t.reshape(C, -1)
        M = xm.shape[1]
        out = xp.empty((O, M), dtype=dtype)
        bounds, par = _tile_bounds(M, M, O * C * M, xp)

        def cols(k):
            lo, hi = bounds[k]
            o = out[:, lo:hi]
            xp.matmul(wm, xm[:, lo:hi], out=o)
            if b is not None:
                o += b.reshape(O, 1)

        blocks(cols, len(bounds), par)
        return out.reshape(O, N, H, W).transpose(1, 0, 2, 3)
    xc = xp.ascontiguousarray(x).reshape(N, C, H * W)
    out = xp.empty((N, O, H * W), dtype=dtype)
    bounds, par = _tile_bounds(N, N, O * C * N * H * W, xp)

    def images(k):
        n0, n1 = bounds[k]
        o = out[n0:n1]
        xp.matmul(wm, xc[n0:n1], out=o)
        if b is not None:
            o += b.reshape(1, O, 1)

    blocks(images, len(bounds), par)
    return out.reshape(N, O, H, W)


def _conv1x1_weight(x, g, wshape):
    """dL/dW = g (O, N H W) @ x^T (N H W, C) of a 1x1 conv: one product per tile of whole images
    (about TILE_BYTES of g and x; at least one per thread when they run on the threads), the
    parts added in tile order, so that the same tiles give the same sums at any thread count."""
    xp = xp_of(g)
    gm, xm = _channel_major(g), _channel_major(x)
    N, HW = g.shape[0], g.shape[2] * g.shape[3]
    nb = max(1, min(N, TILE_BYTES // max((gm.shape[0] + xm.shape[0]) * HW * g.itemsize, 1)))
    bounds, par = _tile_bounds(N, nb, gm.shape[0] * xm.shape[0] * N * HW, xp)
    bounds = [(n0 * HW, n1 * HW) for n0, n1 in bounds]
    parts = blocks(lambda k: gm[:, bounds[k][0]:bounds[k][1]] @ xm[:, bounds[k][0]:bounds[k][1]].T, len(bounds), par)
    gw = parts[0]
    for part in parts[1:]:
        gw += part
    return gw.reshape(wshape)


def _rowwrap_geometry(x, kh, kw, pads, dil, xpad=None):
    """(padded view with slack, Ho, Wo, Wq, images per tile) for the stride-1 row-wrapped path
    (Wq: the stored row width, see _padded_slack); ``xpad``, when given, is that padded view made
    earlier for the same x."""
    if xpad is None:
        xpad = _padded_slack(x, pads, dil[1] * (kw - 1))
    Hp, Wp = xpad.shape[2], xpad.shape[3]
    Ho, Wo, Wq = Hp - dil[0] * (kh - 1), Wp - dil[1] * (kw - 1), _row_width(x.shape[3], pads)
    per_image = x.shape[1] * kh * kw * Ho * Wq * x.itemsize
    return xpad, Ho, Wo, Wq, max(1, min(x.shape[0], TILE_BYTES // max(per_image, 1)))


def _conv_forward_rowwrap(x, w, b, pads, dil, groups, keep=None, wgrad_x=None):
    """Stride-1 conv2d through _cols_rowwrap: the product runs over (n, a, b < Wq) columns and the
    Wo valid ones are copied out (a copy of the output, 1/(C kh kw / O) the size of cols).  Each
    tile of images is padded, unfolded, multiplied and cropped in one go (on one thread when the
    tiles run in parallel); x is padded per tile when its top padding row keeps the tiles' wrapped
    reads (d (kw - 1) values past a plane) off the next tile's image values (see _fill_images).

    ``wgrad_x``: when this call is the input gradient of a conv (x = g, w = its flipped kernel,
    see ConvTransposeFn) whose input was ``wgrad_x``, the same im2col tiles of g also give that
    conv's weight gradient, appended to ``keep``:
      dL/dW[o, c, i, j] = sum_{n,a,b} x[n, c, a, b] gpad[n, o, a + d (kh-1-i), b + d (kw-1-j)]
                        = (cols(g) @ x^T)[(o, kh-1-i, kw-1-j), c]
    (x on the same wrapped columns, zero where b >= Wo), so x is never unfolded; the tiles'
    parts are added in tile order."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    Hp, Wp, Wq = H + pads[0] + pads[1], W + pads[2] + pads[3], _row_width(W, pads)
    Ho, Wo = Hp - dil[0] * (kh - 1), Wp - dil[1] * (kw - 1)
    nb = max(1, min(N, TILE_BYTES // max(C * kh * kw * Ho * Wq * x.itemsize, 1)))
    bounds, par = _tile_bounds(N, nb, N * Ho * Wq * O * Cg * kh * kw * (1 if wgrad_x is None else 2), xp)
    per_tile = par and bool(pads[0])  # on one thread, one fill of the whole batch costs less
    spill = dil[1] * (kw - 1)
    xpad = _padded_slack(x, pads, spill, fill=not per_tile)
    if keep is not None:
        keep.append(xpad)
    dtype = xp.result_type(x.dtype, w.dtype)
    out = xp.empty((O, N, Ho, Wo), dtype=dtype)
    wm = w.reshape(O, -1) if groups == 1 else w.reshape(groups, O // groups, -1)
    Ox = None if wgrad_x is None else wgrad_x.shape[1]

    def tile(k):
        n0, n1 = bounds[k]
        if per_tile:
            _fill_images(xpad, x, pads, n0, n1, spill)
        cols = _cols_rowwrap(xpad[n0:n1], kh, kw, dil, Ho)
        ext = xp.empty((O, n1 - n0, Ho, Wq), dtype=dtype)
        o = ext.reshape(O, -1)
        if groups == 1:
            _gemm_into(wm, cols, o)
        else:
            xp.matmul(wm, cols.reshape(groups, Cg * kh * kw, -1), out=o.reshape(groups, O // groups, -1))
        if b is None:
            out[:, n0:n1] = ext[..., :Wo]
        else:
            xp.add(ext[..., :Wo], b.reshape(O, 1, 1, 1), out=out[:, n0:n1])
        if wgrad_x is None:
            return None
        xe = xp.empty((Ox, n1 - n0, Ho, Wq), dtype=dtype)  # wgrad_x on the wrapped columns, zero past Wo
        xe[..., Wo:] = 0
        xe[..., :Wo] = wgrad_x[n0:n1].transpose(1, 0, 2, 3)
        # (C kh kw, Ox): the orientation OpenBLAS runs fastest here
        return cols @ xe.reshape(Ox, -1).T

    parts = blocks(tile, len(bounds), par)
    if wgrad_x is not None:  # rows (c, i', j') of g's channels -> weight (c, Ox, kh, kw), flipped
        acc = parts[0]
        for part in parts[1:]:
            acc += part
        gw = acc.reshape(Cg, kh, kw, Ox)[:, ::-1, ::-1, :].transpose(0, 3, 1, 2)
        keep.append(xp.ascontiguousarray(gw))
    return out.transpose(1, 0, 2, 3)


def _conv_weight(x, g, wshape, stride, pads, dil, groups, xpad=None):
    """dL/dW = sum over tiles of g(tile) (O, m) @ cols(tile)^T (m, C kh kw), per group; ``xpad``:
    the forward's padded input (row-wrapped layout on that road, plain on the im2col road), else
    x is padded again."""
    O, Cg, kh, kw = wshape
    N = x.shape[0]
    if kh == kw == 1 and stride == (1, 1) and not any(pads) and groups == 1:  # dL/dW = g (O, NHW) @ x^T
        return _conv1x1_weight(x, g, wshape)
    if _winograd_ok(x, wshape, stride, pads, dil, groups):
        return winograd.conv3x3_weight(x, g, pads)
    xp = xp_of(g)
    if _rowwrap_ok(stride, _row_width(x.shape[3], pads), g.shape[3], pads):
        xpad, Ho, Wo, Wq, nb = _rowwrap_geometry(x, kh, kw, pads, dil, xpad)

        def g_tile(n0, n1):  # g on the wrapped columns, zero where b >= Wo
            gt = xp.empty((O, n1 - n0, Ho, Wq), dtype=g.dtype)
            gt[..., Wo:] = 0
            gt[..., :Wo] = g[n0:n1].transpose(1, 0, 2, 3)
            return gt.reshape(O, -1)

        make_cols = lambda xs: _cols_rowwrap(xs, kh, kw, dil, Ho)  # noqa: E731
    else:
        # the forward's padded input when given (see _conv_forward), else x padded again
        xpad, Ho, Wo, nb = _geometry(x, kh, kw, stride, pads, dil) if xpad is None else \
            _geometry(xpad, kh, kw, stride, (0, 0, 0, 0), dil)
        g_tile = lambda n0, n1: g[n0:n1].transpose(1, 0, 2, 3).reshape(O, -1)  # noqa: E731
        make_cols = lambda xs: _cols(xs, kh, kw, stride, dil, Ho, Wo)  # noqa: E731
    bounds, par = _tile_bounds(N, nb, N * Ho * Wo * O * Cg * kh * kw, xp)

    def tile(k):
        n0, n1 = bounds[k]
        cols = make_cols(xpad[n0:n1])
        gm = g_tile(n0, n1)
        if groups == 1:  # (cols @ g^T)^T: the orientation OpenBLAS runs fastest for O << C kh kw
            return _product_few_rows(cols, gm).T
        return gm.reshape(groups, O // groups, -1) @ cols.reshape(groups, Cg * kh * kw, -1).transpose(0, 2, 1)

    parts = blocks(tile, len(bounds), par)
    gw = parts[0]
    for part in parts[1:]:  # in tile order, whichever thread computed them
        gw += part
    return gw.reshape(wshape)


def _phases_ok(g, w, hw, stride, pads, dil, groups):
    """The stride-2 input gradient by output phases (_conv_transpose_s2_phases): 3x3 kernel, stride
    2, padding 1, one group, even H = 2 Ho and W = 2 Wo (ResNets' down-sampling convolutions), a
    finite kernel (PHASES_S2 switches it off)."""
    return (PHASES_S2 and xp_of(g) is np and stride == (2, 2) and tuple(w.shape[2:]) == (3, 3) and dil == (1, 1)
            and pads == (1, 1, 1, 1) and groups == 1 and hw == (2 * g.shape[2], 2 * g.shape[3])
            and g.dtype in (np.float32, np.float64) and np.isfinite(w).all())


PHASES_S2 = True
# Shifts of g that the four output phases read, in an order that makes each phase's a contiguous run:
# (row, column) offsets (0, 1), (0, 0), (1, 0), (1, 1); per phase (even/odd row, even/odd column)
# the run of shifts and, for each, the kernel tap (i, j) that meets it.
_S2_SHIFTS = ((0, 1), (0, 0), (1, 0), (1, 1))
_S2_PHASES = (((0, 0), 1, ((1, 1),)),
              ((0, 1), 0, ((1, 0), (1, 2))),
              ((1, 0), 1, ((2, 1), (0, 1))),
              ((1, 1), 0, ((2, 0), (2, 2), (0, 2), (0, 0))))


def _conv_transpose_s2_phases(g, w):
    """dL/dx of a 3x3 stride-2 conv with padding 1 (H = 2 Ho, W = 2 Wo), one output phase at a time:
    the input pixel (2u + a, 2v + b) receives g[u + du, v + dv] through the single kernel tap
    (i, j) = (1 + a - 2 du, 1 + b - 2 dv) for each shift du <= a, dv <= b, so

        dx[n, c, 2u + a, 2v + b] = sum over its shifts (du, dv) and o of w[o, c, i, j] g[n, o, u + du, v + dv]

    (g zero past its last row and column): per phase one product W_ab (C, O k) @ S (O k, n Ho Wq)
    over the k <= 4 shifted copies of g that phase reads, instead of col2im's W^T g (C 9, n Ho Wo)
    and nine strided additions.  The shifted copies are flat offsets of g stored in rows of
    Wq = Wo + 1 (a zero column; one zero row below), so each is one contiguous run per plane
    (the row-wrapped columns v = Wo are cropped); tiles of images run on mathdl's threads."""
    N, O, Ho, Wo = g.shape
    C = w.shape[1]
    dtype = np.result_type(g.dtype, w.dtype)
    Wq, Hq = Wo + 1, Ho + 1
    plane = Hq * Wq
    offsets = [du * Wq + dv for du, dv in _S2_SHIFTS]
    mats = [np.ascontiguousarray(np.concatenate([w[:, :, i, j].T for i, j in taps], axis=1), dtype=dtype)
            for _, _, taps in _S2_PHASES]
    dx = np.empty((C, N, 2 * Ho, 2 * Wo), dtype=dtype)
    nb = max(1, min(N, TILE_BYTES // max((4 * O + 4 * C) * Ho * Wq * dx.itemsize, 1)))
    bounds, par = _tile_bounds(N, nb, N * Ho * Wo * O * C * 9, np)

    def tile(k):
        n0, n1 = bounds[k]
        n = n1 - n0
        flat = np.zeros(O * n * plane + Wq + 2, dtype=dtype)  # g's planes in rows of Wq, zero row below
        gp = flat[:O * n * plane].reshape(O, n, Hq, Wq)
        gp[:, :, :Ho, :Wo] = g[n0:n1].transpose(1, 0, 2, 3)
        S = np.empty((4, O, n, Ho * Wq), dtype=dtype)
        sn = flat.itemsize
        for s, off in enumerate(offsets):
            src = np.lib.stride_tricks.as_strided(flat[off:], shape=(O, n, Ho * Wq),
                                                  strides=(n * plane * sn, plane * sn, sn))
            S[s] = src
        S = S.reshape(4 * O, -1)
        out = np.empty((C, n * Ho * Wq), dtype=dtype)
        for ((a, b), first, taps), wm in zip(_S2_PHASES, mats):
            _gemm_into(wm, S[first * O:(first + len(taps)) * O], out)
            dx[:, n0:n1, a::2, b::2] = out.reshape(C, n, Ho, Wq)[..., :Wo]

    blocks(tile, len(bounds), par)
    return dx.transpose(1, 0, 2, 3)


# A weight gradient cols (R, K) @ g^T (K, O) with few rows (R = C kh kw, e.g. an RGB or grey stem)
# and a long K (pixels of a tile) runs 2x faster in chunks of K_CHUNK columns as one batched product,
# the chunks' results then added (measured on (27, 19008) @ (19008, 16): 0.36 -> 0.18 ms; no gain
# from 144 rows up).
FEW_ROWS = 32
K_CHUNK = 1024


def _product_few_rows(cols, gm):
    """cols (R, K) @ gm (O, K)^T; for R <= FEW_ROWS and K >= 2 K_CHUNK in K_CHUNK-column chunks."""
    R, K = cols.shape
    S = K // K_CHUNK
    if R > FEW_ROWS or S < 2 or xp_of(cols) is not np:
        return cols @ gm.T
    O, e = gm.shape[0], S * K_CHUNK
    out = np.matmul(cols[:, :e].reshape(R, S, K_CHUNK).transpose(1, 0, 2),
                    gm[:, :e].reshape(O, S, K_CHUNK).transpose(1, 2, 0)).sum(0)
    if e < K:
        out += cols[:, e:] @ gm[:, e:].T
    return out


def _flipped_transposed(w, groups):
    """W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j] within each group: the kernel of the adjoint."""
    O, Cg, kh, kw = w.shape
    wg = w.reshape(groups, O // groups, Cg, kh, kw).transpose(0, 2, 1, 3, 4)
    return wg.reshape(groups * Cg, O // groups, kh, kw)[:, :, ::-1, ::-1]


# =========================================================================== primitives
class Conv2dFn(Function):
    """y = conv2d(x, w) (+ b): im2col and one matrix product per group.  The padded input of the
    row-wrapped and im2col roads is kept (``saved_xpad``, freed after backward) for the weight
    gradient, instead of padding x again there."""

    __slots__ = ("stride", "pads", "dil", "groups", "saved_xpad", "saved_u", "saved_v", "keep_v", "saved_xl")

    def __init__(self, stride, pads, dil, groups):
        self.stride, self.pads, self.dil, self.groups = stride, pads, dil, groups
        self.saved_xpad = self.saved_u = self.saved_v = self.saved_xl = None
        self.keep_v = False  # set by conv2d when the weight gradient will be needed (Winograd's V kept)

    def forward(self, x, w, b=None):
        N, _, H, W = x.shape
        O, Cg, kh, kw = w.shape
        (sh, sw), (dh, dw), (pt, pb, pl, pr) = self.stride, self.dil, self.pads
        Ho, Wo = _out_size(H, kh, sh, pt, pb, dh), _out_size(W, kw, sw, pl, pr, dw)
        if N == 0:  # an empty batch (as PyTorch): an empty output, and empty / zero gradients
            return xp_of(x).empty((0, O, Ho, Wo), dtype=xp_of(x).result_type(x.dtype, w.dtype))
        macs = N * O * Cg * kh * kw * Ho * Wo
        serial = _serial_blas(macs, xp_of(x), N)
        try:
            return self._forward(x, w, b)
        finally:
            if serial:
                _parallel._leave_blas_serial()

    def _forward(self, x, w, b):
        if _winograd_ok(x, w.shape, self.stride, self.pads, self.dil, self.groups) and np.isfinite(w).all():
            # Winograd: the kernel transform is kept for the input gradient (a permutation of it).  A
            # kernel holding inf or NaN takes im2col: the transform's differences would turn it into
            # NaN (inf - inf) where a direct convolution gives inf
            pt, pb, pl, pr = self.pads
            m = winograd.output_tile(x.shape[2] + pt + pb - 2, x.shape[3] + pl + pr - 2, x.shape[1], w.shape[0])
            self.saved_u = winograd.kernel_transform(w.astype(np.result_type(x.dtype, w.dtype), copy=False), m)
            if winograd._channels_last(m, x.shape[1], w.shape[0]) and not x.transpose(0, 2, 3, 1).flags.c_contiguous:
                # an input of another layout (after a stem or a strided layer) copied to NHWC once:
                # the weight gradient reads this copy instead of converting x again
                x = self.saved_xl = winograd_nhwc.nhwc(x).transpose(0, 3, 1, 2)
            if not self.keep_v:
                return winograd.conv3x3(x, w, b, self.pads, self.saved_u)
            y, self.saved_v = winograd.conv3x3(x, w, b, self.pads, self.saved_u, keep=True)
            return y
        keep = []
        conv = _conv_forward if xp_of(x) is np else conv_device.conv2d_forward  # device: whole-batch im2col
        y = conv(x, w, b, self.stride, self.pads, self.dil, self.groups, keep)
        self.saved_xpad = keep[0] if keep else None
        return y

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        gx = gw = gb = None
        geom = (self.stride, self.pads, self.dil, self.groups)
        pre = None
        if x.requires_grad:
            ct = ConvTransposeFn(*geom, x.shape[2:])
            if w.requires_grad:  # let the input gradient's im2col also give the weight gradient
                ct.saved_wgrad_x = x.array if self.saved_xl is None else self.saved_xl
            self.saved_xl = None
            ct.saved_u = self.saved_u  # its adjoint is taken inside ct's forward (BLAS on one thread)
            ct.saved_v, self.saved_v = self.saved_v, None  # x's Winograd transform, used once
            gx = ct(g, w)
            pre, ct.saved_gw = ct.saved_gw, None
        if w.requires_grad:
            gw = ConvWeightFn(*geom, w.shape, self.saved_xpad, pre)(x, g)
        if len(self.inputs) == 3 and self.inputs[2].requires_grad:
            gb = _bias_grad(g)
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


# The bias gradient of a C-contiguous NCHW g (a conv followed by a flatten and a linear layer) is
# summed over the images first (contiguous row additions) and then over each channel's pixels:
# NumPy's one reduction over axes (0, 2, 3) runs a short inner loop per (image, channel) row
# (1 thread, float32: MNIST-1D's last layer g (100, 25, 1, 5) 45 -> 5 us; (64, 16, 8, 8) 30 -> 7;
# (32, 16, 32, 32) 89 -> 55).  BIAS_GRAD_SPLIT = False keeps the one reduction.
BIAS_GRAD_SPLIT = True


def _bias_grad(g):
    """dL/db[o] = sum_{n, a, b} g[n, o, a, b] (differentiable: mathdl sums)."""
    a = g.array
    if BIAS_GRAD_SPLIT and xp_of(a) is np and a.flags.c_contiguous and a.shape[0] > 1:
        return _sum(_sum(g, 0), (1, 2))
    return _sum(g, (0, 2, 3))


# col2im's additions run as one compiled scatter (mathdl/ops/conv_kernels.py) for output rows up to
# this long: NumPy's strided additions pay per row (MNIST-1D's length-10 rows: 142 -> 63 us per
# layer); long rows (large maps) are where NumPy's additions are at their best.
COL2IM_COMPILED_MAX_WO = 32


class ConvTransposeFn(Function):
    """x-like = ConvTranspose(g, w): the adjoint of conv2d in its input (col2im of W^T g)."""

    __slots__ = ("stride", "pads", "dil", "groups", "hw", "saved_wgrad_x", "saved_gw", "saved_u", "saved_v")

    def __init__(self, stride, pads, dil, groups, hw):
        self.stride, self.pads, self.dil, self.groups, self.hw = stride, pads, dil, groups, tuple(hw)
        # saved_wgrad_x: set by Conv2dFn.backward to its x when it also needs dL/dW; the forward
        # then leaves that weight gradient in saved_gw (same im2col tiles; see _conv_forward_rowwrap)
        # saved_u: set by Conv2dFn.backward on the Winograd road: the forward kernel's transform
        # (this flipped, transposed kernel's is its adjoint_transform)
        self.saved_wgrad_x = self.saved_gw = self.saved_u = self.saved_v = None

    def forward(self, g, w):
        if g.shape[0] == 0:
            self.saved_wgrad_x = None
            return xp_of(g).zeros((0, w.shape[1] * self.groups) + self.hw, dtype=xp_of(g).result_type(g.dtype, w.dtype))
        serial = _serial_blas(g.size * w.shape[1] * w.shape[2] * w.shape[3], xp_of(g), g.shape[0])
        try:
            return self._forward(g, w)
        finally:
            if serial:
                _parallel._leave_blas_serial()

    def _forward(self, g, w):
        if xp_of(g) is not np:  # device: whole-batch full convolution or col2im (conv_device.py)
            self.saved_wgrad_x = None
            return conv_device.conv2d_input_grad(g, w, self.hw, self.stride, self.pads, self.dil, self.groups)
        H, W = self.hw
        pt, pb, pl, pr = self.pads
        kh, kw = w.shape[2], w.shape[3]
        dh, dw = self.dil
        full = (dh * (kh - 1) - pt, dh * (kh - 1) - pb, dw * (kw - 1) - pl, dw * (kw - 1) - pr)
        if self.stride == (1, 1) and min(full) >= 0 and xp_of(w).isfinite(w).all():
            # stride 1: the adjoint is a "full" convolution of g with the flipped, transposed kernel
            # (one im2col + one product; no col2im passes).  A kernel holding inf or NaN takes
            # col2im instead, which (as PyTorch) never multiplies it by g's zero padding (0 inf = NaN)
            wx, self.saved_wgrad_x = self.saved_wgrad_x, None
            u, self.saved_u = self.saved_u, None
            saved_v, self.saved_v = self.saved_v, None
            wf = _flipped_transposed(w, self.groups)
            if u is not None and _winograd_ok(g, wf.shape, (1, 1), full, self.dil, self.groups):
                u = winograd.adjoint_transform(u, wf)
                if wx is not None and _winograd_ok(wx, w.shape, (1, 1), self.pads, self.dil, self.groups):
                    # both gradients in one pass over tiles of images (ConvWeightFn takes saved_gw)
                    y, self.saved_gw = winograd.conv3x3_backward(g, wf, full, u, wx, self.pads, saved_v)
                    return y
                return winograd.conv3x3(g, wf, None, full, u)
            if wx is not None and _winograd_ok(wx, w.shape, (1, 1), self.pads, self.dil, self.groups):
                wx = None  # Winograd for both gradients (ConvWeightFn computes its own)
            if wx is not None and self.groups == 1 and _rowwrap_ok((1, 1), _row_width(g.shape[3], full), W, full):
                keep = []
                y = _conv_forward_rowwrap(g, wf, None, full, self.dil, 1, keep, wx)
                self.saved_gw = keep[-1]
                return y
            return _conv_forward(g, wf, None, (1, 1), full, self.dil, self.groups)
        self.saved_wgrad_x = None
        if _phases_ok(g, w, self.hw, self.stride, self.pads, self.dil, self.groups):
            return _conv_transpose_s2_phases(g, w)
        return self._col2im(g, w)

    def _col2im(self, g, w):
        """x-like = col2im(W^T g), a tile of images at a time: gcols = W^T g(tile) then each kernel
        offset's slice of gcols added into the tile's padded block (disjoint between tiles)."""
        xp = xp_of(g)
        N, O, Ho, Wo = g.shape
        _, Cg, kh, kw = w.shape
        G = self.groups
        C = Cg * G
        H, W = self.hw
        pt, pb, pl, pr = self.pads
        dtype = xp.result_type(g.dtype, w.dtype)
        buf = xp.zeros((C, N, H + pt + pb, W + pl + pr), dtype=dtype)
        bv = buf.transpose(1, 0, 2, 3)
        wt = w.reshape(O, -1).T if G == 1 else w.reshape(G, O // G, -1).transpose(0, 2, 1)
        per_image = C * kh * kw * Ho * Wo * buf.itemsize
        nb = max(1, min(N, TILE_BYTES // max(per_image, 1)))
        bounds, par = _tile_bounds(N, nb, N * Ho * Wo * O * Cg * kh * kw, xp)
        compiled_col2im = (Wo <= COL2IM_COMPILED_MAX_WO and g.dtype == w.dtype == dtype
                           and conv_kernels.col2im_available(buf))

        def tile(k):
            n0, n1 = bounds[k]
            gm = g[n0:n1].transpose(1, 0, 2, 3).reshape(O, -1)
            gcols = wt @ gm if G == 1 else wt @ gm.reshape(G, O // G, -1)
            gcols = gcols.reshape(C, kh, kw, n1 - n0, Ho, Wo)
            if compiled_col2im:  # one compiled scatter-add (short rows: several times the array additions)
                conv_kernels.col2im_add(gcols, buf, n0, self.stride, self.dil)
                return
            bt = bv[n0:n1]
            for i in range(kh):
                for j in range(kw):
                    bt[_offset_slice(i, j, Ho, Wo, self.stride, self.dil)] += gcols[:, i, j].transpose(1, 0, 2, 3)

        blocks(tile, len(bounds), par)
        return bv[:, :, pt:pt + H, pl:pl + W]

    def backward(self, h):
        g, w = self.inputs
        geom = (self.stride, self.pads, self.dil, self.groups)
        gg = gw = None
        if g.requires_grad:
            gg = Conv2dFn(*geom)(h, w)
        if w.requires_grad:
            gw = ConvWeightFn(*geom, w.shape)(h, g)
        return gg, gw


class ConvWeightFn(Function):
    """w-like = ConvWeight(x, g): the correlation sum_{n,a,b} g[n,o,a,b] xpad[n,c,a s+i d,b s+j d]."""

    __slots__ = ("stride", "pads", "dil", "groups", "wshape", "saved_xpad", "saved_result")

    def __init__(self, stride, pads, dil, groups, wshape, xpad=None, result=None):
        self.stride, self.pads, self.dil, self.groups = stride, pads, dil, groups
        self.wshape = tuple(wshape)
        self.saved_xpad = xpad  # x padded by the forward conv (row-wrapped path), used once
        self.saved_result = result  # this forward's value, computed alongside the input gradient

    def forward(self, x, g):
        xpad, self.saved_xpad = self.saved_xpad, None
        res, self.saved_result = self.saved_result, None
        if res is not None:
            return res
        if x.shape[0] == 0:
            return xp_of(x).zeros(self.wshape, dtype=xp_of(x).result_type(x.dtype, g.dtype))
        if xp_of(x) is not np:  # device: one im2col (of the forward's padded input) and one GEMM
            return conv_device.conv2d_weight_grad(x, g, self.wshape, self.stride, self.pads, self.dil, self.groups,
                                                  xpad)
        serial = _serial_blas(g.size * self.wshape[1] * self.wshape[2] * self.wshape[3], np, g.shape[0])
        try:
            return _conv_weight(x, g, self.wshape, self.stride, self.pads, self.dil, self.groups, xpad)
        finally:
            if serial:
                _parallel._leave_blas_serial()

    def backward(self, hw):
        x, g = self.inputs
        geom = (self.stride, self.pads, self.dil, self.groups)
        gx = gg = None
        if x.requires_grad:
            gx = ConvTransposeFn(*geom, x.shape[2:])(g, hw)
        if g.requires_grad:
            gg = Conv2dFn(*geom)(x, hw)
        return gx, gg


# =========================================================================== functional API
def _check_4d(name, x, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor {what}, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D {what} (N, C, H, W), got shape {tuple(x.shape)}")


def _conv_padding(name, padding, kernel, stride, dil):
    """(pt, pb, pl, pr) from an int, a pair, 'valid' or 'same' (PyTorch's split: extra at the end)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {stride}")
            pads = []
            for k, d in zip(kernel, dil):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"{name}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = _pair(padding, name, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, name="conv2d"):
    """2-D cross-correlation (PyTorch's conv2d): input (N, C, H, W), weight (O, C/groups, kh, kw),
    optional bias (O,); padding an int, a pair, 'same' or 'valid'."""
    if _amp.dtype is not None:  # autocast: convolutions compute in the low precision
        input, weight, bias = cast_lower(input, weight, bias)
    _check_4d(name, input)
    _check_4d(name, weight, "weight")
    stride = _pair(stride, name, "stride")
    dil = _pair(dilation, name, "dilation")
    if min(stride) < 1 or min(dil) < 1:
        raise ValueError(f"{name}: stride and dilation must be positive, got stride {stride}, dilation {dil}")
    N, C, H, W = input.shape
    O, Cg, kh, kw = weight.shape
    groups = int(groups)
    if groups < 1 or C % groups or O % groups:
        raise ValueError(f"{name}: groups={groups} must divide input channels {C} and output channels {O}")
    if Cg * groups != C:
        raise ValueError(f"{name}: expected input with {Cg * groups} channels (weight {tuple(weight.shape)}, "
                         f"groups={groups}), got input of shape {tuple(input.shape)}")
    if input.dtype != weight.dtype:
        raise TypeError(f"{name}: input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    pads = _conv_padding(name, padding, (kh, kw), stride, dil)
    Hp, Wp = H + pads[0] + pads[1], W + pads[2] + pads[3]
    if dil[0] * (kh - 1) + 1 > Hp or dil[1] * (kw - 1) + 1 > Wp:
        raise ValueError(f"{name}: kernel size ({kh}, {kw}) with dilation {dil} is larger than the padded "
                         f"input ({Hp}, {Wp}) (input shape {tuple(input.shape)}, padding {padding!r})")
    fn = Conv2dFn(stride, pads, dil, groups)
    fn.keep_v = KEEP_WINOGRAD_INPUT and _grad_enabled() and weight.requires_grad
    if bias is None:
        return fn(input, weight)
    if tuple(bias.shape) != (O,):
        raise ValueError(f"{name}: bias must have shape ({O},), got {tuple(bias.shape)}")
    return fn(input, weight, bias)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, name="conv1d"):
    """1-D cross-correlation: input (N, C, L), weight (O, C/groups, k); computed as conv2d with H = 1."""
    if not isinstance(input, Tensor) or input.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D input (N, C, L), got shape {tuple(getattr(input, 'shape', ()))}")
    if weight.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D weight (O, C/groups, k), got shape {tuple(weight.shape)}")
    s = int(stride[0] if isinstance(stride, (tuple, list)) else stride)
    d = int(dilation[0] if isinstance(dilation, (tuple, list)) else dilation)
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, int(padding[0] if isinstance(padding, (tuple, list)) else padding))
    # the Reshape Function directly: these shapes are valid by construction (shape.reshape's checks
    # cost about 4 us a call, 3 calls per conv1d)
    x4 = Reshape((input.shape[0], input.shape[1], 1, input.shape[2]))(input)
    w4 = Reshape((weight.shape[0], weight.shape[1], 1, weight.shape[2]))(weight)
    y = conv2d(x4, w4, bias, (1, s), pad2, (1, d), groups, name=name)
    return Reshape((y.shape[0], y.shape[1], y.shape[3]))(y)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, name="conv_transpose2d"):
    """Transposed convolution (the adjoint of conv2d in its input), PyTorch's argument order:
    input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw); output size
    (H - 1) s - 2 p + d (kh - 1) + output_padding + 1."""
    if _amp.dtype is not None:
        input, weight, bias = cast_lower(input, weight, bias)
    _check_4d(name, input)
    _check_4d(name, weight, "weight")
    stride = _pair(stride, name, "stride")
    dil = _pair(dilation, name, "dilation")
    ph, pw = _pair(padding, name, "padding")
    oph, opw = _pair(output_padding, name, "output_padding")
    N, Cin, H, W = input.shape
    Ci, Cog, kh, kw = weight.shape
    groups = int(groups)
    if Ci != Cin:
        raise ValueError(f"{name}: expected input with {Ci} channels (weight {tuple(weight.shape)}), "
                         f"got input of shape {tuple(input.shape)}")
    if groups < 1 or Cin % groups:
        raise ValueError(f"{name}: groups={groups} must divide input channels {Cin}")
    for op, s, d in ((oph, stride[0], dil[0]), (opw, stride[1], dil[1])):
        if op < 0 or op >= s:
            raise ValueError(f"{name}: output_padding {output_padding!r} must be smaller than stride {stride}"
                             + ("" if d == 1 else " (dilation other than 1 is not combined with it here)"))
    Hx = (H - 1) * stride[0] - 2 * ph + dil[0] * (kh - 1) + oph + 1
    Wx = (W - 1) * stride[1] - 2 * pw + dil[1] * (kw - 1) + opw + 1
    if Hx < 1 or Wx < 1:
        raise ValueError(f"{name}: output size ({Hx}, {Wx}) is not positive for input shape {tuple(input.shape)}")
    y = ConvTransposeFn(stride, (ph, ph, pw, pw), dil, groups, (Hx, Wx))(input, weight)
    if bias is not None:
        if tuple(bias.shape) != (Cog * groups,):
            raise ValueError(f"{name}: bias must have shape ({Cog * groups},), got {tuple(bias.shape)}")
        y = ew.add(y, reshape(bias, (1, -1, 1, 1)))
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """y = (x - mean_g) / sqrt(var_g + eps) * weight[c] + bias[c], with mean and (biased) variance
    over each group of C/num_groups channels and all spatial positions of one sample."""
    if _amp.dtype is not None:  # autocast: normalizations compute in float32
        (input,) = cast_float32(input)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input (N, C, ...), got shape {tuple(input.shape)}")
    N, C = input.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the {C} channels "
                         f"(input shape {tuple(input.shape)})")
    xr = reshape(input, (N, num_groups, (C // num_groups) * math.prod(input.shape[2:])))
    mu = _mean(xr, 2, keepdim=True)
    xc = ew.sub(xr, mu)
    var = _var(xr, 2, keepdim=True, correction=0)
    # a group whose variance overflows (one holding +-inf or values near the float range) normalizes
    # to NaN, as in PyTorch: var + (var - var) is var when finite, NaN when infinite (derivative 1)
    var = ew.add(var, ew.sub(var, var))
    y = reshape(ew.mul(xc, ew.rsqrt(ew.add(var, eps))), input.shape)
    bshape = (1, C) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = ew.mul(y, reshape(weight, bshape))
    if bias is not None:
        y = ew.add(y, reshape(bias, bshape))
    return y


def dropout2d(input, p=0.5, training=True):
    """Zero whole channels with probability p, scale the rest by 1/(1-p): y = x * m[n, c] / (1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}")
    xp = xp_of(input.array)
    if p == 1.0:
        return ew.mul(input, 0.0)
    shape = input.shape[:2] + (1,) * (input.ndim - 2)
    keep = rng.for_module(xp).random(shape) >= p
    mask = xp.asarray(keep, dtype=input.dtype) * input.dtype.type(1.0 / (1.0 - p))
    return ew.mul(input, _make(mask))


_LINEAR_MODES = {3: "linear", 4: "bilinear", 5: "trilinear"}


def _cubic(t, a=-0.75):
    """Keys' cubic convolution weights of the taps at -1, 0, 1, 2 for a fraction t in [0, 1)."""
    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _interp_matrix(size, out, mode, align_corners, scale):
    """(out, size) matrix of 1-D interpolation weights in PyTorch's coordinates: row i reads the
    source position  src = i (size-1)/(out-1) (align_corners) or (i + 1/2) / s - 1/2, s the scale."""
    A = np.zeros((out, size))
    rows = np.arange(out)  # each row once per statement, so fancy += accumulates correctly
    s = (size / out) if scale is None else 1.0 / scale
    if mode == "nearest":
        src = np.minimum(np.floor(rows * s).astype(np.int64), size - 1)
        A[rows, src] = 1.0
        return A
    if mode == "nearest-exact":
        src = np.minimum(np.floor((rows + 0.5) * s).astype(np.int64), size - 1)
        A[rows, src] = 1.0
        return A
    if mode == "area":
        for i in range(out):
            a, b = (i * size) // out, -(-((i + 1) * size) // out)
            A[i, a:b] = 1.0 / (b - a)
        return A
    if align_corners:
        pos = rows * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        pos = (rows + 0.5) * s - 0.5
    if mode == "bicubic":
        base = np.floor(pos).astype(np.int64)
        for k, w in zip((-1, 0, 1, 2), _cubic(pos - base)):
            A[rows, np.clip(base + k, 0, size - 1)] += w
        return A
    pos = np.maximum(pos, 0.0)
    lo = np.minimum(np.floor(pos).astype(np.int64), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    frac = pos - lo
    A[rows, lo] += 1 - frac
    A[rows, hi] += frac
    return A


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) input, separably: along each spatial axis
    y = A x with A the 1-D weights of ``mode`` ('nearest', 'nearest-exact', 'linear' / 'bilinear' /
    'trilinear' by rank, 'bicubic' (Keys, a = -0.75), 'area' = adaptive average), so the backward
    is A^T g, again a product."""
    name = "interpolate"
    if not isinstance(input, Tensor) or input.ndim not in (3, 4, 5):
        raise ValueError(f"{name}: expected a 3-, 4- or 5-D input (N, C, *spatial), got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    nd = input.ndim - 2
    allowed = ("nearest", "nearest-exact", "area", _LINEAR_MODES[input.ndim]) + (("bicubic",) if nd == 2 else ())
    if mode not in allowed:
        raise ValueError(f"{name}: mode {mode!r} does not apply to a {input.ndim}-D input; expected one of "
                         f"{', '.join(map(repr, allowed))}")
    if align_corners is not None and mode not in ("linear", "bilinear", "trilinear", "bicubic"):
        raise ValueError(f"{name}: align_corners only applies to the linear and bicubic modes, not {mode!r}")
    if antialias:
        raise NotImplementedError(f"{name}: antialias=True is not supported")
    spatial = tuple(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    if size is not None:
        outs = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        if len(outs) != nd:
            raise ValueError(f"{name}: size must be an int or {nd} ints for a {input.ndim}-D input, got {size!r}")
        outs = tuple(int(o) for o in outs)
        scales = (None,) * nd
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd
        if len(scales) != nd:
            raise ValueError(f"{name}: scale_factor must be a number or {nd} numbers, got {scale_factor!r}")
        scales = tuple(float(f) for f in scales)
        if any(not f > 0 for f in scales):
            raise ValueError(f"{name}: scale_factor must be positive, got {scale_factor!r}")
        outs = tuple(int(math.floor(n * f)) for n, f in zip(spatial, scales))
        if recompute_scale_factor or mode == "area":
            scales = (None,) * nd
    if min(outs) < 1:
        raise ValueError(f"{name}: output size {outs} must be positive")
    xp = xp_of(input.array)
    mats = [_make(xp.asarray(_interp_matrix(n, o, mode, bool(align_corners), sc), dtype=input.dtype))
            for n, o, sc in zip(spatial, outs, scales)]
    if nd == 2:
        return matmul(matmul(mats[0], input), mats[1].T)
    y = input
    for k, A in enumerate(mats):  # axis 2 + k: move it last, multiply by A^T, move it back
        axis = 2 + k
        perm = tuple(i for i in range(y.ndim) if i != axis) + (axis,)
        inv = tuple(int(j) for j in np.argsort(perm))
        y = _permute(matmul(_permute(y, perm), A.T), inv)
    return y
