"""Image resampling and rearrangement, functional forms.

  interpolate                nearest / (bi)linear resampling (:mod:`mathdl.ops.conv`)
  pixel_shuffle(x, r)        (*, C r^2, H, W) -> (*, C, H r, W r):  y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]
  pixel_unshuffle(x, r)      its inverse
  unfold(x, k, d, p, s)      im2col: (N, C, H, W) -> (N, C kh kw, L), column l holding the (dilated) window at
                             output position l; computed as a grouped convolution with 0/1 weights
                             W[c kh kw + i kw + j, 0, i', j'] = [i = i', j = j'] (groups = C)
  channel_shuffle(x, g)      (N, g k, *) -> (N, k g, *): channel i k + j moves to j g + i
  upsample, upsample_nearest, upsample_bilinear   PyTorch's older names of interpolate
  affine_grid(theta, size)   sampling grid G[n, i, j] = theta_n (x_j, y_i, 1) over normalized coordinates in
                             [-1, 1] (pixel centres, or corners with align_corners)
  grid_sample(x, grid)       x read at the (normalized) grid points: bilinear (the four neighbours weighted
                             by (1 - |dx|)(1 - |dy|), differentiable in x and in the grid) or nearest;
                             outside the image zeros, the border value, or the reflected position
  fold(x, out, k, d, p, s)   col2im, the adjoint of unfold (overlapping windows add): the transposed
                             convolution with the same 0/1 weights
"""

from __future__ import annotations

import numbers

import numpy as np

from ...autograd.tensor import Tensor
from ...ops.conv import conv2d, conv_transpose2d, interpolate
from ...ops import elementwise as ew
from ...ops.indexing import getitem, take_along_dim
from ...ops.linalg import matmul
from ...ops.shape import permute, reshape, transpose

__all__ = [
    "affine_grid", "grid_sample", "channel_shuffle", "upsample", "upsample_nearest", "upsample_bilinear",
    "interpolate", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold",
]


def _factor(name, r):
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1:
        raise ValueError(f"{name}: the factor must be a positive integer, got {r!r}")
    return int(r)


def pixel_shuffle(input, upscale_factor):
    """Rearrange (*, C r^2, H, W) into (*, C, H r, W r)."""
    r = _factor("pixel_shuffle", upscale_factor)
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected an input (*, C r^2, H, W) with r = {r}, got shape "
                         f"{tuple(input.shape)}")
    *batch, c, h, w = input.shape
    nb = len(batch)
    x = reshape(input, (*batch, c // (r * r), r, r, h, w))
    x = permute(x, tuple(range(nb)) + tuple(nb + i for i in (0, 3, 1, 4, 2)))
    return reshape(x, (*batch, c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """Rearrange (*, C, H r, W r) into (*, C r^2, H, W)."""
    r = _factor("pixel_unshuffle", downscale_factor)
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle: expected an input (*, C, H r, W r) with r = {r}, got shape "
                         f"{tuple(input.shape)}")
    *batch, c, h, w = input.shape
    nb = len(batch)
    x = reshape(input, (*batch, c, h // r, r, w // r, r))
    x = permute(x, tuple(range(nb)) + tuple(nb + i for i in (0, 2, 4, 1, 3)))
    return reshape(x, (*batch, c * r * r, h // r, w // r))


def _pair(name, v, what, minimum):
    t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(t) != 2 or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) or a < minimum for a in t):
        raise ValueError(f"{name}: {what} must be an int or a pair of ints >= {minimum}, got {v!r}")
    return tuple(int(a) for a in t)


def _selector(c, kh, kw, dtype):
    K = kh * kw
    w = np.zeros((c * K, 1, kh, kw), dtype=dtype)
    k = np.arange(c * K) % K
    w[np.arange(c * K), 0, k // kw, k % kw] = 1
    return Tensor._make(w)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding windows of an (N, C, H, W) (or (C, H, W)) input as columns: (N, C kh kw, L)."""
    name = "unfold"
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W) or 3-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if input.ndim == 3:
        y = unfold(reshape(input, (1,) + tuple(input.shape)), kernel_size, dilation, padding, stride)
        return reshape(y, tuple(y.shape[1:]))
    k = _pair(name, kernel_size, "kernel_size", 1)
    d, p, s = _pair(name, dilation, "dilation", 1), _pair(name, padding, "padding", 0), _pair(name, stride, "stride", 1)
    N, C = input.shape[:2]
    y = conv2d(input, _selector(C, k[0], k[1], input.dtype), None, s, p, d, C, name=name)
    return reshape(y, (N, C * k[0] * k[1], y.shape[2] * y.shape[3]))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding-window columns (N, C kh kw, L) (or (C kh kw, L)) back into (N, C, H, W)."""
    name = "fold"
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 3-D input (N, C kh kw, L) or 2-D unbatched, got shape "
                         f"{tuple(getattr(input, 'shape', ()))}")
    if input.ndim == 2:
        y = fold(reshape(input, (1,) + tuple(input.shape)), output_size, kernel_size, dilation, padding, stride)
        return reshape(y, tuple(y.shape[1:]))
    out = _pair(name, output_size, "output_size", 1)
    k = _pair(name, kernel_size, "kernel_size", 1)
    d, p, s = _pair(name, dilation, "dilation", 1), _pair(name, padding, "padding", 0), _pair(name, stride, "stride", 1)
    N, CK, L = input.shape
    K = k[0] * k[1]
    if CK % K:
        raise ValueError(f"{name}: expected the size of dim 1 ({CK}) to be divisible by the kernel size "
                         f"{k[0]} * {k[1]}")
    blocks = [(o + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for o, kk, dd, pp, ss in zip(out, k, d, p, s)]
    if min(blocks) < 1 or blocks[0] * blocks[1] != L:
        raise ValueError(f"{name}: output_size {out}, kernel_size {k}, dilation {d}, padding {p}, stride {s} give "
                         f"{blocks[0]} x {blocks[1]} blocks, but the input has L = {L}")
    C = CK // K
    x = reshape(input, (N, CK, blocks[0], blocks[1]))
    op = [o - ((b - 1) * ss - 2 * pp + dd * (kk - 1) + 1) for o, b, kk, dd, pp, ss in zip(out, blocks, k, d, p, s)]
    return conv_transpose2d(x, _selector(C, k[0], k[1], input.dtype), None, s, p, tuple(op), C, d, name=name)


def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups (ShuffleNet)."""
    g = _factor("channel_shuffle", groups)
    if input.ndim < 3 or input.shape[1] % g:
        raise ValueError(f"channel_shuffle: expected an input (N, C, *) with C divisible by groups={g}, got shape "
                         f"{tuple(input.shape)}")
    n, c, *rest = input.shape
    x = reshape(input, (n, g, c // g, *rest))
    x = permute(x, (0, 2, 1) + tuple(range(3, x.ndim)))
    return reshape(x, tuple(input.shape))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Nearest-neighbour ``interpolate``."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear ``interpolate`` with align_corners=True (PyTorch's definition of this name)."""
    return interpolate(input, size, scale_factor, "bilinear", True)


def _base_coords(n, align_corners):
    if align_corners:
        return np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    return (2.0 * np.arange(n) + 1.0) / n - 1.0


def affine_grid(theta, size, align_corners=False):
    """The (N, H, W, 2) (or (N, D, H, W, 3)) grid of theta (N, 2, 3) (or (N, 3, 4)) applied to the
    normalized output coordinates of ``size`` = (N, C, H, W) (or (N, C, D, H, W))."""
    size = tuple(int(v) for v in size)
    if len(size) == 4 and tuple(theta.shape[1:]) == (2, 3):
        N, _, H, W = size
        ys, xs = np.meshgrid(_base_coords(H, align_corners), _base_coords(W, align_corners), indexing="ij")
        base = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(-1, 3)
        out = (N, H, W, 2)
    elif len(size) == 5 and tuple(theta.shape[1:]) == (3, 4):
        N, _, D, H, W = size
        zs, ys, xs = np.meshgrid(_base_coords(D, align_corners), _base_coords(H, align_corners),
                                 _base_coords(W, align_corners), indexing="ij")
        base = np.stack([xs, ys, zs, np.ones_like(xs)], -1).reshape(-1, 4)
        out = (N, D, H, W, 3)
    else:
        raise ValueError(f"affine_grid: expected theta (N, 2, 3) with a 4-D size or (N, 3, 4) with a 5-D size, got "
                         f"theta {tuple(theta.shape)} and size {size}")
    if theta.shape[0] != N:
        raise ValueError(f"affine_grid: theta holds {theta.shape[0]} transforms for a batch of {N}")
    grid = matmul(Tensor._make(base.astype(theta.dtype)), transpose(theta, 1, 2))  # (N, L, 2 or 3)
    return reshape(grid, out)


def _unnormalize(c, size, align_corners):
    if align_corners:
        return ew.mul(ew.add(c, 1.0), (size - 1) / 2.0)
    return ew.div(ew.sub(ew.mul(ew.add(c, 1.0), float(size)), 1.0), 2.0)


def _reflect(c, lo, hi):
    """Reflect coordinates into [lo, hi] (a differentiable fold: slope +-1)."""
    span = hi - lo
    if span <= 0:
        return ew.mul(c, 0.0)
    x = ew.abs(ew.sub(c, lo))
    flips = np.floor(x.array / span)
    extra = ew.sub(x, Tensor._make((flips * span).astype(x.dtype)))
    even = np.mod(flips, 2) == 0
    return ew.where(even, ew.add(extra, lo), ew.add(ew.neg(extra), span + lo))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Sample an (N, C, H, W) input at the grid (N, Ho, Wo, 2) of normalized (x, y) positions."""
    name = "grid_sample"
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"{name}: mode must be 'bilinear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{name}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"{name}: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), got {tuple(input.shape)} and "
                         f"{tuple(grid.shape)}")
    N, C, H, W = input.shape
    Ho, Wo = grid.shape[1:3]
    ix = _unnormalize(getitem(grid, (Ellipsis, 0)), W, align_corners)
    iy = _unnormalize(getitem(grid, (Ellipsis, 1)), H, align_corners)
    if padding_mode == "border":
        ix, iy = ew.clamp(ix, 0.0, W - 1.0), ew.clamp(iy, 0.0, H - 1.0)
    elif padding_mode == "reflection":
        if align_corners:
            ix, iy = _reflect(ix, 0.0, W - 1.0), _reflect(iy, 0.0, H - 1.0)
        else:
            ix, iy = _reflect(ix, -0.5, W - 0.5), _reflect(iy, -0.5, H - 0.5)
        ix, iy = ew.clamp(ix, 0.0, W - 1.0), ew.clamp(iy, 0.0, H - 1.0)
    flat = reshape(input, (N, C, H * W))

    def read(xi, yi):
        """input[n, :, yi, xi] for integer arrays (N, Ho, Wo), zero where outside."""
        valid = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
        idx = (np.clip(yi, 0, H - 1) * W + np.clip(xi, 0, W - 1)).reshape(N, 1, -1)
        vals = take_along_dim(flat, np.broadcast_to(idx, (N, C, Ho * Wo)).copy(), 2)
        return ew.mul(reshape(vals, (N, C, Ho, Wo)), Tensor._make(valid[:, None].astype(input.dtype)))

    if mode == "nearest":
        return read(np.rint(ix.array).astype(np.int64), np.rint(iy.array).astype(np.int64))
    x0, y0 = np.floor(ix.array), np.floor(iy.array)
    wx1 = ew.sub(ix, Tensor._make(x0.astype(ix.dtype)))
    wy1 = ew.sub(iy, Tensor._make(y0.astype(iy.dtype)))
    wx0, wy0 = ew.sub(1.0, wx1), ew.sub(1.0, wy1)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    out = None
    for xi, yi, w in ((x0, y0, ew.mul(wx0, wy0)), (x0 + 1, y0, ew.mul(wx1, wy0)), (x0, y0 + 1, ew.mul(wx0, wy1)),
                      (x0 + 1, y0 + 1, ew.mul(wx1, wy1))):
        term = ew.mul(read(xi, yi), reshape(w, (N, 1, Ho, Wo)))
        out = term if out is None else ew.add(out, term)
    return out
